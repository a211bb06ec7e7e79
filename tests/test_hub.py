"""End to end behind a real JupyterHub (deploy/jupyterhub_config.py, configurable-http-proxy):
two users' servers spawn through the hub; alice's cluster, its dashboard and bokeh websocket
work through the hub's proxy; bob's token and cookies, and no credentials, are refused on
alice's API and dashboards; when the hub stops a server, or the idle culler culls it, no
process of it (server, cluster hosts, schedulers, workers), no HTCondor job (the test double)
and no cluster record is left.

The browser side (log in, + NEW, a dashboard pane, inject and compute) is
ui-tests/tests/hub.spec.ts.
"""

import re

import pytest
import requests
import websocket

from hub import Hub, alive, wait_until


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    h = Hub(tmp_path_factory.mktemp("hub"), users=("alice", "bob"))
    yield h
    h.stop()


@pytest.fixture(scope="module")
def alice(hub):
    """alice's server with a running 1-worker cluster; (url, token, cluster model)."""
    url = hub.spawn("alice")
    token = hub.user_token("alice")
    api = requests.Session()
    api.headers["Authorization"] = f"token {token}"
    r = api.put(url + "coffea-casa/clusters", json={"workers": 1}, timeout=30)
    assert r.status_code == 201, r.text
    id = r.json()["id"]
    model = wait_until(lambda: (m := api.get(f"{url}coffea-casa/clusters/{id}", timeout=30).json())
                       ["workers"] >= 1 and m, timeout=120)
    assert model and model["status"] == "running", model
    return url, token, model


def cluster_processes(hub, name, server=""):
    """The user's server and all its descendants (cluster hosts, schedulers, workers)."""
    proc = hub.server_process(name, server)
    assert proc is not None, f"no server process for {name!r}"
    return [proc, *proc.children(recursive=True)]


def records(hub, name):
    return sorted((hub.home(name) / ".local/share/jupyter/runtime/coffea-casa").glob("cluster-*.json"))


def test_both_servers_spawn_through_the_hub(hub, alice):
    bob = hub.spawn("bob")
    assert bob == f"{hub.url}/user/bob/"
    assert alice[0] == f"{hub.url}/user/alice/"
    # each user's server is its own process, with its own home (and so its own CA and registry)
    assert hub.server_process("alice").pid != hub.server_process("bob").pid
    assert len(records(hub, "alice")) == 1 and records(hub, "bob") == []


def test_cluster_dashboard_and_websocket_through_the_hubs_proxy(hub, alice):
    url, token, model = alice
    auth = {"Authorization": f"token {token}"}
    assert model["scheduler_address"].startswith("tls://127.0.0.2:")
    listed = requests.get(url + "coffea-casa/clusters", headers=auth, timeout=30).json()
    assert [m["id"] for m in listed] == [model["id"]]
    page = requests.get(url + model["dashboard_url"] + "status", headers=auth, timeout=30)
    assert page.status_code == 200 and "Bokeh" in page.text
    bokeh_token = re.search(r'"token":"([^"]+)"', page.text).group(1)
    ws = websocket.create_connection(
        f"ws://127.0.0.1:{hub.port}/user/alice/{model['dashboard_url']}status/ws",
        header=[f"Authorization: token {token}"], subprotocols=["bokeh", bokeh_token], timeout=30)
    try:
        first = ws.recv()  # bokeh's ACK: a live session through CHP, the server and our proxy
        assert "ACK" in (first if isinstance(first, str) else first.decode())
    finally:
        ws.close()


def refused(r, id):
    """Not served: 401/403, or a redirect to the hub's login/OAuth, with nothing of the cluster."""
    assert id not in r.text, (r.status_code, r.text[:300])
    if r.status_code in (301, 302, 303, 307):
        return "/hub/" in r.headers["Location"]
    return r.status_code in (401, 403)


def test_bob_and_strangers_are_refused_on_alices_api_and_dashboards(hub, alice):
    url, _, model = alice
    id = model["id"]
    bob_token = hub.user_token("bob")
    bob = hub.login("bob")  # logged in at /hub/login, and has visited his own server
    assert bob.get(f"{hub.url}/user/bob/coffea-casa/health", timeout=30).status_code == 200
    bob_cookies = "; ".join(f"{c.name}={c.value}" for c in bob.cookies)
    assert "jupyterhub-user-bob" in bob_cookies and "jupyterhub-session-id" in bob_cookies
    credentials = {
        "bob's token": {"Authorization": f"token {bob_token}"},
        "bob's cookies": {"Cookie": bob_cookies},
        "none": {},
    }
    targets = [("GET", "coffea-casa/clusters"), ("GET", f"coffea-casa/clusters/{id}"),
               ("PUT", "coffea-casa/clusters"), ("PATCH", f"coffea-casa/clusters/{id}"),
               ("DELETE", f"coffea-casa/clusters/{id}"), ("GET", f"coffea-casa/clusters/{id}/jobs"),
               ("GET", model["dashboard_url"] + "status"), ("GET", model["dashboard_url"] + "individual-plots.json"),
               ("GET", "api/contents")]
    for who, headers in credentials.items():
        for method, path in targets:
            r = requests.request(method, url + path, headers=headers, json={"workers": 3} if method != "GET" else None,
                                 allow_redirects=False, timeout=30)
            assert refused(r, id), (who, method, path, r.status_code, r.headers.get("Location"))
        with pytest.raises(websocket.WebSocketBadStatusException) as e:
            websocket.create_connection(f"ws://127.0.0.1:{hub.port}/user/alice/{model['dashboard_url']}status/ws",
                                        header=[f"{k}: {v}" for k, v in headers.items()], timeout=30)
        assert e.value.status_code in (302, 401, 403), (who, e.value.status_code)
    # bob's browser session, following the hub's OAuth redirects, ends on the hub's 403
    r = bob.get(url + "coffea-casa/clusters", timeout=30)
    assert r.status_code == 403 and id not in r.text, (r.status_code, r.url)
    # and nothing of the above changed alice's cluster
    after = requests.get(f"{url}coffea-casa/clusters", headers={"Authorization": f"token {alice[1]}"}, timeout=30)
    assert [(m["id"], m["requested_workers"]) for m in after.json()] == [(id, 1)]


def test_the_hub_stopping_a_server_leaves_nothing(hub, alice):
    procs = cluster_processes(hub, "alice")
    assert len(alive(procs)) >= 3, [p.cmdline() for p in procs]  # server, cluster host, worker(s)
    assert any("coffea_casa_lab.host" in " ".join(p.cmdline()) for p in procs)
    hub.stop_server("alice")
    assert wait_until(lambda: not alive(procs), timeout=60), [p.cmdline() for p in alive(procs)]
    assert records(hub, "alice") == []
    assert "closing 1 cluster(s)" in hub.output()


def test_the_idle_culler_culling_a_server_leaves_nothing(tmp_path, condor_double):
    """The culler (a hub service, as deployed) stops a server idle for 20 s; the server reports
    its activity every second, so it lives while the test talks to it. This server's cluster
    is on the HTCondor backend (the test double, jobs on this host): no job may be left.

    Until its first API request a server's last activity is its start time, which on a loaded
    machine was 6.5 s before the hub saw it ready: a 5 s timeout culled it at once (seen in a
    full run). 20 s leaves room for that; the culler looks every 2 s."""
    server_env = dict(condor_double.env(), JUPYTERHUB_ACTIVITY_INTERVAL="1", DASK_COFFEA_CASA__BACKEND="htcondor",
                      DASK_LABEXTENSION__FACTORY__KWARGS='{"nanny-port": None}',  # jobs share this host
                      DASK_JOBQUEUE__COFFEA_CASA__WORKER_EXTRA_ARGS='["--host", "127.0.0.2"]')
    hub = Hub(tmp_path / "hub", users=("carol",), cull_timeout=20, cull_every=2, server_env=server_env)
    try:
        url = hub.spawn("carol")
        api = requests.Session()
        api.headers["Authorization"] = f"token {hub.user_token('carol')}"
        id = api.put(url + "coffea-casa/clusters", json={"workers": 2}, timeout=30).json()["id"]
        running = lambda: (m := api.get(f"{url}coffea-casa/clusters/{id}", timeout=30).json())[  # noqa: E731
            "workers"] >= 2 and m["status"] == "running" and m
        model = wait_until(running, timeout=120)
        assert model and model["backend"] == "htcondor", api.get(f"{url}coffea-casa/clusters/{id}").text
        assert len(condor_double.jobs()) == 2 and condor_double.running_pids()
        procs = cluster_processes(hub, "carol")
        assert len(alive(procs)) >= 2 and len(records(hub, "carol")) == 1
        # now nobody uses it
        assert wait_until(lambda: "" not in hub.user("carol")["servers"], timeout=90), hub.output()
        assert wait_until(lambda: not alive(procs), timeout=60), [p.cmdline() for p in alive(procs)]
        assert records(hub, "carol") == []
        assert condor_double.jobs() == []
        assert wait_until(lambda: not condor_double.running_pids(), timeout=30)
        log = hub.output()
        assert re.search(r"Culling server carol", log) and "closing 1 cluster(s)" in log, log[-3000:]
    finally:
        hub.stop()
