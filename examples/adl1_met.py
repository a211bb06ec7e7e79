"""ADL benchmark 1 on coffea-casa: the MET of every event (facility docs, chapter 1.9).

Today's coffea and hist: NanoEvents with NanoAODSchema, a `hist.Hist`, `processor.Runner`
with `DaskExecutor` on a CoffeaCasaCluster client and `savemetrics=True`.

    python examples/adl1_met.py [--scheduler ADDRESS] [--out result.json] [--chunksize N]
                                [--workers N] [--dataset NAME] [--xcache] FILE...

Without --scheduler it starts a CoffeaCasaCluster with --workers workers and closes it at
the end; with --scheduler (e.g. tls://localhost:8786, the sidebar's cluster) it connects to it.
Each FILE is its own dataset (named after the file) unless --dataset puts them all in one.
It writes the histogram (edges, counts), the cutflow and the metrics as JSON to --out, the
plot as a PNG next to it, and prints the metrics as chapter 3.2 describes.
"""

import argparse
import json
from pathlib import Path

import awkward as ak
import hist
from coffea import processor
from coffea.nanoevents import NanoAODSchema

# Entries per chunk; chosen with bench/p6_analysis.py (see examples/README.md).
CHUNKSIZE = 500_000


class METProcessor(processor.ProcessorABC):
    """The MET histogram, and a cutflow of all events and the number of chunks."""

    def process(self, events):
        dataset = events.metadata["dataset"]
        met = events.MET.pt
        histogram = hist.Hist(
            hist.axis.StrCategory([], name="dataset", label="Dataset", growth=True),
            hist.axis.Regular(50, 0, 100, name="MET", label="MET [GeV]"),
            storage=hist.storage.Int64(),
        )
        histogram.fill(dataset=dataset, MET=met)
        # Per chunk; the Runner adds the chunks' outputs together.
        cutflow = {"all events": int(ak.num(met, axis=0)), "number of chunks": 1}
        return {"MET": histogram, "cutflow": cutflow}

    def postprocess(self, accumulator):
        return accumulator


def run(client, fileset, chunksize=CHUNKSIZE, processor_instance=None):
    """Run a processor (default METProcessor) over `fileset` on `client`; returns (output, metrics)."""
    runner = processor.Runner(
        executor=processor.DaskExecutor(client=client),
        schema=NanoAODSchema,
        savemetrics=True,
        chunksize=chunksize,
    )
    return runner(fileset, processor_instance=processor_instance or METProcessor(), treename="Events")


def make_fileset(files, dataset=None):
    """{dataset: [files]}: one dataset named `dataset`, or one per file named after it."""
    if dataset:
        return {dataset: list(files)}
    fileset = {}
    for f in files:
        fileset.setdefault(Path(f.split("?")[0]).stem, []).append(f)
    return fileset


def histogram_json(histogram):
    """Edges and integer counts (in range, under- and overflow) per dataset."""
    axis = histogram.axes[1]
    datasets = {}
    for name in histogram.axes[0]:
        counts = histogram[{"dataset": name}].values(flow=True).tolist()
        datasets[name] = {"counts": counts[1:-1], "underflow": counts[0], "overflow": counts[-1]}
    return {"name": axis.name, "label": axis.label, "edges": axis.edges.tolist(), "datasets": datasets}


def print_metrics(metrics):
    """The savemetrics numbers of chapter 3.2."""
    seconds = metrics["processtime"]
    print("coffea metrics (savemetrics=True):")
    print(f"  bytes read:    {metrics.get('bytesread', 0):,}")
    print(f"  entries:       {metrics['entries']:,}")
    print(f"  process time:  {seconds:.3f} s (summed over all cores)"
          + (f", {metrics['entries'] / seconds:,.0f} events/s" if seconds else ""))
    print(f"  chunks:        {metrics['chunks']}")
    print(f"  columns:       {', '.join(sorted(metrics.get('columns', [])))}")


def plot(histogram, path):
    import matplotlib

    matplotlib.use("Agg")  # scripts draw to a file, no display needed
    import matplotlib.pyplot as plt
    import mplhep

    fig, ax = plt.subplots()
    for name in histogram.axes[0]:
        mplhep.histplot(histogram[{"dataset": name}], ax=ax, histtype="fill", alpha=0.8,
                        edgecolor=(0, 0, 0, 0.3), label=name)
    ax.set_xlabel(histogram.axes[1].label)
    ax.set_ylabel("Counts")
    ax.legend(title="Dataset")
    fig.savefig(path)
    plt.close(fig)


def main(argv=None, *, name="adl1_met", processor_instance=None, key="MET", doc=__doc__):
    """The command line; examples/dimuon.py reuses it with its own processor."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("files", nargs="+", metavar="FILE", help="NanoAOD files (paths or URLs)")
    parser.add_argument("--scheduler", help="connect to this scheduler instead of starting a cluster")
    parser.add_argument("--out", default=f"{name}.json", type=Path, help="JSON result; the PNG goes next to it")
    parser.add_argument("--chunksize", type=int, default=CHUNKSIZE)
    parser.add_argument("--workers", type=int, default=2, help="workers of the cluster this script starts")
    parser.add_argument("--cores", type=int, help="cores per worker (default: the site's)")
    parser.add_argument("--memory", help='memory per worker, e.g. "2 GiB" (default: the site\'s)')
    parser.add_argument("--dataset", help="put all files in one dataset of this name")
    parser.add_argument("--xcache", action="store_true", help="read /store files through the XCache")
    args = parser.parse_args(argv)

    from distributed import Client

    from coffea_casa import CoffeaCasaCluster

    files = args.files
    if args.xcache:
        from coffea_casa.xcache import to_xcache

        files = to_xcache(files)
    fileset = make_fileset(files, args.dataset)

    cluster = None
    if args.scheduler:
        client = Client(args.scheduler, security=CoffeaCasaCluster.security())
    else:
        options = {k: v for k, v in (("cores", args.cores), ("memory", args.memory)) if v}
        cluster = CoffeaCasaCluster(**options)
        cluster.scale(args.workers)
        client = Client(cluster)
    try:
        if cluster is not None:
            client.wait_for_workers(args.workers, timeout=300)
        output, metrics = run(client, fileset, args.chunksize, processor_instance)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()

    print_metrics(metrics)
    print("cutflow:", dict(output["cutflow"]))
    result = {
        "analysis": name,
        "fileset": fileset,
        "chunksize": args.chunksize,
        "histogram": histogram_json(output[key]),
        "cutflow": dict(output["cutflow"]),
        "metrics": {k: sorted(v) if isinstance(v, (list, set)) else v for k, v in metrics.items()},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1))
    plot(output[key], args.out.with_suffix(".png"))
    print(f"wrote {args.out} and {args.out.with_suffix('.png')}")


if __name__ == "__main__":  # local workers are spawned processes: no cluster at import time
    main()
