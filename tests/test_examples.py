"""The docs' two analyses (examples/), as scripts and as notebooks, on the real NanoAOD files.

Every bin, under- and overflow included, must equal an independent computation with plain
uproot and numpy on the same file. Workers are small (1 core, 1 GiB) and few: the machine
has 2 cores and other tests run beside these.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import dask
import nbformat
import numpy as np
import pytest
import uproot
from nbclient import NotebookClient

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"
DATA = EXAMPLES / "data"  # real NanoAOD samples shipped with the repository (see its README)
FILES = [DATA / "nano_dimuon.root", DATA / "nano_dy.root"]
CHUNKSIZE = 20  # 40 events a file: two chunks per file, so the merging is exercised


# --- the independent computation: uproot + numpy, no coffea, no hist ------------------------

def counts(values, lo, hi, bins=50):
    """(in-range counts, underflow, overflow) on the edges lo + k*(hi - lo)/bins, [a, b) bins.

    The width is 2.0 here, so (v - lo) / width is exact: no float edge can move a value."""
    values = np.asarray(values, dtype=np.float64)
    index = np.floor((values - lo) / ((hi - lo) / bins)).astype(int)
    inside = (index >= 0) & (index < bins)
    return np.bincount(index[inside], minlength=bins).tolist(), int((index < 0).sum()), int((index >= bins).sum())


def expected_met(path):
    met = uproot.open(path)["Events"]["MET_pt"].array(library="np")
    return counts(met, 0, 100), len(met)


def expected_dimuon(path):
    columns = ["Muon_pt", "Muon_eta", "Muon_phi", "Muon_mass", "Muon_charge"]
    arrays = uproot.open(path)["Events"].arrays(columns, library="np")
    masses = []
    for pt, eta, phi, mass, charge in zip(*(arrays[c] for c in columns)):
        if len(pt) != 2 or charge.sum() != 0:
            continue
        pt, eta, phi, mass = (np.asarray(a, dtype=np.float64) for a in (pt, eta, phi, mass))
        px, py, pz = (pt * np.cos(phi)).sum(), (pt * np.sin(phi)).sum(), (pt * np.sinh(eta)).sum()
        energy = np.sqrt((pt * np.cosh(eta)) ** 2 + mass**2).sum()
        masses.append(np.sqrt(max(energy**2 - px**2 - py**2 - pz**2, 0.0)))
    masses = np.array(masses)
    # coffea computes in float32: no mass may sit so close to an edge that the precision decides
    edges = np.arange(20, 121, 2.0)
    assert np.abs(masses[:, None] - edges).min() > 1e-3, "a mass sits on a bin edge"
    return counts(masses, 20, 120), len(arrays["Muon_pt"])


EXPECTED = {"adl1_met": expected_met, "dimuon": expected_dimuon}
AXES = {"adl1_met": ("MET", 0, 100), "dimuon": ("dimu_mass", 20, 120)}


def check_histogram(analysis, histogram):
    """histogram: {dataset: (counts, underflow, overflow)}, one dataset per file, named after it."""
    assert sorted(histogram) == sorted(f.stem for f in FILES)
    for path in FILES:
        expected, _ = EXPECTED[analysis](path)
        assert histogram[path.stem] == expected, path.name
    assert sum(sum(c) + u + o for c, u, o in histogram.values()) > 0


def events_in(paths):
    return sum(EXPECTED["adl1_met"](p)[1] for p in paths)


# --- fixtures --------------------------------------------------------------------------------

def environment():
    env = dict(os.environ, DASK_COFFEA_CASA__BACKEND="local")
    # coffea_casa importable in subprocesses and kernels even without an installed package
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return env


@pytest.fixture(scope="module")
def running_cluster():
    """A cluster that is already up, like the one a user starts from the sidebar."""
    from distributed import Client

    from coffea_casa import CoffeaCasaCluster

    with dask.config.set({"coffea-casa.backend": "local"}):
        cluster = CoffeaCasaCluster(cores=1, memory="1 GiB")
        cluster.scale(1)
        with Client(cluster) as client:
            client.wait_for_workers(1, timeout=120)
        yield cluster
        cluster.close()


# --- the scripts -----------------------------------------------------------------------------

def run_script(name, tmp_path, *options):
    out = tmp_path / "out" / f"{name}.json"
    command = [sys.executable, str(EXAMPLES / f"{name}.py"), "--out", str(out), "--chunksize", str(CHUNKSIZE),
               *options, *map(str, FILES)]
    done = subprocess.run(command, cwd=tmp_path, env=environment(), capture_output=True, text=True, timeout=400)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-5000:]
    assert out.with_suffix(".png").stat().st_size > 1000
    return json.loads(out.read_text()), done.stdout


def check_script_result(name, result, stdout):
    key, lo, hi = AXES[name]
    hist = result["histogram"]
    assert hist["name"] == key
    assert np.allclose(hist["edges"], np.linspace(lo, hi, 51), rtol=0, atol=1e-9)
    check_histogram(name, {ds: (v["counts"], v["underflow"], v["overflow"]) for ds, v in hist["datasets"].items()})

    events = events_in(FILES)
    metrics, cutflow = result["metrics"], result["cutflow"]
    assert cutflow["all events"] == metrics["entries"] == events
    assert cutflow["number of chunks"] == metrics["chunks"] > len(FILES)
    assert metrics["bytesread"] > 0 and metrics["processtime"] > 0 and metrics["columns"]
    # chapter 3.2's numbers are printed
    for line in ("bytes read:", f"entries:       {events}", "process time:", f"chunks:        {metrics['chunks']}"):
        assert line in stdout


def test_adl1_met_script_starts_its_own_cluster(tmp_path, no_leaks):
    result, stdout = run_script("adl1_met", tmp_path, "--workers", "2", "--cores", "1", "--memory", "1 GiB")
    check_script_result("adl1_met", result, stdout)


def test_dimuon_script_on_a_running_cluster(tmp_path, running_cluster, no_leaks):
    result, stdout = run_script("dimuon", tmp_path, "--scheduler", running_cluster.scheduler_address)
    check_script_result("dimuon", result, stdout)
    expected = sum(sum(c) + u + o for c, u, o in (expected_dimuon(p)[0] for p in FILES))
    assert result["cutflow"]["opposite-charge dimuon"] == expected


# --- the notebooks ---------------------------------------------------------------------------

REPORT = """
import json
h = output[{key!r}]
print(json.dumps({{
    "histogram": {{ds: h[{{"dataset": ds}}].values(flow=True).tolist() for ds in h.axes[0]}},
    "edges": h.axes[1].edges.tolist(),
    "cutflow": dict(output["cutflow"]),
    "metrics": {{k: metrics[k] for k in ("entries", "chunks", "bytesread")}},
}}))
"""


def outputs(cell):
    return "".join(o.get("text", "") for o in cell.get("outputs", []) if o.get("name") == "stdout")


@pytest.mark.parametrize("name, own_cluster", [("adl1_met", False), ("dimuon", True)])
def test_notebook(name, own_cluster, tmp_path, running_cluster, monkeypatch, no_leaks):
    for key, value in environment().items():
        monkeypatch.setenv(key, value)
    nb = nbformat.read(EXAMPLES / f"{name}.ipynb", as_version=4)
    parameters = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    fileset = {f.stem: [str(f)] for f in FILES}
    parameters.source = (
        f"fileset = {fileset!r}\n"
        f"scheduler = {None if own_cluster else running_cluster.scheduler_address!r}\n"
        "workers = 1\n"
        "cluster_options = {'cores': 1, 'memory': '1 GiB'}\n"
        f"chunksize = {CHUNKSIZE}\n"
    )
    nb.cells.append(nbformat.v4.new_code_cell(REPORT.format(key=AXES[name][0])))
    # a cell that hangs is interrupted well inside pytest-timeout: its traceback says where
    NotebookClient(nb, timeout=150, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}},
                   interrupt_on_timeout=True).execute()

    report = json.loads(outputs(nb.cells[-1]))
    _, lo, hi = AXES[name]
    assert np.allclose(report["edges"], np.linspace(lo, hi, 51), rtol=0, atol=1e-9)
    check_histogram(name, {ds: (v[1:-1], v[0], v[-1]) for ds, v in report["histogram"].items()})
    events = events_in(FILES)
    assert report["cutflow"]["all events"] == report["metrics"]["entries"] == events
    assert report["cutflow"]["number of chunks"] == report["metrics"]["chunks"] > len(FILES)
    printed = "".join(outputs(c) for c in nb.cells)
    assert "bytes read:" in printed and f"entries:      {events}" in printed
    assert any("image/png" in o.get("data", {}) for c in nb.cells if c.cell_type == "code" for o in c.outputs)


@pytest.mark.parametrize("name", ["adl1_met", "dimuon"])
def test_notebook_default_fileset_is_the_shipped_samples(name):
    """A fresh clone runs the notebooks as they are: their default files ship in examples/data."""
    nb = nbformat.read(EXAMPLES / f"{name}.ipynb", as_version=4)
    parameters = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    namespace = {}
    exec(parameters.source, namespace)  # the kernel runs it with examples/ as its working directory
    paths = [EXAMPLES / p for files in namespace["fileset"].values() for p in files]
    assert sorted(paths) == sorted(FILES)
