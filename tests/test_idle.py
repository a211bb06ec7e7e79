"""Idle clusters give back their slots (coffea-casa.idle-timeout), on the local backend."""

import asyncio
import time

import dask
import pytest
from distributed import Client

from coffea_casa_lab import idle
from coffea_casa_lab.cluster import CoffeaCasaCluster
from coffea_casa_lab.control import summary
from conftest import wait_until




async def _until(predicate, timeout=30):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.1)


def test_off_by_default_and_parsed():
    assert idle.idle_timeout() is None
    with dask.config.set({"coffea-casa.idle-timeout": "1 hour"}):
        assert idle.idle_timeout() == 3600
    with dask.config.set({"coffea-casa.idle-timeout": 0}):
        assert idle.idle_timeout() is None


@pytest.mark.usefixtures("local_backend")
async def test_fixed_cluster_scales_to_zero_then_back_on_request():
    with dask.config.set({"coffea-casa.idle-timeout": 1.5}):
        async with CoffeaCasaCluster(asynchronous=True, name="idle") as cluster:
            cluster.scale(1)  # whether its worker arrives before the timeout does not matter
            await _until(lambda: not cluster.worker_spec)
            info = summary(cluster)
            assert "scaled from 1 to 0 workers" in info["idle"], info
            await _until(lambda: not cluster.scheduler.workers)

            cluster.scale(1)  # the user is back: the reason goes, the clock starts again
            await asyncio.sleep(0.5)
            assert summary(cluster)["idle"] is None
            assert cluster.worker_spec


@pytest.mark.usefixtures("local_backend")
async def test_work_and_clients_keep_it():
    with dask.config.set({"coffea-casa.idle-timeout": 2.0}):
        async with CoffeaCasaCluster(asynchronous=True, name="busy") as cluster:
            cluster.scale(1)
            async with Client(cluster, asynchronous=True, security=CoffeaCasaCluster.security()) as client:
                # A task that runs well past the timeout, queued before its worker arrives:
                # the cluster is busy all along, never idle.
                # (bounded well inside pytest-timeout, so that a hang shows where it was)
                assert await asyncio.wait_for(client.submit(time.sleep, 5.0, pure=False), 120) is None
                assert cluster.worker_spec and summary(cluster)["idle"] is None
                await _until(lambda: not cluster.worker_spec, timeout=20)  # idle afterwards


@pytest.mark.usefixtures("local_backend")
async def test_adaptive_minimum_lowered_and_new_work_scales_up():
    with dask.config.set({"coffea-casa.idle-timeout": 1.0}):
        async with CoffeaCasaCluster(asynchronous=True, name="adaptive") as cluster:
            adaptive = cluster.adapt(minimum=1, maximum=2, interval="200ms", wait_count=1)
            await _until(lambda: adaptive.minimum == 0)
            assert "minimum lowered from 1 to 0" in summary(cluster)["idle"]
            await _until(lambda: not cluster.scheduler.workers)
            async with Client(cluster, asynchronous=True, security=CoffeaCasaCluster.security()) as client:
                assert await client.submit(lambda: 42) == 42  # adaptivity brings a worker back
            assert summary(cluster)["adapt"]["minimum"] == 0


def test_the_sidebar_shows_why_and_a_scale_brings_the_workers_back(tmp_path):
    """A sidebar cluster (in its host process) over REST: the card's `idle` says why it has 0 workers."""
    from test_rest_api import JupyterServer, wait_cluster

    env = {
        "DASK_COFFEA_CASA__BACKEND": "local",
        "DASK_COFFEA_CASA__IDLE_TIMEOUT": "2",
        "DASK_JOBQUEUE__COFFEA_CASA__CORES": "1",
        "DASK_JOBQUEUE__COFFEA_CASA__MEMORY": "1 GiB",
    }
    server = JupyterServer(tmp_path, env)
    try:
        id = server.api("PUT", "clusters", {"workers": 1}).json()["id"]
        model = wait_cluster(server, id, lambda m: m.get("idle") and m["workers"] == 0)
        assert "scaled from 1 to 0 workers" in (model.get("idle") or ""), model
        assert model["status"] == "running" and model["requested_workers"] == 0

        model = server.api("PATCH", f"clusters/{id}", {"workers": 1}).json()
        assert model["idle"] is None and model["requested_workers"] == 1, model
        assert server.api("DELETE", f"clusters/{id}").status_code == 200
    finally:
        server.stop()


def test_on_htcondor_the_idle_jobs_leave_the_queue(condor_double):
    """The slots go back to the pool: the worker's job is removed, the scheduler stays."""
    with dask.config.set({"coffea-casa.idle-timeout": 2}):
        cluster = CoffeaCasaCluster(cores=1, memory="1 GiB")
        try:
            assert cluster.backend == "htcondor"
            cluster.scale(1)
            assert wait_until(lambda: len(condor_double.jobs()) == 1, timeout=60)
            assert wait_until(lambda: condor_double.jobs() == [], timeout=60), condor_double.jobs()
            assert "scaled from 1 to 0" in summary(cluster)["idle"]
            assert wait_until(lambda: not condor_double.running_pids(), timeout=30)
            assert cluster.status.name == "running"
        finally:
            cluster.close()
