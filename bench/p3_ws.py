"""P3: websocket round trip to a Dask dashboard (bokeh) through our proxy, beside direct.

One round trip is bokeh's SERVER-INFO-REQ -> SERVER-INFO-REPLY on an open session
(3 frames each way). Proxied and direct connections alternate in one run.
    python bench/p3_ws.py [--n 500]
"""

import argparse
import json
import re
import socket
import statistics
import time
import uuid

import websocket

from p2_proxy import Direct, _dashboard_port_of, pct, start_ours


def session(url, page_get, header=None):
    """Open a bokeh session for one page and its websocket; returns the connection after ACK."""
    status, page = page_get("individual-cpu")
    assert status == 200, status
    token = re.search(r'"token":"([^"]+)"', page.decode()).group(1)
    ws = websocket.create_connection(url, header=header or [], subprotocols=["bokeh", token], timeout=30)
    assert read_message(ws)["msgtype"] == "ACK"
    return ws


def recv(ws):
    # Bokeh writes each message as several small frames without TCP_NODELAY: a receiver
    # that delays its ACK stalls the next frame ~40 ms. Both sides here ACK at once (our
    # proxy does the same on its dashboard leg), so the numbers show the proxy, not Nagle.
    ws.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
    return ws.recv()


def read_message(ws):
    """One bokeh message: header, metadata, content, then two frames per buffer."""
    header = json.loads(recv(ws))
    for _ in range(2 + 2 * header.get("num_buffers", 0)):
        recv(ws)
    return header


def round_trip(ws):
    header = json.dumps({"msgid": uuid.uuid4().hex, "msgtype": "SERVER-INFO-REQ"})
    t0 = time.perf_counter()
    ws.send(header)
    ws.send("{}")
    ws.send("{}")
    while read_message(ws)["msgtype"] != "SERVER-INFO-REPLY":
        pass  # the page's own plot updates (PATCH-DOC) can arrive first, on both paths alike
    return (time.perf_counter() - t0) * 1000


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=500)
    args = parser.parse_args()
    ours, model, host = start_ours()
    try:
        port = _dashboard_port_of(ours)
        direct = Direct(host, port)
        proxied = session(
            f"ws://127.0.0.1:{ours.port}/user/alice/{ours.proxy_prefix}individual-cpu/ws",
            lambda p: ours.request("GET", ours.proxy_prefix + p),
            header=[f"Authorization: token {ours.token}"],
        )
        plain = session(f"ws://{host}:{port}/individual-cpu/ws", lambda p: direct.request("GET", p))
        for ws in (proxied, plain):
            for _ in range(20):
                round_trip(ws)
        samples = {"direct": [], "our proxy": []}
        for _ in range(args.n):
            samples["direct"].append(round_trip(plain))
            samples["our proxy"].append(round_trip(proxied))
        p50 = {k: statistics.median(v) for k, v in samples.items()}
        print("P3 websocket round trip (bokeh SERVER-INFO-REQ/REPLY)")
        for k, v in samples.items():
            print(f"  {k:10s} p50 {p50[k]:7.3f} ms   p95 {pct(v, 0.95):7.3f} ms   (n={len(v)})")
        print(f"  ratio proxy/direct at p50: {p50['our proxy'] / p50['direct']:.2f}x (goal <= 1.2x)")
        proxied.close()
        plain.close()
    finally:
        ours.stop()


if __name__ == "__main__":
    main()
