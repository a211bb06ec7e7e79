"""Why don't I have workers? (issue 18) Packages compared between a notebook's cluster's kernel
and its (local) workers. The HTCondor scenarios of the issue (why jobs wait, an exited job's
story and log, an admin-removed job in the pane, a worker with another package) are in
htcondor_scenarios.py, on the double and on the real pool."""

import json

from conftest import wait_until


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


def test_the_kernels_own_client_preload_prints_nothing_in_the_notebook():
    """distributed logs each client preload at INFO, which a kernel shows as stderr under the
    injected `Client(...)` cell; ours is silent, a user's own preloads still say so."""
    import logging

    from distributed.preloading import Preload

    import coffea_casa  # noqa: F401  (makes every Client of this process report its packages)
    from coffea_casa_lab import environment, tls_workaround

    records = []
    handler = logging.Handler(logging.DEBUG)
    handler.emit = records.append
    log = logging.getLogger("distributed.preloading")
    log.addHandler(handler)
    level = log.level
    log.setLevel(logging.INFO)
    try:
        Preload(None, environment.__name__, [], None)
        assert records == []
        Preload(None, tls_workaround.__name__, [], None)
        assert [r.getMessage() for r in records] == [f"Creating preload: {tls_workaround.__name__}",
                                                     f"Import preload module: {tls_workaround.__name__}"]
    finally:
        log.removeHandler(handler)
        log.setLevel(level)
