"""P10: `scale(100)` on HTCondor, ours beside dask-jobqueue's HTCondorCluster, in one run.

On the HTCondor test double (tests/condor_double) whose schedd serves one transaction
at a time at 0.2 s each (as a busy schedd does): schedd transactions and seconds from
`scale(100)` until 100 jobs are in the queue, and what `close()` removes. Jobs are
submitted on hold (`hold = true`) so that 2 x 100 Dask workers do not start on this
machine: being queued is what is measured.
    python bench/p10_submit.py [--jobs 100] [--cost 0.2]
"""

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
os.environ.setdefault("DASK_COFFEA_CASA__EXTERNAL_ADDRESS", "127.0.0.1")
os.environ["DASK_COFFEA_CASA__BACKEND"] = "htcondor"

from condor_double import CondorDouble  # noqa: E402

HOLD = {"hold": "true"}


def ours(jobs):
    from coffea_casa import CoffeaCasaCluster

    return CoffeaCasaCluster(cores=1, memory="2 GiB", nanny_port=None, job_extra_directives=HOLD)


def dask_jobqueue(jobs, log_directory):
    from dask_jobqueue import HTCondorCluster

    return HTCondorCluster(
        cores=1, memory="1GiB", disk="1GiB", log_directory=log_directory, python=sys.executable,
        scheduler_options={"host": "127.0.0.1", "dashboard_address": "127.0.0.1:0"},
        job_extra_directives=HOLD,
    )


def measure(double, make, jobs, label):
    """(transactions, seconds until `jobs` are queued, jobs removed by close, close seconds)."""
    cluster = make()
    before = len(double.transactions("submit"))
    t0 = time.perf_counter()
    cluster.scale(jobs)
    while len(double.jobs()) < jobs:
        if time.perf_counter() - t0 > 600:
            raise TimeoutError(f"{label}: only {len(double.jobs())} of {jobs} jobs queued after 600 s")
        time.sleep(0.02)
    queued = time.perf_counter() - t0
    transactions = len(double.transactions("submit")) - before
    while len(cluster.workers) < jobs:  # the cluster has taken note of every job id
        time.sleep(0.02)
    in_queue = len(double.jobs())
    t1 = time.perf_counter()
    cluster.close()
    closed = time.perf_counter() - t1
    removed = in_queue - len(double.jobs())
    print(f"P10 {label:<28} scale({jobs}): {transactions:3d} submit transaction(s), {queued:6.2f} s until "
          f"{jobs} queued; close() removed {removed} of {in_queue} in {closed:.2f} s")
    return transactions, queued, removed


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=100)
    parser.add_argument("--cost", type=float, default=0.2, help="seconds per schedd transaction")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="p10-") as tmp:
        double = CondorDouble(Path(tmp) / "condor")
        os.environ.update(double.env())
        double.configure(transaction_cost=args.cost)
        os.chdir(tmp)
        t_ours, s_ours, removed = measure(double, lambda: ours(args.jobs), args.jobs, "CoffeaCasaCluster")
        t_djq, s_djq, _ = measure(double, lambda: dask_jobqueue(args.jobs, f"{tmp}/logs"), args.jobs,
                                  "dask-jobqueue HTCondorCluster")
        double.kill_all()
    print(f"P10 transactions ours/dask-jobqueue: {t_ours}/{t_djq} (goal <= 2)")
    print(f"P10 time ours/dask-jobqueue: {s_ours / s_djq:.3f}x (goal <= 0.2x)")
    print(f"P10 close() removed {removed} of {args.jobs} of ours")
    assert t_ours <= 2 and s_ours <= 0.2 * s_djq and removed == args.jobs, "P10 goals not met"


if __name__ == "__main__":
    main()
