"""Tests of the HTCondor test double itself (tests/condor_double/)."""

import getpass
import json
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import classad2
import htcondor2

from conftest import wait_until

# the fixture; harmless if tests/conftest.py imports it too
from condor_double.fixtures import condor_double  # noqa: F401

RUNNING, REMOVED, COMPLETED, HELD = 2, 3, 4, 5

# prints each argument it gets on its own line, in brackets
ARGV_SCRIPT = """#!/bin/sh
for a in "$@"; do printf '[%s]\\n' "$a"; done
"""


def run(*cmd, cwd=None, check=True):
    """Run a tool the way the product does: found on PATH, output captured."""
    proc = subprocess.run(list(cmd), cwd=cwd, capture_output=True, text=True, timeout=120)
    if check:
        assert proc.returncode == 0, f"{cmd} failed ({proc.returncode}): {proc.stdout}{proc.stderr}"
    return proc


def submit(tmp_path, text, *options, name="job.sub"):
    """condor_submit a description written in tmp_path; returns the cluster id."""
    (tmp_path / name).write_text(text)
    out = run("condor_submit", *options, name, cwd=tmp_path).stdout
    return int(re.search(r"submitted to cluster (\d+)\.", out).group(1))


def argv_script(tmp_path):
    path = tmp_path / "show_argv.sh"
    path.write_text(ARGV_SCRIPT)
    path.chmod(0o755)
    return path


def finished(double, job_id):
    return double.wait_for(job_id, lambda ad: ad["JobStatus"] in (COMPLETED, REMOVED, HELD))


def test_tools_are_found_on_path(condor_double):
    for tool in ("condor_submit", "condor_q", "condor_rm"):
        assert Path(shutil.which(tool)).parent == condor_double.bin_dir


def test_queue_n_expands_cluster_and_proc_ids(condor_double, tmp_path):
    text = """
executable = /bin/sh
arguments = "-c 'echo $(ClusterId).$(ProcId)'"
MY.JobId = "$(ClusterId).$(ProcId)"
+Name = "w--$F(MY.JobId)--"
output = out.$(Cluster).$(Process)
queue 3
"""
    (tmp_path / "job.sub").write_text(text)
    result = run("condor_submit", "job.sub", cwd=tmp_path)
    assert result.stdout == "Submitting job(s)...\n3 job(s) submitted to cluster 1.\n"
    ads = [finished(condor_double, f"1.{p}") for p in range(3)]
    for proc, ad in enumerate(ads):
        assert (ad["ClusterId"], ad["ProcId"], ad["JobStatus"]) == (1, proc, COMPLETED)
        assert ad["JobId"] == f"1.{proc}"
        assert ad["Name"] == f"w--1.{proc}--"  # $F() strips the quotes
        assert (tmp_path / f"out.1.{proc}").read_text() == f"1.{proc}\n"
    # cluster ids keep growing in this state dir
    assert submit(tmp_path, "executable = /bin/true\nqueue\n") == 2


def test_custom_attributes_keep_their_classad_types(condor_double, tmp_path):
    cluster = submit(tmp_path, """
executable = /bin/sh
arguments = "-c 'sleep 300'"
+Text = "tls://127.0.0.2:8786"
MY.Number = 4
+Flag = true
+Doubled = MY.Number * 2
RequestCpus = MY.Number
RequestMemory = floor(MY.Bytes / 1048576)
MY.Bytes = 6442450944
request_disk = 1GB
universe = docker
docker_image = coffeateam/coffea-casa-analysis:0.2.23
batch_name = dask-worker
queue
""")
    ad = condor_double.wait_for_status(f"{cluster}.0", RUNNING)
    assert ad["Text"] == "tls://127.0.0.2:8786" and ad["Number"] == 4 and ad["Flag"] is True
    assert isinstance(ad["Doubled"], classad2.ExprTree) and str(ad["RequestCpus"]) == "MY.Number"
    assert ad["RequestDisk"] == 1024 * 1024  # KiB, as condor_submit converts units
    assert ad["JobUniverse"] == 5 and ad["WantDocker"] is True
    assert ad["DockerImage"] == "coffeateam/coffea-casa-analysis:0.2.23"
    assert ad["JobBatchName"] == "dask-worker"
    assert ad["RemoteHost"].startswith("slot1") and isinstance(ad["JobStartDate"], int)
    # expressions are evaluated by condor_q like a schedd does
    out = run("condor_q", "-af", "Doubled", "RequestCpus", "RequestMemory", "Text").stdout
    assert out == "8 4 6144 tls://127.0.0.2:8786\n"
    run("condor_rm", str(cluster))


def test_arguments_new_and_old_syntax(condor_double, tmp_path):
    from dask_jobqueue.htcondor import quote_arguments

    script = argv_script(tmp_path)
    tricky = ["plain", "two words", "it's", '"dq"', "a'b c", "$HOME"]
    # dask-jobqueue's quoting (as the product submits), plus '' for an empty argument
    cluster = submit(tmp_path, f"""
executable = {script}
arguments = "{quote_arguments(tricky)} ''"
output = new.out
queue
""")
    ad = finished(condor_double, f"{cluster}.0")
    assert (tmp_path / "new.out").read_text() == "".join(f"[{a}]\n" for a in tricky + [""])
    assert "Arguments" in ad and "Args" not in ad

    cluster = submit(tmp_path, f"""
executable = {script}
arguments = one  two\\"three 'four'
output = old.out
queue
""")
    ad = finished(condor_double, f"{cluster}.0")
    # V1: split on whitespace only, \\" is a quote, single quotes are literal
    assert (tmp_path / "old.out").read_text() == "[one]\n[two\"three]\n['four']\n"
    assert ad["Args"] == "one  two\"three 'four'" and "Arguments" not in ad


def test_bad_arguments_are_refused_like_condor_submit(condor_double, tmp_path):
    (tmp_path / "bad.sub").write_text('executable = /bin/true\narguments = "a \'b"\nqueue\n')
    result = run("condor_submit", "bad.sub", cwd=tmp_path, check=False)
    assert result.returncode == 1 and "ERROR" in result.stderr
    assert condor_double.jobs() == []


def test_environment_home_and_cwd(condor_double, tmp_path, monkeypatch):
    monkeypatch.setenv("SUBMITTER_ONLY", "leak")
    dump = 'env > env.txt; pwd > pwd.txt'
    cluster = submit(tmp_path, f"""
executable = /bin/sh
arguments = "-c '{dump}'"
environment = "A=1 B='x y' C=""quoted"" D='it''s'"
queue
""")
    finished(condor_double, f"{cluster}.0")
    sandbox = condor_double.sandbox(f"{cluster}.0")
    env = dict(line.split("=", 1) for line in (tmp_path / "env.txt").read_text().splitlines())
    assert (env["A"], env["B"], env["C"], env["D"]) == ("1", "x y", '"quoted"', "it's")
    assert "SUBMITTER_ONLY" not in env and "CONDOR_DOUBLE_STATE" not in env
    assert env["HOME"] == env["_CONDOR_SCRATCH_DIR"] == env["PWD"] == str(sandbox)
    assert (tmp_path / "pwd.txt").read_text().strip() == str(sandbox)
    assert env["PATH"] == "/usr/local/bin:/usr/bin:/bin"
    job_ad = classad2.parseOne(Path(env["_CONDOR_JOB_AD"]).read_text())
    assert job_ad["ClusterId"] == cluster

    # getenv = true brings the submitter's environment; V1 syntax; the submit file wins
    cluster = submit(tmp_path, f"""
executable = /bin/sh
arguments = "-c 'env > env2.txt'"
getenv = true
environment = SUBMITTER_ONLY=mine;E=5
queue
""")
    finished(condor_double, f"{cluster}.0")
    env = dict(line.split("=", 1) for line in (tmp_path / "env2.txt").read_text().splitlines())
    assert env["SUBMITTER_ONLY"] == "mine" and env["E"] == "5"
    assert env["CONDOR_DOUBLE_STATE"] == str(condor_double.state_dir)


def test_file_transfer_by_basename(condor_double, tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "in.txt").write_text("relative")
    (tmp_path / "dir").mkdir()
    (tmp_path / "dir" / "inner.txt").write_text("inner")
    (tmp_path / "contents").mkdir()
    (tmp_path / "contents" / "loose.txt").write_text("loose")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "abs.txt").write_text("absolute")
    work = tmp_path / "work"
    work.mkdir()
    cluster = submit(tmp_path, f"""
initialdir = {tmp_path}
executable = /bin/sh
arguments = "-c 'cat in.txt abs.txt dir/inner.txt loose.txt; echo new > made.txt'"
transfer_input_files = data/in.txt, {elsewhere / 'abs.txt'}, dir, contents/
should_transfer_files = YES
output = cat.out
queue
""")
    finished(condor_double, f"{cluster}.0")
    assert (tmp_path / "cat.out").read_text() == "relativeabsoluteinnerloose"
    sandbox = condor_double.sandbox(f"{cluster}.0")
    assert (sandbox / "in.txt").read_text() == "relative"
    assert (sandbox / "dir" / "inner.txt").exists() and (sandbox / "loose.txt").exists()
    # new files come back to the submit dir on exit, inputs are not copied back
    assert (tmp_path / "made.txt").read_text() == "new\n"
    assert not (tmp_path / "in.txt").exists()

    (tmp_path / "missing.sub").write_text(
        "executable = /bin/true\ntransfer_input_files = nope.txt\nqueue\n")
    result = run("condor_submit", "missing.sub", cwd=tmp_path, check=False)
    assert result.returncode == 1 and "nope.txt" in result.stderr


def test_executable_runs_as_condor_exec_exe(condor_double, tmp_path):
    cluster = submit(tmp_path, 'executable = /bin/sh\narguments = "-c \'echo $0\'"\n'
                               "output = argv0.out\nqueue\n")
    finished(condor_double, f"{cluster}.0")
    assert (tmp_path / "argv0.out").read_text() == "condor_exec.exe\n"


def test_condor_q_json_af_and_constraints(condor_double, tmp_path):
    jobs = """
executable = /bin/sh
arguments = "-c 'sleep 300'"
MY.JobId = "$(ClusterId).$(ProcId)"
+DaskSchedulerAddress = "{address}"
RequestCpus = {cpus}
queue
"""
    one = submit(tmp_path, jobs.format(address="tls://127.0.0.2:8786", cpus=1))
    two = submit(tmp_path, jobs.format(address="tls://127.0.0.3:8786", cpus=4))
    for cluster in (one, two):
        condor_double.wait_for_status(f"{cluster}.0", RUNNING)

    out = run("condor_q", "-json", "-constraint", 'DaskSchedulerAddress == "tls://127.0.0.2:8786"').stdout
    assert out.startswith("[\n{\n") and out.endswith("}\n]\n")
    [ad] = json.loads(out)
    assert (ad["ClusterId"], ad["JobStatus"], ad["Owner"]) == (one, RUNNING, getpass.getuser())
    assert ad["DaskSchedulerAddress"] == "tls://127.0.0.2:8786" and ad["JobId"] == f"{one}.0"

    both = json.loads(run("condor_q", "-json").stdout)
    assert [a["ClusterId"] for a in both] == [one, two]
    # nothing matches: condor_q -json prints nothing at all
    assert run("condor_q", "-json", "-constraint", 'DaskSchedulerAddress == "nope"').stdout == ""
    # ClassAd functions and evaluated expressions in constraints
    regexp = run("condor_q", "-af", "ClusterId", "-constraint",
                 'regexp("127\\\\.0\\\\.0\\\\.3", DaskSchedulerAddress) && RequestCpus > 2').stdout
    assert regexp == f"{two}\n"
    # -af takes every following word as an expression, so ids go before it (as in HTCondor)
    assert run("condor_q", str(two), "-af", "ClusterId").stdout == f"{two}\n"
    assert run("condor_q", f"{one}.0", "-af", "ClusterId").stdout == f"{one}\n"
    assert run("condor_q", "-af", "ClusterId", str(two)).stdout == f"{one} 2\n{two} 2\n"

    lines = run("condor_q", "-af:h", "Owner", "JobStartDate", "JobId", "DaskSchedulerAddress").stdout.splitlines()
    assert lines[0].split() == ["Owner", "JobStartDate", "JobId", "DaskSchedulerAddress"]
    rows = [line.split() for line in lines[1:]]
    assert [r[2] for r in rows] == [f"{one}.0", f"{two}.0"] and all(r[1].isdigit() for r in rows)

    table = run("condor_q").stdout
    assert f"{one}.0" in table and "2 jobs;" in table

    result = run("condor_rm", "-all")
    assert result.stdout == "All jobs have been marked for removal\n"
    assert condor_double.jobs() == [] and condor_double.running_pids() == []
    assert run("condor_q", "-json").stdout == ""


def test_condor_rm_kills_the_whole_process_group(condor_double, tmp_path):
    cluster = submit(tmp_path, """
executable = /bin/sh
arguments = "-c 'sleep 300 & sleep 301; echo never'"
log = job.log
queue
""")
    job_id = f"{cluster}.0"
    condor_double.wait_for_status(job_id, RUNNING)
    # the shell and both sleeps: wait until the shell has started its children
    condor_double.wait_for(job_id, lambda ad: len(condor_double.running_pids()) >= 3)
    pids = condor_double.running_pids()

    result = run("condor_rm", job_id)
    assert result.stdout == f"Job {job_id} marked for removal\n"
    assert condor_double.running_pids() == []
    assert not any(Path(f"/proc/{pid}").exists() and "Z" not in
                   Path(f"/proc/{pid}/stat").read_text().split(")")[1][:3] for pid in pids)
    ad = condor_double.job(job_id)
    assert ad["JobStatus"] == REMOVED and ad["RemoveReason"].startswith("via condor_rm")
    assert condor_double.jobs() == [] and run("condor_q", "-af", "ClusterId").stdout == ""
    events = [e.type for e in htcondor2.JobEventLog(str(tmp_path / "job.log")).events(0)]
    assert events[-1] == htcondor2.JobEventType.JOB_ABORTED

    again = run("condor_rm", job_id, check=False)
    assert again.returncode == 1 and f"Job {job_id} not found" in again.stderr


def test_condor_rm_escalates_to_sigkill(condor_double, tmp_path):
    script = tmp_path / "stubborn.sh"
    script.write_text("#!/bin/sh\ntrap 'echo got TERM' TERM\necho started\n"
                      "while true; do sleep 1; done\n")
    script.chmod(0o755)
    cluster = submit(tmp_path, f"""
executable = {script}
output = stubborn.out
stream_output = true
job_max_vacate_time = 1
queue
""")
    job_id = f"{cluster}.0"
    condor_double.wait_for(job_id, lambda ad: (tmp_path / "stubborn.out").read_text() == "started\n")
    result = run("condor_rm", job_id)
    assert "marked for removal" in result.stdout
    assert condor_double.running_pids() == []
    assert "got TERM" in (tmp_path / "stubborn.out").read_text()  # soft kill first
    assert condor_double.job(job_id)["JobStatus"] == REMOVED


def test_completed_job_leaves_the_queue(condor_double, tmp_path):
    cluster = submit(tmp_path, """
executable = /bin/sh
arguments = "-c 'echo out; echo err >&2; exit 7'"
output = c.out
error = c.err
log = c.log
queue
""")
    ad = finished(condor_double, f"{cluster}.0")
    assert (ad["JobStatus"], ad["ExitCode"], ad["ExitBySignal"]) == (COMPLETED, 7, False)
    assert (tmp_path / "c.out").read_text() == "out\n" and (tmp_path / "c.err").read_text() == "err\n"
    assert wait_until(lambda: condor_double.jobs() == [])  # leaves the queue after its last event
    assert condor_double.jobs(include_history=True)[0]["ExitCode"] == 7
    assert run("condor_q", "-json").stdout == ""
    events = list(htcondor2.JobEventLog(str(tmp_path / "c.log")).events(0))
    assert [e.type for e in events] == [htcondor2.JobEventType.SUBMIT,
                                        htcondor2.JobEventType.EXECUTE,
                                        htcondor2.JobEventType.JOB_TERMINATED]
    assert events[-1]["ReturnValue"] == 7


def test_held_job_on_missing_executable(condor_double, tmp_path):
    # transferred executables are checked by condor_submit itself
    (tmp_path / "a.sub").write_text("executable = /no/such/program\nqueue\n")
    refused = run("condor_submit", "a.sub", cwd=tmp_path, check=False)
    assert refused.returncode == 1 and "/no/such/program" in refused.stderr
    # not transferred: the execute side fails to start it and the job is held
    cluster = submit(tmp_path, "executable = /no/such/program\ntransfer_executable = false\nqueue\n")
    ad = condor_double.wait_for_status(f"{cluster}.0", HELD)
    assert ad["HoldReasonCode"] == 6 and "/no/such/program" in ad["HoldReason"]
    assert run("condor_q", "-hold", "-af", "ClusterId").stdout == f"{cluster}\n"
    assert run("condor_rm", str(cluster)).stdout == f"All jobs in cluster {cluster} have been marked for removal\n"
    assert condor_double.jobs() == []


def test_spool_snapshots_inputs_and_keeps_output(condor_double, tmp_path):
    (tmp_path / "data.txt").write_text("at submit")
    cluster = submit(tmp_path, """
executable = /bin/sh
arguments = "-c 'sleep 1; cat data.txt'"
transfer_input_files = data.txt
output = spooled.out
queue
""", "-spool")
    (tmp_path / "data.txt").write_text("changed later")
    ad = finished(condor_double, f"{cluster}.0")
    assert ad["JobStatus"] == COMPLETED
    assert (Path(ad["DoubleSpool"]) / "spooled.out").read_text() == "at submit"
    assert not (tmp_path / "spooled.out").exists()  # condor_transfer_data would fetch it
    # spooled jobs stay in the queue once completed, until removed
    assert run("condor_q", "-af", "JobStatus").stdout == "4\n"
    run("condor_rm", f"{cluster}.0")
    assert condor_double.jobs() == []


def test_concurrent_submits_get_distinct_clusters(condor_double, tmp_path):
    (tmp_path / "job.sub").write_text("executable = /bin/true\nqueue 2\n")
    outputs = []

    def one():
        outputs.append(run("condor_submit", "job.sub", cwd=tmp_path).stdout)

    threads = [threading.Thread(target=one) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    clusters = sorted(int(re.search(r"cluster (\d+)", o).group(1)) for o in outputs)
    assert clusters == [1, 2, 3, 4, 5]
    for c in clusters:
        for p in (0, 1):
            assert finished(condor_double, f"{c}.{p}")["JobStatus"] == COMPLETED


def test_dask_jobqueue_htcondor_cluster(condor_double, tmp_path, monkeypatch):
    from dask.distributed import Client
    from dask_jobqueue import HTCondorCluster

    monkeypatch.chdir(tmp_path)
    with HTCondorCluster(cores=1, memory="1GiB", disk="1GiB",
                         scheduler_options={"host": "127.0.0.1", "dashboard_address": "127.0.0.1:0"},
                         # several workers share this host: loopback only, no fixed ports
                         worker_extra_args=["--host", "127.0.0.1", "--no-dashboard"],
                         log_directory=str(tmp_path / "logs"), python=sys.executable) as cluster:
        cluster.scale(1)
        with Client(cluster) as client:
            client.wait_for_workers(1, timeout=120)
            assert client.submit(lambda x: x + 1, 41).result(timeout=60) == 42
            [ad] = condor_double.jobs()
            job_id = f"{ad['ClusterId']}.{ad['ProcId']}"
            assert ad["JobStatus"] == RUNNING and ad["JobBatchName"] in cluster.workers
            assert ad["DaskWorkerName"] == f"htcondor--{job_id}--"
            assert condor_double.running_pids()
    # close() ran condor_rm on the job
    ad = condor_double.wait_for_status(job_id, REMOVED)
    assert condor_double.jobs() == [] and condor_double.running_pids() == []
    assert (tmp_path / "logs" / f"worker-{job_id}.err").exists()  # streamed worker log


# --- issue 10: transactions, itemdata, hold/release, policy, condor_ssh_to_job ----------------

def test_one_transaction_at_a_time_at_its_cost(condor_double, tmp_path):
    condor_double.configure(transaction_cost=0.3)
    (tmp_path / "job.sub").write_text("executable = /bin/true\nqueue 3\n")
    threads = [threading.Thread(target=run, args=("condor_submit", "job.sub"), kwargs={"cwd": tmp_path})
               for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    submits = condor_double.transactions("submit")
    assert [n for _, _, n in submits] == [3, 3, 3]
    stamps = sorted(t for t, _, _ in submits)
    # serialized: each ends at least one cost after the one before
    assert all(b - a >= 0.3 for a, b in zip(stamps, stamps[1:]))


def test_queue_from_itemdata_names_each_proc(condor_double, tmp_path):
    cluster = submit(tmp_path, """
executable = /bin/sleep
arguments = 60
batch_name = $(WorkerName)
+WorkerArg = "$(WorkerName)"
queue WorkerName from (
  alpha
  beta
  gamma
)
""")
    ads = condor_double.jobs()
    assert [(a["ProcId"], a["JobBatchName"], a["WorkerArg"]) for a in ads] == [
        (0, "alpha", "alpha"), (1, "beta", "beta"), (2, "gamma", "gamma")]
    assert [n for _, _, n in condor_double.transactions("submit")] == [3]
    run("condor_rm", f"{cluster}.1")
    assert [a["ProcId"] for a in condor_double.jobs()] == [0, 2]
    run("condor_rm", f"{cluster}.0", f"{cluster}.2")
    assert condor_double.jobs() == []
    assert [n for _, _, n in condor_double.transactions("rm")] == [1, 2]


def test_hold_with_reason_and_release_runs_it_again(condor_double, tmp_path):
    cluster = submit(tmp_path, "executable = /bin/sleep\narguments = 60\nlog = h.log\nqueue\n")
    jid = f"{cluster}.0"
    condor_double.wait_for_status(jid, RUNNING)
    out = run("condor_hold", "-reason", "Job has gone over memory limit of 2048 megabytes", jid)
    assert out.stdout == f"Job {jid} held\n"
    ad = condor_double.job(jid)
    assert (ad["JobStatus"], ad["HoldReasonCode"]) == (HELD, 1)
    assert ad["HoldReason"] == f"Job has gone over memory limit of 2048 megabytes (by user {getpass.getuser()})"  # as HTCondor 23.9
    assert wait_until(lambda: not condor_double.running_pids())  # held jobs do not run
    assert run("condor_q", "-hold", "-af", "HoldReason").stdout == ad["HoldReason"] + "\n"
    bad = run("condor_release", f"{cluster + 5}.0", check=False)
    assert bad.returncode == 1 and "not found" in bad.stderr
    assert run("condor_release", jid).stdout == f"Job {jid} released\n"
    ad = condor_double.wait_for(jid, lambda a: a["JobStatus"] == RUNNING and a["NumJobStarts"] == 2)
    assert "HoldReason" not in ad and ad["LastHoldReason"].startswith("Job has gone over memory")
    again = run("condor_release", jid, check=False)
    assert again.returncode == 1 and f"Job {jid} not held to be released" in again.stderr
    submitted_held = submit(tmp_path, "executable = /bin/true\nhold = true\nqueue\n", name="held.sub")
    assert run("condor_release", f"{submitted_held}.0").returncode == 0
    assert finished(condor_double, f"{submitted_held}.0")["JobStatus"] == COMPLETED
    events = [e.type for e in htcondor2.JobEventLog(str(tmp_path / "h.log")).events(0)]
    assert htcondor2.JobEventType.JOB_HELD in events and htcondor2.JobEventType.JOB_RELEASED in events
    run("condor_rm", jid)


def test_periodic_policy_holds_and_removes_running_jobs(condor_double, tmp_path):
    condor_double.configure(periodic_interval=0.2)
    cluster = submit(tmp_path, """
executable = /bin/sleep
arguments = 60
periodic_hold = ProcId == 0 && (time() - JobCurrentStartDate) >= 1
periodic_hold_reason = "Cannot pull image: manifest unknown"
periodic_remove = ProcId == 1 && JobStatus == 2
queue 2
""")
    held = condor_double.wait_for_status(f"{cluster}.0", HELD)
    assert (held["HoldReason"], held["HoldReasonCode"]) == ("Cannot pull image: manifest unknown", 3)
    # the other ends on its own, as an eviction by policy does: removed, out of the queue
    gone = condor_double.wait_for(f"{cluster}.1", lambda a: a["JobStatus"] == REMOVED and
                                  not any(j["ProcId"] == 1 for j in condor_double.jobs()))
    assert "PeriodicRemove" in gone["RemoveReason"]
    assert wait_until(lambda: not condor_double.running_pids())
    run("condor_rm", str(cluster))


def test_ssh_to_job_runs_in_the_sandbox_with_the_jobs_environment(condor_double, tmp_path):
    cluster = submit(tmp_path, 'executable = /bin/sleep\narguments = 60\nenvironment = "WHO=job"\nqueue\n')
    jid = f"{cluster}.0"
    condor_double.wait_for_status(jid, RUNNING)
    out = run("condor_ssh_to_job", jid, "pwd; echo $WHO; echo $_CONDOR_SCRATCH_DIR")
    assert out.stdout.split() == [str(condor_double.sandbox(jid)), "job", str(condor_double.sandbox(jid))]
    shell = subprocess.run(["condor_ssh_to_job", jid], input="echo in-$WHO\nexit\n",
                           capture_output=True, text=True, timeout=60)
    assert "Welcome to slot" in shell.stdout and "in-job" in shell.stdout
    run("condor_rm", jid)
    refused = run("condor_ssh_to_job", jid, "true", check=False)
    assert refused.returncode == 1 and "not running" in refused.stderr


# --- what tests/condor_pool's real HTCondor 23.9 showed, emulated ----------------------------

def test_a_job_no_slot_fits_stays_idle_and_better_analyze_says_why(condor_double, tmp_path):
    cluster = submit(tmp_path, "executable = /bin/sleep\narguments = 60\nrequest_memory = 64 GB\nqueue\n")
    jid = f"{cluster}.0"
    ad = condor_double.wait_for(jid, lambda a: a.get("LastRejMatchReason") == "no match found ")
    assert ad["JobStatus"] == 1 and not condor_double.running_pids()
    text = run("condor_q", "-better-analyze", jid).stdout
    assert f"The Requirements expression for job {cluster}.000 reduces to these conditions:" in text
    assert re.search(r"^\[\d+\]\s+0  TARGET\.Memory >= RequestMemory$", text, re.MULTILINE), text
    assert re.search(r"^\[\d+\]\s+1  TARGET\.Disk >= RequestDisk$", text, re.MULTILINE), text
    assert "RequestMemory = 65536 (mb)" in text and "Of 1 machines,\n      1 are rejected by your job's requirements" in text
    assert "No machines matched the jobs's constraints" in text
    status = json.loads(run("condor_status", "-json", "-attributes", "Name,TotalSlotMemory,TotalSlotCpus").stdout)
    assert [(s["TotalSlotMemory"], s["TotalSlotCpus"]) for s in status] == [(32768, 16)]  # as tests/condor_pool
    # a bigger slot: the next negotiation cycle (any condor_q) runs it
    condor_double.configure(slot_memory=70000)
    run("condor_q")
    condor_double.wait_for_status(jid, RUNNING)
    assert "1 are able to run your job" in run("condor_q", "-better-analyze", jid).stdout
    run("condor_rm", jid)


def test_history_newest_first_since_and_match(condor_double, tmp_path):
    first = submit(tmp_path, "executable = /bin/true\nqueue\n")
    finished(condor_double, f"{first}.0")
    held = submit(tmp_path, "executable = /bin/true\nhold = true\nqueue\n", name="h.sub")
    second = submit(tmp_path, "executable = /bin/true\nqueue\n", name="s.sub")
    assert wait_until(lambda: len(condor_double.jobs(include_history=True)) == 3 and len(condor_double.jobs()) == 1)
    run("condor_rm", f"{held}.0")  # the last to leave the queue
    order = lambda *args: [int(c) for c in run("condor_history", "-af", "ClusterId", *args).stdout.split()]  # noqa: E731
    assert order() == [held, second, first]
    assert order("-since", f"{first}.0") == [held, second] and order("-since", str(second)) == [held]
    assert order("-match", "1") == [held] and order("-limit", "2") == [held, second]
    assert order("-since", f"ClusterId == {second}") == [held]
    assert order("-since", "true") == [] and order("-since", "false") == [held, second, first]


def test_spooled_output_comes_back_with_condor_transfer_data(condor_double, tmp_path):
    logs = tmp_path / "logs"
    logs.mkdir()
    cluster = submit(tmp_path, f"""
executable = /bin/sh
arguments = "-c 'echo to-out; echo to-err >&2; exit 3'"
output = {logs}/w.out
error = {logs}/w.err
should_transfer_files = YES
queue
""", "-spool")
    ad = finished(condor_double, f"{cluster}.0")
    # as a 23.9 schedd keeps a spooled job
    assert (ad["JobStatus"], ad["ExitCode"], ad["Out"], ad["Err"]) == (COMPLETED, 3, "_condor_stdout", "_condor_stderr")
    assert ad["SUBMIT_Iwd"] == str(tmp_path) and ad["Iwd"] == ad["DoubleSpool"]
    assert ad["SUBMIT_TransferOutputRemaps"] == f"_condor_stdout={logs}/w.out;_condor_stderr={logs}/w.err"
    assert not list(logs.iterdir())  # nothing made at submit, nothing back yet
    assert run("condor_transfer_data", f"{cluster}.0").stdout == "Fetching data files...\n"
    assert (logs / "w.out").read_text() == "to-out\n" and (logs / "w.err").read_text() == "to-err\n"
    ad = condor_double.job(f"{cluster}.0")
    assert ad["JobStatus"] == COMPLETED and ad["StageOutFinish"] >= ad["StageOutStart"]  # still queued
    assert condor_double.transactions("transfer_data")[-1][2] == 1
    run("condor_rm", f"{cluster}.0")


def test_the_administrator_removes_and_vacates_as_condor(condor_double, tmp_path, monkeypatch):
    cluster = submit(tmp_path, "executable = /bin/sleep\narguments = 60\noutput = o.txt\n"
                               "should_transfer_files = YES\nqueue 2\n")
    first, second = f"{cluster}.0", f"{cluster}.1"
    assert not (tmp_path / "o.txt").exists()  # transferred output: condor_submit does not create it
    for jid in (first, second):
        condor_double.wait_for_status(jid, RUNNING)
    monkeypatch.setenv("CONDOR_DOUBLE_ACTING_USER", "condor")  # root's actions, on a real pool
    run("condor_vacate_job", second)
    ad = condor_double.wait_for(second, lambda a: a["NumJobStarts"] == 2 and a["JobStatus"] == RUNNING)
    assert ad["LastVacateTime"] >= ad["JobStartDate"] and ad["LastRemoteHost"].startswith("slot1_")
    run("condor_rm", first)
    gone = condor_double.job(first)
    assert (gone["JobStatus"], gone["RemoveReason"]) == (REMOVED, "via condor_rm (by user condor)")
    assert "RemoteHost" not in gone and gone["LastRemoteHost"].startswith("slot1_") and gone["LastVacateTime"]
    run("condor_hold", "-reason", "over the policy", second)  # removed while held: the reason is the last one
    run("condor_rm", second)
    gone = condor_double.job(second)
    assert (gone["LastJobStatus"], gone["LastHoldReason"]) == (HELD, "over the policy (by user condor)")
    assert "HoldReason" not in gone
