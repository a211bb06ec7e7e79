"""Why don't I have workers? (issue 18) On the HTCondor test double and on the real personal
pool, through the sidebar's REST API: idle reasons from the pool's own analysis, an exited job's
story and log, and packages that differ between the kernel and the workers. (A job an admin
removes, its story and its log: test_htcondor_scenarios.py, beside its replacement.)"""

import json
import sys

import pytest

from conftest import wait_until
from test_htcondor_scenarios import QUICK_LOSS, jobs, logs_of, site, start, stop  # noqa: F401  (site: the fixture)
from test_rest_api import wait_cluster

QUICK_ANALYSIS = {"DASK_COFFEA_CASA__IDLE_ANALYSIS__AFTER": "1", "DASK_COFFEA_CASA__IDLE_ANALYSIS__EVERY": "2"}


def test_a_job_asking_for_more_memory_than_any_slot_says_why_it_waits(site):
    # both pools have one partitionable slot of 16 cores and 32 GiB
    server = site.server(dict(QUICK_ANALYSIS, DASK_JOBQUEUE__COFFEA_CASA__MEMORY="64 GiB"))
    try:
        id = server.api("PUT", "clusters", {"workers": 1}).json()["id"]
        model = wait_cluster(server, id, lambda m: (m["queue"] or {}).get("idle_reason"), timeout=120)
        line = model["queue"]["idle_reason"]
        assert line.startswith("1 job waiting for ") and model["workers"] == 0, model
        assert "no machine matches: request_memory 64 GiB, largest slot 32 GiB" in line, line
        (job,) = jobs(server, id).values()
        assert job["id"] == model["queue"]["idle_job"] and job["status"] == "idle"
        assert job["idle_since"] >= job["submitted"] and job["in_queue"] and job["end"] is None
        # Diagnose: the pool's whole analysis
        r = server.api("GET", f"clusters/{id}/jobs/{job['id']}/analysis", timeout=120)
        assert r.status_code == 200, r.text
        analysis = r.json()
        assert analysis["summary"] == "no machine matches: request_memory 64 GiB, largest slot 32 GiB", analysis
        assert "TARGET.Memory >= RequestMemory" in analysis["text"] and "Run analysis summary" in analysis["text"]
        assert server.api("GET", f"clusters/{id}/jobs/9999.0/analysis").status_code == 404
    finally:
        stop(server)


@pytest.mark.parametrize("spool", [False, True], ids=["files", "spooled"])
def test_an_exited_job_shows_its_exit_code_and_its_log(site, spool):
    env = dict(QUICK_LOSS, DASK_JOBQUEUE__COFFEA_CASA__JOB_SCRIPT_PROLOGUE='["echo the-prologue-gives-up >&2", "exit 3"]')
    if spool:  # where the pool keeps output in its spool until condor_transfer_data fetches it
        env["DASK_JOBQUEUE__COFFEA_CASA__SUBMIT_COMMAND_EXTRA"] = '["-spool"]'
    server = site.server(env)
    try:
        id = server.api("PUT", "clusters", {"workers": 1}).json()["id"]
        assert wait_cluster(server, id, lambda m: m["status"] != "starting")["status"] == "running"
        ended = lambda: [j for j in jobs(server, id).values() if (j["end"] or {}).get("kind") == "exited"]  # noqa: E731
        assert wait_until(ended, timeout=180), jobs(server, id)
        job = ended()[0]
        assert (job["status"], job["end"]["code"], job["end"]["text"]) in (
            ("completed", 3, "exited with code 3"), ("removed", 3, "exited with code 3")), job
        assert not job["in_queue"] or spool  # a spooled job waits in the queue until it is removed
        log = logs_of(server, id, job["id"])
        assert log["source"] == "files" and "the-prologue-gives-up" in log["stderr"], log
    finally:
        stop(server)


FAKE_AWKWARD = [  # what a worker image with another awkward looks like to importlib.metadata
    "mkdir -p fake/awkward-0.0.1.dist-info",
    "echo Name: awkward > fake/awkward-0.0.1.dist-info/METADATA",
    "echo Version: 0.0.1 >> fake/awkward-0.0.1.dist-info/METADATA",
    "export PYTHONPATH=$PWD/fake",
]
KERNEL = '''
import sys, time
from distributed import Client
from coffea_casa import CoffeaCasaCluster

with Client(sys.argv[1], security=CoffeaCasaCluster.security()) as client:
    print("connected", flush=True)
    time.sleep(300)
'''


def test_a_worker_with_another_package_version_raises_the_mismatch_warning(site):
    from importlib.metadata import version

    server = site.server({"DASK_JOBQUEUE__COFFEA_CASA__JOB_SCRIPT_PROLOGUE": json.dumps(FAKE_AWKWARD)})
    kernel = None
    try:
        model = start(server, 1)
        script = site.home / "kernel.py"
        script.write_text(KERNEL)
        site.give(script)
        # the user's kernel: a client of this sidebar cluster, from a process that imported coffea_casa
        kernel = site.popen([sys.executable, str(script), model["scheduler_address"]], stdout=-1, text=True)
        assert kernel.stdout.readline().strip() == "connected"
        mismatch = lambda m: [x for x in ((m.get("environment") or {}).get("mismatches") or [])  # noqa: E731
                              if x["package"] == "awkward" and x["kernel"]]
        model = wait_cluster(server, model["id"], mismatch, timeout=60)
        (awkward,) = mismatch(model)
        assert awkward["kernel"] == version("awkward") and awkward["workers"] == {"0.0.1": 1}, model["environment"]
        assert not [x for x in model["environment"]["mismatches"] if x["package"] in ("dask", "distributed")]
    finally:
        if kernel is not None:
            kernel.kill()
            kernel.wait()
        stop(server)


# --- the embedded default (local workers) ----------------------------------------------------

def test_a_notebook_clusters_kernel_and_its_workers_packages_are_compared(tmp_path):
    """For a notebook's cluster the kernel is the cluster's own process, and its client."""
    from importlib.metadata import version

    from kernel_client import NotebookKernel
    from test_rest_api import JupyterServer

    fake = tmp_path / "fake" / "awkward-0.0.1.dist-info"
    fake.mkdir(parents=True)
    (fake / "METADATA").write_text("Name: awkward\nVersion: 0.0.1\n")
    # what the workers see first on sys.path: another awkward (as a worker image with another version)
    (tmp_path / "other_awkward.py").write_text(f"import sys\nsys.path.insert(0, {str(tmp_path / 'fake')!r})\n")
    server = JupyterServer(tmp_path / "jupyter", {
        "DASK_COFFEA_CASA__BACKEND": "local", "DASK_JOBQUEUE__COFFEA_CASA__CORES": "1",
        "DASK_JOBQUEUE__COFFEA_CASA__MEMORY": "1 GiB",
        "DASK_DISTRIBUTED__WORKER__PRELOAD": json.dumps([str(tmp_path / "other_awkward.py")])})
    kernel = NotebookKernel(server, "analysis.ipynb")
    try:
        kernel.run("from distributed import Client\nfrom coffea_casa import CoffeaCasaCluster\n"
                   "cluster = CoffeaCasaCluster()\ncluster.scale(1)\nclient = Client(cluster)\n"
                   "client.wait_for_workers(1, timeout=120)")
        mismatch = lambda m: [x for x in ((m or {}).get("environment") or {}).get("mismatches") or []  # noqa: E731
                              if x["package"] == "awkward"]
        model = wait_until(lambda: next((m for m in server.api("GET", "clusters").json()
                                         if m["kind"] == "kernel" and mismatch(m)), None), timeout=60)
        assert model, server.api("GET", "clusters").json()
        (awkward,) = mismatch(model)
        assert (awkward["kernel"], awkward["workers"]) == (version("awkward"), {"0.0.1": 1}), model["environment"]
        assert [m["package"] for m in model["environment"]["mismatches"]] == ["awkward"]
    finally:
        kernel.close()
        server.stop()
