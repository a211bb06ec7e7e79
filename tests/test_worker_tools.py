"""Performance reports, packages and files on workers, over REST (docs chapters 2 and 3.4).

A real jupyter server at /user/alice/ with a real local-backend cluster of one small worker.
"""

import json
import sys
from html import unescape
from pathlib import Path

import pytest
from distributed import Client

from coffea_casa import CoffeaCasaCluster
from test_packages import IMPORT_TINY, build_wheel
from test_rest_api import JupyterServer, wait_cluster


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    # Workers share this venv: PipInstall must install elsewhere. PIP_TARGET sends pip to a
    # folder of the test, and a worker preload puts that folder on the workers' sys.path.
    tmp = tmp_path_factory.mktemp("jupyter")
    site = tmp / "worker-site"
    site.mkdir()
    preload = tmp / "worker_site_preload.py"
    preload.write_text(f"import sys\nsys.path.insert(0, {str(site)!r})\n")
    env = {
        "DASK_COFFEA_CASA__BACKEND": "local",
        "DASK_JOBQUEUE__COFFEA_CASA__CORES": "1",
        "DASK_JOBQUEUE__COFFEA_CASA__MEMORY": "1 GiB",
        "DASK_COFFEA_CASA__PERFORMANCE_REPORT_DIR": "reports",
        "DASK_DISTRIBUTED__WORKER__PRELOAD": json.dumps([str(preload)]),
        "PIP_TARGET": str(site),
    }
    s = JupyterServer(tmp, env)
    s.root = tmp / "root"  # the server's root_dir
    yield s
    s.stop()


@pytest.fixture(scope="module")
def cluster(server):
    """(id, a Client of it) for a running cluster with one worker."""
    id = server.api("PUT", "clusters", {"name": "my <b>analysis</b>", "workers": 1}).json()["id"]
    model = wait_cluster(server, id, lambda m: m["status"] == "running" and m["workers"] == 1)
    assert model["workers"] == 1, model
    with Client(model["scheduler_address"], security=CoffeaCasaCluster.security()) as client:
        yield id, client
    assert server.api("DELETE", f"clusters/{id}").status_code == 200


def test_performance_report_from_start_to_stop(server, cluster):
    id, client = cluster
    assert server.api("GET", f"clusters/{id}").json()["recording"] is False
    assert server.api("DELETE", f"clusters/{id}/performance-report").status_code == 409

    r = server.api("POST", f"clusters/{id}/performance-report")
    assert r.status_code == 200, r.text
    assert r.json()["recording"] is True
    assert server.api("POST", f"clusters/{id}/performance-report").status_code == 409  # already
    assert client.submit(sum, range(1000), pure=False).result(timeout=60) == 499500

    r = server.api("DELETE", f"clusters/{id}/performance-report", timeout=120)
    assert r.status_code == 200, r.text
    path = r.json()["path"]
    assert path.startswith("reports/dask-report-my-b-analysis-b-") and path.endswith(".html")
    html = (server.root / path).read_text()
    assert "Dask Performance Report" in html
    # the name is text in the report's HTML (bokeh's Div), not markup (the document holds it escaped once more)
    assert "cluster my &lt;b&gt;analysis&lt;/b&gt;" in unescape(html)
    assert server.api("GET", f"clusters/{id}").json()["recording"] is False
    assert server.api("DELETE", f"clusters/{id}/performance-report").status_code == 409


def test_install_packages_on_workers(server, cluster, tmp_path):
    id, client = cluster
    wheel = build_wheel(tmp_path, value=4242)  # a local wheel: no network
    r = server.api("POST", f"clusters/{id}/packages", {"packages": [str(wheel)]}, timeout=300)
    assert r.status_code == 200, r.text
    assert client.submit(*IMPORT_TINY, pure=False).result(timeout=60) == 4242
    assert (server.root.parent / "worker-site" / "cc_tiny_pkg").is_dir()
    assert not any((Path(p) / "cc_tiny_pkg").exists() for p in sys.path)  # not in this venv


def test_send_a_file_to_workers(server, cluster):
    id, client = cluster
    (server.root / "lib").mkdir(exist_ok=True)
    (server.root / "lib" / "cc_helper_mod.py").write_text("ANSWER = 41 + 1\n")
    r = server.api("POST", f"clusters/{id}/files", {"path": "lib/cc_helper_mod.py"})
    assert r.status_code == 200, r.text
    assert client.submit(eval, "__import__('cc_helper_mod').ANSWER", pure=False).result(timeout=60) == 42


@pytest.mark.parametrize(
    "route, body, status, message",
    [
        ("files", {"path": "../outside.py"}, 400, "outside"),
        ("files", {"path": "/etc/hostname.py"}, 400, "outside"),
        ("files", {"path": "notes.txt"}, 400, "only .py"),
        ("files", {"path": "missing.py"}, 404, "no file"),
        ("files", {"path": 3}, 400, "path must be"),
        ("files", {"file": "x.py"}, 400, "send"),
        ("packages", {"packages": []}, 400, "list of 1 to"),
        ("packages", {"packages": "numpy"}, 400, "list of 1 to"),
        ("packages", {"packages": ["--index-url=http://x", "numpy"]}, 400, "not pip options"),
        ("packages", {"packages": [""]}, 400, "list of 1 to"),
        # each one line of the requirements file pip reads on every worker, as it is
        ("packages", {"packages": ["numpy\n--index-url=http://x"]}, 400, "control character"),
        ("packages", {"packages": ["a\x00b"]}, 400, "control character"),
        ("packages", {"packages": ["x\ud800y"]}, 400, "invalid Unicode"),
        ("packages", {"packages": ["n" * 1001]}, 400, "at most 1000 characters"),
        ("packages", {"packages": ["numpy \\", "scipy"]}, 400, "end with a backslash"),  # one line
        ("files", {"path": "x\ud800y.py"}, 400, "invalid Unicode"),
        ("files", {"path": "a\x00.py"}, 400, "control character"),
        ("files", {"path": "a\nb.py"}, 400, "control character"),
    ],
)
def test_bad_worker_requests_are_4xx(server, cluster, route, body, status, message):
    id, _ = cluster
    (server.root.parent / "outside.py").write_text("X = 1\n")
    r = server.api("POST", f"clusters/{id}/{route}", body)
    assert r.status_code == status, r.text
    assert message in r.json()["message"]


@pytest.mark.parametrize("route", ["files", "packages", "performance-report"])
def test_worker_routes_of_an_unknown_cluster_are_404(server, route):
    body = {"files": {"path": "a.py"}, "packages": {"packages": ["a"]}}.get(route)
    r = server.api("POST", f"clusters/nope/{route}", body)
    assert r.status_code == 404 and "no cluster" in r.json()["message"]
    if route == "performance-report":
        assert server.api("DELETE", f"clusters/nope/{route}").status_code == 404
