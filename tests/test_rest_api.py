"""The REST API on a real jupyter server at /user/alice/: real clusters, bad input, auth, OpenAPI, fuzz."""

import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
import yaml

from conftest import wait_until

ROOT = Path(__file__).resolve().parents[1]
BASE = "/user/alice/"
OPENAPI = ROOT / "coffea_casa_lab" / "openapi.yaml"


def free_port(host="127.0.0.1"):
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class JupyterServer:
    """A jupyter server subprocess with coffea_casa_lab at base_url /user/alice/, on loopback."""

    def __init__(self, tmp, env=None, extra_args=(), log="server.log", popen=subprocess.Popen, base_env=None):
        """`popen` and `base_env`: how and with what environment it starts (the real HTCondor pool
        runs it as its user, inside the pool; see condor_pool/pool.py)."""
        self.token = secrets.token_hex(16)
        tmp = Path(tmp)
        for d in ("config", "data", "runtime", "root"):
            (tmp / d).mkdir(parents=True, exist_ok=True)
        self.env = {
            **(os.environ if base_env is None else base_env),
            "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "tests")]),
            "JUPYTER_CONFIG_DIR": str(tmp / "config"),
            "JUPYTER_DATA_DIR": str(tmp / "data"),
            "JUPYTER_RUNTIME_DIR": str(tmp / "runtime"),
            **(env or {}),
        }
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"token {self.token}"
        # free_port() only finds a port that was free: a worker of another test may take it before
        # the server binds it. Then the server says so and exits, and it starts on another.
        for attempt in range(1, 4):
            self.port = free_port()
            self.url = f"http://127.0.0.1:{self.port}{BASE}"
            self.log = open(tmp / log, "w+")
            self.proc = popen(
                [
                    sys.executable, "-m", "jupyter_server",
                    f"--ServerApp.port={self.port}", "--ServerApp.port_retries=0",
                    "--ServerApp.ip=127.0.0.1", f"--ServerApp.base_url={BASE}",
                    f"--IdentityProvider.token={self.token}", "--ServerApp.allow_root=True",
                    "--ServerApp.open_browser=False", f"--ServerApp.root_dir={tmp / 'root'}",
                    "--ServerApp.jpserver_extensions=coffea_casa_lab=True",
                    *extra_args,
                ],
                env=self.env, stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT,
            )
            try:
                if wait_until(self.healthy, timeout=60, interval=0.2):
                    return
            except RuntimeError:
                if attempt < 3 and f"The port {self.port} is already in use" in self.output():
                    self.log.close()
                    continue
                raise
            self.stop()
            raise RuntimeError("jupyter server did not start:\n" + self.output())

    def healthy(self):
        if self.proc.poll() is not None:
            raise RuntimeError("jupyter server exited:\n" + self.output())
        try:
            return self.session.get(self.url + "coffea-casa/health", timeout=5).status_code == 200
        except requests.RequestException:
            return False

    def api(self, method, path, body=None, raw=None, **kwargs):
        data = raw if raw is not None else (json.dumps(body) if body is not None else None)
        kwargs.setdefault("timeout", 30)
        return self.session.request(method, self.url + "coffea-casa/" + path, data=data, **kwargs)

    def output(self, tail=20000):
        with open(self.log.name) as f:
            return f.read()[-tail:]

    def stop(self, sig=signal.SIGTERM, timeout=90):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.session.close()
        self.log.close()


def wait_cluster(server, id, predicate, timeout=120):
    def check():
        model = server.api("GET", f"clusters/{id}").json()
        return model if predicate(model) else None

    return wait_until(check, timeout=timeout, interval=0.2) or server.api("GET", f"clusters/{id}").json()


def wait_jobs(server, id, n, timeout=30):
    """The cluster's n jobs. A local job is listed once its Nanny's start() returns, a moment
    after its worker has joined the scheduler."""
    def check():
        jobs = server.api("GET", f"clusters/{id}/jobs").json()
        return jobs if len(jobs) == n else None

    return wait_until(check, timeout=timeout) or server.api("GET", f"clusters/{id}/jobs").json()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """Real CoffeaCasaClusters on the local backend, small workers."""
    env = {
        "DASK_COFFEA_CASA__BACKEND": "local",
        "DASK_JOBQUEUE__COFFEA_CASA__CORES": "1",
        "DASK_JOBQUEUE__COFFEA_CASA__MEMORY": "1 GiB",
    }
    s = JupyterServer(tmp_path_factory.mktemp("jupyter"), env)
    yield s
    s.stop()


@pytest.fixture(scope="module")
def fake_server(tmp_path_factory):
    """Clusters without processes (factories.FakeCluster), so fuzzing can ask for anything."""
    env = {"DASK_LABEXTENSION__FACTORY__MODULE": "factories", "DASK_LABEXTENSION__FACTORY__CLASS": "FakeCluster"}
    s = JupyterServer(tmp_path_factory.mktemp("jupyter-fake"), env)
    yield s
    s.stop()


def test_a_test_server_whose_port_was_taken_meanwhile_starts_on_another(tmp_path, monkeypatch):
    """free_port() races with every other process of a parallel run: the harness, not a test, pays."""
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    ports = iter([taken.getsockname()[1], free_port()])
    monkeypatch.setattr(sys.modules[__name__], "free_port", lambda: next(ports))
    server = JupyterServer(tmp_path)
    try:
        assert server.port != taken.getsockname()[1] and server.healthy()
    finally:
        server.stop()
        taken.close()


def test_a_patch_right_after_put_is_applied_once_the_cluster_runs(server):
    """What a dask-labextension-style client does: PUT, then scale at once."""
    id = server.api("PUT", "clusters").json()["id"]
    r = server.api("PATCH", f"clusters/{id}", {"workers": 1})
    assert r.status_code == 200, r.text
    assert r.json()["status"] in ("starting", "running") and r.json()["requested_workers"] == 1
    model = wait_cluster(server, id, lambda m: m["workers"] == 1)
    assert model["status"] == "running" and model["workers"] == 1
    assert server.api("DELETE", f"clusters/{id}").status_code == 200


def test_cluster_lifecycle_over_rest(server):
    r = server.api("PUT", "clusters", {"name": "analysis"})
    assert r.status_code == 201, r.text
    model = r.json()
    id = model["id"]
    assert model["status"] == "starting" and model["name"] == "analysis"
    assert model["dashboard_url"] == f"coffea-casa/dashboard/{id}/"

    model = wait_cluster(server, id, lambda m: m["status"] != "starting")
    assert model["status"] == "running", model
    assert model["backend"] == "local" and model["scheduler_address"].startswith("tls://127.0.0.2:")

    r = server.api("PATCH", f"clusters/{id}", {"workers": 1})
    assert r.status_code == 200 and r.json()["requested_workers"] == 1
    model = wait_cluster(server, id, lambda m: m["workers"] == 1)
    assert (model["workers"], model["cores"], model["memory_bytes"]) == (1, 1, 2**30)

    r = server.api("PATCH", f"clusters/{id}", {"adapt": {"minimum": 0, "maximum": 2}})
    assert r.status_code == 200 and r.json()["adapt"] == {"minimum": 0, "maximum": 2}
    assert [m["id"] for m in server.api("GET", "clusters").json()] == [id]

    r = server.api("DELETE", f"clusters/{id}")
    assert r.status_code == 200 and r.json()["status"] == "closed"
    assert server.api("GET", f"clusters/{id}").status_code == 404
    assert server.api("GET", "clusters").json() == []


BAD = [
    ("PUT", "clusters", '{"workers": -1}', 400, "negative"),
    ("PUT", "clusters", '{"workers": 2.5}', 400, "integer"),
    ("PUT", "clusters", '{"workers": "2"}', 400, "integer"),
    ("PUT", "clusters", '{"workers": 1e300}', 400, "integer"),
    ("PUT", "clusters", '{"workers": 99999999999999999999999}', 400, "at most"),
    ("PUT", "clusters", '{"adapt": {"minimum": 4, "maximum": 2}}', 400, "larger than"),
    ("PUT", "clusters", '{"workers": 1', 400, "not valid JSON"),
    ("PUT", "clusters", "[1, 2]", 400, "JSON object"),
    ("PUT", "clusters", '"hello"', 400, "JSON object"),
    ("PUT", "clusters", b"\xff\xfe", 400, "not valid JSON"),
    ("PUT", "clusters", "[" * 100000 + "]" * 100000, 400, "not valid JSON"),
    ("PUT", "clusters", '{"workers": NaN}', 400, "integer"),
    ("PUT", "clusters", '{"surprise": 1}', 400, "unknown fields"),
    # names the fuzzer once found answered with a 500: a host's command line cannot hold them
    ("PUT", "clusters", '{"name": "a\\u0000b"}', 400, "control character"),
    ("PUT", "clusters", '{"name": "x\\ud800y"}', 400, "invalid Unicode"),
    ("PUT", "clusters", '{"name": "a\\n+Evil = 1"}', 400, "control character"),
    ("PUT", "clusters", '{"name": "%s"}' % ("n" * 201), 400, "at most 200 characters"),
    # a bad body is a 400 whichever the cluster, so the fuzzer's ids reach these checks too
    ("POST", "clusters/nope/packages", '{"packages": ["a\\u0000b"]}', 400, "control character"),
    ("POST", "clusters/nope/packages", '{"packages": "numpy"}', 400, "list of 1 to"),
    ("POST", "clusters/nope/files", '{"path": "x\\ud800y.py"}', 400, "invalid Unicode"),
    ("POST", "clusters/nope/files", '{"path": 3}', 400, "path must be"),
    ("PUT", "clusters", '{"options": {"cores": 2}}', 400, "unknown cluster option(s) ['cores']: this site offers none"),
    ("PUT", "clusters", '{"options": [1]}', 400, "options must be an object"),
    ("PUT", "clusters", '{"keep": 1e9}', 400, "at most 24 h, the site's maximum (dask config coffea-casa.keep-for)"),
    ("PATCH", "clusters/nope", '{"keep": true}', 404, "no cluster"),
    ("PATCH", "clusters/nope", '{"workers": 1}', 404, "no cluster"),
    ("GET", "clusters/nope", None, 404, "no cluster"),
    ("GET", "clusters/%25s%25d", None, 404, "no cluster"),
    ("DELETE", "clusters/nope", None, 404, "no cluster"),
]


@pytest.mark.parametrize("method, path, body, status, message", BAD)
def test_bad_input_is_a_4xx_with_a_json_message(fake_server, method, path, body, status, message):
    r = fake_server.api(method, path, raw=body)
    assert r.status_code == status, r.text
    assert message in r.json()["message"]


@pytest.mark.parametrize("name", ["-a", "--id", "ünïcødé ✓ 🧪 $(x) 'q' \"q\" \\"])
def test_a_printable_name_comes_up_as_given(fake_server, name):
    """Whatever the checks take, the cluster's host process takes too (its command line)."""
    r = fake_server.api("PUT", "clusters", {"name": name})
    assert r.status_code == 201, r.text
    model = wait_cluster(fake_server, r.json()["id"], lambda m: m["status"] != "starting", timeout=30)
    assert (model["status"], model["name"]) == ("running", name), model
    assert fake_server.api("DELETE", f"clusters/{model['id']}").status_code == 200


@pytest.mark.parametrize(
    "body, message",
    [
        ('{"workers": -3}', "negative"),
        ('{"workers": null}', "integer"),
        ('{"workers": 1, "adapt": {"minimum": 0, "maximum": 1}}', "either"),
        ('{"adapt": {"minimum": 3, "maximum": 1}}', "larger than"),
        ('{"adapt": {"minimum": 1, "maximum": 1e9}}', "integer"),
        ("", "required"),
        ("{junk", "not valid JSON"),
    ],
)
def test_bad_patch_is_a_400(fake_server, body, message):
    id = fake_server.api("PUT", "clusters", {}).json()["id"]
    wait_cluster(fake_server, id, lambda m: m["status"] == "running", timeout=30)
    r = fake_server.api("PATCH", f"clusters/{id}", raw=body)
    assert r.status_code == 400, r.text
    assert message in r.json()["message"]
    assert fake_server.api("DELETE", f"clusters/{id}").status_code == 200


def test_failed_factory_is_a_failed_model_and_the_server_stays_up(tmp_path):
    env = {"DASK_LABEXTENSION__FACTORY__MODULE": "no_such_module", "DASK_LABEXTENSION__FACTORY__CLASS": "X"}
    s = JupyterServer(tmp_path, env)
    try:
        id = s.api("PUT", "clusters").json()["id"]
        model = wait_cluster(s, id, lambda m: m["status"] != "starting", timeout=30)
        assert model["status"] == "failed" and "no_such_module" in model["error"]
        assert s.api("GET", "clusters").status_code == 200 and s.healthy()
    finally:
        s.stop()


def test_initial_clusters_start_without_blocking_the_server(tmp_path):
    """...and an entry whose name no host's command line can hold is refused with a message."""
    initial = json.dumps([{"name": "never ready"}, {"name": "a\u0000b"}, {"name": "a\n+Evil = 1"}])
    env = {
        "DASK_LABEXTENSION__FACTORY__MODULE": "factories",
        "DASK_LABEXTENSION__FACTORY__CLASS": "NeverReady",
        "DASK_LABEXTENSION__INITIAL": initial,
    }
    s = JupyterServer(tmp_path, env)  # healthy while the initial cluster hangs in its start
    try:
        models = wait_until(lambda: s.api("GET", "clusters").json(), timeout=30)
        assert [(m["name"], m["status"]) for m in models] == [("never ready", "starting")]
        assert s.output().count("name must not contain a control character") == 2
    finally:
        s.stop()


@pytest.mark.parametrize("method", ["GET", "PUT", "PATCH", "DELETE"])
@pytest.mark.parametrize("path", ["health", "options", "clusters", "clusters/x", "clusters/x/jobs", "clusters/x/jobs/1.0",
                                  "clusters/x/jobs/1.0/logs", "clusters/x/jobs/1.0/analysis"])
@pytest.mark.parametrize("auth", [None, "token wrong"])
def test_every_route_needs_jupyter_auth(fake_server, method, path, auth):
    headers = {"Authorization": auth} if auth else {}
    r = requests.request(method, fake_server.url + "coffea-casa/" + path, headers=headers, data="{}", timeout=10)
    assert r.status_code in (401, 403, 405), (r.status_code, r.text)
    if r.status_code == 405:  # method not routed at all: still nothing without auth
        assert method not in _spec_methods(path)


def _spec():
    return yaml.safe_load(OPENAPI.read_text())


def _spec_methods(path):
    for template, item in _spec()["paths"].items():
        if re.fullmatch(re.sub(r"\{[^}]+\}", "[^/]+", template.lstrip("/")), path):
            return {m.upper() for m in item if m != "parameters"}
    return set()


def test_routes_match_the_openapi_document():
    from coffea_casa_lab import handlers, proxy

    spec = _spec()
    routed = {}
    for pattern, handler in handlers.routes("/") + proxy.routes("/"):
        path = re.sub(r"\(\?P<(\w+)>[^)]*\)", r"{\1}", pattern.removeprefix("/coffea-casa"))
        methods = {m for m in ("GET", "PUT", "PATCH", "DELETE", "POST") if _implements(handler, m)}
        routed[path] = methods
    documented = {p: {m.upper() for m in item if m != "parameters"} for p, item in spec["paths"].items()}
    assert routed == documented


def _implements(handler, method):
    from tornado.web import RequestHandler

    impl = getattr(handler, method.lower(), None)
    return method in handler.SUPPORTED_METHODS and impl is not getattr(RequestHandler, method.lower())


# `make test` fuzzes the same examples every run (derandomized); `make fuzz` explores with many
# more and a fresh seed, through these two variables.
FUZZ_EXAMPLES = int(os.environ.get("COFFEA_CASA_FUZZ_EXAMPLES") or 25)  # per operation
FUZZ_SEED = os.environ.get("COFFEA_CASA_FUZZ_SEED") or None
# Requests a fuzzing run once found a 500 with (issue 16), kept as explicit examples.
ONCE_FAILED = {("PUT", "/clusters"): [{"name": "a\u0000b"}, {"name": "x\ud800y"}]}


def test_fuzz_from_openapi(fake_server, tmp_path, capsys):
    """schemathesis, valid and invalid requests from the document: never a 5xx, every
    answer as documented, a cluster it accepts comes up, and the server is healthy after.
    FUZZ_EXAMPLES per operation, derandomized unless FUZZ_SEED is set."""
    import schemathesis
    from hypothesis import HealthCheck, example, given, seed, settings, strategies as st
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance

    spec = _spec()
    del spec["paths"]["/dashboard/{cluster_id}/{path}"]  # the proxy has its own tests
    (tmp_path / "openapi.json").write_text(json.dumps(spec))
    schema = schemathesis.openapi.from_path(str(tmp_path / "openapi.json"))
    schema.config.update(base_url=fake_server.url + "coffea-casa")
    auth = {"Authorization": f"token {fake_server.token}"}
    checks = [not_a_server_error, status_code_conformance, response_schema_conformance]
    calls = 0

    known = fake_server.api("PUT", "clusters", {}).json()["id"]  # so PATCH/DELETE also hit a real id
    for result in schema.get_all_operations():
        operation = result.ok()
        modes = list(schemathesis.GenerationMode)
        strategies = [operation.as_strategy(mode) for mode in modes]
        # Not the routes that open a Client to the scheduler: a FakeCluster has none (a documented
        # 502 after the Client's 30 s connect timeout, seen once in a full run).
        asks_scheduler = operation.path.rsplit("/", 1)[-1] in ("performance-report", "packages", "files")
        if "{cluster_id}" in operation.path and not asks_scheduler:
            strategies += [operation.as_strategy(m, path_parameters={"cluster_id": known}) for m in modes]
        cases = st.one_of(*strategies)

        @settings(max_examples=FUZZ_EXAMPLES, derandomize=FUZZ_SEED is None, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        @given(case=cases)
        def fuzz(case):
            nonlocal calls
            calls += 1
            response = case.call(headers=auth, timeout=30)
            case.validate_response(response, checks=checks)
            if case.method == "PUT" and response.status_code == 201:
                # what it took, its host process takes too; and hundreds of them do not pile up
                id = response.json()["id"]
                model = wait_cluster(fake_server, id, lambda m: m["status"] != "starting", timeout=60)
                assert model["status"] == "running", (case.body, model)
                assert fake_server.api("DELETE", f"clusters/{id}").status_code == 200

        for body in ONCE_FAILED.get((operation.method.upper(), operation.path), []):
            fuzz = example(case=operation.Case(body=body, media_type="application/json"))(fuzz)
        if FUZZ_SEED is not None:
            fuzz = seed(int(FUZZ_SEED))(fuzz)
        fuzz()
    if FUZZ_SEED is not None:  # make fuzz says how much it explored
        with capsys.disabled():
            print(f"\nfuzz: {calls} requests, {FUZZ_EXAMPLES} examples per operation, seed {FUZZ_SEED}")
    assert fake_server.healthy()
    for m in fake_server.api("GET", "clusters").json():
        assert fake_server.api("DELETE", f"clusters/{m['id']}").status_code == 200
