"""Clusters that outlive and outgrow the process that made them (issue 8), on real jupyter
servers, real kernels and both backends:

- a notebook's cluster is listed, proxied, scaled and closed from the sidebar;
- killing a kernel removes its cluster and its workers;
- a server killed with SIGKILL leaves its sidebar clusters running, and a new server
  lists them again, same id, name and dashboard;
- a sidebar cluster that no server adopts closes itself after the orphan timeout;
- `keep-clusters-on-stop` keeps them across a graceful stop.
"""

import os
import signal
import subprocess
import sys
import time

import psutil
import pytest

from conftest import wait_until
from kernel_client import NotebookKernel
from test_rest_api import JupyterServer, wait_cluster, wait_jobs

SMALL = {"DASK_JOBQUEUE__COFFEA_CASA__CORES": "1", "DASK_JOBQUEUE__COFFEA_CASA__MEMORY": "1 GiB",
         "DASK_JOBQUEUE__COFFEA_CASA__DEATH_TIMEOUT": "10"}
BACKENDS = ["local", "htcondor"]


def backend_env(backend, **extra):
    env = dict(SMALL, DASK_COFFEA_CASA__BACKEND=backend, **extra)
    if backend == "htcondor":  # every job of the double runs on this host: no fixed nanny port
        env["DASK_LABEXTENSION__FACTORY__KWARGS"] = '{"nanny-port": None}'
    return env


@pytest.fixture(params=BACKENDS)
def backend(request):
    if request.param == "htcondor":
        request.getfixturevalue("condor_double")
    return request.param


def alive(pids):
    out = []
    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                out.append(pid)
        except psutil.NoSuchProcess:
            pass
    return out


def tree(pid):
    try:
        return [p.pid for p in psutil.Process(pid).children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def workers_of(pid):
    """Worker processes under `pid` (multiprocessing's resource tracker is not one)."""
    out = []
    for p in psutil.Process(pid).children(recursive=True):
        try:
            if "resource_tracker" not in " ".join(p.cmdline()):
                out.append(p.pid)
        except psutil.NoSuchProcess:
            pass
    return out


def clusters(server):
    r = server.api("GET", "clusters")
    assert r.status_code == 200, r.text
    return r.json()


def test_a_notebook_cluster_is_listed_proxied_scaled_and_closed_from_the_sidebar(tmp_path, backend, request):
    server = JupyterServer(tmp_path, backend_env(backend))
    (tmp_path / "root" / "analysis").mkdir()
    kernel = NotebookKernel(server, "analysis/met.ipynb")
    try:
        link = kernel.run(
            "from coffea_casa import CoffeaCasaCluster\n"
            "from distributed import Client\n"
            "cluster = CoffeaCasaCluster(name='MET study')\n"
            "client = Client(cluster)\n"
            "print(cluster.dashboard_link)\n"
            "print(client.dashboard_link)"
        ).split()
        # listed at once: the record is written when the cluster runs
        (model,) = clusters(server)
        assert (model["kind"], model["where"], model["name"]) == ("kernel", "analysis/met.ipynb", "MET study")
        assert model["status"] == "running" and model["backend"] == backend
        assert model["pid"] == kernel.pid
        # the kernel's links are the proxied dashboard, under the server's base_url
        host_port = model["scheduler_address"].split("://")[1].rsplit(":", 1)[0]
        assert link[0] == link[1] and link[0].startswith(f"/user/alice/coffea-casa/dashboard/{host_port}:")
        assert link[0].endswith("/status")
        origin = server.url.split("/user/")[0]
        plots = link[0].replace("/status", "/individual-plots.json")
        assert server.session.get(origin + plots, timeout=30).status_code == 200
        assert server.session.get(server.url + model["dashboard_url"] + "individual-plots.json", timeout=30).ok

        # Scale to 2 from the sidebar: the kernel sees 2 workers
        r = server.api("PATCH", f"clusters/{model['id']}", {"workers": 2})
        assert r.status_code == 200 and r.json()["requested_workers"] == 2, r.text
        assert kernel.run("client.wait_for_workers(2, timeout=120)\nprint(len(client.scheduler_info()['workers']))").strip() == "2"
        model = wait_cluster(server, model["id"], lambda m: m["workers"] == 2)
        assert model["workers"] == 2
        jobs = wait_jobs(server, model["id"], 2)
        assert len(jobs) == 2, jobs
        workers = workers_of(kernel.pid)
        assert backend == "htcondor" or len(workers) == 2

        # Shut down from the sidebar: the notebook's cluster closes
        r = server.api("DELETE", f"clusters/{model['id']}")
        assert r.status_code == 200 and r.json()["status"] == "closed", r.text
        assert clusters(server) == []
        assert kernel.run("print(cluster.status.name)").strip() == "closed"
        assert wait_until(lambda: not alive(workers), timeout=30)
    finally:
        kernel.close()
        server.stop()
    if backend == "htcondor":
        assert wait_until(lambda: request.getfixturevalue("condor_double").jobs() == [], timeout=60)


def test_killing_a_kernel_removes_its_cluster_and_its_workers(tmp_path, backend, request):
    server = JupyterServer(tmp_path, backend_env(backend))
    kernel = NotebookKernel(server, "scratch.ipynb")
    try:
        kernel.run("from coffea_casa import CoffeaCasaCluster\ncluster = CoffeaCasaCluster()\n"
                   "cluster.scale(1)\ncluster.wait_for_workers(1)")
        (model,) = clusters(server)
        assert model["kind"] == "kernel" and model["workers"] == 1
        workers = workers_of(kernel.pid)
        assert backend == "htcondor" or workers
        os.kill(kernel.pid, signal.SIGKILL)
        assert wait_until(lambda: clusters(server) == [], timeout=10), clusters(server)
        # local workers die with their parent; HTCondor workers within their death timeout
        assert wait_until(lambda: not alive(workers), timeout=30), alive(workers)
        if backend == "htcondor":
            double = request.getfixturevalue("condor_double")
            assert wait_until(lambda: not double.running_pids(), timeout=60), double.jobs()
    finally:
        kernel.ws.close()
        server.stop()


def test_a_crashed_server_finds_its_clusters_again(tmp_path, backend, request):
    env = backend_env(backend)
    first = JupyterServer(tmp_path, env)
    id = first.api("PUT", "clusters", {"name": "survivor", "workers": 1}).json()["id"]
    before = wait_cluster(first, id, lambda m: m["workers"] == 1)
    assert before["status"] == "running", before
    hosts_and_workers = tree(first.proc.pid)
    first.stop(signal.SIGKILL)
    time.sleep(1)
    assert len(alive(hosts_and_workers)) >= 1  # the host (and, locally, its worker) live on

    second = JupyterServer(tmp_path, env, log="server-2.log")
    try:
        (after,) = clusters(second)  # on the first poll
        assert {k: after[k] for k in ("id", "name", "dashboard_url", "status", "workers")} == {
            k: before[k] for k in ("id", "name", "dashboard_url", "status", "workers")}
        r = second.session.get(second.url + after["dashboard_url"] + "individual-plots.json", timeout=30)
        assert r.status_code == 200 and "Individual Task Stream" in r.json()
        assert wait_until(lambda: f"adopted cluster {id}" in second.output(), timeout=10)
    finally:
        second.stop()  # a graceful stop of its adopter closes it
    assert "closing 1 cluster(s)" in second.output()
    assert wait_until(lambda: not alive(hosts_and_workers), timeout=60), alive(hosts_and_workers)
    if backend == "htcondor":
        double = request.getfixturevalue("condor_double")
        assert wait_until(lambda: double.jobs() == [], timeout=30), double.jobs()


def test_an_orphan_closes_itself_and_its_jobs(tmp_path, backend, request):
    server = JupyterServer(tmp_path, backend_env(backend, DASK_COFFEA_CASA__ORPHAN_TIMEOUT="3"))
    id = server.api("PUT", "clusters", {"workers": 2}).json()["id"]
    model = wait_cluster(server, id, lambda m: m["workers"] == 2, timeout=180)
    assert model["workers"] == 2, model
    processes = tree(server.proc.pid)
    server.stop(signal.SIGKILL)
    assert wait_until(lambda: not alive(processes), timeout=60), [psutil.Process(p).cmdline() for p in alive(processes)]
    runtime = tmp_path / "runtime" / "coffea-casa"
    assert not list(runtime.glob("cluster-*.json")) and not list(runtime.glob("cluster-*.log"))
    if backend == "htcondor":
        double = request.getfixturevalue("condor_double")
        assert wait_until(lambda: double.jobs() == [], timeout=30), double.jobs()


def test_keep_clusters_on_stop_keeps_them_for_the_next_server(tmp_path):
    env = backend_env("local", DASK_COFFEA_CASA__KEEP_CLUSTERS_ON_STOP="True")
    first = JupyterServer(tmp_path, env)
    id = first.api("PUT", "clusters", {"workers": 1}).json()["id"]
    assert wait_cluster(first, id, lambda m: m["workers"] == 1)["workers"] == 1
    processes = tree(first.proc.pid)
    first.stop()
    assert first.proc.returncode == 0 and "keeping the sidebar clusters running" in first.output()
    assert len(alive(processes)) >= 2

    second = JupyterServer(tmp_path, backend_env("local"), log="server-2.log")
    try:
        assert [m["id"] for m in clusters(second)] == [id]
        # it was made kept (the site's default then), and stays kept until unkept or closed
        assert second.api("DELETE", f"clusters/{id}").status_code == 200
    finally:
        second.stop()
    assert wait_until(lambda: not alive(processes), timeout=60)


SCRIPT = """
import sys
from coffea_casa import CoffeaCasaCluster
if __name__ == "__main__":
    cluster = CoffeaCasaCluster()
    print(cluster.scheduler_address, flush=True)
    sys.stdin.readline()
"""


def test_a_script_cluster_that_dies_shows_as_lost_until_dismissed(tmp_path):
    server = JupyterServer(tmp_path, backend_env("local"))
    script = tmp_path / "root" / "skim.py"
    script.write_text(SCRIPT)
    proc = subprocess.Popen([sys.executable, str(script), "--year", "2018"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True, env=server.env)
    try:
        address = proc.stdout.readline().strip()
        (model,) = clusters(server)
        assert model["kind"] == "script" and model["scheduler_address"] == address
        assert model["where"].endswith("skim.py --year 2018") and model["pid"] == proc.pid
        proc.kill()
        proc.wait(30)
        (lost,) = clusters(server)
        assert lost["id"] == model["id"] and lost["status"] == "lost", lost
        assert f"pid {proc.pid}" in lost["error"] and "without closing the cluster" in lost["error"]
        assert server.api("PATCH", f"clusters/{lost['id']}", {"workers": 1}).status_code == 409
        r = server.api("DELETE", f"clusters/{lost['id']}")
        assert r.status_code == 200 and r.json()["status"] == "closed"
        assert clusters(server) == []
    finally:
        proc.kill()
        server.stop()


def test_a_cluster_that_does_not_answer_gets_a_clear_error_not_a_hang(tmp_path):
    server = JupyterServer(tmp_path, backend_env("local"))
    script = tmp_path / "root" / "stuck.py"
    script.write_text(SCRIPT)
    proc = subprocess.Popen([sys.executable, str(script)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                            env=server.env)
    try:
        proc.stdout.readline()
        (model,) = clusters(server)
        proc.send_signal(signal.SIGSTOP)  # alive, but it answers nothing
        # (a hang would end in the client's own timeout, a failure)
        r = server.api("PATCH", f"clusters/{model['id']}", {"workers": 1}, timeout=60)
        assert r.status_code == 502 and "does not answer" in r.json()["message"], r.text
        listed = clusters(server)  # the list still answers, with the last known numbers
        assert [m["id"] for m in listed] == [model["id"]]
    finally:
        proc.send_signal(signal.SIGCONT)
        proc.kill()
        server.stop()
