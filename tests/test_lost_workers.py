"""Lost workers are replaced (HTCondor through the double, and the local backend): a job
killed mid-analysis, a local worker gone for good; three losses in ten minutes stop it."""

import os
import signal
import time
import weakref

import dask
import pytest
from distributed import Client

from coffea_casa import CoffeaCasaCluster
from coffea_casa_lab.control import ClusterControl, summary
from conftest import wait_until

FAST = {"coffea-casa.lost-workers.check-interval": 0.5, "coffea-casa.lost-workers.grace": 5}


def slow(x):
    # made here, so that it travels by value: worker jobs cannot import this test module
    def slow_inc(x):
        import time

        time.sleep(0.02)
        return x + 1

    return slow_inc


def _size_is(cluster, client, n):
    return len(cluster.worker_spec) == n and len(client.scheduler_info()["workers"]) == n


def test_worker_job_killed_mid_analysis_is_replaced(condor_double):
    with dask.config.set(FAST), CoffeaCasaCluster(cores=1, memory="1 GiB", nanny_port=None) as cluster:
        cluster.scale(2)
        with Client(cluster) as client:
            client.wait_for_workers(2, timeout=120)
            futures = client.map(slow(0), range(600))
            assert wait_until(lambda: sum(f.done() for f in futures) >= 50, timeout=120)
            victim = condor_double.jobs()[0]
            victim_id = f"{victim['ClusterId']}.{victim['ProcId']}"
            os.killpg(victim["DoublePgid"], signal.SIGKILL)  # as the OOM killer or an eviction would
            assert sum(client.gather(futures)) == sum(range(1, 601))  # exact: Dask recomputed the lost tasks
            assert wait_until(lambda: _size_is(cluster, client, 2), timeout=120)
            assert victim["JobBatchName"] not in cluster.workers
            ids = sorted(f"{a['ClusterId']}.{a['ProcId']}" for a in condor_double.jobs())
            assert len(ids) == 2 and victim_id not in ids
            assert summary(cluster)["error"] is None


def test_three_losses_in_ten_minutes_stop_replacing(condor_double):
    # worker jobs that end at once, before their worker ever connects
    with dask.config.set(FAST), CoffeaCasaCluster(cores=1, memory="1 GiB", nanny_port=None,
                                                  job_script_prologue=["exit 3"]) as cluster:
        cluster.scale(1)
        assert wait_until(lambda: summary(cluster)["error"], timeout=120)
        error = summary(cluster)["error"]
        assert "3 workers were lost" in error and "left the queue" in error, error
        assert ClusterControl(weakref.ref(cluster)).info()["error"] == error  # what the card shows
        jobs_submitted = len(condor_double.jobs(include_history=True))
        assert jobs_submitted == 3
        time.sleep(2)  # no more retries (bounded: 4 check intervals)
        assert len(condor_double.jobs(include_history=True)) == jobs_submitted
        assert summary(cluster)["requested_workers"] == 0
        cluster.scale(1)  # the user asks again: replacing starts over
        assert summary(cluster)["error"] is None
        assert wait_until(lambda: len(condor_double.jobs(include_history=True)) > jobs_submitted, timeout=60)


def test_local_worker_gone_for_good_is_replaced(local_backend):
    with dask.config.set(FAST), CoffeaCasaCluster(cores=1, memory="1 GiB") as cluster:
        cluster.scale(2)
        with Client(cluster) as client:
            client.wait_for_workers(2, timeout=60)
            name, job = next(iter(cluster.workers.items()))
            cluster.sync(job.nannies[0].close)  # its Nanny is gone: it will not come back by itself
            assert wait_until(lambda: name not in cluster.workers and _size_is(cluster, client, 2), timeout=60)
            assert client.submit(slow(0), 1).result(timeout=60) == 2
