"""CoffeaCasaCluster on the embedded local backend: the docs' snippets, defaults, ports, leaks."""

import logging
import os
import socket
import subprocess
import sys
import textwrap
import threading

import dask
import pytest
from distributed import Client
from distributed.exceptions import WorkerStartTimeoutError

import coffea_casa_lab.cluster as cluster_module
from coffea_casa import CoffeaCasaCluster, PortInUseError
from conftest import child_processes, wait_until

pytestmark = pytest.mark.usefixtures("local_backend")


def test_docs_snippet_runs_verbatim_on_tls_workers(no_leaks):
    cluster = CoffeaCasaCluster()
    cluster.scale(2)
    client = Client(cluster)
    assert client.submit(sum, [1, 2]).result() == 3
    client.wait_for_workers(2)
    workers = client.scheduler_info()["workers"]
    assert len(workers) == 2
    assert all(addr.startswith("tls://127.0.0.2:") for addr in workers)
    assert cluster.scheduler_address.startswith("tls://127.0.0.2:")
    cluster.adapt(minimum=1, maximum=3)
    client.close()
    cluster.close()


def test_wait_for_workers_wakes_when_they_join(monkeypatch, no_leaks):
    """A worker joining wakes wait_for_workers (here nothing else does: the periodic re-ask is off),
    which returns once they run; a timeout is distributed's error, as before."""
    monkeypatch.setattr(cluster_module, "WAIT_INTERVAL", 3600)
    cluster = CoffeaCasaCluster()
    try:
        with pytest.raises(WorkerStartTimeoutError):
            cluster.wait_for_workers(1, timeout=0.5)
        cluster.scale(2)
        cluster.wait_for_workers(2, timeout=120)
        assert [w["status"] for w in cluster.scheduler_info["workers"].values()] == ["running"] * 2
    finally:
        cluster.close()


def test_backend_is_visible_as_attribute_and_log_line(caplog):
    with caplog.at_level(logging.INFO, logger="coffea_casa"):
        cluster = CoffeaCasaCluster()
    try:
        assert cluster.backend == "local"
        lines = [r.getMessage() for r in caplog.records if r.name == "coffea_casa"]
        assert len(lines) == 1 and "local backend" in lines[0], lines
    finally:
        cluster.close()


def test_settings_match_the_documented_defaults():
    cluster = CoffeaCasaCluster()
    try:
        s = cluster.settings
        assert s["protocol"] == "tls://"
        assert s["security"].require_encryption
        opts = s["scheduler_options"]
        assert opts["protocol"] == "tls"
        assert opts["external_address"] == cluster.scheduler_address == f"tls://127.0.0.2:{opts['port']}"
        assert opts["dashboard_address"].endswith(":" + cluster.dashboard_link.split(":")[2].split("/")[0])
        extra = s["job_extra"]
        assert extra["universe"] == "docker"
        assert extra["docker_image"].startswith("coffeateam/coffea-casa-analysis")
        assert extra["container_service_names"] == "dask"
        assert extra["when_to_transfer_output"] == "ON_EXIT"
        assert extra["should_transfer_files"] == "YES"
        assert extra["Stream_Output"] == extra["Stream_Error"] == "False"
        assert extra["+DaskSchedulerAddress"] == f'"{cluster.scheduler_address}"'
        files = [f.strip() for f in extra["transfer_input_files"].split(",")]
        # the TLS files, and what every worker preloads: the TLS workaround, the log forwarder
        assert [f.rsplit("/", 1)[1] for f in files] == ["ca.pem", "hostcert.pem", "tls_workaround.py", "log_forward.py"]
        assert extra["encrypt_input_files"] == extra["transfer_input_files"]
    finally:
        cluster.close()


def test_user_keyword_arguments_override_defaults():
    cluster = CoffeaCasaCluster(
        cores=1, memory="2 GiB", job_extra={"docker_image": "coffeateam/coffea-casa-analysis:latest2"}
    )
    try:
        script = cluster.job_script()
        assert "--nthreads 1" in script and "--memory-limit 2.00GiB" in script
        assert "docker_image = coffeateam/coffea-casa-analysis:latest2" in script
        assert "universe = docker" in script  # the other defaults stay
        cluster.scale(1)
        client = Client(cluster)
        client.wait_for_workers(1)
        (worker,) = client.scheduler_info()["workers"].values()
        assert worker["nthreads"] == 1 and worker["memory_limit"] == 2 * 2**30
        client.close()
    finally:
        cluster.close()


def test_worker_image_argument_sets_docker_image():
    cluster = CoffeaCasaCluster(worker_image="example/image:1")
    try:
        assert cluster.settings["job_extra"]["docker_image"] == "example/image:1"
    finally:
        cluster.close()


def test_external_address_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("POD_IP", "127.0.0.3")
    with dask.config.set({"coffea-casa.external-address": None}):
        cluster = CoffeaCasaCluster(backend="htcondor")
    try:
        assert cluster.backend == "htcondor"
        assert cluster.scheduler_address.startswith("tls://127.0.0.3:")
        assert f'+DaskSchedulerAddress = "{cluster.scheduler_address}"' in cluster.job_script()
    finally:
        cluster.close()


def test_several_clusters_at_once_take_free_ports():
    # a documented port of the test's own: 8786 itself may be another test's (pytest-xdist)
    documented = free_port("127.0.0.2")
    first = CoffeaCasaCluster(scheduler_port=documented)
    second = CoffeaCasaCluster(scheduler_port=documented)
    try:
        ports = {c.scheduler_address.rsplit(":", 1)[1] for c in (first, second)}
        assert len(ports) == 2
        assert first.scheduler_address.endswith(f":{documented}")
        assert first.dashboard_link != second.dashboard_link
        assert second.settings["scheduler_options"]["external_address"] == second.scheduler_address
    finally:
        second.close()
        first.close()


def free_port(host):
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def test_strict_ports_site_gets_a_clear_error(no_leaks):
    documented = free_port("127.0.0.2")
    first = CoffeaCasaCluster(scheduler_port=documented)
    threads = threading.active_count()
    try:
        with dask.config.set({"coffea-casa.strict-ports": True}):
            with pytest.raises(PortInUseError, match=f"{documented} is already in use"):
                CoffeaCasaCluster(scheduler_port=documented)
            # the scheduler port of another program, the dashboard port of the first cluster
            dashboard = int(first.dashboard_link.split(":")[-1].split("/")[0])
            with pytest.raises(PortInUseError, match=f"{dashboard} is already in use"):
                CoffeaCasaCluster(scheduler_port=0, dashboard_port=dashboard)
        assert wait_until(lambda: threading.active_count() <= threads)  # no loop thread left behind
    finally:
        first.close()


def test_a_taken_port_is_retried_not_probed(no_leaks):
    """Binding is the test: a port taken between any probe and the bind still works out."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.2", 0))
        taken.listen()
        port = taken.getsockname()[1]
        cluster = CoffeaCasaCluster(scheduler_port=port, dashboard_port=port)
        try:
            actual = int(cluster.scheduler_address.rsplit(":", 1)[1])
            assert actual != port and cluster.settings["scheduler_options"]["port"] == actual
            assert f'+DaskSchedulerAddress = "{cluster.scheduler_address}"' in cluster.job_script()
            assert f":{port}/" not in cluster.dashboard_link
            cluster.scale(1)
            cluster.wait_for_workers(1)  # the worker found the scheduler at its real port
        finally:
            cluster.close()


def test_the_local_backend_refuses_more_workers_than_the_machine_takes():
    from coffea_casa_lab.cluster import local_worker_cap

    cap = local_worker_cap()
    assert 1 <= cap <= 4 * os.cpu_count()
    cluster = CoffeaCasaCluster()
    try:
        for call in (lambda: cluster.scale(cap + 1), lambda: cluster.adapt(minimum=0, maximum=cap + 1)):
            with pytest.raises(ValueError, match=f"at most {cap}"):
                call()
        assert not cluster.plan
    finally:
        cluster.close()


def test_plain_tcp_and_foreign_ca_clients_are_refused():
    from distributed.security import Security

    cluster = CoffeaCasaCluster()
    try:
        address = cluster.scheduler_address
        with pytest.raises(Exception):
            Client(address.replace("tls://", "tcp://"), timeout="2s")
        with pytest.raises(Exception):
            Client(address, security=Security.temporary(), timeout="2s")
        with Client(address, security=CoffeaCasaCluster.security(), timeout="10s") as ok:
            assert ok.scheduler_info()["address"] == address
    finally:
        cluster.close()


def test_closing_leaves_no_worker_process():
    before = {p.pid for p in child_processes()}
    cluster = CoffeaCasaCluster()
    cluster.scale(2)
    cluster.wait_for_workers(2)
    workers = [p for p in child_processes() if p.pid not in before]
    assert len(workers) >= 2
    cluster.close()
    assert wait_until(lambda: not any(p.is_running() and p.status() != "zombie" for p in workers))


SCRIPT = textwrap.dedent(
    """
    import gc, os, sys
    import dask
    from coffea_casa import CoffeaCasaCluster

    def main(mode):
        with dask.config.set({"coffea-casa.backend": "local"}):
            cluster = CoffeaCasaCluster(cores=1, memory="1 GiB")
        cluster.scale(2)
        cluster.wait_for_workers(2)
        import psutil
        kids = psutil.Process().children(recursive=True)
        workers = [p for p in kids if "resource_tracker" not in " ".join(p.cmdline())]
        print(" ".join(str(p.pid) for p in workers), flush=True)
        if mode == "gc":
            cluster.adapt(minimum=2, maximum=3)
            del cluster
            gc.collect()
            import time; time.sleep(1)
            print("after-gc", flush=True)
            sys.stdin.readline()  # stay alive: the workers must be gone while we live
        # mode "exit": fall off the end without close()

    if __name__ == "__main__":
        main(sys.argv[1])
    """
)


@pytest.mark.parametrize("mode", ["exit", "gc"])
def test_no_worker_survives_garbage_collection_or_interpreter_exit(tmp_path, mode):
    import psutil

    script = tmp_path / "leaky.py"
    script.write_text(SCRIPT)
    proc = subprocess.Popen(
        [sys.executable, str(script), mode], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    pids = [int(p) for p in proc.stdout.readline().split()]
    assert len(pids) >= 2
    if mode == "gc":
        assert proc.stdout.readline().strip() == "after-gc"

        def alive():  # the first workers, and any a nanny may have restarted
            kids = psutil.Process(proc.pid).children(recursive=True)
            return [p for p in kids if "resource_tracker" not in " ".join(p.cmdline())]

        wait_until(lambda: not alive(), timeout=20)
        assert not alive(), "workers outlived their garbage-collected cluster"
        proc.stdin.close()
    proc.wait(timeout=60)
    alive = [p for p in pids if psutil.pid_exists(p) and psutil.Process(p).status() != "zombie"]
    assert not alive
