"""Jobs of a cluster over REST: HTCondor jobs through the double, local worker processes."""

import os
import subprocess
import time

import psutil
import pytest

from condor_double.state import RUNNING, owner
from conftest import wait_until
from test_rest_api import JupyterServer, free_port, wait_cluster, wait_jobs

SMALL = {"DASK_JOBQUEUE__COFFEA_CASA__CORES": "1", "DASK_JOBQUEUE__COFFEA_CASA__MEMORY": "1 GiB"}


def start_cluster(server, workers):
    id = server.api("PUT", "clusters", {"workers": workers}).json()["id"]
    model = wait_cluster(server, id, lambda m: m["status"] == "failed" or m["workers"] == workers, timeout=180)
    assert model["status"] == "running" and model["workers"] == workers, model
    return model


def submit_sleeper(tmp_path, scheduler_address):
    """A job that is not one of the cluster's: its own submit, any DaskSchedulerAddress."""
    sub = tmp_path / "sleep.sub"
    sub.write_text(
        "executable = /bin/sleep\narguments = 300\n"
        f'+DaskSchedulerAddress = "{scheduler_address}"\nqueue\n'
    )
    out = subprocess.run(["condor_submit", str(sub)], capture_output=True, text=True, check=True, cwd=tmp_path)
    cluster = out.stdout.strip().rsplit(" ", 1)[1].rstrip(".")
    return f"{cluster}.0"


def test_htcondor_jobs_list_logs_kill_and_foreign_jobs(tmp_path, condor_double):
    env = dict(SMALL, DASK_COFFEA_CASA__BACKEND="htcondor", DASK_LABEXTENSION__FACTORY__KWARGS='{"nanny-port": None}')
    server = JupyterServer(tmp_path / "jupyter", env)
    try:
        model = start_cluster(server, 2)
        id, address = model["id"], model["scheduler_address"]
        ads = {f"{a['ClusterId']}.{a['ProcId']}": a for a in condor_double.jobs()}

        r = server.api("GET", f"clusters/{id}/jobs")
        assert r.status_code == 200, r.text
        jobs = r.json()
        assert sorted(j["id"] for j in jobs) == sorted(ads)
        for job in jobs:
            ad = ads[job["id"]]
            assert job["status"] == "running" and ad["JobStatus"] == RUNNING
            assert job["host"] == ad["RemoteHost"]
            assert job["start_time"] == ad["JobCurrentStartDate"]
        assert sorted(j["worker_name"] for j in jobs) == sorted(
            w["name"] for w in _workers(server, id)
        )

        logs = server.api("GET", f"clusters/{id}/jobs/{jobs[0]['id']}/logs")
        assert logs.status_code == 200, logs.text
        # the files come back when the job ends (spool, no streaming): meanwhile the worker's Dask log
        assert logs.json()["source"] == "dask" and "Start worker" in logs.json()["stderr"], logs.json()

        # a job of another cluster, and one of another user with this very address: refused
        other_cluster = submit_sleeper(tmp_path, "tls://127.0.0.2:1")
        other_user = submit_sleeper(tmp_path, address)
        condor_double.wait_for_status(other_user, RUNNING)
        with condor_double._state.lock():  # the double has one user; make this job bob's
            condor_double._state.update(other_user, Owner="bob", User="bob@elsewhere")
        assert sorted(j["id"] for j in server.api("GET", f"clusters/{id}/jobs").json()) == sorted(ads)
        for foreign in (other_cluster, other_user, "999.0", "1.0.0", "0", "x"):
            assert server.api("DELETE", f"clusters/{id}/jobs/{foreign}").status_code == 404, foreign
            assert server.api("GET", f"clusters/{id}/jobs/{foreign}/logs").status_code == 404, foreign
        assert condor_double.job(other_user)["JobStatus"] == RUNNING

        killed = jobs[0]["id"]
        r = server.api("DELETE", f"clusters/{id}/jobs/{killed}", timeout=120)
        assert r.status_code == 200 and r.json()["status"] == "removed"
        assert wait_until(lambda: condor_double.job(killed) is None or condor_double.job(killed)["JobStatus"] == 3)
        listed = {j["id"]: j for j in server.api("GET", f"clusters/{id}/jobs").json()}
        assert [i for i, j in listed.items() if j["in_queue"]] == [jobs[1]["id"]]
        # it stays in the pane, with its story: the cluster removed it, asked from this pane
        assert (listed[killed]["status"], listed[killed]["end"]["text"]) == (
            "removed", "removed by the cluster: killed from the jobs pane"), listed[killed]
        assert server.api("DELETE", f"clusters/{id}/jobs/{killed}").status_code == 409  # ended already
        assert server.api("GET", f"clusters/{id}").json()["requested_workers"] == 1
    finally:
        server.stop()
        subprocess.run(["condor_rm", "-all"], capture_output=True)
    assert wait_until(lambda: not condor_double.running_pids(), timeout=60)


def _workers(server, id):
    # names the scheduler knows, through the cluster's own dashboard JSON
    r = server.session.get(server.url + f"coffea-casa/dashboard/{id}/json/identity.json", timeout=30)
    return list(r.json()["workers"].values())


def test_local_jobs_are_the_worker_processes(tmp_path):
    server = JupyterServer(tmp_path / "jupyter", dict(SMALL, DASK_COFFEA_CASA__BACKEND="local"))
    try:
        model = start_cluster(server, 2)
        other = start_cluster(server, 1)
        id = model["id"]
        jobs = wait_jobs(server, id, 2)
        assert len(jobs) == 2 and {j["status"] for j in jobs} == {"running"}, jobs
        server_children = {p.pid for p in psutil.Process(server.proc.pid).children(recursive=True)}
        assert {int(j["id"]) for j in jobs} <= server_children
        assert {j["host"] for j in jobs} == {"127.0.0.2"}
        assert all(j["directory"] and os.path.isdir(j["directory"]) for j in jobs)  # where a shell opens
        assert sorted(j["worker_name"] for j in jobs) == sorted(w["name"] for w in _workers(server, id))

        logs = server.api("GET", f"clusters/{id}/jobs/{jobs[0]['id']}/logs").json()
        assert logs["source"] == "dask" and isinstance(logs["stderr"], str)

        other_job = wait_jobs(server, other["id"], 1)[0]["id"]  # listed once its Nanny has started
        assert server.api("DELETE", f"clusters/{id}/jobs/{other_job}").status_code == 404
        assert server.api("GET", f"clusters/{id}/jobs/{server.proc.pid}/logs").status_code == 404
        assert server.api("GET", "clusters/nope/jobs").status_code == 404

        victim = int(jobs[0]["id"])
        r = server.api("DELETE", f"clusters/{id}/jobs/{victim}")
        assert r.status_code == 200 and r.json()["status"] == "removed"
        assert wait_until(lambda: not psutil.pid_exists(victim) or psutil.Process(victim).status() == psutil.STATUS_ZOMBIE)
        listed = {j["id"]: j for j in server.api("GET", f"clusters/{id}/jobs").json()}
        assert [i for i, j in listed.items() if j["in_queue"]] == [jobs[1]["id"]]
        assert (listed[str(victim)]["status"], listed[str(victim)]["end"]["text"]) == (
            "removed", "removed by the cluster: killed from the jobs pane"), listed[str(victim)]
        # its log outlives it: what the worker sent its scheduler while it ran
        logs = server.api("GET", f"clusters/{id}/jobs/{victim}/logs").json()
        assert logs["source"] == "dask" and "Registered to" in logs["stderr"], logs
        assert wait_cluster(server, id, lambda m: m["workers"] == 1)["requested_workers"] == 1
    finally:
        server.stop()



def test_htcondor_queue_counts_in_one_query_and_held_job_released(tmp_path, condor_double):
    env = dict(SMALL, DASK_COFFEA_CASA__BACKEND="htcondor", DASK_LABEXTENSION__FACTORY__KWARGS='{"nanny-port": None}')
    server = JupyterServer(tmp_path / "jupyter", env)
    try:
        first, second = start_cluster(server, 2), start_cluster(server, 1)
        id = first["id"]
        # every worker connected: the clusters themselves do not ask the schedd now
        before = len(condor_double.transactions("q"))
        for _ in range(3):
            models = {m["id"]: m for m in server.api("GET", "clusters").json()}
            time.sleep(2.1)  # the manager's QUEUE_TTL
        queries = len(condor_double.transactions("q")) - before
        assert 1 <= queries <= 3, queries  # one per poll for both clusters, never one per cluster or job
        assert models[id]["queue"] == {"idle": 0, "running": 2, "held": 0, "hold_reasons": [], "idle_reason": None,
                                       "idle_job": None}
        assert models[second["id"]]["queue"]["running"] == 1

        victim = server.api("GET", f"clusters/{id}/jobs").json()[0]["id"]
        reason = "Job has gone over memory limit of 1024 megabytes"
        subprocess.run(["condor_hold", "-reason", reason, victim], check=True, capture_output=True)
        model = wait_cluster(server, id, lambda m: (m["queue"] or {}).get("held") == 1)
        reason += f" (by user {owner()})"  # HTCondor says who held it
        assert model["queue"] == {"idle": 0, "running": 1, "held": 1, "hold_reasons": [reason], "idle_reason": None,
                                  "idle_job": None}
        held = {j["id"]: j for j in server.api("GET", f"clusters/{id}/jobs").json()}[victim]
        assert (held["status"], held["hold_reason"]) == ("held", reason)
        other = next(j for j in server.api("GET", f"clusters/{second['id']}/jobs").json())
        assert server.api("POST", f"clusters/{id}/jobs/{other['id']}/release").status_code == 404
        not_held = next(j["id"] for j in server.api("GET", f"clusters/{id}/jobs").json() if j["id"] != victim)
        assert server.api("POST", f"clusters/{id}/jobs/{not_held}/release").status_code == 409

        r = server.api("POST", f"clusters/{id}/jobs/{victim}/release")
        assert r.status_code == 200 and r.json()["status"] == "idle", r.text
        model = wait_cluster(server, id, lambda m: m["workers"] == 2 and (m["queue"] or {}).get("running") == 2, timeout=120)
        assert model["queue"]["held"] == 0 and model.get("error") is None
        assert condor_double.job(victim)["NumJobStarts"] == 2  # the same job ran again, not a replacement
        assert len(server.api("GET", f"clusters/{id}/jobs").json()) == 2
    finally:
        server.stop()
        subprocess.run(["condor_rm", "-all"], capture_output=True)
    assert wait_until(lambda: not condor_double.running_pids(), timeout=60)


def test_one_condor_q_and_one_condor_history_per_poll_for_all_clusters_cards_and_panes(tmp_path, condor_double):
    env = dict(SMALL, DASK_COFFEA_CASA__BACKEND="htcondor", DASK_LABEXTENSION__FACTORY__KWARGS='{"nanny-port": None}')
    server = JupyterServer(tmp_path / "jupyter", env)
    try:
        clusters = [start_cluster(server, 1)["id"], start_cluster(server, 1)["id"]]

        def poll():  # what the sidebar and two open jobs panes ask, each round
            assert server.api("GET", "clusters").status_code == 200
            for id in clusters:
                assert server.api("GET", f"clusters/{id}/jobs").status_code == 200

        poll()  # the panes open: each reads its cluster's history back to the cluster's start once
        time.sleep(2.1)
        before = {tool: len(condor_double.transactions(tool)) for tool in ("q", "history")}
        rounds = 4
        for _ in range(rounds):
            poll()
            time.sleep(2.1)  # the watch's TTL
        queries = {tool: len(condor_double.transactions(tool)) - n for tool, n in before.items()}
        # one per poll for both clusters, both cards and both panes, never one per cluster, pane or job
        assert 1 <= queries["q"] <= rounds and 1 <= queries["history"] <= rounds, queries
    finally:
        server.stop()
        subprocess.run(["condor_rm", "-all"], capture_output=True)
    assert wait_until(lambda: not condor_double.running_pids(), timeout=60)


@pytest.mark.parametrize("backend", ["htcondor", "local"])
def test_ended_jobs_and_their_logs_are_kept_within_the_sites_bound(tmp_path, backend, request):
    if backend == "htcondor":
        request.getfixturevalue("condor_double")
    env = dict(SMALL, DASK_COFFEA_CASA__BACKEND=backend, DASK_LABEXTENSION__FACTORY__KWARGS='{"nanny-port": None}',
               DASK_COFFEA_CASA__JOB_HISTORY__MAX_JOBS="1")
    server = JupyterServer(tmp_path / "jupyter", env)
    try:
        id = start_cluster(server, 1)["id"]
        ended = []
        for _ in range(2):  # a worker, killed from the pane; then another
            (job,) = [j["id"] for j in wait_jobs(server, id, len(ended) + 1) if j["in_queue"]]
            assert server.api("DELETE", f"clusters/{id}/jobs/{job}", timeout=120).status_code == 200
            ended.append(job)
            assert wait_until(lambda: not {j["id"]: j for j in server.api("GET", f"clusters/{id}/jobs").json()}
                              .get(job, {"in_queue": True})["in_queue"], timeout=60)
            assert server.api("PATCH", f"clusters/{id}", {"workers": 1}).status_code == 200
            wait_cluster(server, id, lambda m: m["workers"] == 1)
        listed = [j["id"] for j in server.api("GET", f"clusters/{id}/jobs").json() if not j["in_queue"]]
        assert listed == [ended[1]]  # coffea-casa.job-history.max-jobs: 1, the newest
        assert server.api("GET", f"clusters/{id}/jobs/{ended[1]}/logs").status_code == 200
        assert server.api("GET", f"clusters/{id}/jobs/{ended[0]}/logs").status_code == 404
    finally:
        server.stop()
        if backend == "htcondor":
            subprocess.run(["condor_rm", "-all"], capture_output=True)


def test_a_new_cluster_at_the_same_address_has_none_of_the_jobs_before_it(tmp_path, condor_double):
    # a documented port of the test's own: 8786 itself may be another test's (pytest-xdist)
    port = free_port("127.0.0.2")
    env = dict(SMALL, DASK_COFFEA_CASA__BACKEND="htcondor",
               DASK_LABEXTENSION__FACTORY__KWARGS=f'{{"nanny-port": None, "scheduler-port": {port}}}')
    server = JupyterServer(tmp_path / "jupyter", env)
    try:
        first = start_cluster(server, 1)
        (job,) = server.api("GET", f"clusters/{first['id']}/jobs").json()  # its pane, open
        assert server.api("DELETE", f"clusters/{first['id']}/jobs/{job['id']}", timeout=120).status_code == 200
        assert wait_until(lambda: [j["in_queue"] for j in server.api("GET", f"clusters/{first['id']}/jobs").json()]
                          == [False])  # it ended: the pane lists it from the history
        assert server.api("DELETE", f"clusters/{first['id']}", timeout=120).status_code == 200
        second = start_cluster(server, 1)
        assert second["scheduler_address"] == first["scheduler_address"] == f"tls://127.0.0.2:{port}"  # free again
        jobs = server.api("GET", f"clusters/{second['id']}/jobs").json()
        assert [j["in_queue"] for j in jobs] == [True], jobs  # not the first cluster's, that ended
    finally:
        server.stop()
        subprocess.run(["condor_rm", "-all"], capture_output=True)


def test_an_output_file_an_earlier_job_of_the_same_id_left_is_not_this_jobs_log(tmp_path, condor_double):
    """A new schedd numbers its jobs from 1 again: worker-1.0.err in the log folder may be another's."""
    logs = tmp_path / "logs"
    logs.mkdir()
    stale = logs / "worker-1.0.err"
    stale.write_text("an earlier job 1.0 wrote this\n")
    os.utime(stale, (time.time() - 3600, time.time() - 3600))
    env = dict(SMALL, DASK_COFFEA_CASA__BACKEND="htcondor", DASK_LABEXTENSION__FACTORY__KWARGS='{"nanny-port": None}',
               DASK_JOBQUEUE__COFFEA_CASA__LOG_DIRECTORY=str(logs))
    server = JupyterServer(tmp_path / "jupyter", env)
    try:
        id = start_cluster(server, 1)["id"]
        assert [j["id"] for j in server.api("GET", f"clusters/{id}/jobs").json()] == ["1.0"]
        log = server.api("GET", f"clusters/{id}/jobs/1.0/logs").json()
        assert log["source"] == "dask" and "earlier job" not in log["stderr"] and "Start worker" in log["stderr"], log
    finally:
        server.stop()
        subprocess.run(["condor_rm", "-all"], capture_output=True)
