"""Dashboard proxy: {base_url}coffea-casa/dashboard/{id}/{path}, HTTP and websockets.

Built on jupyter-server-proxy's ProxyHandler (auth on every request, websocket
relay, Location rewriting). The target is always the dashboard address the
ClusterManager holds for {id}, whatever host that is; nothing in the request
chooses a host or port. Paths that try to climb out of the dashboard are refused
before any connection is made.
"""

import asyncio
import json
import logging
import socket
from urllib.parse import parse_qsl, quote, urlencode, urlparse

import aiohttp
from jupyter_server.utils import url_path_join
from jupyter_server_proxy.handlers import ProxyHandler
from tornado import httpclient, httputil, web
from tornado.websocket import WebSocketClosedError, WebSocketError

from .handlers import MANAGER_KEY

# Headers meant for Jupyter, never for a dashboard (which may sit on another host).
_PRIVATE_HEADERS = ("Authorization", "Cookie", "X-XSRFToken", "Host")
_HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer",
               "upgrade", "proxy-authorization", "proxy-authenticate", "content-length"}
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

    def proxy_request_headers(self):
        headers = super().proxy_request_headers()
        for name in _PRIVATE_HEADERS:
            headers.pop(name, None)
        return headers

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
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"message": message}))

    async def get(self, cluster_id, path):
        self._resolve(cluster_id, path)
        return await super().get(cluster_id, path)  # http_get, or the websocket upgrade then open

    async def http_get(self, cluster_id, path):
        await self._forward(path)

    async def open(self, cluster_id, path):
        try:
            await self.proxy_open(*self.target, path)  # jupyter-server-proxy's websocket relay
        except (OSError, asyncio.TimeoutError, httpclient.HTTPError, WebSocketError) as e:
            # The upgrade is already answered: too late for a 502, so close with a reason.
            self.log.warning("dashboard websocket %s of cluster %s: %s", path, cluster_id, e)
            self.close(1011, f"the dashboard did not accept the websocket: {type(e).__name__}")
            return
        # Relayed frames are small and often several per message: without TCP_NODELAY on
        # both legs, Nagle's algorithm and delayed ACKs add ~40 ms to a round trip.
        self.set_nodelay(True)
        self.ws.protocol.set_nodelay(True)
        self._quickack()

    def write_message(self, message, binary=False):
        # Called for each frame from the dashboard. Bokeh sends a message as several small
        # frames without TCP_NODELAY, so each of its frames waits for our ACK: ACK at once.
        self._quickack()
        try:
            return super().write_message(message, binary)
        except WebSocketClosedError:  # the browser left while the dashboard was still talking
            self.on_close()

    def _quickack(self):
        sock = getattr(getattr(getattr(getattr(self, "ws", None), "protocol", None), "stream", None), "socket", None)
        if sock is not None and hasattr(socket, "TCP_QUICKACK"):  # Linux; re-armed per frame
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
            except OSError:
                pass

    async def head(self, cluster_id, path):
        self._resolve(cluster_id, path)
        await self._forward(path)

    async def _forward(self, path):
        """One HTTP request to the dashboard, on a pooled connection."""
        host, port = self.target
        url = f"http://{host}:{port}/{quote(path, safe=self._SAFE)}"
        if self.request.query:
            url += "?" + self.request.query
        headers = [(k, v) for k, v in self.request.headers.get_all()
                   if k not in _PRIVATE_HEADERS and k.lower() not in _HOP_BY_HOP]
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


def routes(base_url):
    base = url_path_join(base_url, "coffea-casa", "dashboard")
    return [(base + r"/(?P<cluster_id>[^/]+)/(?P<path>.*)", DashboardProxyHandler)]


def setup_proxy(web_app):
    web_app.add_handlers(".*$", routes(web_app.settings["base_url"]))
