"""P11: CoffeaCasaCluster beside dask-jobqueue's HTCondorCluster on a REAL HTCondor pool, one run.

The pool is tests/condor_pool's (Debian trixie's minicondor 23.9 in a chroot, as root;
`make condor-pool` installs it). Both sides run inside it as its user, with TLS, in the
vanilla universe, workers on loopback:
- `scale(2)` until 2 workers have joined: median of --runs, each on a fresh cluster;
- P10 on the real schedd: `scale(50)` with the jobs submitted on hold (nothing runs),
  submit transactions (a schedd transaction creates one ClusterId) and seconds until all 50
  are in the queue; then what close() leaves in the queue.
    unshare -n sh -c 'ip link set lo up && exec python bench/p11_real_pool.py [--runs 3] [--jobs 50]'
"""

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from condor_pool.pool import CondorPool  # noqa: E402

INSIDE = r'''
import json, os, subprocess, sys, time
from distributed import Client

HOME = sys.argv[1]
RUNS, JOBS = int(sys.argv[2]), int(sys.argv[3])
HOLD = {"hold": "true"}

def queued(address):
    out = subprocess.run(["condor_q", "-json", "-constraint", f'DaskSchedulerAddress =?= "{address}"',
                          "-attributes", "ClusterId"],
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out) if out.strip() else []

def ours(**extra):
    from coffea_casa import CoffeaCasaCluster
    return CoffeaCasaCluster(cores=1, memory="2 GiB", **extra)

def dask_jobqueue(**extra):
    from dask_jobqueue import HTCondorCluster
    from coffea_casa import CoffeaCasaCluster
    sec = CoffeaCasaCluster.security()  # the same TLS; the files are on the shared file system
    return HTCondorCluster(
        cores=1, memory="2 GiB", disk="1 GiB", log_directory=f"{HOME}/djq-logs", python=sys.executable,
        protocol="tls://", security=sec,
        scheduler_options={"host": "127.0.0.2", "dashboard_address": "127.0.0.2:0"},
        worker_extra_args=["--host", "127.0.0.2"], job_extra_directives=dict(extra.get("job_extra_directives") or {}),
    )

def two_workers(make):
    with make() as cluster, Client(cluster) as client:
        t0 = time.perf_counter()
        cluster.scale(2)
        client.wait_for_workers(2, timeout=300)
        return time.perf_counter() - t0

def fifty_queued(make, own):
    cluster = make(job_extra_directives=HOLD)
    try:
        t0 = time.perf_counter()
        cluster.scale(JOBS)
        deadline = t0 + 600
        while True:
            ads = [a for a in queued_by(cluster, own)]
            if len(ads) >= JOBS or time.perf_counter() > deadline:
                break
            time.sleep(0.05)
        seconds = time.perf_counter() - t0
        transactions = len({a["ClusterId"] for a in ads})
        while len(cluster.workers) < JOBS:
            time.sleep(0.05)
    finally:
        cluster.close()
    time.sleep(2)
    return transactions, seconds, len(queued_by(cluster, own)), len(ads)

def queued_by(cluster, own):
    if own:
        return queued(cluster.scheduler_address)
    ids = {str(j.job_id).split(".")[0] for j in cluster.workers.values() if getattr(j, "job_id", None)}
    out = subprocess.run(["condor_q", "-json", "-attributes", "ClusterId"], capture_output=True, text=True).stdout
    return [a for a in (json.loads(out) if out.strip() else []) if str(a["ClusterId"]) in ids]

if __name__ == "__main__":
    result = {"ours": [], "dask_jobqueue": []}
    for _ in range(RUNS):
        result["ours"].append(two_workers(ours))
        result["dask_jobqueue"].append(two_workers(dask_jobqueue))
    result["p10_ours"] = fifty_queued(ours, True)
    result["p10_dask_jobqueue"] = fifty_queued(dask_jobqueue, False)
    print(json.dumps(result), flush=True)
'''


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=50)
    args = parser.parse_args()
    pool = CondorPool().start()
    try:
        home = Path(tempfile.mkdtemp(prefix="p11-"))
        (home / "inside.py").write_text(INSIDE)
        pool.give(home)
        env = pool.user_env(
            DASK_COFFEA_CASA__EXTERNAL_ADDRESS="127.0.0.2", DASK_COFFEA_CASA__TLS_DIR=home / "tls",
            DASK_COFFEA_CASA__SECRETS_DIR=home / "none", DASK_JOBQUEUE__COFFEA_CASA__WORKER_IMAGE="",
            DASK_JOBQUEUE__COFFEA_CASA__LOG_DIRECTORY=home / "logs", JUPYTER_RUNTIME_DIR=home / "runtime",
            DASK_JOBQUEUE__COFFEA_CASA__WORKER_EXTRA_ARGS='["--host", "127.0.0.2"]')
        done = pool.run([sys.executable, home / "inside.py", home, args.runs, args.jobs], env=env, cwd=home,
                        timeout=3600)
        if done.returncode:
            raise SystemExit(done.stdout[-3000:] + done.stderr[-6000:])
        r = json.loads(done.stdout.strip().splitlines()[-1])
    finally:
        pool.stop()
    ours, djq = statistics.median(r["ours"]), statistics.median(r["dask_jobqueue"])
    print(f"P11 scale(2) -> 2 workers on the real pool, median of {args.runs}: CoffeaCasaCluster {ours:.2f} s "
          f"({', '.join(f'{x:.2f}' for x in r['ours'])}), dask-jobqueue HTCondorCluster {djq:.2f} s "
          f"({', '.join(f'{x:.2f}' for x in r['dask_jobqueue'])}): {ours / djq:.2f}x")
    (t_o, s_o, left_o, n_o), (t_d, s_d, left_d, n_d) = r["p10_ours"], r["p10_dask_jobqueue"]
    print(f"P10 on the real schedd, scale({args.jobs}) on hold: CoffeaCasaCluster {t_o} transaction(s), {n_o} queued "
          f"in {s_o:.2f} s; dask-jobqueue {t_d} transaction(s), {n_d} queued in {s_d:.2f} s: "
          f"transactions {t_o}/{t_d}, time {s_o / s_d:.3f}x; left in the queue after close(): {left_o} and {left_d}")


if __name__ == "__main__":
    main()
