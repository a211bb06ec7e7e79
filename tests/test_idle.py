"""Idle clusters give back their slots (coffea-casa.idle-timeout), on the local backend."""

import asyncio
import time

import dask
import pytest
from distributed import Client

from coffea_casa_lab import idle
from coffea_casa_lab.cluster import CoffeaCasaCluster
from coffea_casa_lab.control import summary

pytestmark = pytest.mark.usefixtures("local_backend")


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


async def test_fixed_cluster_scales_to_zero_then_back_on_request():
    with dask.config.set({"coffea-casa.idle-timeout": 1.5}):
        async with CoffeaCasaCluster(asynchronous=True, name="idle") as cluster:
            cluster.scale(1)
            await cluster  # the worker is there
            await _until(lambda: len(cluster.scheduler.workers) == 1)
            await _until(lambda: not cluster.worker_spec)
            info = summary(cluster)
            assert "scaled from 1 to 0 workers" in info["idle"], info
            await _until(lambda: not cluster.scheduler.workers)

            cluster.scale(1)  # the user is back: the reason goes, the clock starts again
            await asyncio.sleep(0.5)
            assert summary(cluster)["idle"] is None
            assert cluster.worker_spec


async def test_work_and_clients_keep_it():
    with dask.config.set({"coffea-casa.idle-timeout": 1.0}):
        async with CoffeaCasaCluster(asynchronous=True, name="busy") as cluster:
            cluster.scale(1)
            async with Client(cluster, asynchronous=True, security=CoffeaCasaCluster.security()) as client:
                await client.wait_for_workers(1)
                # A task that runs three times the timeout: never idle meanwhile.
                assert await client.submit(time.sleep, 3.0, pure=False) is None
                assert cluster.worker_spec and summary(cluster)["idle"] is None
                await _until(lambda: not cluster.worker_spec, timeout=20)  # idle afterwards


async def test_adaptive_minimum_lowered_and_new_work_scales_up():
    with dask.config.set({"coffea-casa.idle-timeout": 1.0}):
        async with CoffeaCasaCluster(asynchronous=True, name="adaptive") as cluster:
            adaptive = cluster.adapt(minimum=1, maximum=2, interval="200ms", wait_count=1)
            await _until(lambda: len(cluster.scheduler.workers) == 1)
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
