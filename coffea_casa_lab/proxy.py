"""Dashboard proxy: {base_url}coffea-casa/dashboard/{id}/{path}, HTTP and websockets.

Built on jupyter-server-proxy's ProxyHandler (auth on every request, Location
rewriting); HTTP goes through a pooled aiohttp client, websockets through a byte relay
(coffea_casa_lab.ws_relay). The target is always the dashboard address the
ClusterManager holds for {id}, whatever host that is; nothing in the request
chooses a host or port. Paths that try to climb out of the dashboard are refused
before any connection is made.
"""

import asyncio
import json
import logging
from urllib.parse import parse_qsl, quote, urlencode, urlparse

import aiohttp
from jupyter_server.utils import url_path_join
from jupyter_server_proxy.handlers import ProxyHandler
from tornado import httputil, web
from tornado.escape import xhtml_escape

from . import ws_relay
from .handlers import MANAGER_KEY

# Headers meant for Jupyter, never for a dashboard (which may sit on another host).
_PRIVATE_HEADERS = {"authorization", "cookie", "x-xsrftoken", "host"}
_HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer",
               "upgrade", "proxy-authorization", "proxy-authenticate", "content-length"}
_NOT_PASSED = _PRIVATE_HEADERS | _HOP_BY_HOP  # (Tornado spells X-XSRFToken X-Xsrftoken: compared in lowercase)
_SESSIONS = {}  # event loop -> aiohttp.ClientSession


def _session():
    """One pooled, keep-alive HTTP client per event loop.

    jupyter-server-proxy makes a new client (and a new connection, and a thread-pool
    name lookup) for every request; for small dashboard JSON that was most of the
    proxy's cost. Bodies pass through untouched (no decompression).
    """
    loop = asyncio.get_running_loop()
    session = _SESSIONS.get(loop)
    if session is None or session.closed:
        timeout = aiohttp.ClientTimeout(total=300, connect=30)
        session = _SESSIONS[loop] = aiohttp.ClientSession(
            timeout=timeout, auto_decompress=False, cookie_jar=aiohttp.DummyCookieJar(),
            skip_auto_headers=("User-Agent", "Accept-Encoding"),
        )
    return session


async def close_sessions():
    for session in list(_SESSIONS.values()):
        await session.close()
    _SESSIONS.clear()


class DashboardProxyHandler(ProxyHandler):
    SUPPORTED_METHODS = ("GET", "HEAD")  # a Dask dashboard is read-only; the rest is 405

    def initialize(self, **kwargs):
        self.target = None

    @property
    def manager(self):
        return self.settings[MANAGER_KEY]

    def _resolve(self, cluster_id, path):
        """Check the request and set self.target to (host, port), or answer a 4xx.

        Runs before any connection and before a websocket upgrade. The path only
        selects a page of the dashboard; it cannot climb out of it.
        """
        if not self.check_origin():  # Jupyter's own rule (allow_origin), for HTTP as for websockets
            raise web.HTTPError(403, "cross-origin request refused")
        if "\\" in path or path.startswith("/") or any(ord(c) < 32 for c in path):
            raise web.HTTPError(400, "invalid dashboard path")
        parts = path.split("/")
        # no dot segments, and no first segment that reads like an authority (host:port, user@, [v6])
        if any(p in (".", "..") for p in parts) or any(c in parts[0] for c in "@:[]"):
            raise web.HTTPError(400, "invalid dashboard path")
        target = self.manager.dashboard_target(cluster_id)
        if target is None:
            raise web.HTTPError(404, "no running cluster with this id")
        self.proxy_base = url_path_join("coffea-casa", "dashboard", cluster_id)  # for Location rewriting
        if "token" in self.request.query:  # a ?token= authenticates to Jupyter, not to the dashboard
            query = [(k, v) for k, v in parse_qsl(self.request.query, keep_blank_values=True) if k != "token"]
            self.request.query = urlencode(query)
        host = f"[{target[0]}]" if ":" in target[0] else target[0]  # as it goes in a URL
        self.host_allowlist = [host]
        self.target = host, target[1]

    def _rewrite_location_header(self, location, host, port, proxied_path):
        parsed = urlparse(location)
        if parsed.netloc:
            if (parsed.hostname, parsed.port) != (host.strip("[]"), port):
                # a redirect elsewhere is not ours to pass on
                raise web.HTTPError(403, "the dashboard redirected to another address; not followed")
            location = parsed._replace(scheme="", netloc="").geturl()
        return super()._rewrite_location_header(location, host, port, proxied_path)

    def write_error(self, status_code, **kwargs):
        exc = kwargs.get("exc_info", (None, None, None))[1]
        message = getattr(exc, "log_message", None) or self._reason
        if "text/html" in self.request.headers.get("Accept", ""):  # a pane's iframe or a browser tab
            self.set_header("Content-Type", "text/html; charset=UTF-8")
            self.finish(_error_page(status_code, message))
            return
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"message": message}))

    async def get(self, cluster_id, path):
        self._resolve(cluster_id, path)
        if self.request.headers.get("Upgrade", "").lower() == "websocket":
            await self._relay_websocket(cluster_id, path)
        else:
            await self._forward(path)

    async def _relay_websocket(self, cluster_id, path):
        """The dashboard's websocket, relayed as bytes (coffea_casa_lab.ws_relay), after the checks
        Tornado's WebSocketHandler makes of an upgrade (auth, origin and target: prepare and _resolve)."""
        headers = self.request.headers
        if "upgrade" not in (s.strip().lower() for s in headers.get("Connection", "").split(",")):
            raise web.HTTPError(400, '"Connection" must be "Upgrade"')
        cross_origin = getattr(self, "_check_cross_origin", None)  # Tornado's rule for websockets (6.5+)
        if cross_origin is not None and cross_origin(self.check_origin) is not None:
            raise web.HTTPError(403, "cross-origin websocket refused")
        if headers.get("Sec-WebSocket-Version") not in ("7", "8", "13"):
            self.set_status(426)
            self.set_header("Sec-WebSocket-Version", "13")
            self.finish({"message": "websocket version 13 required"})
            return
        key = headers.get("Sec-WebSocket-Key")
        if not key:
            raise web.HTTPError(400, "missing Sec-WebSocket-Key")
        host, port = self.target
        target = f"/{quote(path, safe=self._SAFE)}" + (f"?{self.request.query}" if self.request.query else "")
        self._record_activity()
        try:
            dashboard = await ws_relay.connect(host, port, target, key, _passed_headers(headers),
                                               on_activity=self._record_activity)
            subprotocol = dashboard.subprotocol
        except ws_relay.Refused as e:
            self.log.warning("dashboard websocket %s of cluster %s: %s", path, cluster_id, e)
            dashboard, subprotocol = None, (headers.get("Sec-WebSocket-Protocol") or "").split(",")[0].strip()
            reason = f"the dashboard did not accept the websocket: {e}"
        # The browser's upgrade is answered as Tornado answers it; then the connection is the relay's.
        self.set_status(101)
        self.set_header("Upgrade", "websocket")
        self.set_header("Connection", "Upgrade")
        self.set_header("Sec-WebSocket-Accept", ws_relay.accept_key(key))
        if subprotocol:
            self.set_header("Sec-WebSocket-Protocol", subprotocol)
        self.finish()
        stream = self.request.connection.detach()
        if dashboard is None:  # too late for a 502: close it with the reason
            await stream.write(ws_relay.close_frame(1011, reason))
            stream.close()
            return
        await ws_relay.relay(stream, dashboard, on_activity=self._record_activity)

    async def head(self, cluster_id, path):
        self._resolve(cluster_id, path)
        await self._forward(path)

    async def _forward(self, path):
        """One HTTP request to the dashboard, on a pooled connection."""
        host, port = self.target
        url = f"http://{host}:{port}/{quote(path, safe=self._SAFE)}"
        if self.request.query:
            url += "?" + self.request.query
        headers = _passed_headers(self.request.headers)
        self._record_activity()
        try:
            async with _session().request(self.request.method, url, headers=headers,
                                          allow_redirects=False) as response:
                body = await response.read()
        except (aiohttp.ClientError, asyncio.TimeoutError) as e:
            raise web.HTTPError(502, f"the dashboard did not answer: {type(e).__name__}") from None
        self.set_status(response.status, response.reason)
        self._headers = httputil.HTTPHeaders()
        for k, v in response.headers.items():
            if k.lower() in _HOP_BY_HOP:
                continue
            if k.lower() == "location" and response.status in (301, 302, 303, 307, 308):
                v = self._rewrite_location_header(v, host, port, path)
            self.add_header(k, v)
        if body and self.request.method != "HEAD":
            self.write(body)

    _SAFE = ":/?#[]@!$&'()*+,;=-._~"  # as jupyter-server-proxy quotes the path

    def _log(self):
        # Dashboard panes poll several plots a second: successes are not worth Jupyter's access
        # log (debug level) and request metrics; redirects and errors are logged as usual.
        if self.get_status() < 300 and not self.log.isEnabledFor(logging.DEBUG):
            return
        super()._log()


def _passed_headers(headers):
    """The browser's headers a dashboard may see: no credentials, nothing hop-by-hop."""
    return [(k, v) for k, v in headers.get_all() if k.lower() not in _NOT_PASSED]


def routes(base_url):
    base = url_path_join(base_url, "coffea-casa", "dashboard")
    return [(base + r"/(?P<cluster_id>[^/]+)/(?P<path>.*)", DashboardProxyHandler)]


def setup_proxy(web_app):
    web_app.add_handlers(".*$", routes(web_app.settings["base_url"]))


def _error_page(status_code, message):
    """What a dashboard pane shows instead of a plot: a restored pane of a closed cluster, mostly."""
    gone = status_code == 404
    title = "This cluster is no longer running" if gone else "This dashboard page cannot be shown"
    advice = ("Close this pane, and open the plot again from the Dask sidebar of a running cluster."
              if gone else xhtml_escape(message))
    return (
        '<!DOCTYPE html><html><head><meta charset="utf-8"><title>Dask dashboard</title>'
        "<style>body{font:14px system-ui,sans-serif;margin:2em;color:#616161}"
        "@media (prefers-color-scheme:dark){body{background:#111;color:#bbb}}</style></head>"
        f"<body><h3>{title}</h3><p>{advice}</p></body></html>"
    )
