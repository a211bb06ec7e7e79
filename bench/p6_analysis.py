"""P6: the MET analysis (examples/adl1_met.py) over a larger NanoAOD-shaped file, two ways.

1. `processor.DaskExecutor` on a 2-worker CoffeaCasaCluster (local backend, TLS), 1 core each;
2. coffea's `processor.FuturesExecutor` with 2 workers.

The file is generated with uproot into a temporary directory: an Events tree with the names
and types of the real Run2018A DoubleMuon NanoAOD (examples/data/nano_dimuon.root) for what
the MET analysis and NanoEvents read (run, luminosityBlock, event, MET_pt, MET_phi, MET_sumEt),
ZLIB(1) like that file, in baskets of --basket events; 100 M events by default (1.2 GB, about
20-30 s of work per run at coffea's default chunksize of 100 000 on 2 cores).
Both ways are warm (workers and pool started and used once before timing) and each run has a
fresh metadata cache, so both do the same preprocessing. For each chunksize the two ways
alternate, --repeats times; the best of each is printed as events/s, with the ratio
DaskExecutor/FuturesExecutor (goal >= 0.9).

    python bench/p6_analysis.py [--events 100000000] [--chunksizes 50000,100000,...] [--repeats 2]

Only loopback: the scheduler's contact address is 127.0.0.2 unless DASK_COFFEA_CASA__EXTERNAL_ADDRESS says otherwise.
"""

import os

# Only loopback: the scheduler's contact address, set before dask is imported.
os.environ.setdefault("DASK_COFFEA_CASA__EXTERNAL_ADDRESS", "127.0.0.2")
os.environ.setdefault("DASK_COFFEA_CASA__BACKEND", "local")

import argparse  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import cloudpickle  # noqa: E402
import numpy as np  # noqa: E402
import uproot  # noqa: E402
from coffea import processor  # noqa: E402
from coffea.nanoevents import NanoAODSchema  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))
import adl1_met  # noqa: E402

# Workers cannot import the examples folder: send the processor class by value.
cloudpickle.register_pickle_by_value(adl1_met)

# Names and types as in the real file; MET_pt is what the analysis reads, the rest makes
# NanoEvents' event ids and MET object what they are in NanoAOD.
BRANCHES = {
    "run": np.uint32, "luminosityBlock": np.uint32, "event": np.uint64,
    "MET_pt": np.float32, "MET_phi": np.float32, "MET_sumEt": np.float32,
}


def generate(path, events, basket, seed=6):
    """A NanoAOD-shaped Events tree with `events` events, written `basket` events at a time."""
    rng = np.random.default_rng(seed)
    with uproot.recreate(path, compression=uproot.ZLIB(1)) as f:
        tree = f.mktree("Events", BRANCHES)
        for start in range(0, events, basket):
            n = min(basket, events - start)
            tree.extend({
                "run": np.full(n, 315267, np.uint32),
                "luminosityBlock": ((start + np.arange(n)) // 1000 + 1).astype(np.uint32),
                "event": np.arange(start, start + n, dtype=np.uint64),
                "MET_pt": rng.gamma(2.0, 15.0, n).astype(np.float32),
                "MET_phi": rng.uniform(-np.pi, np.pi, n).astype(np.float32),
                "MET_sumEt": rng.gamma(8.0, 150.0, n).astype(np.float32),
            })


def run_once(executor, fileset, chunksize):
    """Events/s of one MET analysis run, wall clock, and its output."""
    runner = processor.Runner(executor=executor, schema=NanoAODSchema, savemetrics=True,
                              chunksize=chunksize, metadata_cache={})
    t0 = time.perf_counter()
    output, metrics = runner(fileset, processor_instance=adl1_met.METProcessor(), treename="Events")
    elapsed = time.perf_counter() - t0
    return metrics["entries"] / elapsed, output, metrics


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000_000)
    parser.add_argument("--basket", type=int, default=100_000, help="events per basket in the file")
    parser.add_argument("--chunksizes", default="50000,100000,200000,500000,1000000,2000000")
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    chunksizes = [int(c) for c in args.chunksizes.split(",")]

    from distributed import Client
    from loky import ProcessPoolExecutor

    from coffea_casa import CoffeaCasaCluster

    with tempfile.TemporaryDirectory(prefix="p6-") as tmp:
        path = Path(tmp) / "nano_large.root"
        t0 = time.perf_counter()
        generate(path, args.events, args.basket)
        print(f"P6 generated {args.events:,} events, {path.stat().st_size / 2**20:.0f} MiB, "
              f"in {time.perf_counter() - t0:.1f} s")
        fileset = {"Large": [str(path)]}

        cluster = CoffeaCasaCluster(cores=1, memory="2 GiB")
        cluster.scale(2)
        client = Client(cluster)
        pool = ProcessPoolExecutor(max_workers=2)
        try:
            client.wait_for_workers(2, timeout=300)
            ways = {
                "dask": processor.DaskExecutor(client=client, status=False),
                "futures": processor.FuturesExecutor(pool=pool, workers=2, status=False),
            }
            # Warm-up: imports on the workers and in the pool
            for executor in ways.values():
                run_once(executor, fileset, args.events // 4 + 1)

            print(f"P6 MET analysis, {args.events:,} events, 2 workers each way, best of {args.repeats}")
            print(f"{'chunksize':>10} {'chunks':>7} {'dask ev/s':>12} {'futures ev/s':>13} {'ratio':>6}")
            rows = []
            for chunksize in chunksizes:
                best = {name: 0.0 for name in ways}
                for _ in range(args.repeats):
                    for name, executor in ways.items():
                        rate, output, metrics = run_once(executor, fileset, chunksize)
                        assert output["cutflow"]["all events"] == args.events
                        best[name] = max(best[name], rate)
                ratio = best["dask"] / best["futures"]
                rows.append((chunksize, best["dask"], best["futures"], ratio))
                print(f"{chunksize:>10,} {metrics['chunks']:>7} {best['dask']:>12,.0f} "
                      f"{best['futures']:>13,.0f} {ratio:>6.2f}", flush=True)
        finally:
            pool.shutdown(wait=True)
            client.close()
            cluster.close()

    chunksize, dask_rate, futures_rate, ratio = max(rows, key=lambda r: r[1])
    print(f"P6 fastest through the CoffeaCasaCluster: chunksize {chunksize:,}: "
          f"{dask_rate:,.0f} events/s vs FuturesExecutor {futures_rate:,.0f} events/s, "
          f"ratio {ratio:.2f}x (goal >= 0.9x)")
    # Smaller chunks spread a dataset over more workers (docs 3.5): the smallest one within 10% of the best.
    suggested = min(r[0] for r in rows if r[1] >= 0.9 * dask_rate)
    print(f"P6 suggested chunksize (smallest within 10% of the fastest): {suggested:,}")


if __name__ == "__main__":
    main()
