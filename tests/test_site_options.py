"""Site-declared cluster options (`coffea-casa.options`): the shipped declaration, the checks,
the same refusal through REST and in a notebook's kernel, and each option applied to the
real worker on both backends (the scheduler's threads and memory limit; the HTCondor job's
image, request_cpus and request_memory). The tests' conftest declares no options (their
1 GiB workers are below the shipped limits); these tests declare their own."""

import json
import re
import subprocess
from pathlib import Path

import dask
import pytest
import yaml

from coffea_casa_lab import site_options
from coffea_casa_lab.errors import ClusterError
from conftest import wait_until
from kernel_client import KernelError, NotebookKernel
from test_lifecycle import backend, backend_env  # noqa: F401  (the fixture)
from test_rest_api import JupyterServer, wait_cluster

SHIPPED = Path(site_options.__file__).with_name("coffea-casa.yaml")
DOCS_IMAGE = "coffeateam/coffea-casa-analysis:latest"
OTHER_IMAGE = "example/analysis:2"
# The tests' site: small workers, so that both backends run them on this machine.
OPTIONS = [
    {"name": "cores", "label": "Worker cores", "type": "int", "default": 1, "min": 1, "max": 2},
    {"name": "memory", "label": "Worker memory", "type": "memory", "default": "1 GiB", "min": "1 GiB", "max": "3 GiB"},
    {"name": "worker_image", "label": "Worker image", "type": "select", "default": DOCS_IMAGE,
     "choices": [DOCS_IMAGE, OTHER_IMAGE]},
]
OPTIONS_ENV = {"DASK_COFFEA_CASA__OPTIONS": json.dumps(OPTIONS)}
# Every limit of OPTIONS broken once, with what the refusal must name: the option, the limit, the key.
OUT_OF_LIMITS = [
    ({"cores": 3}, ["cores", "at most 2", "not 3", "coffea-casa.options"]),
    ({"cores": 0}, ["cores", "at least 1", "not 0", "coffea-casa.options"]),
    ({"cores": 1.5}, ["cores", "whole number", "coffea-casa.options"]),
    ({"memory": "4 GiB"}, ["memory", "at most 3 GiB", "not 4 GiB", "coffea-casa.options"]),
    ({"memory": "512 MiB"}, ["memory", "at least 1 GiB", "not 512 MiB", "coffea-casa.options"]),
    ({"memory": "lots"}, ["memory", "a size", "coffea-casa.options"]),
    ({"worker_image": "evil/miner:1"}, ["worker_image", DOCS_IMAGE, OTHER_IMAGE, "'evil/miner:1'", "coffea-casa.options"]),
]


@pytest.fixture
def site(monkeypatch):
    monkeypatch.setenv("DASK_COFFEA_CASA__OPTIONS", json.dumps(OPTIONS))
    dask.config.refresh()
    yield
    monkeypatch.undo()
    dask.config.refresh()


@pytest.fixture
def shipped(monkeypatch):
    """The package's own declaration, as a site without its own YAML has it."""
    monkeypatch.delenv("DASK_COFFEA_CASA__OPTIONS", raising=False)
    dask.config.refresh()
    yield
    monkeypatch.undo()
    dask.config.refresh()


def test_the_shipped_declaration(shipped):
    options = {o["name"]: o for o in site_options.declared()}
    assert list(options) == ["cores", "memory", "worker_image"]
    assert {k: options["cores"][k] for k in ("type", "min", "max", "default")} == {
        "type": "int", "min": 1, "max": 4, "default": 4}
    assert {k: options["memory"][k] for k in ("type", "min", "max", "default")} == {
        "type": "memory", "min": "2 GiB", "max": "8 GiB", "default": "6 GiB"}
    image = options["worker_image"]
    assert image["type"] == "select" and image["default"] == DOCS_IMAGE and DOCS_IMAGE in image["choices"]
    # the defaults are the docs' worker (jobqueue-coffea-casa.yaml), so + NEW's form starts there
    jobqueue = yaml.safe_load(SHIPPED.with_name("jobqueue-coffea-casa.yaml").read_text())["jobqueue"]["coffea-casa"]
    assert (jobqueue["cores"], jobqueue["memory"], jobqueue["worker-image"]) == (4, "6 GiB", DOCS_IMAGE)
    assert all(o["label"] for o in options.values())


def test_the_shipped_limits_apply_to_a_notebook(shipped):
    with pytest.raises(ValueError, match=r"cores must be at most 4, not 8 .*coffea-casa\.options"):
        site_options.check_keywords({"cores": 8})
    with pytest.raises(ValueError, match="memory must be at most 8 GiB, not 10 GiB"):
        site_options.check_keywords({"memory": "10 GiB"})  # the docs' example asks for 10 GiB
    site_options.check_keywords({"cores": 1, "memory": "2 GiB", "job_extra": {"docker_image": DOCS_IMAGE}})


@pytest.mark.usefixtures("local_backend")
def test_no_options_is_todays_cluster(shipped):
    """With the shipped options declared, CoffeaCasaCluster() is the cluster it was without them."""
    from coffea_casa import CoffeaCasaCluster

    def script():
        cluster = CoffeaCasaCluster()
        try:
            port = cluster.scheduler_address.rsplit(":", 1)[1]  # a free one if 8786 is taken
            return cluster.job_script().replace(port, "PORT")
        finally:
            cluster.close()

    with_options = script()
    with dask.config.set({"coffea-casa.options": []}):
        assert script() == with_options


@pytest.mark.parametrize("values, words", OUT_OF_LIMITS)
def test_a_value_outside_the_limits_is_refused_alike_in_a_request_and_a_keyword(site, values, words):
    with pytest.raises(ClusterError) as request:
        site_options.check_request(values)
    assert request.value.status == 400
    for word in words:
        assert word in str(request.value)
    with pytest.raises(ValueError) as keyword:
        site_options.check_keywords(values)
    assert str(keyword.value) == str(request.value)


def test_the_docs_image_keyword_is_the_same_option(site):
    with pytest.raises(ValueError, match="worker_image must be one of"):
        site_options.check_keywords({"job_extra": {"docker_image": "evil/miner:1"}})
    site_options.check_keywords({"job_extra_directives": {"docker_image": OTHER_IMAGE}, "cores": 2})


def test_within_the_limits_is_taken_as_given(site):
    values = {"cores": 2, "memory": "3 GiB", "worker_image": OTHER_IMAGE}
    assert site_options.check_request(values) == values
    assert site_options.check_request({}) == {}


@pytest.mark.parametrize("values, message", [
    ({"disk": "1 GiB"}, "unknown cluster option(s) ['disk']: this site offers cores, memory, worker_image"),
    ([1], "options must be an object"),
])
def test_an_option_the_site_does_not_offer_is_refused(site, values, message):
    with pytest.raises(ClusterError) as e:
        site_options.check_request(values)
    assert e.value.status == 400 and message in str(e.value)


@pytest.mark.parametrize("declaration, message", [
    ({"name": "cores", "type": "integer", "default": 1}, "type must be one of"),
    ({"name": "cores", "type": "int", "default": 5, "max": 4}, "default is outside its own limits"),
    ({"name": "cores", "type": "int", "default": 1, "min": 4, "max": 2}, "min 4 is larger than max 2"),
    ({"name": "memory", "type": "memory", "default": "2 GiB", "min": "4 GiB", "max": "2 GiB"}, "is larger than max"),
    ({"name": "image", "type": "select", "choices": []}, "non-empty list of choices"),
    ({"type": "int", "default": 1}, "needs a name"),
    ({"name": "cores", "type": "int"}, "needs a default"),
])
def test_a_wrong_declaration_says_what_the_admin_must_fix(declaration, message):
    with dask.config.set({"coffea-casa.options": [declaration]}):
        with pytest.raises(ClusterError) as e:
            site_options.declared()
        with pytest.raises(ValueError):  # a notebook's cluster with keywords says so too
            site_options.check_keywords({"cores": 1})
    assert e.value.status == 500 and "coffea-casa.options" in str(e.value) and message in str(e.value)


def test_every_type_is_checked():
    declaration = [
        {"name": "walltime_hours", "type": "float", "default": 1.5, "min": 0.5, "max": 2},
        {"name": "gpu", "type": "bool", "default": False},
        {"name": "queue", "type": "string", "default": "short"},
    ]
    with dask.config.set({"coffea-casa.options": declaration}):
        assert site_options.check_request({"walltime_hours": 2, "gpu": True, "queue": "long"})
        for values, message in [({"walltime_hours": 2.5}, "at most 2"), ({"walltime_hours": float("nan")}, "a number"),
                                ({"gpu": "yes"}, "true or false"), ({"queue": 5}, "a text")]:
            with pytest.raises(ClusterError, match=message):
                site_options.check_request(values)


# --- through a real server and a real kernel ----------------------------------------------

@pytest.fixture(scope="module")
def options_server(tmp_path_factory):
    """FakeClusters (no processes) on a site with OPTIONS: requests are checked, nothing runs."""
    env = dict(OPTIONS_ENV, DASK_LABEXTENSION__FACTORY__MODULE="factories",
               DASK_LABEXTENSION__FACTORY__CLASS="FakeCluster")
    s = JupyterServer(tmp_path_factory.mktemp("jupyter-options"), env)
    yield s
    s.stop()


def test_get_options_answers_the_declaration(options_server):
    r = options_server.api("GET", "options")
    assert r.status_code == 200, r.text
    assert [(o["name"], o["label"], o["type"], o["default"]) for o in r.json()] == [
        (o["name"], o["label"], o["type"], o["default"]) for o in OPTIONS]
    assert r.json()[1]["min"] == "1 GiB" and r.json()[2]["choices"] == [DOCS_IMAGE, OTHER_IMAGE]


def test_every_limit_is_refused_through_rest_and_in_a_kernel_with_the_same_message(options_server):
    refused = {}
    for values, words in OUT_OF_LIMITS:
        r = options_server.api("PUT", "clusters", {"workers": 1, "options": values})
        assert r.status_code == 400, r.text
        for word in words:
            assert word in r.json()["message"]
        refused[json.dumps(values)] = r.json()["message"]
    assert options_server.api("GET", "clusters").json() == []  # nothing was started

    kernel = NotebookKernel(options_server, "limits.ipynb")
    try:
        for values, message in refused.items():
            with pytest.raises(KernelError) as e:
                kernel.run(f"from coffea_casa import CoffeaCasaCluster\nCoffeaCasaCluster(**{values})")
            assert "ValueError" in str(e.value) and message in _plain(str(e.value)), (message, str(e.value))
    finally:
        kernel.close()
    assert options_server.api("GET", "clusters").json() == []


def _plain(traceback):
    return re.sub(r"\x1b\[[0-9;]*m", "", traceback)


def test_each_option_is_applied_to_the_real_worker(tmp_path, backend, request):  # noqa: F811
    shape = {"cores": 2, "memory": "3 GiB", "worker_image": OTHER_IMAGE}
    server = JupyterServer(tmp_path, backend_env(backend, **OPTIONS_ENV))
    try:
        id = server.api("PUT", "clusters", {"workers": 1, "options": shape}).json()["id"]
        model = wait_cluster(server, id, lambda m: m["workers"] == 1, timeout=180)
        # the scheduler's view of its worker: 2 threads, a 3 GiB memory limit
        assert (model["workers"], model["cores"], model["memory_bytes"]) == (1, 2, 3 * 2**30), model
        assert model["worker_shape"] == {"cores": 2, "memory_bytes": 3 * 2**30, "image": OTHER_IMAGE}
        if backend == "htcondor":  # the job's ad, as condor_q evaluates it (request_cpus = MY.DaskWorkerCores, ...)
            ad = subprocess.run(["condor_q", "-af", "RequestCpus", "RequestMemory", "DockerImage"],
                                capture_output=True, text=True, check=True).stdout.split()
            assert ad == ["2", "3072", OTHER_IMAGE], ad

        # a notebook's cluster shows its shape too; without options it is the site's config (1 core, 1 GiB)
        kernel = NotebookKernel(server, "shape.ipynb")
        try:
            kernel.run("from coffea_casa import CoffeaCasaCluster\ncluster = CoffeaCasaCluster()")
            (mine,) = [m for m in server.api("GET", "clusters").json() if m["kind"] == "kernel"]
            assert mine["worker_shape"] == {"cores": 1, "memory_bytes": 2**30, "image": DOCS_IMAGE}, mine
            kernel.run("cluster.close()")
        finally:
            kernel.close()
        assert server.api("DELETE", f"clusters/{id}").status_code == 200
    finally:
        server.stop()
    if backend == "htcondor":
        double = request.getfixturevalue("condor_double")
        assert wait_until(lambda: double.jobs() == [], timeout=60), double.jobs()
