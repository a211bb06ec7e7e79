"""P2: dashboard latency through our proxy, beside a direct request and beside
dask-labextension 7.0.0's proxy, all in one run.

Two jupyter servers on loopback at /user/alice/: ours (a CoffeaCasaCluster,
dashboard on 127.0.0.2) and one with dask-labextension 7.0.0 installed in a
throwaway directory (its LocalCluster, dashboard on 127.0.0.1). Requests to the
four targets are interleaved, on persistent connections; p50/p95 per target and
the added latency of each proxy are printed.
    python bench/p2_proxy.py [--n 400] [--pages 60]
"""

import argparse
import http.client
import json
import os
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BASE = "/user/alice/"
DLE_VERSION = "7.0.0"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A jupyter server subprocess on 127.0.0.1 at /user/alice/."""

    def __init__(self, extensions, env=None, pythonpath=()):
        self.tmp = Path(tempfile.mkdtemp(prefix="bench-jupyter-"))
        self.token, self.port = secrets.token_hex(16), free_port()
        env = dict(os.environ, **(env or {}))
        env["PYTHONPATH"] = os.pathsep.join([*pythonpath, str(ROOT)])
        for d in ("config", "data", "runtime", "root"):
            (self.tmp / d).mkdir()
            env[f"JUPYTER_{d.upper()}_DIR"] = str(self.tmp / d)
        exts = "{" + ",".join(f"'{k}': {v}" for k, v in extensions.items()) + "}"
        self.log = open(self.tmp / "server.log", "w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "jupyter_server", f"--ServerApp.port={self.port}",
             "--ServerApp.ip=127.0.0.1", f"--ServerApp.base_url={BASE}", "--ServerApp.allow_root=True",
             f"--IdentityProvider.token={self.token}", "--ServerApp.open_browser=False",
             f"--ServerApp.root_dir={self.tmp / 'root'}", f"--ServerApp.jpserver_extensions={exts}",
             "--ServerApp.log_level=WARN"],
            env=env, stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT,
        )
        self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                if self.request("GET", "api/status")[0] == 200:
                    return
            except OSError:
                self.conn.close()
            time.sleep(0.3)
        raise RuntimeError("server did not start: " + (self.tmp / "server.log").read_text()[-3000:])

    def login(self):
        """Authenticate the timed requests as a browser does: Jupyter's login cookie."""
        import requests

        s = requests.Session()
        s.get(f"http://127.0.0.1:{self.port}{BASE}login", timeout=30)
        s.post(f"http://127.0.0.1:{self.port}{BASE}login", data={"password": self.token, "_xsrf": s.cookies["_xsrf"]},
               allow_redirects=False, timeout=30)
        self.cookie = "; ".join(f"{c.name}={c.value}" for c in s.cookies)

    cookie = None

    def request(self, method, path, body=None):
        headers = {"Cookie": self.cookie} if self.cookie and method == "GET" else {"Authorization": f"token {self.token}"}
        self.conn.request(method, BASE + path, body=body, headers=headers)
        r = self.conn.getresponse()
        return r.status, r.read()

    def json(self, method, path, body=None):
        status, data = self.request(method, path, None if body is None else json.dumps(body))
        assert status < 300, (status, data[:300])
        return json.loads(data)

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        shutil.rmtree(self.tmp, ignore_errors=True)


def dask_labextension_dir():
    """dask-labextension 7.0.0 in a throwaway directory (no deps: the rest is in this venv)."""
    target = Path(tempfile.gettempdir()) / f"bench-dask-labextension-{DLE_VERSION}"
    if not (target / "dask_labextension").exists():
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target),
                        f"dask-labextension=={DLE_VERSION}"], check=True)
    return str(target)


def start_ours():
    env = {"DASK_COFFEA_CASA__BACKEND": "local", "DASK_COFFEA_CASA__EXTERNAL_ADDRESS": "127.0.0.2",
           "DASK_COFFEA_CASA__TLS_DIR": tempfile.mkdtemp(prefix="bench-tls-"),
           "DASK_JOBQUEUE__COFFEA_CASA__CORES": "1", "DASK_JOBQUEUE__COFFEA_CASA__MEMORY": "1 GiB"}
    server = Server({"coffea_casa_lab": True, "dask_labextension": False}, env)
    model = server.json("PUT", "coffea-casa/clusters", {"workers": 1})
    while model["status"] == "starting" or model["workers"] < 1:
        assert model["status"] != "failed", model
        time.sleep(0.3)
        model = server.json("GET", f"coffea-casa/clusters/{model['id']}")
    server.proxy_prefix = model["dashboard_url"]
    host_port = model["scheduler_address"].split("//")[1].rsplit(":", 1)[0]
    return server, model, host_port


def start_dask_labextension():
    factory = {"module": "distributed", "class": "LocalCluster", "args": [],
               "kwargs": {"n_workers": 1, "threads_per_worker": 1, "dashboard_address": "127.0.0.1:0"}}
    env = {"DASK_LABEXTENSION__FACTORY": json.dumps(factory).replace("null", "None")}
    server = Server({"dask_labextension": True, "coffea_casa_lab": False}, env, [dask_labextension_dir()])
    model = server.json("PUT", "dask/clusters/")
    server.proxy_prefix = f"dask/dashboard/{model['id']}/"
    return server, model


def dashboard_port(server, model):
    """dask-labextension's model carries the dashboard link (http://127.0.0.1:PORT/status)."""
    return int(model["dashboard_link"].split(":")[-1].split("/")[0])


class Direct:
    def __init__(self, host, port):
        self.conn = http.client.HTTPConnection(host, port, timeout=60)

    def request(self, method, path):
        self.conn.request(method, "/" + path)
        r = self.conn.getresponse()
        return r.status, r.read()


def timed(fn, path):
    t0 = time.perf_counter()
    status, _ = fn(path)
    dt = time.perf_counter() - t0
    assert status == 200, (status, path)
    return dt * 1000


def pct(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=400, help="requests per target for the small responses")
    parser.add_argument("--pages", type=int, default=60, help="requests per target for the bokeh page")
    args = parser.parse_args()

    ours, ours_model, ours_host = start_ours()
    dle, dle_model = start_dask_labextension()
    try:
        ours_dash, dle_dash = _dashboard_port_of(ours), dashboard_port(dle, dle_model)
        ours.login()
        dle.login()
        d_ours, d_dle = Direct(ours_host, ours_dash), Direct("127.0.0.1", dle_dash)
        targets = {
            "direct (ours)": lambda p: d_ours.request("GET", p),
            "our proxy": lambda p: ours.request("GET", ours.proxy_prefix + p),
            "direct (dask-labext)": lambda p: d_dle.request("GET", p),
            f"dask-labextension {DLE_VERSION}": lambda p: dle.request("GET", dle.proxy_prefix + p),
        }
        results = {}
        for path, n in (("individual-plots.json", args.n), ("health", args.n), ("individual-cpu", args.pages)):
            samples = {name: [] for name in targets}
            for name, fn in targets.items():  # warm-up
                for _ in range(5):
                    timed(fn, path)
            for _ in range(n):
                for name, fn in targets.items():  # interleaved: drift hits every side alike
                    samples[name].append(timed(fn, path))
            results[path] = samples
        report(results)
    finally:
        ours.stop()
        dle.stop()


def _dashboard_port_of(server):
    """Our dashboard's port (the API only gives the proxied URL): from the cluster's record in
    the user's registry, which is where the server's proxy finds it too."""
    (record,) = (json.loads(p.read_text()) for p in (server.tmp / "runtime" / "coffea-casa").glob("cluster-*.json"))
    return record["dashboard"][1]


def report(results):
    for path, samples in results.items():
        print(f"\nP2 {path}")
        p50 = {name: statistics.median(xs) for name, xs in samples.items()}
        for name, xs in samples.items():
            print(f"  {name:26s} p50 {p50[name]:7.3f} ms   p95 {pct(xs, 0.95):7.3f} ms   (n={len(xs)})")
        names = list(samples)
        ours_added = p50[names[1]] - p50[names[0]]
        dle_added = p50[names[3]] - p50[names[2]]
        print(f"  added at p50: ours {ours_added:.3f} ms, dask-labextension {dle_added:.3f} ms"
              f" -> ratio {ours_added / dle_added:.2f} (goal <= 0.5 on small responses)")
        print(f"  ours/direct {p50[names[1]] / p50[names[0]]:.2f}x,"
              f" dask-labextension/direct {p50[names[3]] / p50[names[2]]:.2f}x (goal for a page: ours <= 1.05x)")


if __name__ == "__main__":
    main()
