"""CoffeaCasaCluster on HTCondor, through the test double: the same scenarios as locally.

The double runs every job on this host, so jobs share the nanny's documented port
8001: the second takes the next free one, as it would on a shared execute node.
"""

import subprocess
import sys
import textwrap

import pytest
from distributed import Client

from coffea_casa import CoffeaCasaCluster
from condor_double.state import RUNNING
from conftest import wait_until


@pytest.fixture
def cluster(condor_double):
    cluster = CoffeaCasaCluster(cores=1, memory="1 GiB")
    yield cluster
    cluster.close()


def test_htcondor_backend_is_chosen_when_condor_submit_is_on_path(cluster):
    assert cluster.backend == "htcondor"


def test_docs_snippet_on_htcondor_and_no_job_left(cluster, condor_double):
    cluster.scale(2)
    client = Client(cluster)
    assert client.submit(sum, [1, 2]).result(timeout=120) == 3
    client.wait_for_workers(2, timeout=120)
    assert all(a.startswith("tls://127.0.0.2:") for a in client.scheduler_info()["workers"])
    jobs = condor_double.jobs()
    assert len(jobs) == 2 and all(j["JobStatus"] == RUNNING for j in jobs)
    assert {j["DaskSchedulerAddress"] for j in jobs} == {cluster.scheduler_address}
    assert {j["DockerImage"] for j in jobs} == {cluster.settings["job_extra"]["docker_image"]}

    cluster.adapt(minimum=1, maximum=3)
    assert wait_until(lambda: len(condor_double.jobs()) == 1, timeout=60)
    client.close()
    cluster.close()
    assert condor_double.jobs() == []
    assert wait_until(lambda: not condor_double.running_pids(), timeout=30)


def test_a_removed_job_is_closed_even_while_something_still_holds_it(cluster, condor_double):
    """SpecCluster.close() asserts that every job it ever made is closed. A job that is only
    freed by the garbage collector (a reference cycle, a traceback) was still `running`
    there: close() raised AssertionError now and then (seen in a full run)."""
    from distributed.core import Status

    cluster.scale(1)
    cluster.wait_for_workers(1)
    (job,) = cluster.workers.values()  # held here, as a cycle would hold it
    cluster.scale(0)
    assert wait_until(lambda: condor_double.jobs() == [] and not cluster.workers, timeout=60)
    assert job.status == Status.closed
    cluster.close()  # raised AssertionError: Status.running
    assert cluster.status == Status.closed


def test_worker_job_sees_secrets_only_by_sandbox_names(cluster, condor_double):
    secrets = cluster.settings["security"].tls_ca_file.rsplit("/", 1)[0]
    script = cluster.job_script()
    arguments = next(line for line in script.splitlines() if line.startswith("Arguments"))
    assert "--tls-ca-file ca.pem" in arguments and "--tls-cert hostcert.pem" in arguments
    assert "--nanny-port 8001:8100" in arguments
    assert secrets not in arguments and "BEGIN" not in arguments
    assert "Environment" not in script or secrets not in script.split("Environment", 1)[1].splitlines()[0]

    cluster.scale(1)
    cluster.wait_for_workers(1)
    (job,) = condor_double.jobs()
    job_id = f"{job['ClusterId']}.{job['ProcId']}"
    sandbox = condor_double.sandbox(job_id)
    assert sorted(p.name for p in sandbox.iterdir() if p.suffix == ".pem") == ["ca.pem", "hostcert.pem"]
    assert secrets not in str(job.get("Args", "")) + str(job.get("Arguments", ""))
    assert secrets not in str(job.get("Env", "")) + str(job.get("Environment", ""))
    # The worker runs in the sandbox with HOME there, as on an execute node.
    env = _environ_of_job(condor_double)
    assert env["HOME"] == str(sandbox)


def _environ_of_job(condor_double):
    import psutil

    for pid in condor_double.running_pids():
        proc = psutil.Process(pid)
        if "distributed.cli.dask_worker" in " ".join(proc.cmdline()):
            return proc.environ()
    raise AssertionError("no worker process found in the double's jobs")


SCRIPT = textwrap.dedent(
    """
    from coffea_casa import CoffeaCasaCluster

    if __name__ == "__main__":
        cluster = CoffeaCasaCluster(cores=1, memory="1 GiB")
        cluster.scale(2)
        cluster.wait_for_workers(2)
        print("ready", flush=True)
        # exits without close(): the jobs must go with the interpreter
    """
)


def test_interpreter_exit_removes_the_jobs(tmp_path, condor_double):
    script = tmp_path / "leaky.py"
    script.write_text(SCRIPT)
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=180)
    assert "ready" in out.stdout, out.stderr[-2000:]
    assert condor_double.jobs() == []
    assert wait_until(lambda: not condor_double.running_pids(), timeout=30)
