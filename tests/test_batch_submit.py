"""Batched submission on HTCondor (the double): the workers of one scale() are one
schedd transaction, each proc its own worker; scale-down removes single procs; close
removes all in one call."""

import pytest
from distributed import Client

from coffea_casa import CoffeaCasaCluster
from conftest import wait_until


@pytest.fixture
def cluster(condor_double):
    cluster = CoffeaCasaCluster(cores=1, memory="1 GiB", nanny_port=None)
    yield cluster
    cluster.close()


def _ids(ads):
    return sorted(f"{a['ClusterId']}.{a['ProcId']}" for a in ads)


def test_scale_is_one_transaction_procs_are_workers_close_removes_all(cluster, condor_double):
    cluster.scale(3)
    with Client(cluster) as client:
        client.wait_for_workers(3, timeout=120)
        assert client.submit(sum, [1, 2]).result(timeout=60) == 3
        names = sorted(w["name"] for w in client.scheduler_info()["workers"].values())
    assert [n for _, _, n in condor_double.transactions("submit")] == [3]
    ads = condor_double.jobs()
    assert len({a["ClusterId"] for a in ads}) == 1 and sorted(a["ProcId"] for a in ads) == [0, 1, 2]
    # each proc is its own worker, with the name SpecCluster gave it, and the job id it got
    assert sorted(a["JobBatchName"] for a in ads) == names == sorted(cluster.workers)
    assert sorted(job.job_id for job in cluster.workers.values()) == _ids(ads)
    assert {a["JobBatchName"]: f"{a['ClusterId']}.{a['ProcId']}" for a in ads} == {
        name: job.job_id for name, job in cluster.workers.items()}

    cluster.scale(1)  # scale-down: single procs go, in one condor_rm
    assert wait_until(lambda: len(condor_double.jobs()) == 1, timeout=60)
    assert [n for _, _, n in condor_double.transactions("rm")] == [2]
    (left,) = condor_double.jobs()
    assert left["JobBatchName"] in cluster.workers

    cluster.scale(4)  # three more: one more transaction
    assert wait_until(lambda: len(condor_double.jobs()) == 4, timeout=60)
    assert [n for _, _, n in condor_double.transactions("submit")] == [3, 3]
    cluster.close()
    assert condor_double.jobs() == []
    assert [n for _, _, n in condor_double.transactions("rm")] == [2, 4]  # close: all four at once
    assert wait_until(lambda: not condor_double.running_pids(), timeout=60)
