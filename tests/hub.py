"""A real JupyterHub for tests and benchmarks: deploy/jupyterhub_config.py itself, with
configurable-http-proxy from ui-tests/node_modules, on 127.0.0.1, in a folder of its own.

On top of the deploy config (through its environment variables, as a site sets them):
the test-only DummyAuthenticator and SimpleLocalProcessSpawner (homes under the folder),
the local backend with small workers, the scheduler's contact address on loopback
(127.0.0.2). And one addition in a config file of its own: a service token that may manage
users, servers and tokens, to drive the hub's REST API.
"""

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
import requests

ROOT = Path(__file__).resolve().parents[1]
DEPLOY_CONFIG = ROOT / "deploy" / "jupyterhub_config.py"
CHP = ROOT / "ui-tests" / "node_modules" / ".bin" / "configurable-http-proxy"
SERVER_ENV = {  # what the hub passes on to every user's server (its DASK_* variables)
    "DASK_COFFEA_CASA__BACKEND": "local",
    "DASK_COFFEA_CASA__EXTERNAL_ADDRESS": "127.0.0.2",
    "DASK_JOBQUEUE__COFFEA_CASA__CORES": "1",
    "DASK_JOBQUEUE__COFFEA_CASA__MEMORY": "1 GiB",
    "DASK_LABEXTENSION__DEFAULT__WORKERS": "1",  # + NEW starts one worker
    "DASK_COFFEA_CASA__OPTIONS": "[]",  # + NEW is one click (the shipped limits are above these workers)
}
EXTRA_CONFIG = """
load_subconfig({deploy!r})
c.JupyterHub.services.append({{"name": "e2e", "api_token": {token!r}}})
c.JupyterHub.load_roles.append({{"name": "e2e", "services": ["e2e"],
    "scopes": ["admin:users", "admin:servers", "tokens", "access:servers", "read:users:activity"]}})
c.JupyterHub.allow_named_servers = True
c.Spawner.environment.update({extra_env!r})
"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(predicate, timeout, interval=0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    return predicate()


class Hub:
    def __init__(self, folder, users=("alice", "bob"), cull_timeout=0, cull_every=None, server_env=None, port=None):
        assert CHP.exists(), f"{CHP} is missing: run `cd ui-tests && jlpm install` (make test does)"
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.token, self.password = secrets.token_hex(16), secrets.token_hex(8)
        self.users = users
        config = self.folder / "hub_e2e_config.py"
        config.write_text(EXTRA_CONFIG.format(deploy=str(DEPLOY_CONFIG), token=self.token,
                                              extra_env=dict(server_env or {})))
        # Nothing of the test run's own jupyter or dask settings leaks into the hub or the
        # users' servers: each has its own home, runtime dir, TLS CA and dask config.
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DASK_", "JUPYTER", "COFFEA_CASA_"))}
        env.update(SERVER_ENV)
        env.update({
            "COFFEA_CASA_HUB_IP": "127.0.0.1",
            "COFFEA_CASA_HUB_PORT": str(self.port),
            "COFFEA_CASA_HUB_API_PORT": str(free_port()),
            "COFFEA_CASA_PROXY_API_PORT": str(free_port()),
            "COFFEA_CASA_CHP": str(CHP),
            "COFFEA_CASA_HUB_STATE_DIR": str(self.folder / "state"),
            "COFFEA_CASA_HUB_HOMES": str(self.folder / "homes"),
            "COFFEA_CASA_HUB_SPAWNER": "simple",
            "COFFEA_CASA_HUB_AUTHENTICATOR": "dummy",
            "COFFEA_CASA_HUB_DUMMY_PASSWORD": self.password,
            "COFFEA_CASA_HUB_USERS": ",".join(users),
            "COFFEA_CASA_CULL_TIMEOUT": str(cull_timeout),
        })
        if cull_every:
            env["COFFEA_CASA_CULL_EVERY"] = str(cull_every)
        self.log = open(self.folder / "hub.log", "w+")
        self.proc = subprocess.Popen([sys.executable, "-m", "jupyterhub", "-f", str(config)], cwd=self.folder,
                                     env=env, stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT)
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"token {self.token}"
        if not wait_until(self._up, timeout=90):
            self.stop()
            raise RuntimeError("the hub did not start:\n" + self.output())

    def _up(self):
        if self.proc.poll() is not None:
            raise RuntimeError("the hub exited:\n" + self.output())
        try:
            return self.api("GET", "users").status_code == 200
        except requests.RequestException:
            return False

    def output(self, tail=20000):
        self.log.flush()
        return (self.folder / "hub.log").read_text()[-tail:]

    def api(self, method, path, **kwargs):
        kwargs.setdefault("timeout", 30)
        return self.session.request(method, f"{self.url}/hub/api/{path}", **kwargs)

    def user(self, name):
        r = self.api("GET", f"users/{name}")
        r.raise_for_status()
        return r.json()

    def spawn(self, name, server="", timeout=120):
        """Start a user's server through the hub and wait until it is ready; its URL."""
        path = f"users/{name}/servers/{server}" if server else f"users/{name}/server"
        r = self.api("POST", path)
        assert r.status_code in (201, 202), (r.status_code, r.text)
        ready = lambda: self.user(name)["servers"].get(server, {}).get("ready")  # noqa: E731
        assert wait_until(ready, timeout), "server not ready:\n" + self.output()
        return f"{self.url}{self.user(name)['servers'][server]['url']}"

    def stop_server(self, name, server="", timeout=90):
        path = f"users/{name}/servers/{server}" if server else f"users/{name}/server"
        r = self.api("DELETE", path)
        assert r.status_code in (202, 204), (r.status_code, r.text)
        assert wait_until(lambda: server not in self.user(name)["servers"], timeout), self.output()

    def user_token(self, name):
        r = self.api("POST", f"users/{name}/tokens", json={"note": "e2e", "expires_in": 3600})
        assert r.status_code == 201, r.text
        return r.json()["token"]

    def login(self, name):
        """A browser-like session logged in at /hub/login (the hub's cookies)."""
        s = requests.Session()
        s.get(f"{self.url}/hub/login", timeout=30)
        r = s.post(f"{self.url}/hub/login", data={"username": name, "password": self.password,
                                                  "_xsrf": s.cookies.get("_xsrf", "")}, timeout=60)
        if r.status_code == 200 and "/hub/spawn-pending/" in r.url:
            # the hub spawns the user's server at login; a slow spawn lands on its waiting page
            assert wait_until(lambda: self.user(name)["servers"].get("", {}).get("ready"), 120), self.output()
            r = s.get(f"{self.url}/user/{name}/", timeout=60)
        assert r.status_code == 200 and f"/user/{name}/" in r.url, (r.status_code, r.url)
        return s

    def server_process(self, name, server=""):
        """The psutil.Process of a user's jupyterhub-singleuser (the hub's child)."""
        for p in psutil.Process(self.proc.pid).children():
            try:
                env = p.environ()
                if env.get("JUPYTERHUB_USER") == name and env.get("JUPYTERHUB_SERVER_NAME", "") == server:
                    return p
            except psutil.NoSuchProcess:
                pass
        return None

    def home(self, name):
        return self.folder / "homes" / name

    def stop(self, timeout=90):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)  # the hub stops every server, then the proxy
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.session.close()
        self.log.close()


def alive(procs):
    """The processes of `procs` still running (not zombies)."""
    out = []
    for p in procs:
        try:
            if p.is_running() and p.status() != psutil.STATUS_ZOMBIE:
                out.append(p)
        except psutil.NoSuchProcess:
            pass
    return out


def main():
    """`python tests/hub.py --port P --folder F --users a,b`: a hub until SIGTERM (for ui-tests).

    Prints one JSON line when the hub answers: {"url", "password"}; on SIGTERM or SIGINT it
    stops the hub, which stops every user's server.
    """
    import argparse
    import json

    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--folder", required=True)
    parser.add_argument("--users", default="alice")
    args = parser.parse_args()
    stopping = []
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stopping.append(1))
    hub = Hub(args.folder, users=tuple(args.users.split(",")), port=args.port)
    try:
        print(json.dumps({"url": hub.url, "password": hub.password}), flush=True)
        while not stopping and hub.proc.poll() is None:
            time.sleep(0.2)
    finally:
        hub.stop()


if __name__ == "__main__":
    main()
