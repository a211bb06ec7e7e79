"""ClusterManager: the labextension factory config, and sidebar clusters in host processes
of their own: lifecycle, models, failures, requests while starting, a host that dies."""

import asyncio
import os
import signal
import textwrap

import dask
import psutil
import pytest
import yaml

from coffea_casa_lab import registry
from coffea_casa_lab.manager import ClusterError, ClusterManager
from coffea_casa_lab.options import labextension_config

pytestmark = pytest.mark.usefixtures("refreshed_config", "local_backend_everywhere", "own_registry")

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

SMALL = {"DASK_JOBQUEUE__COFFEA_CASA__CORES": "1", "DASK_JOBQUEUE__COFFEA_CASA__MEMORY": "1 GiB",
         "DASK_JOBQUEUE__COFFEA_CASA__DEATH_TIMEOUT": "30"}


@pytest.fixture
def refreshed_config():
    """dask config read again from the environment once the test's variables are gone."""
    yield
    dask.config.refresh()


@pytest.fixture
def local_backend_everywhere(monkeypatch):
    """The embedded default, in this process and in the host processes it starts."""
    for key, value in dict(SMALL, DASK_COFFEA_CASA__BACKEND="local").items():
        monkeypatch.setenv(key, value)
    dask.config.refresh()


@pytest.fixture
def own_registry(tmp_path, monkeypatch):
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path / "runtime"))


def factory_env(monkeypatch, module, cls, **extra):
    """Sets the factory for this process and the hosts (they read the same dask config)."""
    monkeypatch.setenv("DASK_LABEXTENSION__FACTORY__MODULE", module)
    monkeypatch.setenv("DASK_LABEXTENSION__FACTORY__CLASS", cls)
    for key, value in extra.items():
        monkeypatch.setenv(key, value)
    dask.config.refresh()


async def wait_model(manager, id, predicate, timeout=90):
    for _ in range(int(timeout * 10)):
        model = await manager.model(id)
        if predicate(model):
            return model
        await asyncio.sleep(0.1)
    return await manager.model(id)


def host_pid(model):
    return model["pid"]


def gone(pid):
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


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


async def test_a_sidebar_cluster_lives_in_a_host_process_of_its_own(no_leaks):
    manager = ClusterManager()
    model = manager.start_cluster({"name": "mine", "workers": 1})
    id = model["id"]
    assert model["status"] == "starting" and model["kind"] == "sidebar"
    assert model["dashboard_url"] == f"coffea-casa/dashboard/{id}/"
    model = await wait_model(manager, id, lambda m: m["status"] != "starting")
    assert model["status"] == "running" and model["name"] == "mine", model
    assert model["scheduler_address"].startswith("tls://127.0.0.2:")
    model = await wait_model(manager, id, lambda m: m["workers"] == 1)
    assert (model["workers"], model["cores"], model["memory_bytes"], model["requested_workers"]) == (1, 1, 2**30, 1)

    # the scheduler is in the host, a process of its own session, not in this one
    host = psutil.Process(host_pid(model))
    assert host.pid != os.getpid() and os.getsid(host.pid) == host.pid
    assert "coffea_casa_lab.host" in " ".join(host.cmdline())
    record = registry.Reader().get(id)
    assert record["kind"] == "sidebar" and record["server_pid"] == os.getpid()
    assert oct(registry.directory().stat().st_mode & 0o777) == "0o700"
    assert oct(registry.record_path(id).stat().st_mode & 0o777) == "0o600"
    assert manager.dashboard_target(id) == tuple(record["dashboard"])

    model = await manager.adapt(id, {"minimum": 0, "maximum": 2})
    assert model["adapt"] == {"minimum": 0, "maximum": 2}
    model = await manager.scale(id, 2)
    assert model["adapt"] is None and model["requested_workers"] == 2
    model = await wait_model(manager, id, lambda m: m["workers"] == 2)
    assert model["cores"] == 2

    closed = await manager.close(id)
    assert closed["status"] == "closed"
    assert gone(host.pid)
    assert manager.dashboard_target(id) is None
    assert not registry.record_path(id).exists() and not registry.log_path(id).exists()
    with pytest.raises(ClusterError) as e:
        await manager.model(id)
    assert e.value.status == 404


async def test_a_patch_while_starting_is_applied_once_it_runs(no_leaks):
    manager = ClusterManager()
    id = manager.start_cluster({"workers": 0})["id"]
    model = await manager.scale(id, 1)  # the host may not even have its record yet: it waits
    assert model["status"] in ("starting", "running") and model["requested_workers"] == 1
    model = await wait_model(manager, id, lambda m: m["workers"] == 1)
    assert model["status"] == "running" and model["workers"] == 1
    await manager.close_all()
    assert await manager.list() == []


async def test_the_docs_yaml_starts_an_adaptive_cluster(monkeypatch, no_leaks):
    monkeypatch.setenv("DASK_LABEXTENSION__DEFAULT__ADAPT", "{'minimum': 1, 'maximum': 2}")
    dask.config.refresh()
    manager = ClusterManager()
    id = manager.start_cluster()["id"]
    model = await wait_model(manager, id, lambda m: m["status"] != "starting")
    assert model["status"] == "running" and model["adapt"] == {"minimum": 1, "maximum": 2}, model
    await manager.close_all()


@pytest.mark.parametrize(
    "module, cls, message",
    [
        ("no_such_module_here", "X", "cannot import the cluster factory no_such_module_here.X"),
        ("coffea_casa", "NoSuchClass", "cannot import the cluster factory"),
        ("factories", "Exploding", "ValueError: the site is closed today"),
        ("factories", "NeverReady", "did not start within 1 s"),
    ],
)
async def test_a_failing_factory_gives_a_failed_model(monkeypatch, module, cls, message):
    factory_env(monkeypatch, module, cls, DASK_LABEXTENSION__START_TIMEOUT="1")
    manager = ClusterManager()
    id = manager.start_cluster()["id"]
    model = await wait_model(manager, id, lambda m: m["status"] not in ("starting",), timeout=60)
    assert model["status"] == "failed" and message in model["error"], model
    with pytest.raises(ClusterError) as e:
        await manager.scale(id, 1)
    assert e.value.status == 409 and "failed" in str(e.value)
    pid = host_pid(model)
    assert (await manager.close(id))["status"] == "closed"
    assert gone(pid) and await manager.list() == []


async def test_starting_does_not_block_the_loop(monkeypatch):
    factory_env(monkeypatch, "factories", "NeverReady")
    manager = ClusterManager()
    ids = [manager.start_cluster()["id"] for _ in range(3)]
    ticks = 0
    for _ in range(20):  # the loop keeps turning while three clusters are starting
        await asyncio.sleep(0.01)
        ticks += 1
    assert ticks == 20
    assert [m["status"] for m in await manager.list()] == ["starting"] * 3
    closed = await asyncio.gather(*(manager.close(i) for i in ids))
    assert {m["status"] for m in closed} == {"closed"}
    assert await manager.list() == []


async def test_initial_clusters_start_once(monkeypatch, no_leaks):
    factory_env(monkeypatch, "factories", "FakeCluster",
                DASK_LABEXTENSION__INITIAL='[{"name": "first", "workers": 0}, {"name": "second", "adapt": {"minimum": 0, "maximum": 1}}]')
    manager = ClusterManager()
    models = manager.start_initial()
    assert [m["name"] for m in models] == ["first", "second"]
    for m in models:
        assert (await wait_model(manager, m["id"], lambda m: m["status"] != "starting"))["status"] == "running"
    assert (await manager.model(models[1]["id"]))["adapt"] == {"minimum": 0, "maximum": 1}
    # a restarted server finds them instead of starting them again
    assert ClusterManager().start_initial() == []
    await manager.close_all()
    assert await manager.list() == []


async def test_a_host_that_dies_shows_why_and_can_be_dismissed(monkeypatch):
    factory_env(monkeypatch, "factories", "FakeCluster")
    manager = ClusterManager()
    id = manager.start_cluster()["id"]
    model = await wait_model(manager, id, lambda m: m["status"] == "running")
    os.kill(host_pid(model), signal.SIGKILL)
    model = await wait_model(manager, id, lambda m: m["status"] == "lost", timeout=10)
    assert model["status"] == "lost" and "killed by SIGKILL" in model["error"], model
    assert manager.dashboard_target(id) is None
    with pytest.raises(ClusterError) as e:
        await manager.scale(id, 1)
    assert e.value.status == 409
    assert (await manager.close(id))["status"] == "closed"  # dismissed
    assert await manager.list() == []


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


async def test_unknown_id_is_404():
    manager = ClusterManager()
    for call in (manager.model, lambda i: manager.scale(i, 1), lambda i: manager.adapt(i, {"minimum": 0}),
                 manager.close, manager.running):
        with pytest.raises(ClusterError) as e:
            await call("nope")
        assert e.value.status == 404
    assert manager.dashboard_target("nope") is None



async def test_a_cluster_whose_record_says_running_is_running_before_the_next_poll(no_leaks):
    """The host writes its record as it starts; numbers polled before are older (issue 18's jobs pane
    answered 409 'starting' for a cluster whose card already said why its jobs wait)."""
    manager = ClusterManager()
    id = manager.start_cluster({"workers": 0})["id"]
    await wait_model(manager, id, lambda m: (manager.reader.get(id) or {}).get("status") == "running")
    try:
        manager.listing.note_info(id, {"status": "starting"})  # polled just before the host wrote "running"
        assert (await manager.running(id)).id == id
    finally:
        await manager.close_all()
