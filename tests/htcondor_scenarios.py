"""The docs' HTCondor workflows, end to end through the product's own code paths. Written once
against a Site (htcondor_sites.py), they run on the HTCondor test double
(test_scenarios_on_the_double.py) and on a real personal HTCondor pool
(test_scenarios_on_the_real_pool.py): the same scenarios on both, so the double cannot drift
from the real thing unseen. Each of those files provides `make_site`."""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import wait_until
from test_rest_api import wait_cluster

RUNNING, HELD, VANILLA = 2, 5, 5


@pytest.fixture
def site(make_site):
    """A Site for one scenario; afterwards its queue holds none of the scenario's jobs."""
    site = make_site()
    yield site
    ours = lambda: [ad for ad in site.queue()  # noqa: E731
                    if str(ad.get("DaskSchedulerAddress", "")).startswith("tls://127.0.0.2:")]
    # A removed job (JobStatus 3) stays in the queue until its starter has stopped it.
    left = [] if wait_until(lambda: not ours(), timeout=30) else ours()
    for ad in left:  # leave the next test a clean queue, then fail this one
        site.admin("condor_rm", "-forcex", f"{ad['ClusterId']}.{ad['ProcId']}")
    site.close()
    assert not left, f"worker jobs left in the queue: {left}"


def facts(completed):
    """The JSON lines a scenario script printed, merged; its output on failure."""
    assert completed.returncode == 0, f"exit {completed.returncode}\n{completed.stdout}\n{completed.stderr[-8000:]}"
    out = {}
    for line in completed.stdout.splitlines():
        if line.startswith("{"):
            out.update(json.loads(line))
    return out


CHAPTER_6 = '''
import json, os, subprocess
from distributed import Client
from coffea_casa import CoffeaCasaCluster

def say(**kw):
    print(json.dumps(kw), flush=True)

if __name__ == "__main__":
    cluster = CoffeaCasaCluster()
    cluster.scale(2)
    client = Client(cluster)
    client.wait_for_workers(2, timeout=180)
    say(address=cluster.scheduler_address, backend=cluster.backend,
        workers=sorted(client.scheduler_info()["workers"]),
        total=client.submit(sum, range(100)).result(),
        registry=sorted(os.listdir(os.path.join(os.environ["JUPYTER_RUNTIME_DIR"], "coffea-casa"))))
    client.restart()
    client.wait_for_workers(2, timeout=120)
    say(after_restart=len(client.scheduler_info()["workers"]))
    client.close()
    cluster.close()
    say(registry_after=[f for f in os.listdir(os.path.join(os.environ["JUPYTER_RUNTIME_DIR"], "coffea-casa"))
                        if f.endswith(".json")])
'''


def test_chapter_6_scale_compute_restart_close(site):
    out = facts(site.script(CHAPTER_6))
    assert out["backend"] == "htcondor" and out["total"] == 4950
    assert len(out["workers"]) == 2 and all(w.startswith("tls://") for w in out["workers"])
    assert any(f.endswith(".json") for f in out["registry"])
    assert out["after_restart"] == 2
    assert out["registry_after"] == []
    assert not [ad for ad in site.queue() if ad.get("DaskSchedulerAddress") == out["address"]]


# --- through the sidebar's REST API ------------------------------------------------------

# distributed forgets a worker job whose worker has been gone this long: 2 s, not 15, so that
# a held job removed behind the user's back would show within the scenario.
QUICK_LOSS = {"DASK_DISTRIBUTED__DEPLOY__LOST_WORKER_TIMEOUT": "2s",
              "DASK_COFFEA_CASA__LOST_WORKERS__CHECK_INTERVAL": "1",
              "DASK_COFFEA_CASA__LOST_WORKERS__GRACE": "10"}


def start(server, workers=2, **body):
    id = server.api("PUT", "clusters", dict(body, workers=workers)).json()["id"]
    model = wait_cluster(server, id, lambda m: m["status"] == "failed" or m["workers"] == workers, timeout=180)
    assert model["status"] == "running" and model["workers"] == workers, model
    return model


def jobs(server, id):
    r = server.api("GET", f"clusters/{id}/jobs")
    assert r.status_code == 200, r.text
    return {j["id"]: j for j in r.json()}


def logs_of(server, id, job):
    r = server.api("GET", f"clusters/{id}/jobs/{job}/logs", timeout=120)
    assert r.status_code == 200, r.text
    return r.json()


def in_queue(jobs_by_id):
    return [i for i, j in jobs_by_id.items() if j["in_queue"]]


def wait_jobs_where(server, id, predicate, timeout=120):
    return wait_until(lambda: predicate(jobs(server, id)) and jobs(server, id), timeout=timeout, interval=0.3)


def stop(server):
    """A graceful stop: the sidebar's clusters close with it, and leave no registry record."""
    server.stop()
    records = server.env["JUPYTER_RUNTIME_DIR"] + "/coffea-casa"
    assert not [f for f in (os.listdir(records) if os.path.isdir(records) else []) if f.endswith(".json")]


def test_held_jobs_stay_held_until_the_user_releases_or_removes_them(site):
    server = site.server(QUICK_LOSS)
    try:
        model = start(server, 2)
        id = model["id"]
        first, second = sorted(jobs(server, id))
        assert site.admin("condor_hold", "-reason", "test hold reason", first).returncode == 0
        model = wait_cluster(server, id, lambda m: (m["queue"] or {}).get("held") == 1)
        # HTCondor says who held it: "test hold reason (by user condor)"
        assert [r.split(" (by user")[0] for r in model["queue"]["hold_reasons"]] == ["test hold reason"], model
        assert jobs(server, id)[first]["hold_reason"].startswith("test hold reason (by user ")
        # Left to the user: still held well past distributed's lost-worker timeout
        assert not wait_until(lambda: jobs(server, id).get(first, {}).get("status") != "held", timeout=8)
        r = server.api("POST", f"clusters/{id}/jobs/{first}/release")
        assert r.status_code == 200, r.text
        model = wait_cluster(server, id, lambda m: m["workers"] == 2 and (m["queue"] or {}).get("held") == 0)
        assert model["workers"] == 2 and first in jobs(server, id), (model, jobs(server, id))

        # Remove a held job from the jobs pane: the real job goes
        assert site.admin("condor_hold", second).returncode == 0
        wait_cluster(server, id, lambda m: (m["queue"] or {}).get("held") == 1)
        r = server.api("DELETE", f"clusters/{id}/jobs/{second}")
        assert r.status_code == 200, r.text
        assert wait_until(lambda: second not in {f"{a['ClusterId']}.{a['ProcId']}" for a in site.queue()}, timeout=60)
    finally:
        stop(server)


def test_a_worker_job_removed_by_an_admin_is_replaced_and_stays_in_the_pane_with_its_log(site):
    server = site.server(QUICK_LOSS)
    try:
        model = start(server, 2)
        id = model["id"]
        victim = sorted(jobs(server, id))[0]
        # the worker's log reaches its scheduler as it is written
        assert wait_until(lambda: "Registered to" in logs_of(server, id, victim)["stderr"], timeout=60)
        # at once, within one check interval of its worker joining
        assert site.admin("condor_rm", victim).returncode == 0
        assert wait_jobs_where(server, id, lambda js: len(in_queue(js)) == 2 and victim not in in_queue(js),
                               timeout=120), jobs(server, id)
        model = wait_cluster(server, id, lambda m: m["workers"] == 2)
        assert model["workers"] == 2 and not model.get("error"), model
        # it stays in the pane, removed by whom the pool says (root on a pool is "condor"), its log readable
        gone = jobs(server, id)[victim]
        assert (gone["status"], gone["in_queue"]) == ("removed", False), gone
        assert (gone["end"]["kind"], gone["end"]["by"], gone["end"]["text"]) == ("removed", "condor", "removed by condor")
        assert gone["ended"] >= gone["submitted"] and gone["host"], gone
        log = logs_of(server, id, victim)
        assert log["source"] == "dask" and "Registered to" in log["stderr"] and "removed job" in log["note"], log
    finally:
        stop(server)


def test_a_vacated_worker_job_comes_back(site):
    server = site.server(QUICK_LOSS)
    try:
        model = start(server, 2)
        id = model["id"]
        victim = sorted(jobs(server, id))[0]
        assert site.admin("condor_vacate_job", victim).returncode == 0
        model = wait_cluster(server, id, lambda m: m["workers"] < 2, timeout=30)
        model = wait_cluster(server, id, lambda m: m["workers"] == 2, timeout=120)
        assert model["workers"] == 2 and not model.get("error"), model
        assert len(jobs(server, id)) == 2
    finally:
        stop(server)


BATCHED = '''
import json, subprocess, time
from distributed import Client
from coffea_casa import CoffeaCasaCluster

def say(**kw):
    print(json.dumps(kw), flush=True)

def my_jobs(address):
    out = subprocess.run(["condor_q", "-json", "-constraint", f'DaskSchedulerAddress == "{address}"', "-attributes",
                          "ClusterId,ProcId,JobUniverse,TransferInput,EncryptInputFiles"],
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out) if out.strip() else []

if __name__ == "__main__":
    with CoffeaCasaCluster() as cluster, Client(cluster) as client:
        cluster.scale(3)
        client.wait_for_workers(3, timeout=180)
        say(address=cluster.scheduler_address, ids=sorted(str(j.job_id) for j in cluster.workers.values()),
            ads=my_jobs(cluster.scheduler_address))
        cluster.scale(1)
        deadline = time.monotonic() + 120
        while len(client.scheduler_info()["workers"]) > 1 or len(my_jobs(cluster.scheduler_address)) > 1:
            assert time.monotonic() < deadline, "scale(1) did not remove two jobs"
            time.sleep(0.2)
        say(kept=[str(j.job_id) for j in cluster.workers.values()], total=client.submit(sum, [1, 2]).result())
'''


def test_one_submission_for_n_workers_tls_files_shipped_and_scale_down_by_proc(site):
    out = facts(site.script(BATCHED))
    ids = out["ids"]
    clusters = {i.split(".")[0] for i in ids}
    assert len(clusters) == 1 and sorted(i.split(".")[1] for i in ids) == ["0", "1", "2"], ids  # one submission
    listed = lambda files: [f.strip() for f in files.split(",")]  # noqa: E731 (HTCondor drops the blanks)
    for ad in out["ads"]:
        assert [Path(f).name for f in listed(ad["TransferInput"])] == ["ca.pem", "hostcert.pem", "tls_workaround.py",
                                                                          "log_forward.py"]
        assert listed(ad["EncryptInputFiles"]) == listed(ad["TransferInput"]) and ad["JobUniverse"] == VANILLA
    # scale(1) left one of the three procs running (the script saw it), and close() removed it too
    assert len(out["kept"]) == 1 and out["kept"][0] in ids and out["total"] == 3
    removed = {f"{a['ClusterId']}.{a['ProcId']}" for a in site.history() if a.get("JobStatus") == 3}
    assert set(ids) <= removed


FAILING_JOBS = '''
import json, time, weakref
import dask
from coffea_casa import CoffeaCasaCluster
from coffea_casa_lab.control import summary

if __name__ == "__main__":
    fast = {"coffea-casa.lost-workers.check-interval": 0.5}
    with dask.config.set(fast), CoffeaCasaCluster(job_script_prologue=["exit 3"]) as cluster:  # jobs that end at once
        cluster.scale(1)
        deadline = time.monotonic() + 180
        while not summary(cluster)["error"] and time.monotonic() < deadline:
            time.sleep(0.2)
        print(json.dumps({"error": summary(cluster)["error"], "requested": summary(cluster)["requested_workers"],
                          "address": cluster.scheduler_address}), flush=True)
'''


def test_three_lost_workers_stop_the_replacing_and_say_why(site):
    before = {(a["ClusterId"], a["ProcId"]) for a in site.history()}
    out = facts(site.script(FAILING_JOBS))
    assert "3 workers were lost" in (out["error"] or "") and "left the queue" in out["error"], out
    assert out["requested"] == 0
    ran = [a for a in site.history() if (a["ClusterId"], a["ProcId"]) not in before]
    assert len(ran) == 3 and all(a["DaskSchedulerAddress"] == out["address"] for a in ran), ran  # and no more


def test_a_submission_that_fails_says_why_on_the_card(site):
    server = site.server({"DASK_LABEXTENSION__FACTORY__KWARGS": '{"job_extra": {"+Broken": "(("}}'})
    try:
        id = server.api("PUT", "clusters", {"workers": 1}).json()["id"]
        model = wait_cluster(server, id, lambda m: m.get("error"), timeout=120)
        assert model["status"] == "running" and "could not be started" in model["error"], model
        assert "Parse error in expression" in model["error"] and "Broken = ((" in model["error"], model
        # retried within the failure limit, then it stops, still saying why
        model = wait_cluster(server, id, lambda m: "no longer replaced" in (m.get("error") or ""), timeout=120)
        assert "Parse error in expression" in model["error"], model
    finally:
        stop(server)


CHAPTER_7_JOBQUEUE = """\
jobqueue:
  coffea-casa:
    cores: 4
    memory: "6 GiB"
    processes: null
    worker-image: ""   # no Docker on this pool: the vanilla universe
    interface: null
    death-timeout: 60
    local-directory: null
    extra: []
    disk: "5 GiB"
    env-extra: []
    job-extra: {}
    log-directory: null
    shebang: "#!/usr/bin/env condor_submit -spool"
    scheduler-options: {}
    name: dask-worker
"""
CHAPTER_7_LABEXTENSION = """\
labextension:
  factory:
    module: 'coffea_casa'
    class: 'CoffeaCasaCluster'
    args: []
    kwargs: {}
    default:
      workers: 1
      adapt:
        minimum: 1   # the docs' 5 to 10, scaled down to fit 2 cores
        maximum: 2
"""
LOAD = '''
import sys, time
from distributed import Client
from coffea_casa import CoffeaCasaCluster

def slow(x):
    time.sleep(0.5)
    return x

if __name__ == "__main__":
    with Client(sys.argv[1], security=CoffeaCasaCluster.security()) as client:
        print(sum(client.gather(client.map(slow, range(60)))), flush=True)
'''


def test_chapter_7_yamls_as_the_sidebars_factory_adapting(site):
    config = site.home / "dask"
    config.mkdir()
    (config / "jobqueue-coffea-casa.yaml").write_text(CHAPTER_7_JOBQUEUE)
    (config / "labextension.yaml").write_text(CHAPTER_7_LABEXTENSION)
    site.give(config)
    # the YAMLs, not the test's small-worker settings (but for the cores and memory that fit here)
    server = site.server({"DASK_CONFIG": config, "DASK_JOBQUEUE__COFFEA_CASA__WORKER_IMAGE": "",
                          "DASK_JOBQUEUE__COFFEA_CASA__WORKER_EXTRA_ARGS": "[]"})
    try:
        r = server.api("PUT", "clusters")
        assert r.status_code == 201, r.text
        id = r.json()["id"]
        model = wait_cluster(server, id, lambda m: m["workers"] == 1, timeout=180)
        assert model["adapt"] == {"minimum": 1, "maximum": 2} and model["workers"] == 1, model
        script = site.home / "load.py"
        script.write_text(LOAD)
        site.give(script)
        load = site.popen([sys.executable, str(script), model["scheduler_address"]], env={"DASK_CONFIG": config},
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            assert wait_cluster(server, id, lambda m: m["workers"] == 2, timeout=120)["workers"] == 2  # up
            out, err = load.communicate(timeout=180)
            assert load.returncode == 0 and out.strip() == str(sum(range(60))), err[-3000:]
        finally:
            load.kill()
        assert wait_cluster(server, id, lambda m: m["workers"] == 1, timeout=120)["workers"] == 1  # and down
    finally:
        stop(server)


def test_the_met_example_is_exact_on_real_workers_with_its_own_cluster_and_with_the_sidebars(site):
    from test_examples import EXAMPLES, FILES, check_script_result

    def met(*options):
        out = site.home / f"met{len(options)}.json"
        done = site.run([sys.executable, str(EXAMPLES / "adl1_met.py"), "--out", str(out), "--chunksize", "20",
                         *options, *map(str, FILES)], timeout=400)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-5000:]
        check_script_result("adl1_met", json.loads(out.read_text()), done.stdout)

    met("--workers", "2")
    server = site.server()
    try:
        model = start(server, 2)
        met("--scheduler", model["scheduler_address"])
    finally:
        stop(server)


def test_idle_timeout_and_a_graceful_stop_leave_no_job(site):
    server = site.server({"DASK_COFFEA_CASA__IDLE_TIMEOUT": "15"})  # longer than the workers take to come
    try:
        model = start(server, 2)
        address = model["scheduler_address"]
        mine = lambda: [a for a in site.queue() if a.get("DaskSchedulerAddress") == address]  # noqa: E731
        assert len(mine()) == 2
        model = wait_cluster(server, model["id"], lambda m: m["workers"] == 0 and m.get("idle"), timeout=120)
        assert "idle" in model["idle"] and wait_until(lambda: not mine(), timeout=60), mine()  # slots given back
        model = server.api("PATCH", f"clusters/{model['id']}", {"workers": 1}).json()
        assert wait_cluster(server, model["id"], lambda m: m["workers"] == 1, timeout=120)["workers"] == 1
        assert len(mine()) == 1
    finally:
        stop(server)
    assert wait_until(lambda: not mine(), timeout=60), mine()  # the graceful stop closed it, and its jobs


def test_a_sidebar_cluster_survives_a_crashed_server_and_is_adopted_with_its_jobs(site):
    first = site.server()
    model = start(first, 2)
    jobs_before = sorted(jobs(first, model["id"]))
    first.stop(signal.SIGKILL)
    second = site.server()
    try:
        (after,) = second.api("GET", "clusters").json()
        assert (after["id"], after["name"], after["dashboard_url"]) == (model["id"], model["name"], model["dashboard_url"])
        assert wait_cluster(second, after["id"], lambda m: m["workers"] == 2)["workers"] == 2
        assert sorted(jobs(second, after["id"])) == jobs_before  # the same jobs, never resubmitted
    finally:
        stop(second)


# --- why don't I have workers? (issue 18) ----------------------------------------------

QUICK_ANALYSIS = {"DASK_COFFEA_CASA__IDLE_ANALYSIS__AFTER": "1", "DASK_COFFEA_CASA__IDLE_ANALYSIS__EVERY": "2"}


def test_a_job_asking_for_more_memory_than_any_slot_says_why_it_waits(site):
    # both pools have one partitionable slot of 16 cores and 32 GiB
    server = site.server(dict(QUICK_ANALYSIS, DASK_JOBQUEUE__COFFEA_CASA__MEMORY="64 GiB"))
    try:
        id = server.api("PUT", "clusters", {"workers": 1}).json()["id"]
        model = wait_cluster(server, id, lambda m: (m["queue"] or {}).get("idle_reason"), timeout=120)
        line = model["queue"]["idle_reason"]
        assert line.startswith("1 job waiting for ") and model["workers"] == 0, model
        assert "no machine matches: request_memory 64 GiB, largest slot 32 GiB" in line, line
        (job,) = jobs(server, id).values()
        assert job["id"] == model["queue"]["idle_job"] and job["status"] == "idle"
        assert job["idle_since"] >= job["submitted"] and job["in_queue"] and job["end"] is None
        # Diagnose: the pool's whole analysis
        r = server.api("GET", f"clusters/{id}/jobs/{job['id']}/analysis", timeout=120)
        assert r.status_code == 200, r.text
        analysis = r.json()
        assert analysis["summary"] == "no machine matches: request_memory 64 GiB, largest slot 32 GiB", analysis
        assert "TARGET.Memory >= RequestMemory" in analysis["text"] and "Run analysis summary" in analysis["text"]
        assert server.api("GET", f"clusters/{id}/jobs/9999.0/analysis").status_code == 404
    finally:
        stop(server)


@pytest.mark.parametrize("spool", [False, True], ids=["files", "spooled"])
def test_an_exited_job_shows_its_exit_code_and_its_log(site, spool):
    env = dict(QUICK_LOSS, DASK_JOBQUEUE__COFFEA_CASA__JOB_SCRIPT_PROLOGUE='["echo the-prologue-gives-up >&2", "exit 3"]')
    if spool:  # where the pool keeps output in its spool until condor_transfer_data fetches it
        env["DASK_JOBQUEUE__COFFEA_CASA__SUBMIT_COMMAND_EXTRA"] = '["-spool"]'
    server = site.server(env)
    try:
        id = server.api("PUT", "clusters", {"workers": 1}).json()["id"]
        assert wait_cluster(server, id, lambda m: m["status"] != "starting")["status"] == "running"
        ended = lambda: [j for j in jobs(server, id).values() if (j["end"] or {}).get("kind") == "exited"]  # noqa: E731
        assert wait_until(ended, timeout=180), jobs(server, id)
        job = ended()[0]
        assert (job["status"], job["end"]["code"], job["end"]["text"]) in (
            ("completed", 3, "exited with code 3"), ("removed", 3, "exited with code 3")), job
        assert not job["in_queue"] or spool  # a spooled job waits in the queue until it is removed
        log = logs_of(server, id, job["id"])
        assert log["source"] == "files" and "the-prologue-gives-up" in log["stderr"], log
    finally:
        stop(server)


FAKE_AWKWARD = [  # what a worker image with another awkward looks like to importlib.metadata
    "mkdir -p fake/awkward-0.0.1.dist-info",
    "echo Name: awkward > fake/awkward-0.0.1.dist-info/METADATA",
    "echo Version: 0.0.1 >> fake/awkward-0.0.1.dist-info/METADATA",
    "export PYTHONPATH=$PWD/fake",
]
KERNEL = '''
import sys, time
from distributed import Client
from coffea_casa import CoffeaCasaCluster

with Client(sys.argv[1], security=CoffeaCasaCluster.security()) as client:
    print("connected", flush=True)
    time.sleep(300)
'''


def test_a_worker_with_another_package_version_raises_the_mismatch_warning(site):
    from importlib.metadata import version

    server = site.server({"DASK_JOBQUEUE__COFFEA_CASA__JOB_SCRIPT_PROLOGUE": json.dumps(FAKE_AWKWARD)})
    kernel = None
    try:
        model = start(server, 1)
        script = site.home / "kernel.py"
        script.write_text(KERNEL)
        site.give(script)
        # the user's kernel: a client of this sidebar cluster, from a process that imported coffea_casa
        kernel = site.popen([sys.executable, str(script), model["scheduler_address"]], stdout=-1, text=True)
        assert kernel.stdout.readline().strip() == "connected"
        mismatch = lambda m: [x for x in ((m.get("environment") or {}).get("mismatches") or [])  # noqa: E731
                              if x["package"] == "awkward" and x["kernel"]]
        model = wait_cluster(server, model["id"], mismatch, timeout=60)
        (awkward,) = mismatch(model)
        assert awkward["kernel"] == version("awkward") and awkward["workers"] == {"0.0.1": 1}, model["environment"]
        assert not [x for x in model["environment"]["mismatches"] if x["package"] in ("dask", "distributed")]
    finally:
        if kernel is not None:
            kernel.kill()
            kernel.wait()
        stop(server)
