"""P1: time from `CoffeaCasaCluster(); scale(2)` until 2 workers are connected (local
backend, TLS), beside a bare distributed.LocalCluster(n_workers=2) with the same TLS.

Both sides alternate in one run; medians of N (default 5) and the ratio are printed.
    python bench/p1_startup.py [--runs 5]
"""

import argparse
import os
import statistics
import time

os.environ.setdefault("DASK_COFFEA_CASA__BACKEND", "local")


def time_coffea_casa():
    from coffea_casa import CoffeaCasaCluster

    t0 = time.perf_counter()
    cluster = CoffeaCasaCluster(cores=1, memory="2 GiB")  # the smallest worker the shipped options allow
    cluster.scale(2)
    cluster.wait_for_workers(2)
    elapsed = time.perf_counter() - t0
    cluster.close()
    return elapsed


def local_cluster(security):
    """The bare reference (of P12 too): LocalCluster(n_workers=2), the same workers and TLS."""
    from distributed import LocalCluster

    return LocalCluster(
        n_workers=2, threads_per_worker=1, memory_limit="2 GiB", protocol="tls",
        host="127.0.0.1", security=security, dashboard_address="127.0.0.1:0",
    )


def time_local_cluster():
    from coffea_casa import CoffeaCasaCluster

    security = CoffeaCasaCluster.security()
    t0 = time.perf_counter()
    cluster = local_cluster(security)
    cluster.wait_for_workers(2)
    elapsed = time.perf_counter() - t0
    cluster.close()
    return elapsed


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    time_coffea_casa()  # warm-up: imports, certificate generation on first use
    time_local_cluster()
    ours, bare = [], []
    for _ in range(args.runs):
        ours.append(time_coffea_casa())
        bare.append(time_local_cluster())
    m_ours, m_bare = statistics.median(ours), statistics.median(bare)
    print(f"P1 CoffeaCasaCluster scale(2) -> 2 workers: median {m_ours:.3f} s  {['%.3f' % x for x in ours]}")
    print(f"P1 LocalCluster(n_workers=2), same TLS:     median {m_bare:.3f} s  {['%.3f' % x for x in bare]}")
    print(f"P1 ratio ours/bare: {m_ours / m_bare:.2f}x (goal <= 1.15x)")


if __name__ == "__main__":
    main()
