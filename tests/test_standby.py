"""The standby host (`coffea-casa.standby`): a warm host process that + NEW hands its request to,
on real servers and both backends.

- + NEW is served by the standby (the cluster's host is the standby's process), and a new
  standby takes its place; site options in the request are honoured;
- a standby is not listed, has no worker and never submits an HTCondor job;
- a standby made before the site's dask config changed is not used (and is replaced);
- a standby ends with its server: a graceful stop and a kill -9 alike.
"""

import json
import signal

import psutil
import pytest
import yaml

from conftest import wait_until
from hub import alive
from test_lifecycle import backend, backend_env, clusters  # noqa: F401
from test_rest_api import JupyterServer, wait_cluster

IMAGE = "coffeateam/coffea-casa-analysis:0.2.23"  # not the shipped default image


def standby_env(backend, **extra):  # noqa: F811
    return backend_env(backend, DASK_COFFEA_CASA__STANDBY="True", **extra)


def standbys(server):
    """The server's standby host processes (psutil.Process), ready or still loading."""
    try:
        children = psutil.Process(server.proc.pid).children()
    except psutil.NoSuchProcess:
        return []
    out = []
    for p in children:
        try:
            if "coffea_casa_lab.host" in p.cmdline() and "--standby" in p.cmdline():
                out.append(p)
        except psutil.NoSuchProcess:
            pass
    return alive(out)


def ready_standby(server, tmp_path, other_than=()):
    """The one standby that has loaded everything and waits for a request (its log says so)."""
    def ready():
        found = [p for p in standbys(server) if p.pid not in other_than]
        logs = "".join(f.read_text() for f in (tmp_path / "runtime" / "coffea-casa").glob("standby-*.log"))
        return found[0] if len(found) == 1 and f"standby {found[0].pid} ready" in logs else None

    standby = wait_until(ready, timeout=90, interval=0.2)
    assert standby, (standbys(server), server.output()[-3000:])
    return standby


def test_new_is_served_by_the_standby_and_a_new_one_takes_its_place(tmp_path, backend, request):  # noqa: F811
    server = JupyterServer(tmp_path, standby_env(backend))
    try:
        standby = ready_standby(server, tmp_path)
        assert clusters(server) == []  # not listed
        assert standby.children() == []  # no worker process
        if backend == "htcondor":  # no HTCondor command at all
            assert request.getfixturevalue("condor_double").transactions() == []

        r = server.api("PUT", "clusters", {"name": "warm", "workers": 1})
        assert r.status_code == 201, r.text
        assert r.json()["pid"] == standby.pid
        model = wait_cluster(server, r.json()["id"], lambda m: m["status"] == "failed" or m["workers"] == 1)
        assert (model["status"], model["workers"], model["pid"], model["name"]) == ("running", 1, standby.pid, "warm")
        assert model["backend"] == backend
        assert f"cluster {model['id']} (warm): handed to the standby host process {standby.pid}" in server.output()
        # its log is the cluster's now (the card quotes it if the host dies)
        runtime = tmp_path / "runtime" / "coffea-casa"
        assert (runtime / f"cluster-{model['id']}.log").is_file()

        successor = ready_standby(server, tmp_path, other_than={standby.pid})
        assert successor.pid != standby.pid and successor.children() == []
        assert [m["id"] for m in clusters(server)] == [model["id"]]
        if backend == "htcondor":  # the cluster's one job; none from either standby
            double = request.getfixturevalue("condor_double")
            assert [jobs for _, _, jobs in double.transactions("submit")] == [1]
        assert server.api("DELETE", f"clusters/{model['id']}").status_code == 200
    finally:
        server.stop()


def test_the_standby_takes_the_site_options_of_the_request(tmp_path, backend):  # noqa: F811
    options = [{"name": "cores", "type": "int", "default": 1, "min": 1, "max": 2},
               {"name": "worker_image", "type": "select", "choices": [IMAGE, "coffeateam/coffea-casa-analysis:latest"]}]
    server = JupyterServer(tmp_path, standby_env(backend, DASK_COFFEA_CASA__OPTIONS=json.dumps(options)))
    try:
        standby = ready_standby(server, tmp_path)
        r = server.api("PUT", "clusters", {"workers": 1, "options": {"cores": 2, "worker_image": IMAGE}})
        assert r.status_code == 201 and r.json()["pid"] == standby.pid, r.text
        model = wait_cluster(server, r.json()["id"], lambda m: m["status"] == "failed" or m["workers"] == 1)
        assert model["status"] == "running", model
        assert (model["worker_shape"]["cores"], model["worker_shape"]["image"], model["cores"]) == (2, IMAGE, 2)
        assert server.api("DELETE", f"clusters/{model['id']}").status_code == 200
    finally:
        server.stop()


def test_a_standby_made_before_the_settings_changed_is_not_used(tmp_path, backend):  # noqa: F811
    site = tmp_path / "dask"
    site.mkdir()
    server = JupyterServer(tmp_path, standby_env(backend, DASK_CONFIG=str(site)))
    try:
        stale = ready_standby(server, tmp_path)
        # the site changes its worker image after the standby was made
        (site / "site.yaml").write_text(yaml.safe_dump({"jobqueue": {"coffea-casa": {"worker-image": IMAGE}}}))
        r = server.api("PUT", "clusters", {"workers": 1})
        assert r.status_code == 201, r.text
        model = wait_cluster(server, r.json()["id"], lambda m: m["status"] == "failed" or m["workers"] == 1)
        assert model["status"] == "running", model
        assert model["pid"] != stale.pid and model["worker_shape"]["image"] == IMAGE
        assert wait_until(lambda: not alive([stale]), timeout=30)
        # the next one is made from the new settings, and is used
        fresh = ready_standby(server, tmp_path, other_than={stale.pid})
        r = server.api("PUT", "clusters", {"workers": 0})
        assert r.json()["pid"] == fresh.pid
        model = wait_cluster(server, r.json()["id"], lambda m: m["status"] != "starting")
        assert model["status"] == "running" and model["worker_shape"]["image"] == IMAGE, model
    finally:
        server.stop()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["graceful", "kill-9"])
def test_the_standby_ends_with_its_server(tmp_path, backend, sig, request):  # noqa: F811
    server = JupyterServer(tmp_path, standby_env(backend))
    standby = ready_standby(server, tmp_path)
    server.stop(sig)
    assert wait_until(lambda: not alive([standby]), timeout=30), standby.cmdline()
    runtime = tmp_path / "runtime" / "coffea-casa"
    assert not list(runtime.glob("standby-*")) and not list(runtime.glob("cluster-*"))
    if backend == "htcondor":
        assert request.getfixturevalue("condor_double").transactions("submit") == []
