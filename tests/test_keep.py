"""Keeping one sidebar cluster running past a graceful stop of its server (`keep`,
`coffea-casa.keep-for`), on real servers and both backends: a kept cluster survives a
SIGTERM of the server and the next one adopts it; an unkept one beside it is closed; a kept
cluster nobody adopts closes itself after keep-for and leaves nothing; idle-timeout still
gives back its workers; the site's maximum and the kinds that cannot be kept are refused."""

import json
import signal
import time

import dask
import pytest

from coffea_casa_lab import keep, registry
from coffea_casa_lab.errors import ClusterError
from coffea_casa_lab.manager import ClusterManager
from conftest import wait_until
from test_lifecycle import alive, backend, backend_env, clusters, tree, workers_of  # noqa: F401
from test_rest_api import JupyterServer, wait_cluster

DAY = 24 * 3600


def test_keep_survives_a_sigterm_and_the_next_server_adopts_it(tmp_path, backend, request):  # noqa: F811
    env = backend_env(backend)
    first = JupyterServer(tmp_path, env)
    kept = first.api("PUT", "clusters", {"name": "overnight", "workers": 1}).json()["id"]
    other = first.api("PUT", "clusters", {"name": "scratch", "workers": 0}).json()["id"]
    before = wait_cluster(first, kept, lambda m: m["workers"] == 1)
    assert before["status"] == "running" and before["keep"] is None, before
    assert wait_cluster(first, other, lambda m: m["status"] == "running")["status"] == "running"

    r = first.api("PATCH", f"clusters/{kept}", {"keep": True})
    assert r.status_code == 200, r.text
    assert r.json()["keep"] == {"seconds": DAY, "until": None}
    kept_host, other_host = before["pid"], first.api("GET", f"clusters/{other}").json()["pid"]
    workers = workers_of(kept_host)
    first.stop(signal.SIGTERM)
    assert first.proc.returncode == 0
    assert f"keeping the sidebar clusters running for the next server: {kept}" in first.output() and "closing 1 cluster(s)" in first.output()
    assert alive([kept_host]) and wait_until(lambda: not alive([other_host]), timeout=60)
    assert backend == "htcondor" or alive(workers) == workers  # its worker runs on
    if backend == "htcondor":
        double = request.getfixturevalue("condor_double")
        assert len(double.jobs()) == 1  # the kept cluster's job, and no other
    # with no server, its record says until when it waits for one
    runtime = tmp_path / "runtime" / "coffea-casa"
    until = wait_until(lambda: _record(runtime, kept).get("keep", {}).get("until"), timeout=30)
    assert until and time.time() < until <= time.time() + DAY, until

    second = JupyterServer(tmp_path, env, log="server-2.log")
    try:
        (after,) = clusters(second)
        assert {k: after[k] for k in ("id", "name", "dashboard_url", "status", "workers")} == {
            k: before[k] for k in ("id", "name", "dashboard_url", "status", "workers")}
        assert wait_until(lambda: f"adopted cluster {kept}" in second.output(), timeout=10)
        after = second.api("GET", f"clusters/{kept}").json()
        assert after["keep"] == {"seconds": DAY, "until": None}, after  # still kept; adopted, so no deadline
        r = second.api("PATCH", f"clusters/{kept}", {"keep": False})
        assert r.status_code == 200 and r.json()["keep"] is None, r.text
    finally:
        second.stop()  # not kept any more: closed with its adopter
    assert "closing 1 cluster(s)" in second.output()
    assert wait_until(lambda: not alive([kept_host, *workers]), timeout=60)
    if backend == "htcondor":
        assert wait_until(lambda: double.jobs() == [], timeout=30), double.jobs()


def test_a_kept_cluster_nobody_adopts_closes_itself_after_keep_for(tmp_path, backend, request):  # noqa: F811
    server = JupyterServer(tmp_path, backend_env(backend, DASK_COFFEA_CASA__KEEP_FOR="5"))
    id = server.api("PUT", "clusters", {"workers": 1, "keep": True}).json()["id"]
    model = wait_cluster(server, id, lambda m: m["workers"] == 1, timeout=180)
    assert model["keep"] == {"seconds": 5, "until": None}, model
    processes = tree(server.proc.pid)
    server.stop(signal.SIGTERM)
    assert f"keeping the sidebar clusters running for the next server: {id}" in server.output()
    runtime = tmp_path / "runtime" / "coffea-casa"
    # orphaned, it lives on and writes until when it waits ...
    assert wait_until(lambda: _record(runtime, id).get("keep", {}).get("until"), timeout=30), _record(runtime, id)
    # ... and then closes itself, its workers and its jobs, and removes its record and log
    assert wait_until(lambda: not alive(processes), timeout=60), alive(processes)
    assert not list(runtime.glob("cluster-*.json")) and not list(runtime.glob("cluster-*.log"))
    if backend == "htcondor":
        double = request.getfixturevalue("condor_double")
        assert wait_until(lambda: double.jobs() == [], timeout=30), double.jobs()


def _record(runtime, id):
    try:
        return json.loads((runtime / f"cluster-{id}.json").read_text())
    except (OSError, ValueError):
        return {}


def test_idle_timeout_still_gives_back_a_kept_clusters_workers(tmp_path):
    env = backend_env("local", DASK_COFFEA_CASA__IDLE_TIMEOUT="3")
    first = JupyterServer(tmp_path, env)
    id = first.api("PUT", "clusters", {"workers": 1, "keep": True}).json()["id"]
    model = wait_cluster(first, id, lambda m: m["status"] == "running")
    host = model["pid"]
    first.stop(signal.SIGTERM)
    # orphaned and kept, its host lives on; idle, its worker goes
    assert wait_until(lambda: alive([host]) and not workers_of(host), timeout=60), workers_of(host)
    second = JupyterServer(tmp_path, env, log="server-2.log")
    try:
        model = wait_cluster(second, id, lambda m: m.get("idle"))
        assert model["workers"] == 0 and "to 0 workers" in model["idle"] and model["keep"]["seconds"] == DAY, model
        assert second.api("DELETE", f"clusters/{id}").status_code == 200
    finally:
        second.stop()
    assert not alive([host])


def test_the_site_keep_clusters_on_stop_is_the_default(tmp_path):
    env = backend_env("local", DASK_COFFEA_CASA__KEEP_CLUSTERS_ON_STOP="True", DASK_COFFEA_CASA__KEEP_FOR="2 hours")
    server = JupyterServer(tmp_path, env)
    try:
        kept = server.api("PUT", "clusters", {"workers": 0}).json()
        assert kept["keep"] == {"seconds": 7200, "until": None}, kept
        unkept = server.api("PUT", "clusters", {"workers": 0, "keep": False}).json()
        assert unkept["keep"] is None
        for id in (kept["id"], unkept["id"]):
            assert server.api("DELETE", f"clusters/{id}").status_code == 200
    finally:
        server.stop()


@pytest.mark.parametrize("value, message", [
    (DAY + 1, "at most 24 h"),
    ("2 days", "at most 24 h"),
    (0, "more than 0"),
    (-5, "more than 0"),
    ("soon", "true, false, or a duration"),
    ([True], "true, false, or a duration"),
])
def test_keep_beyond_the_sites_maximum_is_refused(value, message):
    with pytest.raises(ClusterError) as e:
        keep.check(value)
    assert e.value.status == 400 and message in str(e.value) and "coffea-casa.keep-for" in str(e.value)


def test_keep_values():
    assert keep.check(True) == DAY and keep.check(False) is None and keep.check(3600) == 3600
    assert keep.check("90 minutes") == 5400
    with dask.config.set({"coffea-casa.keep-for": "1 hour"}):
        assert keep.check(True) == 3600
        with pytest.raises(ClusterError, match="at most 1 h"):
            keep.check(7200)


async def test_only_a_sidebar_cluster_can_be_kept(tmp_path, monkeypatch):
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path / "runtime"))
    registry.write(dict(registry.owner_fields(), id="nb1", name="MET study", kind=registry.KERNEL,
                        control="tls://127.0.0.1:1", scheduler_address="", status="running"))
    manager = ClusterManager()
    with pytest.raises(ClusterError) as e:
        await manager.keep("nb1", True)
    assert e.value.status == 409 and "ends with its kernel" in str(e.value)
    with pytest.raises(ClusterError) as e:
        await manager.keep("nope", True)
    assert e.value.status == 404
