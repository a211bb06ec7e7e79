"""P4: `GET coffea-casa/clusters` with 20 clusters x 50 workers, and the idle server's CPU
while a sidebar polls.

The 20 clusters are real CoffeaCasaClusters (real TLS schedulers and dashboards,
their background comms running) without worker processes: 1000 worker processes
do not fit a 2-core machine. Each reports 50 workers in the same
`scheduler_info["workers"]` entries a connected worker produces (this module's
PaddedCluster adds them after start), which is all `GET clusters` reads.
    python bench/p4_list.py [--n 300] [--idle 20]
"""

import argparse
import os
import statistics
import time
from pathlib import Path

import psutil

from coffea_casa import CoffeaCasaCluster

WORKERS = 50


def fake_worker(i, host="127.0.0.2"):
    """Shaped like a scheduler's identity() entry for one connected 1-thread, 1 GiB worker."""
    return {
        "type": "Worker", "id": f"worker-{i}", "host": host, "resources": {},
        "local_directory": f"/tmp/dask-scratch-space/worker-{i}", "name": f"padded-{i}",
        "nthreads": 1, "memory_limit": 2**30, "last_seen": time.time(), "services": {"dashboard": 40000 + i},
        "metrics": {"task_counts": {}, "bandwidth": {"total": 1e8, "workers": {}, "types": {}},
                    "digests_total_since_heartbeat": {}, "managed_bytes": 0, "spilled_bytes": {"memory": 0, "disk": 0},
                    "transfer": {"incoming_bytes": 0, "incoming_count": 0, "incoming_count_total": 0,
                                 "outgoing_bytes": 0, "outgoing_count": 0, "outgoing_count_total": 0},
                    "event_loop_interval": 0.02, "cpu": 0.0, "memory": 120_000_000, "time": time.time(),
                    "host_net_io": {"read_bps": 0.0, "write_bps": 0.0},
                    "host_disk_io": {"read_bps": 0.0, "write_bps": 0.0}, "num_fds": 30},
        "status": "running", "nanny": f"tls://{host}:{41000 + i}",
    }


class PaddedCluster(CoffeaCasaCluster):
    async def _start(self):
        await super()._start()
        self.scheduler_info["workers"].update(
            {f"tls://127.0.0.2:{50000 + i}": fake_worker(i) for i in range(WORKERS)}
        )


def cpu_seconds(pid):
    """(server process, its children) CPU seconds."""
    p = psutil.Process(pid)
    own, children = sum(p.cpu_times()[:2]), 0.0
    for c in p.children(recursive=True):
        try:
            children += sum(c.cpu_times()[:2])
        except psutil.NoSuchProcess:
            pass
    return own, children


def idle_cpu(server, seconds, poll_every=2.0):
    """% of one core used by the server process and by its children (worker processes)
    while GET clusters is polled like the sidebar does."""
    t0, (o0, c0) = time.monotonic(), cpu_seconds(server.proc.pid)
    while time.monotonic() - t0 < seconds:
        server.request("GET", "coffea-casa/clusters")
        time.sleep(poll_every)
    (o1, c1), dt = cpu_seconds(server.proc.pid), time.monotonic() - t0
    return f"server {100 * (o1 - o0) / dt:.2f}% + workers {100 * (c1 - c0) / dt:.2f}% of a core"


def main():
    from p2_proxy import Server, pct, start_ours
    import tempfile

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=300)
    parser.add_argument("--idle", type=float, default=20.0, help="seconds of sidebar polling per idle case")
    args = parser.parse_args()

    env = {"DASK_COFFEA_CASA__BACKEND": "local", "DASK_COFFEA_CASA__EXTERNAL_ADDRESS": "127.0.0.2",
           "DASK_COFFEA_CASA__TLS_DIR": tempfile.mkdtemp(prefix="bench-tls-"),
           "DASK_LABEXTENSION__FACTORY__MODULE": "p4_list", "DASK_LABEXTENSION__FACTORY__CLASS": "PaddedCluster"}
    server = Server({"coffea_casa_lab": True, "dask_labextension": False}, env, [str(Path(__file__).parent)])
    try:
        ids = [server.json("PUT", "coffea-casa/clusters")["id"] for _ in range(20)]
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            models = server.json("GET", "coffea-casa/clusters")
            if all(m["status"] == "running" for m in models):
                break
            assert not any(m["status"] == "failed" for m in models), models
            time.sleep(0.5)
        assert len(models) == 20 and {m["workers"] for m in models} == {WORKERS}, models[0]
        for _ in range(20):
            server.request("GET", "coffea-casa/clusters")
        base = []
        for _ in range(args.n):  # Jupyter's own smallest authenticated route, for scale
            t0 = time.perf_counter()
            server.request("GET", "api/status")
            base.append((time.perf_counter() - t0) * 1000)
        times = []
        for _ in range(args.n):
            t0 = time.perf_counter()
            status, body = server.request("GET", "coffea-casa/clusters")
            times.append((time.perf_counter() - t0) * 1000)
            assert status == 200
        print(f"P4 GET clusters, {len(ids)} clusters x {WORKERS} workers ({len(body)} bytes):"
              f" p50 {statistics.median(times):.3f} ms, p95 {pct(times, 0.95):.3f} ms (goal p50 <= 5 ms);"
              f" Jupyter's GET api/status p50 {statistics.median(base):.3f} ms in the same run")
        print(f"P4 CPU, 20 idle clusters (20 schedulers), sidebar polling every 2 s:"
              f" {idle_cpu(server, args.idle)}")
    finally:
        server.stop()

    for label, make in (("no cluster", None), ("1 cluster, 1 worker", start_ours)):
        if make is None:
            s = Server({"coffea_casa_lab": True, "dask_labextension": False}, {"DASK_COFFEA_CASA__BACKEND": "local"})
        else:
            s = make()[0]
        try:
            time.sleep(3)  # let start-up settle
            print(f"P4 CPU, idle server with {label}, sidebar polling every 2 s:"
                  f" {idle_cpu(s, args.idle)} (goal < 1%)")
        finally:
            s.stop()


if __name__ == "__main__":
    os.environ.setdefault("DASK_COFFEA_CASA__BACKEND", "local")
    main()
