"""P12: + NEW -> a running cluster with 2 workers, through the REST API as the sidebar does it,
warm (the server's standby host) and cold (`coffea-casa.standby: false`), beside a bare
in-process distributed.LocalCluster(n_workers=2) with the same TLS.

Two jupyter servers on loopback (local backend, 1-core 2 GiB workers). + NEW is
`PUT clusters {"workers": 2}`. Every side's time runs until its scheduler saw the second worker
running, by the scheduler's own event log (the same clock: one machine), so that how often this
script looks (GET clusters/{id}, then the scheduler's identity, every 50 ms) neither adds to it
nor takes CPU from it much. Before each warm + NEW the server's next standby is ready and no
standby is loading, so no side pays for another's. Sides alternate; medians of N (default 5)
and the ratios are printed.

`--depth` also measures, first, in this process, how deep a standby should go: a
CoffeaCasaCluster's scheduler start in a warm interpreter, its first (what the standby's
throwaway warm-up cluster takes off + NEW) and later ones (what a standby holding a started
scheduler would save on top).
    python bench/p12_new_cluster.py [--runs 5] [--depth]
"""

import argparse
import asyncio
import os
import re
import statistics
import tempfile
import time
from pathlib import Path

TLS_DIR = tempfile.mkdtemp(prefix="bench-tls-")
SMALL = {"DASK_COFFEA_CASA__BACKEND": "local", "DASK_COFFEA_CASA__TLS_DIR": TLS_DIR,
         "DASK_JOBQUEUE__COFFEA_CASA__CORES": "1", "DASK_JOBQUEUE__COFFEA_CASA__MEMORY": "2 GiB"}
os.environ.update(SMALL)  # the bare LocalCluster and the clients here use the same TLS files

from p1_startup import local_cluster  # noqa: E402  (the same bare LocalCluster as P1)
from p2_proxy import Server  # noqa: E402

POLL = 0.05


def ready_at(events, n=2):
    """When the n-th worker was running, from a scheduler's event log ({topic: ((time, msg), ...)})."""
    times = sorted(t for topic, log in events.items() if topic != "all" for t, msg in log
                   if isinstance(msg, dict) and msg.get("action") == "worker-status-change"
                   and msg.get("status") == "running")
    return times[n - 1] if len(times) >= n else None


async def scheduler_ready_at(address, n, security):
    from distributed.core import rpc

    async with rpc(address, connection_args=security.get_connection_args("client"), timeout=30) as scheduler:
        while True:
            at = ready_at(await scheduler.events())
            if at is not None:
                return at
            await asyncio.sleep(POLL)


def new_cluster(server, security):
    """Seconds from + NEW to its second running worker, and its host's pid; the cluster is closed afterwards."""
    t0 = time.time()
    model = server.json("PUT", "coffea-casa/clusters", {"workers": 2})
    while not model["scheduler_address"]:
        assert model["status"] in ("starting", "running"), model
        time.sleep(POLL)
        model = server.json("GET", f"coffea-casa/clusters/{model['id']}")
    elapsed = asyncio.run(scheduler_ready_at(model["scheduler_address"], 2, security)) - t0
    server.json("DELETE", f"coffea-casa/clusters/{model['id']}")
    return elapsed, model["pid"]


def bare_cluster(security):
    """Seconds from LocalCluster(n_workers=2) to its second running worker, by the same log."""
    t0 = time.time()
    cluster = local_cluster(security)
    while ready_at(cluster.scheduler.get_events()) is None:  # the status change may follow the start
        time.sleep(0.001)
    elapsed = ready_at(cluster.scheduler.get_events()) - t0
    cluster.close()
    return elapsed


def ready_standby(server, timeout=120):
    """The pid of the server's standby once it has loaded everything (its log says so)."""
    folder = Path(server.tmp) / "runtime" / "coffea-casa"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for log in folder.glob("standby-*.log"):
            found = re.search(r"standby (\d+) ready", log.read_text())
            if found:
                return int(found.group(1))
        time.sleep(0.1)
    raise RuntimeError("no standby came up: " + (Path(server.tmp) / "server.log").read_text()[-3000:])


def depth(runs):
    """Seconds a CoffeaCasaCluster's scheduler takes to start in a warm interpreter: the first one
    there (a fresh standby's) and the median of later ones."""
    from coffea_casa import CoffeaCasaCluster
    from coffea_casa_lab.standby import preload

    preload()

    async def start():
        t0 = time.perf_counter()
        cluster = CoffeaCasaCluster(asynchronous=True)
        await cluster
        elapsed = time.perf_counter() - t0
        await cluster.close()
        return elapsed

    async def main():
        first = await start()
        return first, [await start() for _ in range(runs)]

    return asyncio.run(main())


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--depth", action="store_true", help="also time a scheduler start in a warm interpreter")
    args = parser.parse_args()
    from coffea_casa import CoffeaCasaCluster

    if args.depth:  # first, in a fresh interpreter, as a standby would do it
        first, later = depth(args.runs)
    security = CoffeaCasaCluster.security()
    warm = Server({"coffea_casa_lab": True}, dict(SMALL, DASK_COFFEA_CASA__STANDBY="True"))
    cold = Server({"coffea_casa_lab": True}, dict(SMALL, DASK_COFFEA_CASA__STANDBY="False"))
    try:
        samples = {"warm": [], "cold": [], "bare": []}
        for i in range(args.runs + 1):  # the first round warms up every side (imports, page cache)
            standby = ready_standby(warm)
            results = {"bare": bare_cluster(security)}
            results["warm"], pid = new_cluster(warm, security)
            assert pid == standby, f"the warm + NEW did not use the standby ({pid} != {standby})"
            ready_standby(warm)  # the next standby has loaded: it takes no CPU from the cold side
            results["cold"] = new_cluster(cold, security)[0]
            if i:
                for side, value in results.items():
                    samples[side].append(value)
        m = {side: statistics.median(values) for side, values in samples.items()}
        paired = statistics.median(w / b for w, b in zip(samples["warm"], samples["bare"]))
        print("P12 + NEW -> 2 workers (PUT clusters {workers: 2}, local backend, TLS)")
        labels = {"warm": "warm + NEW (standby)", "cold": "cold + NEW (standby: false)",
                  "bare": "bare LocalCluster(n_workers=2)"}
        for side, values in samples.items():
            print(f"  {labels[side]:32s} median {m[side]:.3f} s  {['%.3f' % x for x in values]}")
        print(f"  ratio warm/bare: {m['warm'] / m['bare']:.2f}x (goal <= 1.3x; median of each round's ratio "
              f"{paired:.2f}x)   cold/bare: {m['cold'] / m['bare']:.2f}x")
        if args.depth:
            held = statistics.median(later)
            print(f"  standby depth: a scheduler start in a warm interpreter takes {first:.3f} s the first time "
                  f"(the standby's warm-up pays it), median {held:.3f} s later {['%.3f' % x for x in later]}: "
                  f"what a standby holding a started scheduler would save, {held / m['warm']:.0%} of a warm + NEW")
    finally:
        warm.stop()
        cold.stop()


if __name__ == "__main__":
    main()
