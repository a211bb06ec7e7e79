"""ClusterManager: the labextension factory config, lifecycle, models and failures (real clusters)."""

import asyncio
import os
import textwrap

import dask
import pytest
import yaml

from coffea_casa_lab.manager import ClusterError, ClusterManager, labextension_config

pytestmark = pytest.mark.usefixtures("local_backend")

DOCS_YAML = """\
labextension:
  factory:
    module: 'coffea_casa'
    class: 'CoffeaCasaCluster'
    args: []
    kwargs: {}

    default:
      workers: 1
      adapt:
        minimum: 5
        maximum: 10
"""

SMALL = {"cores": 1, "memory": "1 GiB", "death-timeout": 30}


def labext(**kw):
    base = {"factory": {"module": "coffea_casa", "class": "CoffeaCasaCluster", "args": [], "kwargs": SMALL}}
    base.update(kw)
    return dask.config.set({"labextension": base})


async def wait_status(manager, id, timeout=120):
    for _ in range(int(timeout * 10)):
        model = manager.model(id)
        if model["status"] != "starting":
            return model
        await asyncio.sleep(0.1)
    return manager.model(id)


async def wait_model(manager, id, predicate, timeout=60):
    for _ in range(int(timeout * 10)):
        if predicate(manager.model(id)):
            break
        await asyncio.sleep(0.1)
    return manager.model(id)


# Factories for the failure tests (importable as test_manager.*)
class Exploding:
    def __init__(self, *args, **kwargs):
        raise ValueError("the site is closed today")


class NeverReady:
    def __init__(self, *args, **kwargs):
        self.closed = False

    def __await__(self):
        return asyncio.sleep(3600).__await__()

    async def close(self):
        self.closed = True


def test_docs_yaml_verbatim_is_understood():
    with dask.config.set(yaml.safe_load(DOCS_YAML)):
        cfg = labextension_config()
    assert (cfg["module"], cfg["class"], cfg["args"], cfg["kwargs"]) == ("coffea_casa", "CoffeaCasaCluster", [], {})
    assert cfg["default"] == {"workers": 1, "adapt": {"minimum": 5, "maximum": 10}}


def test_shipped_defaults_use_coffea_casa_cluster():
    cfg = labextension_config()
    assert (cfg["module"], cfg["class"]) == ("coffea_casa", "CoffeaCasaCluster")
    assert cfg["initial"] == []


def test_list_shaped_default_and_dashed_kwargs():
    image_yaml = textwrap.dedent(
        """\
        labextension:
          factory: {module: coffea_casa, class: CoffeaCasaCluster, args: [], kwargs: {death-timeout: 30}}
          default:
            - workers: null
            - adapt: {minimum: 1, maximum: 10}
          initial:
            - name: "UNL HTCondor cluster"
              workers: null
              adapt: {minimum: 5, maximum: 10}
        """
    )
    with dask.config.set(yaml.safe_load(image_yaml)):
        cfg = labextension_config()
    assert cfg["kwargs"] == {"death_timeout": 30}
    assert cfg["default"] == {"workers": None, "adapt": {"minimum": 1, "maximum": 10}}
    assert cfg["initial"][0]["name"] == "UNL HTCondor cluster"


async def test_docs_yaml_starts_an_adaptive_cluster(no_leaks):
    manager = ClusterManager()
    with dask.config.set(yaml.safe_load(DOCS_YAML)):
        model = manager.start_cluster()
    assert model["status"] == "starting"
    model = await wait_status(manager, model["id"])
    assert model["status"] == "running", model
    assert model["adapt"] == {"minimum": 5, "maximum": 10}
    assert model["backend"] == "local"
    await manager.close_all()
    assert manager.list() == []


async def test_lifecycle_and_live_model(no_leaks):
    manager = ClusterManager()
    with labext(default=[{"workers": 1}]):
        model = manager.start_cluster({"name": "mine"})
    id = model["id"]
    assert model["dashboard_url"] == f"coffea-casa/dashboard/{id}/"
    model = await wait_status(manager, id)
    assert model["status"] == "running" and model["name"] == "mine"
    assert model["scheduler_address"].startswith("tls://127.0.0.2:")
    model = await wait_model(manager, id, lambda m: m["workers"] == 1)
    assert (model["workers"], model["cores"], model["requested_workers"]) == (1, 1, 1)
    assert model["memory_bytes"] == 2**30
    assert model["adapt"] is None
    host, port = manager.dashboard_target(id)
    assert host == "127.0.0.2" and port > 0

    model = manager.adapt(id, {"minimum": 0, "maximum": 2})
    assert model["adapt"] == {"minimum": 0, "maximum": 2}
    model = manager.scale(id, 2)
    assert model["adapt"] is None and model["requested_workers"] == 2
    model = await wait_model(manager, id, lambda m: m["workers"] == 2)
    assert model["workers"] == 2 and model["cores"] == 2

    closed = await manager.close(id)
    assert closed["status"] == "closed"
    assert manager.dashboard_target(id) is None
    with pytest.raises(ClusterError) as e:
        manager.model(id)
    assert e.value.status == 404


@pytest.mark.parametrize(
    "factory, message",
    [
        ({"module": "no_such_module_here", "class": "X"}, "cannot import the cluster factory no_such_module_here.X"),
        ({"module": "coffea_casa", "class": "NoSuchClass"}, "cannot import the cluster factory"),
        ({"module": "test_manager", "class": "Exploding"}, "ValueError: the site is closed today"),
        ({"module": "test_manager", "class": "NeverReady"}, "did not start within 0.5 s"),
    ],
)
async def test_failing_factory_gives_failed_model(factory, message):
    manager = ClusterManager(start_timeout=0.5)
    with dask.config.set({"labextension": {"factory": dict(factory, args=[], kwargs={})}}):
        model = manager.start_cluster()
    model = await wait_status(manager, model["id"], timeout=10)
    assert model["status"] == "failed"
    assert message in model["error"]
    with pytest.raises(ClusterError) as e:
        manager.scale(model["id"], 1)
    assert e.value.status == 409
    await manager.close(model["id"])
    assert manager.list() == []


async def test_starting_does_not_block_the_loop():
    manager = ClusterManager(start_timeout=30)
    with dask.config.set({"labextension": {"factory": {"module": "test_manager", "class": "NeverReady"}}}):
        ids = [manager.start_cluster()["id"] for _ in range(3)]
    ticks = 0
    for _ in range(20):  # the loop keeps turning while three clusters are starting
        await asyncio.sleep(0.01)
        ticks += 1
    assert ticks == 20
    assert [m["status"] for m in manager.list()] == ["starting"] * 3
    closed = await asyncio.gather(*(manager.close(i) for i in ids))
    assert {m["status"] for m in closed} == {"closed"}


async def test_initial_clusters_start_in_the_background(no_leaks):
    manager = ClusterManager()
    with labext(initial=[{"name": "first", "workers": 0}, {"name": "second", "adapt": {"minimum": 0, "maximum": 1}}]):
        models = manager.start_initial()
    assert [m["name"] for m in models] == ["first", "second"]
    assert {m["status"] for m in models} == {"starting"}
    for m in models:
        assert (await wait_status(manager, m["id"]))["status"] == "running"
    assert manager.model(models[1]["id"])["adapt"] == {"minimum": 0, "maximum": 1}
    await manager.close_all()
    assert manager.list() == []


@pytest.mark.parametrize(
    "options",
    [
        {"workers": -1},
        {"workers": 1.5},
        {"workers": "3"},
        {"workers": True},
        {"workers": 10**9},
        {"adapt": {"minimum": 3, "maximum": 1}},
        {"adapt": {"minimum": -1, "maximum": 1}},
        {"adapt": [1, 2]},
        {"adapt": {"min": 1}},
        {"name": 5},
        {"bogus": 1},
        [1, 2],
    ],
)
def test_bad_options_are_refused(options):
    with pytest.raises(ClusterError) as e:
        ClusterManager().start_cluster(options)
    assert e.value.status == 400 and str(e.value)


def test_unknown_id_is_404():
    manager = ClusterManager()
    for call in (manager.model, lambda i: manager.scale(i, 1), lambda i: manager.adapt(i, {"minimum": 0})):
        with pytest.raises(ClusterError) as e:
            call("nope")
        assert e.value.status == 404
    assert manager.dashboard_target("nope") is None


class FakeCluster:
    """A cluster with no processes, for fuzzing the REST API without starting thousands of workers.

    It keeps the numbers a SpecCluster would report (requested workers, adapt bounds),
    so the handlers and the manager run their real code paths.
    """

    backend = "local"

    def __init__(self, *args, asynchronous=False, **kwargs):
        # its "dashboard" is whatever the test serves at FAKE_DASHBOARD_PORT on 127.0.0.2
        self.scheduler_address = "tls://127.0.0.2:1"
        port = int(os.environ.get("FAKE_DASHBOARD_PORT", "0"))
        self.scheduler_info = {"workers": {}, "services": {"dashboard": port} if port else {}}
        self.plan = set()
        self.workers, self.worker_spec = {}, {}
        self._adaptive = None

    def __await__(self):
        return asyncio.sleep(0).__await__()

    def scale(self, n):
        self.plan = {str(i) for i in range(n)}

    def adapt(self, minimum=0, maximum=0, **kwargs):
        self._adaptive = type("Adaptive", (), {})()
        self._adaptive.minimum, self._adaptive.maximum = minimum, maximum
        self._adaptive.periodic_callback = object()
        self._adaptive.stop = lambda: setattr(self._adaptive, "periodic_callback", None)
        return self._adaptive

    async def close(self):
        self.plan = set()
