"""Dashboard websockets relayed as bytes: after the upgrade, no frame is parsed or rebuilt.

Why, measured (bench/p3_ws.py: a bokeh round trip, 3 frames each way; p50 against direct,
one run on the 2-core CI machine): jupyter-server-proxy's relay, Tornado's websocket server
on the browser's leg and its client on the dashboard's, 2.1-2.5x; the same with an aiohttp
client on the dashboard's leg, 1.9-2.0x; bytes relayed with the browser's leg read through
Tornado's IOStream, 1.4-1.5x; bytes with both legs asyncio protocols, 1.0-1.1x. Under
cProfile the server spent 1.4 ms of CPU per round trip on the first (per frame and leg: a
read future for its header and one for its payload, unmasking, masking, a task per message)
and 0.28 ms on the last (a read and a write per segment). What is left, 0.1-0.2 ms a round
trip, is the extra hop itself (the server woken and a loopback send, each way): a relay in a
process of its own, asyncio or a thread per direction, measured the same, 1.2-1.4x, in the same
runs. So: the dashboard's handshake is the browser's own, passed on, and the frames on both
legs are the same bytes:
- its Sec-WebSocket-Key (the dashboard's Sec-WebSocket-Accept is then the one the browser
  expects, and is checked), its subprotocols (bokeh carries its session token there) and
  the dashboard's choice among them, back to the browser;
- no extensions: a compressed frame would have to be rebuilt;
- the browser's other headers as the caller filters them (no credentials).
Then each read on one leg is written on the other in the same event-loop callback, close
frames and their codes included. Who may connect, to which dashboard, from which origin,
is the caller's to decide before any of this (coffea_casa_lab.proxy).
"""

import asyncio
import base64
import hashlib
import os
import socket
import time

from tornado.iostream import SSLIOStream, StreamClosedError

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455, 1.3
HEAD_LIMIT = 65536  # bytes of the dashboard's handshake answer
CONNECT_TIMEOUT = 20.0  # as tornado's websocket client
ACTIVITY_INTERVAL = 1.0  # seconds between two reports of relayed traffic (Jupyter's last activity)
# The relay sets these itself; the others the caller passes on.
OWN_HEADERS = {"host", "upgrade", "connection", "sec-websocket-key", "sec-websocket-version",
               "sec-websocket-extensions", "sec-websocket-accept", "content-length", "transfer-encoding"}


class Refused(Exception):
    """The dashboard did not take the websocket (no connection, no answer, or not a 101)."""


def accept_key(key):
    """Sec-WebSocket-Accept for a Sec-WebSocket-Key."""
    return base64.b64encode(hashlib.sha1(key.encode("latin-1") + GUID).digest()).decode("ascii")


def close_frame(code, reason):
    """A server's close frame (unmasked) with its code and reason (cut to the 123 bytes a frame holds)."""
    payload = code.to_bytes(2, "big") + reason.encode("utf-8")[:123]
    return bytes([0x88, len(payload)]) + payload


class _Leg(asyncio.Protocol):
    """One connection of the relay: what it reads goes to the other leg at once."""

    def __init__(self, dashboard=False, on_activity=None):
        loop = asyncio.get_running_loop()
        self.transport, self.peer = None, None
        self.early = bytearray()  # read before the relay runs (the dashboard's: after its handshake's head)
        self.head = loop.create_future() if dashboard else None  # the dashboard's handshake answer
        self.closed = loop.create_future()
        self._quickack = dashboard and hasattr(socket, "TCP_QUICKACK")
        self._activity = _Activity(on_activity)

    def connection_made(self, transport):
        self.transport = transport
        self._ack()

    def data_received(self, data):
        if self.peer is not None:
            if not self.peer.transport.is_closing():  # else the other side is gone: nobody to tell
                self.peer.transport.write(data)
                self._activity()
            self._ack()
            return
        self._ack()
        self.early += data
        if self.head is not None and not self.head.done():
            end = self.early.find(b"\r\n\r\n")
            if end >= 0:
                head, self.early = bytes(self.early[:end]), self.early[end + 4:]
                self.head.set_result(head)
            elif len(self.early) > HEAD_LIMIT:
                self.head.set_exception(Refused("its handshake answer is too long"))
                self.transport.close()

    def _ack(self):
        # The dashboard (bokeh) writes a message as several small frames without TCP_NODELAY:
        # each waits for our ACK, so ACK at once (Linux re-arms this per read).
        if self._quickack:
            sock = self.transport.get_extra_info("socket")
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
            except (OSError, AttributeError):
                self._quickack = False

    def eof_received(self):
        return False  # the leg closes; connection_lost closes the other one

    def connection_lost(self, exc):
        if self.head is not None and not self.head.done():
            self.head.set_exception(Refused("it closed the connection during the handshake"))
        if self.peer is not None:
            self.peer.transport.close()  # after what it still has to write
        if not self.closed.done():
            self.closed.set_result(None)

    # Flow control: a leg that cannot write as fast as the other reads stops that reading.
    def pause_writing(self):
        if self.peer is not None:
            self.peer.transport.pause_reading()

    def resume_writing(self):
        if self.peer is not None:
            self.peer.transport.resume_reading()


class Dashboard:
    """The dashboard's side of a relayed websocket, once it accepted the upgrade."""

    def __init__(self, leg, subprotocol):
        self.leg, self.subprotocol = leg, subprotocol

    def close(self):
        self.leg.transport.close()


async def connect(host, port, target, key, headers, on_activity=None):
    """Open the websocket `target` (path and query) at the dashboard with the browser's `key` and
    `headers` [(name, value)]; a Dashboard, or Refused saying why."""
    loop = asyncio.get_running_loop()
    lines = [f"GET {target} HTTP/1.1", f"Host: {host}:{port}", "Upgrade: websocket",
             "Connection: Upgrade", f"Sec-WebSocket-Key: {key}", "Sec-WebSocket-Version: 13"]
    lines += [f"{name}: {value}" for name, value in headers if name.lower() not in OWN_HEADERS]
    try:
        transport, leg = await asyncio.wait_for(
            loop.create_connection(lambda: _Leg(dashboard=True, on_activity=on_activity), host.strip("[]"), port),
            CONNECT_TIMEOUT)
    except (OSError, asyncio.TimeoutError) as e:
        raise Refused(f"no connection ({type(e).__name__})") from None
    try:
        transport.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        status, answer = _parse(await asyncio.wait_for(leg.head, CONNECT_TIMEOUT))
        if status != 101:
            raise Refused(f"it answered {status}")
        if answer.get("sec-websocket-accept") != accept_key(key):
            raise Refused("its Sec-WebSocket-Accept does not match")
        if answer.get("sec-websocket-extensions"):
            raise Refused("it chose extensions nobody asked for")
    except BaseException as e:
        transport.close()
        if isinstance(e, asyncio.TimeoutError):
            raise Refused("no answer in time") from None
        raise
    return Dashboard(leg, answer.get("sec-websocket-protocol"))


async def relay(stream, dashboard, on_activity=None):
    """Relay bytes between the browser's connection (Tornado's IOStream, detached from its HTTP
    request, the 101 written to it) and the dashboard until either side closes."""
    leg = dashboard.leg
    try:
        await stream.write(b"")  # the 101 has left
        browser = _TlsLeg(stream, on_activity) if isinstance(stream, SSLIOStream) else await _adopt(stream, on_activity)
    except (StreamClosedError, OSError):
        dashboard.close()
        return
    browser.peer, leg.peer = leg, browser
    for side in (browser, leg):  # what each read before the relay ran, in order
        if side.early:
            side.peer.transport.write(bytes(side.early))
            side.early.clear()
        if side.closed.done():  # and a side that left meanwhile
            side.peer.transport.close()
    if isinstance(browser, _TlsLeg):
        browser.start()
    await asyncio.gather(browser.closed, leg.closed)


async def _adopt(stream, on_activity):
    """The browser's connection as an asyncio protocol, on a duplicate of its descriptor (closing the
    stream closes only its own): the leanest leg there is."""
    # Bytes the browser sent right after its request are in the stream's buffer: take them (the
    # read completes at once then); with none, the read is abandoned with the stream.
    early = stream.read_bytes(65536, partial=True)
    early.add_done_callback(lambda f: f.cancelled() or f.exception())
    sock = socket.socket(fileno=os.dup(stream.socket.fileno()))
    stream.close()
    browser = _Leg(on_activity=on_activity)
    if early.done() and not early.cancelled() and early.exception() is None:
        browser.early += early.result()
    try:
        await asyncio.get_running_loop().connect_accepted_socket(lambda: browser, sock)
    except OSError:
        sock.close()
        raise
    return browser


class _TlsLeg:
    """The browser's leg when Jupyter serves HTTPS: only Tornado can go on with its TLS stream, so
    a coroutine reads it (1.5x direct on P3, against 1.0x for a plain leg). Its `transport` is
    itself, with the calls the other leg makes."""

    HIGH_WATER = 1 << 20  # bytes written but not yet sent before the other leg stops reading

    def __init__(self, stream, on_activity):
        loop = asyncio.get_running_loop()
        self.stream, self.transport, self.peer = stream, self, None
        self.early, self.closed = bytearray(), loop.create_future()
        self._activity = _Activity(on_activity)
        self._unsent, self._paused, self._closing = 0, False, False
        self._reading = asyncio.Event()
        self._reading.set()

    def start(self):
        self._task = asyncio.ensure_future(self._read())

    async def _read(self):
        try:
            while not self.peer.transport.is_closing():  # else the other side is gone: nobody to tell
                await self._reading.wait()
                self.peer.transport.write(await self.stream.read_bytes(65536, partial=True))
                self._activity()
        except StreamClosedError:
            pass
        finally:
            self.peer.transport.close()
            if not self.closed.done():
                self.closed.set_result(None)

    def write(self, data):
        try:
            sent = self.stream.write(data)
        except StreamClosedError:
            return
        self._unsent += len(data)
        sent.add_done_callback(lambda _, n=len(data): self._sent(n))
        if self._unsent > self.HIGH_WATER and not self._paused:
            self._paused = True
            self.peer.transport.pause_reading()

    def _sent(self, n):
        self._unsent -= n
        if self._paused and self._unsent <= self.HIGH_WATER // 2:
            self._paused = False
            self.peer.transport.resume_reading()

    def close(self):
        self._closing = True
        try:  # after what it still has to send
            self.stream.write(b"").add_done_callback(lambda _: self.stream.close())
        except StreamClosedError:
            pass

    def is_closing(self):
        return self._closing or self.stream.closed()

    def pause_reading(self):
        self._reading.clear()

    def resume_reading(self):
        self._reading.set()


class _Activity:
    """Reports relayed traffic (Jupyter's last activity), at most once every ACTIVITY_INTERVAL."""

    def __init__(self, report):
        self._report, self._last = report, 0.0

    def __call__(self):
        now = time.monotonic()
        if self._report is not None and now - self._last >= ACTIVITY_INTERVAL:
            self._last = now
            self._report()


def _parse(head):
    """(status, {lowercase name: value}) of an HTTP response head."""
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
        raise Refused("its answer is not HTTP")
    fields = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        fields[name.strip().lower()] = value.strip()
    return int(parts[1]), fields
