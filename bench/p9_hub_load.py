"""P9: 50 dashboard websocket clients for 60 s through JupyterHub's configurable-http-proxy and
our dashboard proxy, and the Jupyter server's latency meanwhile.

A real hub (deploy/jupyterhub_config.py, started by tests/hub.py) on 127.0.0.1; alice's
server runs a 1-worker cluster. Each client is one bokeh session, as a dashboard pane opens
it: GET the page through the hub (its session token), open its websocket, then until the
end do one SERVER-INFO-REQ round trip a second, reading the updates the dashboard pushed
meanwhile; a light computation (20 tiny tasks a second) keeps the task stream moving.
Any failed page, refused or dropped websocket, or missing reply is an error (goal: 0).
Meanwhile `GET api/status` runs every 20 ms through the hub, from another process; its p99
is printed beside the same with no clients, and their ratio.
    python bench/p9_hub_load.py [--clients 50] [--seconds 60] [--baseline 20]
"""

import argparse
import http.client
import json
import multiprocessing
import operator
import os
import re
import shutil
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import requests
import websocket

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent / "tests")]

from hub import Hub, wait_until  # noqa: E402
from p3_ws import read_message  # noqa: E402

# The panes the sidebar's dashboard buttons open (one bokeh session each). The full `status`
# page (seven plots in one session) is --pages status.
RAMP = 0.1  # seconds between two clients' start
PAGES = ["individual-task-stream", "individual-progress", "individual-workers-memory", "individual-cpu",
         "individual-nprocessing"]


def round_trip(ws):
    """SERVER-INFO-REQ, then read until its reply; the dashboard's updates read on the way."""
    ws.send(json.dumps({"msgid": uuid.uuid4().hex, "msgtype": "SERVER-INFO-REQ"}))
    ws.send("{}")
    ws.send("{}")
    updates = 0
    while read_message(ws)["msgtype"] != "SERVER-INFO-REPLY":
        updates += 1
    return updates


def client(base, ws_base, page, token, seconds, out):
    """One dashboard pane's session; appends (error or None, messages, round trips) to out."""
    messages = trips = 0
    t0 = time.monotonic()
    try:
        r = requests.get(f"{base}{page}", headers={"Authorization": f"token {token}"}, timeout=60)
        assert r.status_code == 200, f"GET {page}: {r.status_code}"
        session = re.search(r'"token":"([^"]+)"', r.text).group(1)
        ws = websocket.create_connection(f"{ws_base}{page}/ws", header=[f"Authorization: token {token}"],
                                         subprotocols=["bokeh", session], timeout=30)
        try:
            assert read_message(ws)["msgtype"] == "ACK"
            end = time.monotonic() + seconds
            while time.monotonic() < end:
                messages += round_trip(ws)
                trips += 1
                time.sleep(max(0.0, min(1.0, end - time.monotonic())))  # updates queue up meanwhile
        finally:
            ws.close()
        out.append((None, messages, trips))
    except Exception as e:  # every failure counts, whatever it is
        out.append((f"{page} after {time.monotonic() - t0:.1f} s, {trips} round trips: {type(e).__name__}: {e}",
                    messages, trips))


def compute(client, rate, done, out):
    """A light computation (`rate` tiny tasks a second), so the task stream and progress move."""
    try:
        while not done.is_set():
            n = max(1, rate // 2)
            assert client.gather(client.map(operator.add, range(n), [1] * n, pure=False)) == list(range(1, n + 1))
            done.wait(0.5)
    except Exception as e:
        out.append((f"computation: {type(e).__name__}: {e}", 0, 0))


def load(base, ws_base, token, clients, seconds, work, pages, queue):
    """The clients, in a process of their own (so their work does not slow the timer's)."""
    address, tls_dir, rate = work
    os.environ["DASK_COFFEA_CASA__TLS_DIR"] = tls_dir  # alice's CA: the client is alice's
    from distributed import Client

    from coffea_casa import CoffeaCasaCluster

    done, out = threading.Event(), []
    dask_client = Client(address, security=CoffeaCasaCluster.security(), timeout=30) if rate > 0 else None
    computing = threading.Thread(target=compute, args=(dask_client, rate, done, out), daemon=True)
    if dask_client:
        computing.start()
    threads = [threading.Thread(target=client, args=(base, ws_base, pages[i % len(pages)], token, seconds, out))
               for i in range(clients)]
    for t in threads:
        t.start()
        time.sleep(RAMP)  # panes open one after another, not in one burst
    for t in threads:
        t.join()
    done.set()
    if dask_client:
        computing.join(60)  # its last batch finishes before the client closes
        dask_client.close()
    queue.put(out)


def timer(port, path, token, seconds):
    """GET path every 20 ms on one keep-alive connection for `seconds`; latencies in ms."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    headers = {"Authorization": f"token {token}"}
    times, end = [], time.monotonic() + seconds
    while time.monotonic() < end:
        t0 = time.perf_counter()
        conn.request("GET", path, headers=headers)
        r = conn.getresponse()
        r.read()
        assert r.status == 200, r.status
        times.append((time.perf_counter() - t0) * 1000)
        time.sleep(max(0.0, 0.02 - (time.perf_counter() - t0)))
    conn.close()
    return times


def summary(t):
    t = sorted(t)
    return {"p50": statistics.median(t), "p99": t[int(0.99 * (len(t) - 1))], "max": t[-1], "n": len(t)}


def fmt(s):
    return f"p50 {s['p50']:6.1f} ms  p99 {s['p99']:6.1f} ms  max {s['max']:7.1f} ms  ({s['n']} GETs)"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--baseline", type=int, default=20, help="seconds of the no-load timing")
    parser.add_argument("--pages", default=",".join(PAGES), help="dashboard pages, round robin")
    parser.add_argument("--keep", action="store_true", help="keep the hub's folder (logs)")
    parser.add_argument("--tasks-per-second", type=int, default=20, help="a light computation meanwhile (0: none)")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-p9-"))
    hub = Hub(folder, users=("alice",))
    try:
        url = hub.spawn("alice")
        token = hub.user_token("alice")
        auth = {"Authorization": f"token {token}"}
        id = requests.put(url + "coffea-casa/clusters", json={"workers": 1}, headers=auth, timeout=30).json()["id"]
        model = wait_until(lambda: (m := requests.get(f"{url}coffea-casa/clusters/{id}", headers=auth, timeout=30)
                                    .json())["workers"] >= 1 and m, timeout=120)
        assert model and model["status"] == "running", model
        base = url + model["dashboard_url"]
        ws_base = base.replace("http://", "ws://")
        status_path = "/user/alice/api/status"
        timer(hub.port, status_path, token, 2)  # warm-up
        idle = summary(timer(hub.port, status_path, token, args.baseline))

        queue = multiprocessing.get_context("fork").Queue()
        clients = multiprocessing.get_context("fork").Process(
            target=load, args=(base, ws_base, token, args.clients, args.seconds,
                               (model["scheduler_address"], str(hub.home("alice") / ".config/coffea-casa/tls"),
                                args.tasks_per_second), args.pages.split(","), queue))
        t0 = time.monotonic()
        clients.start()
        time.sleep(args.clients * RAMP + 2)  # all panes open
        loaded = summary(timer(hub.port, status_path, token, args.seconds - (time.monotonic() - t0) - 1))
        results = queue.get(timeout=args.seconds + 120)
        clients.join(30)
        errors = [e for e, _, _ in results if e]
        messages = sum(m for _, m, _ in results)
        trips = sum(t for _, _, t in results)
    finally:
        hub.stop()
        if args.keep:
            print(f"P9 the hub's folder (its log and the users' homes): {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)
    print(f"P9 {args.clients} dashboard websocket clients for {args.seconds} s through configurable-http-proxy "
          f"and our proxy ({args.pages}), {args.tasks_per_second} tiny tasks/s running:")
    print(f"P9   sessions {len(results)}, errors {len(errors)} (goal 0), updates received {messages}, "
          f"round trips {trips}")
    for e in errors[:20]:
        print(f"P9   error: {e}")
    print(f"P9 GET api/status every 20 ms through the hub, no load:   {fmt(idle)}")
    print(f"P9 GET api/status every 20 ms through the hub, with load: {fmt(loaded)}")
    print(f"P9 ratio with/without load: p99 {loaded['p99'] / idle['p99']:.2f}x, p50 {loaded['p50'] / idle['p50']:.2f}x")
    return 1 if errors or len(results) != args.clients else 0


if __name__ == "__main__":
    sys.exit(main())
