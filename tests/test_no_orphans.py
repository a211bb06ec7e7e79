"""Stopping the jupyter server (SIGTERM or SIGINT) closes every cluster it started: no worker
process and no HTCondor job is left.

One server per backend (the backend is a per-server setting): local workers are
processes of the server; HTCondor workers are jobs of the double, outside the
server's process tree, so both the server's descendants and the double's queue
are counted.
"""

import signal

import psutil
import pytest

from conftest import wait_until
from hub import alive
from test_rest_api import JupyterServer, wait_cluster

SMALL = {"DASK_JOBQUEUE__COFFEA_CASA__CORES": "1", "DASK_JOBQUEUE__COFFEA_CASA__MEMORY": "1 GiB"}


def start_clusters(server, sizes):
    ids = []
    for n in sizes:
        r = server.api("PUT", "clusters", {"workers": n})
        assert r.status_code == 201, r.text
        ids.append(r.json()["id"])
    for id, n in zip(ids, sizes):
        model = wait_cluster(server, id, lambda m, n=n: m["status"] == "failed" or m["workers"] == n, timeout=180)
        assert model["status"] == "running" and model["workers"] == n, model


def descendants(proc):
    try:
        return [p for p in psutil.Process(proc.pid).children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_stopping_the_server_leaves_no_workers_and_no_jobs(tmp_path, condor_double, sig):
    local = JupyterServer(tmp_path / "local", dict(SMALL, DASK_COFFEA_CASA__BACKEND="local"))
    # the double runs every job on this host: no pinned nanny port ("nanny-port": dashes map to _)
    condor = JupyterServer(
        tmp_path / "condor",
        dict(SMALL, DASK_COFFEA_CASA__BACKEND="htcondor",
             DASK_LABEXTENSION__FACTORY__KWARGS='{"nanny-port": None}'),
    )
    try:
        start_clusters(local, [1, 1])
        start_clusters(condor, [2])
        assert {m["backend"] for m in condor.api("GET", "clusters").json()} == {"htcondor"}
        assert len(condor_double.jobs()) == 2 and condor_double.running_pids()
        workers = descendants(local.proc) + descendants(condor.proc)
        assert len(alive(workers)) >= 2  # the local workers at least
    finally:
        for server in (local, condor):
            server.stop(sig)
    # a clean stop that closed the clusters itself (not a kill, not only the exit-time reaper)
    assert (local.proc.returncode, condor.proc.returncode) == (0, 0)
    assert "closing 2 cluster(s)" in local.output() and "closing 1 cluster(s)" in condor.output()
    assert wait_until(lambda: not alive(workers), timeout=60), [p.cmdline() for p in alive(workers)]
    assert condor_double.jobs() == []
    assert wait_until(lambda: not condor_double.running_pids(), timeout=30)
