"""The dimuon Z peak on coffea-casa: opposite-charge dimuon mass (facility docs, chapter 1.10).

Today's coffea and hist: NanoEvents with NanoAODSchema (no JaggedCandidateArray), a
`hist.Hist`, `processor.Runner` with `DaskExecutor` on a CoffeaCasaCluster client and
`savemetrics=True`.

    python examples/dimuon.py [--scheduler ADDRESS] [--out result.json] [--chunksize N]
                              [--workers N] [--dataset NAME] [--xcache] FILE...

The command line, JSON, plot and metrics are those of examples/adl1_met.py (see there).
The docs' dataset, through the facility's XCache:

    python examples/dimuon.py --dataset DoubleMu --xcache \\
        root://cmsxrootd.fnal.gov//store/data/Run2018A/DoubleMuon/NANOAOD/02Apr2020-v1/30000/0555868D-6B32-D249-9ED1-6B9A6AABDAF7.root
"""

import sys
from pathlib import Path

import awkward as ak
import hist
from coffea import processor

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the shared command line
import adl1_met  # noqa: E402


class DimuonProcessor(processor.ProcessorABC):
    """Mass of the muon pair in events with exactly two muons whose charges cancel."""

    def process(self, events):
        dataset = events.metadata["dataset"]
        histogram = hist.Hist(
            hist.axis.StrCategory([], name="dataset", label="Dataset", growth=True),
            hist.axis.Regular(50, 20, 120, name="dimu_mass", label=r"$\mu\mu$ Mass [GeV]"),
            storage=hist.storage.Int64(),
        )
        mu = events.Muon
        # Exactly 2 muons whose charges cancel out (Zs are charge-neutral).
        dimu_neutral = mu[(ak.num(mu) == 2) & (ak.sum(mu.charge, axis=1) == 0)]
        # Add the two muons' four-momenta; the pair's mass.
        dimu_mass = (dimu_neutral[:, 0] + dimu_neutral[:, 1]).mass
        histogram.fill(dataset=dataset, dimu_mass=dimu_mass)
        cutflow = {
            "all events": int(ak.num(mu, axis=0)),
            "opposite-charge dimuon": int(ak.num(dimu_mass, axis=0)),
            "number of chunks": 1,
        }
        return {"dimu_mass": histogram, "cutflow": cutflow}

    def postprocess(self, accumulator):
        return accumulator


if __name__ == "__main__":  # local workers are spawned processes: no cluster at import time
    adl1_met.main(name="dimuon", processor_instance=DimuonProcessor(), key="dimu_mass", doc=__doc__)
