"""The dashboard proxy: a real dashboard on 127.0.0.2 through /user/alice/, crafted targets, auth.

Crafted targets go to a jupyter server whose cluster (factories.FakeCluster)
has its "dashboard" at a counting HTTP server of this test, so the test sees
every request that reaches the dashboard; canary listeners on other ports and
hosts count every connection anyone makes to them. Both must stay at zero.
"""

import http.client
import json
import re
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
import websocket

from conftest import wait_until
from test_rest_api import JupyterServer, server, wait_cluster  # noqa: F401  (fixture)

DASH = "/user/alice/coffea-casa/dashboard/"


class Canary:
    """A TCP listener that counts connections and never answers."""

    def __init__(self, host):
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.bind((host, 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self.running = True
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while self.running:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.connections += 1
            conn.close()

    def close(self):
        self.running = False
        self.thread.join(5)
        self.sock.close()


class FakeDashboard(ThreadingHTTPServer):
    """Answers like a Dask dashboard, records each request path, and can redirect."""

    def __init__(self, away):
        self.paths = []

        class Handler(BaseHTTPRequestHandler):
            def do_GET(h):  # noqa: N805
                self.paths.append((h.path, dict(h.headers)))
                if h.path == "/redirect-away":
                    h.send_response(302)
                    h.send_header("Location", f"http://127.0.0.3:{away}/stolen")
                elif h.path == "/redirect-scheme-relative":
                    h.send_response(302)
                    h.send_header("Location", f"//127.0.0.3:{away}/stolen")
                elif h.path == "/":
                    h.send_response(302)
                    h.send_header("Location", "/status")
                else:
                    h.send_response(200)
                    h.send_header("Content-Type", "application/json")
                body = json.dumps({"path": h.path}).encode()
                h.send_header("Content-Length", str(len(body)))
                h.end_headers()
                h.wfile.write(body)

            def log_message(h, *args):  # noqa: N805
                pass

        super().__init__(("127.0.0.2", 0), Handler)
        self.port = self.server_address[1]
        threading.Thread(target=self.serve_forever, daemon=True).start()


@pytest.fixture(scope="module")
def canaries():
    hosts = ["127.0.0.2", "127.0.0.3", "127.0.0.1"]
    if socket.has_ipv6:
        try:
            Canary("::1").close()
            hosts.append("::1")
        except OSError:
            pass
    cs = {h: Canary(h) for h in hosts}
    yield cs
    for c in cs.values():
        c.close()


@pytest.fixture(scope="module")
def dashboard(canaries):
    d = FakeDashboard(away=canaries["127.0.0.3"].port)
    yield d
    d.shutdown()
    d.server_close()


@pytest.fixture(scope="module")
def fake(tmp_path_factory, dashboard):
    env = {
        "DASK_LABEXTENSION__FACTORY__MODULE": "factories",
        "DASK_LABEXTENSION__FACTORY__CLASS": "FakeCluster",
        "FAKE_DASHBOARD_PORT": str(dashboard.port),
    }
    s = JupyterServer(tmp_path_factory.mktemp("jupyter-proxy"), env)
    id = s.api("PUT", "clusters").json()["id"]
    wait_cluster(s, id, lambda m: m["status"] == "running", timeout=30)
    closed = s.api("PUT", "clusters").json()["id"]
    wait_cluster(s, closed, lambda m: m["status"] == "running", timeout=30)
    assert s.api("DELETE", f"clusters/{closed}").status_code == 200
    s.cluster_id, s.closed_id, s.dashboard_port = id, closed, dashboard.port
    yield s
    s.stop()


def raw_get(server, path, headers=None):
    """GET exactly this path (no client-side normalisation of .. or %2e)."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    conn.request("GET", path, headers={"Authorization": f"token {server.token}", **(headers or {})})
    r = conn.getresponse()
    body = r.read()
    conn.close()
    return r.status, dict(r.getheaders()), body


def test_fake_dashboard_through_the_proxy(fake, dashboard):
    before = len(dashboard.paths)
    status, _, body = raw_get(fake, f"{DASH}{fake.cluster_id}/individual-plots.json?x=1&token={fake.token}")
    assert status == 200 and json.loads(body) == {"path": "/individual-plots.json?x=1"}
    path, headers = dashboard.paths[before]
    assert fake.token not in path
    # the user's Jupyter credentials never reach the dashboard
    assert not {"Authorization", "Cookie", "X-XSRFToken"} & set(headers)
    # a redirect within the dashboard stays within the proxy
    status, headers, _ = raw_get(fake, f"{DASH}{fake.cluster_id}/")
    assert status == 302 and headers["Location"] == f"{DASH}{fake.cluster_id}/status"


def test_a_dashboard_that_refuses_the_websocket_closes_it_with_a_reason(fake):
    """The fake dashboard speaks plain HTTP: the relay cannot open, and says so in the close frame."""
    url = f"ws://127.0.0.1:{fake.port}{DASH}{fake.cluster_id}/status/ws"
    ws = websocket.create_connection(url, header=[f"Authorization: token {fake.token}"], timeout=30)
    try:
        opcode, data = ws.recv_data(control_frame=True)
    finally:
        ws.close()
    assert opcode == websocket.ABNF.OPCODE_CLOSE
    assert int.from_bytes(data[:2], "big") == 1011 and b"did not accept the websocket" in data[2:], data
    assert fake.healthy() and "Uncaught exception" not in fake.output()


def test_a_registered_dashboard_by_its_host_and_port(fake, dashboard):
    """The link distributed shows in a notebook: {base_url}coffea-casa/dashboard/{host}:{port}/status."""
    status, _, body = raw_get(fake, f"{DASH}127.0.0.2:{dashboard.port}/individual-plots.json")
    assert status == 200 and json.loads(body) == {"path": "/individual-plots.json"}


def test_a_closed_clusters_plot_says_so_in_its_pane(fake):
    """A dashboard pane restored with the lab, or a browser tab, of a cluster that has closed: a page
    that says what happened, not raw JSON; API clients still get JSON."""
    html = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
    status, headers, body = raw_get(fake, f"{DASH}{fake.closed_id}/individual-task-stream", html)
    assert status == 404 and headers["Content-Type"].startswith("text/html"), headers
    page = body.decode()
    assert "This cluster is no longer running" in page and "<script" not in page, page
    status, headers, body = raw_get(fake, f"{DASH}{fake.closed_id}/individual-task-stream")
    assert status == 404 and json.loads(body) == {"message": "no running cluster with this id"}
    status, headers, body = raw_get(fake, f"{DASH}{fake.cluster_id}/%2e%2e/x", html)
    assert status == 400 and "invalid dashboard path" in body.decode()


def crafted(fake, c):
    id, closed = fake.cluster_id, fake.closed_id
    p2, p3 = c["127.0.0.2"].port, c["127.0.0.3"].port
    p6 = c["::1"].port if "::1" in c else 1
    return [
        f"{id}/../../../api/status",
        f"{id}/%2e%2e/%2e%2e/%2e%2e/api/status",
        f"{id}/%2E%2E%2F%2E%2E%2Fapi%2Fstatus",
        f"{id}/..%2f..%2fapi",
        f"{id}/status/../../..",
        f"{id}/./status",
        f"{id}//127.0.0.3:{p3}/",
        f"{id}/%2F127.0.0.3:{p3}/",
        f"{id}/@127.0.0.3:{p3}/",
        f"{id}/127.0.0.2:{p2}/status",
        f"{id}/http://127.0.0.3:{p3}/",
        f"{id}/http:%2F%2F127.0.0.3:{p3}/",
        f"{id}/[::1]:{p6}/",
        f"{id}/%5B::1%5D:{p6}/",
        f"{id}/..%5C..%5Capi",
        f"{id}/%00status",
        f"{id}@127.0.0.3:{p3}/status",
        f"{id}:{p2}/status",
        f"127.0.0.3:{p3}/status",
        f"[::1]:{p6}/status",
        f"%5B::1%5D:{p6}/status",
        f"127.0.0.2%3A{p2}/status",
        # host:port keys only name registered dashboards: not a canary, not a neighbour port
        f"127.0.0.2:{p2}/status",
        f"127.0.0.3:{fake.dashboard_port}/status",
        f"127.0.0.2:{fake.dashboard_port + 1}/status",
        f"[127.0.0.2]:{fake.dashboard_port}x/status",
        "deadbeef0000/status",
        f"{closed}/status",
        f"{closed}/individual-plots.json",
        f"{id}/redirect-away",
        f"{id}/redirect-scheme-relative",
    ]


def test_crafted_targets_are_refused_without_any_connection(fake, dashboard, canaries):
    targets = crafted(fake, canaries)
    assert len(targets) >= 20
    reaching = {f"{fake.cluster_id}/redirect-away", f"{fake.cluster_id}/redirect-scheme-relative"}
    for target in targets:
        before = len(dashboard.paths)
        status, headers, body = raw_get(fake, DASH + target)
        assert 400 <= status < 500, (target, status, body[:200])
        assert "127.0.0.3" not in headers.get("Location", ""), target
        if target not in reaching:  # refused before any connection, even to the real dashboard
            assert len(dashboard.paths) == before, (target, dashboard.paths[before:])
    for host, canary in canaries.items():
        assert canary.connections == 0, host


def test_crafted_websocket_targets_are_refused_before_the_upgrade(fake, canaries):
    for target in crafted(fake, canaries)[:-2]:
        url = f"ws://127.0.0.1:{fake.port}{DASH}{target}"
        with pytest.raises(websocket.WebSocketBadStatusException) as e:
            websocket.create_connection(url, header=[f"Authorization: token {fake.token}"], timeout=10)
        assert 400 <= e.value.status_code < 500, target
    assert all(c.connections == 0 for c in canaries.values())


def login_cookie(server):
    """A browser-like session: Jupyter's login cookie (the token is not sent again)."""
    s = requests.Session()
    s.get(server.url + "login", timeout=10)
    r = s.post(server.url + "login", data={"password": server.token, "_xsrf": s.cookies["_xsrf"]},
               allow_redirects=False, timeout=10)
    assert r.status_code == 302, r.status_code
    return "; ".join(f"{c.name}={c.value}" for c in s.cookies)


# A token in a header is proof enough (a foreign page cannot know it), so Jupyter skips its
# Origin check for token requests; the cross-site threat is a page riding the login cookie.
CASES = {
    "no-token": {},
    "wrong-token": {"Authorization": "token wrong"},
    "foreign-origin": {"Cookie": "{cookie}", "Origin": "http://evil.example"},
}


@pytest.mark.parametrize("case", CASES)
def test_http_needs_auth_and_same_origin(fake, dashboard, case):
    cookie = login_cookie(fake)
    headers = {k: v.format(cookie=cookie) for k, v in CASES[case].items()}
    url = f"{fake.url}coffea-casa/dashboard/{fake.cluster_id}/individual-plots.json"
    before = len(dashboard.paths)
    r = requests.get(url, headers=headers, allow_redirects=False, timeout=10)
    assert r.status_code in (302, 401, 403), r.status_code
    if r.status_code == 302:  # to Jupyter's login page, not the dashboard
        assert "/login" in r.headers["Location"]
    assert len(dashboard.paths) == before
    # the same cookie from the server's own origin works
    same = {"Cookie": cookie, "Origin": f"http://127.0.0.1:{fake.port}"}
    assert requests.get(url, headers=same, allow_redirects=False, timeout=10).status_code == 200


@pytest.mark.parametrize("case", CASES)
def test_websocket_needs_auth_and_same_origin(fake, dashboard, case):
    cookie = login_cookie(fake)
    headers = [f"{k}: {v.format(cookie=cookie)}" for k, v in CASES[case].items() if k != "Origin"]
    origin = CASES[case].get("Origin")
    before = len(dashboard.paths)
    url = f"ws://127.0.0.1:{fake.port}{DASH}{fake.cluster_id}/status/ws"
    with pytest.raises(websocket.WebSocketBadStatusException) as e:
        websocket.create_connection(url, header=headers, origin=origin, suppress_origin=origin is None, timeout=10)
    assert e.value.status_code in (401, 403)
    assert len(dashboard.paths) == before


def test_real_dashboard_on_127_0_0_2_with_its_websocket(server):  # noqa: F811
    id = server.api("PUT", "clusters", {"name": "dash"}).json()["id"]
    try:
        model = wait_cluster(server, id, lambda m: m["status"] != "starting")
        assert model["status"] == "running", model
        assert model["scheduler_address"].startswith("tls://127.0.0.2:")
        base = server.url + model["dashboard_url"]

        r = server.session.get(base + "individual-plots.json", timeout=30)
        assert r.status_code == 200 and "Individual Task Stream" in r.json()
        r = server.session.get(base, allow_redirects=False, timeout=30)
        assert r.status_code in (301, 302) and r.headers["Location"] == f"{DASH}{id}/status"
        page = server.session.get(base + "status", timeout=30)
        assert page.status_code == 200 and "Bokeh" in page.text
        token = re.search(r'"token":"([^"]+)"', page.text).group(1)

        ws = websocket.create_connection(
            f"ws://127.0.0.1:{server.port}{DASH}{id}/status/ws",
            header=[f"Authorization: token {server.token}"],
            subprotocols=["bokeh", token], timeout=30,
        )
        try:
            first = ws.recv()  # bokeh's ACK: the session is live through the proxy
            assert "ACK" in (first if isinstance(first, str) else first.decode())
        finally:
            ws.close()
    finally:
        assert server.api("DELETE", f"clusters/{id}").status_code == 200
    r = server.session.get(base + "individual-plots.json", timeout=30)
    assert r.status_code == 404
    assert wait_until(lambda: server.api("GET", "clusters").json() == [], timeout=10)


class FakeWebsocketDashboard:
    """A websocket dashboard on 127.0.0.2 (aiohttp, in a thread of its own): `/echo` echoes every
    message and records the close code it gets; `/close` closes at once with 4001 "bye". It records
    each upgrade's headers."""

    def __init__(self):
        import asyncio

        from aiohttp import WSMsgType, web

        self.upgrades, self.closes = [], []
        self.loop = asyncio.new_event_loop()
        ready = threading.Event()

        async def echo(request):
            self.upgrades.append(dict(request.headers))
            ws = web.WebSocketResponse(protocols=("bokeh",), max_msg_size=0)
            await ws.prepare(request)
            while True:
                msg = await ws.receive()
                if msg.type == WSMsgType.CLOSE:
                    self.closes.append((msg.data, msg.extra))
                    break
                if msg.type not in (WSMsgType.TEXT, WSMsgType.BINARY):
                    break
                await (ws.send_bytes(msg.data) if msg.type == WSMsgType.BINARY else ws.send_str(msg.data))
            await ws.close()
            return ws

        async def close(request):
            self.upgrades.append(dict(request.headers))
            ws = web.WebSocketResponse()
            await ws.prepare(request)
            await ws.close(code=4001, message=b"bye")
            return ws

        async def serve():
            app = web.Application()
            app.router.add_get("/echo", echo)
            app.router.add_get("/close", close)
            self.runner = web.AppRunner(app)
            await self.runner.setup()
            site = web.TCPSite(self.runner, "127.0.0.2", 0)
            await site.start()
            self.port = site._server.sockets[0].getsockname()[1]
            ready.set()

        def run():
            asyncio.set_event_loop(self.loop)
            self.loop.run_until_complete(serve())
            self.loop.run_forever()

        threading.Thread(target=run, daemon=True).start()
        ready.wait(30)

    def stop(self):
        import asyncio

        asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(30)
        self.loop.call_soon_threadsafe(self.loop.stop)


@pytest.fixture(scope="module")
def ws_fake(tmp_path_factory):
    dashboard = FakeWebsocketDashboard()
    env = {
        "DASK_LABEXTENSION__FACTORY__MODULE": "factories",
        "DASK_LABEXTENSION__FACTORY__CLASS": "FakeCluster",
        "FAKE_DASHBOARD_PORT": str(dashboard.port),
    }
    s = JupyterServer(tmp_path_factory.mktemp("jupyter-ws"), env)
    s.cluster_id = s.api("PUT", "clusters").json()["id"]
    wait_cluster(s, s.cluster_id, lambda m: m["status"] == "running", timeout=30)
    s.dashboard = dashboard
    yield s
    s.stop()
    dashboard.stop()


def test_the_relay_passes_the_browsers_handshake_without_credentials_and_the_bytes_unchanged(ws_fake):
    dashboard, cookie = ws_fake.dashboard, login_cookie(ws_fake)
    ws = websocket.create_connection(
        f"ws://127.0.0.1:{ws_fake.port}{DASH}{ws_fake.cluster_id}/echo?token={ws_fake.token}",
        header=[f"Authorization: token {ws_fake.token}", f"Cookie: {cookie}", "X-XSRFToken: secret",
                "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits"],
        subprotocols=["session-token-123", "bokeh"], timeout=30)
    try:
        assert ws.subprotocol == "bokeh"  # the dashboard's choice, not the first offered
        assert "sec-websocket-extensions" not in {k.lower() for k in ws.headers}  # frames stay as they are
        for message in ["hello", "é" * 1000, b"\x00\xff" * 70000, b"x" * (1 << 20)]:  # short, 16-bit, 64-bit lengths
            ws.send_binary(message) if isinstance(message, bytes) else ws.send(message)
            assert ws.recv() == message
    finally:
        ws.close()
    headers = {k.lower(): v for k, v in dashboard.upgrades[-1].items()}
    assert not {"authorization", "cookie", "x-xsrftoken", "sec-websocket-extensions"} & set(headers), headers
    assert [p.strip() for p in headers["sec-websocket-protocol"].split(",")] == ["session-token-123", "bokeh"]
    assert headers["host"] == f"127.0.0.2:{dashboard.port}"


def test_close_codes_pass_both_ways(ws_fake):
    url = f"ws://127.0.0.1:{ws_fake.port}{DASH}{ws_fake.cluster_id}"
    auth = [f"Authorization: token {ws_fake.token}"]
    ws = websocket.create_connection(f"{url}/close", header=auth, timeout=30)
    try:
        opcode, data = ws.recv_data(control_frame=True)
    finally:
        ws.close()
    assert opcode == websocket.ABNF.OPCODE_CLOSE and (int.from_bytes(data[:2], "big"), data[2:]) == (4001, b"bye")

    ws = websocket.create_connection(f"{url}/echo", header=auth, timeout=30)
    ws.send("ping")
    assert ws.recv() == "ping"
    ws.close(status=4002, reason=b"done")
    assert wait_until(lambda: ws_fake.dashboard.closes and ws_fake.dashboard.closes[-1] == (4002, "done"), timeout=10), \
        ws_fake.dashboard.closes
    assert "Uncaught exception" not in ws_fake.output() and "Traceback" not in ws_fake.output()


class HttpsJupyterServer(JupyterServer):
    """The same server serving HTTPS, with this run's per-user certificate (127.0.0.1 is in it)."""

    def __init__(self, tmp, env, tls):
        self.ca = str(tls / "ca.pem")
        cert = str(tls / "hostcert.pem")
        super().__init__(tmp, env, extra_args=[f"--ServerApp.certfile={cert}", f"--ServerApp.keyfile={cert}"])
        self.url = self.url.replace("http://", "https://")

    def api(self, method, path, body=None, **kwargs):
        return super().api(method, path, body, verify=self.ca, **kwargs)  # (REQUESTS_CA_BUNDLE would win over session.verify)

    def healthy(self):
        if self.proc.poll() is not None:
            raise RuntimeError("jupyter server exited:\n" + self.output())
        try:
            return requests.get(f"https://127.0.0.1:{self.port}/user/alice/coffea-casa/health", timeout=5,
                                headers={"Authorization": f"token {self.token}"}, verify=self.ca).status_code == 200
        except requests.RequestException:
            return False


def test_the_relay_over_a_server_that_serves_https(tmp_path):
    from coffea_casa_lab.security import secrets_dir

    dashboard = FakeWebsocketDashboard()
    env = {"DASK_LABEXTENSION__FACTORY__MODULE": "factories", "DASK_LABEXTENSION__FACTORY__CLASS": "FakeCluster",
           "FAKE_DASHBOARD_PORT": str(dashboard.port)}
    server = HttpsJupyterServer(tmp_path, env, secrets_dir())
    try:
        id = server.api("PUT", "clusters").json()["id"]
        wait_cluster(server, id, lambda m: m["status"] == "running", timeout=30)
        url = f"wss://127.0.0.1:{server.port}{DASH}{id}"
        auth, tls = [f"Authorization: token {server.token}"], {"ca_certs": server.ca}
        ws = websocket.create_connection(f"{url}/echo", header=auth, sslopt=tls, subprotocols=["bokeh"], timeout=30)
        assert ws.subprotocol == "bokeh"
        for message in ["hello", b"y" * (4 << 20)]:  # more than the relay lets wait unsent
            ws.send_binary(message) if isinstance(message, bytes) else ws.send(message)
            assert ws.recv() == message
        ws.close(status=4002, reason=b"done")
        assert wait_until(lambda: dashboard.closes and dashboard.closes[-1] == (4002, "done"), timeout=10)
        ws = websocket.create_connection(f"{url}/close", header=auth, sslopt=tls, timeout=30)
        opcode, data = ws.recv_data(control_frame=True)
        ws.close()
        assert opcode == websocket.ABNF.OPCODE_CLOSE and int.from_bytes(data[:2], "big") == 4001
        assert "Traceback" not in server.output()
    finally:
        server.stop()
        dashboard.stop()
