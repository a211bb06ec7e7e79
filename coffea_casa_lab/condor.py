"""The batch jobs behind a cluster: list them, remove one, read its logs. No HTTP here.

HTCondor jobs are found by their `DaskSchedulerAddress` (what CoffeaCasaCluster
puts in every worker job), through the htcondor2 bindings when a schedd answers
and `condor_q -json` otherwise; only the current user's jobs are ever seen.
On the local backend the "jobs" are the worker processes of the cluster, which
only the cluster's own process knows (its control handler `jobs`).
A job id that is not one of this cluster's jobs is refused (404).

`jobs`, `kill` and `logs` take a manager.RemoteCluster; `local_jobs` and
`worker_log` run in the cluster's process, on the cluster object.
"""

import asyncio
import json
import os
import re
import subprocess

import psutil

from . import schedd
from .errors import ClusterError

STATUS = {1: "idle", 2: "running", 3: "removed", 4: "completed", 5: "held", 6: "transferring", 7: "suspended"}
ATTRIBUTES = ["ClusterId", "ProcId", "JobStatus", "RemoteHost", "JobCurrentStartDate", "JobStartDate",
              "Arguments", "Args", "JobBatchName", "Out", "Err", "Iwd", "DaskSchedulerAddress", "HoldReason"]
LOG_BYTES = 64 * 1024  # the tail of each log file: enough to see why a worker died


def _classad_string(value):
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


async def _query(constraint):
    """Job ads of the current user matching `constraint`."""
    def with_bindings(s):
        return [dict(ad) for ad in s.query(constraint=constraint, projection=ATTRIBUTES)]

    return await schedd.call(with_bindings, lambda: asyncio.to_thread(_condor_q, constraint))


def _condor_q(constraint):
    out = subprocess.run(
        ["condor_q", "-json", "-constraint", constraint, "-attributes", ",".join(ATTRIBUTES)],
        capture_output=True, text=True, timeout=60,
    )
    if out.returncode != 0:
        raise ClusterError(f"condor_q failed: {out.stderr.strip() or out.returncode}", 502)
    return json.loads(out.stdout) if out.stdout.strip() else []  # no output at all when no job matches


def _worker_name(ad):
    """dask-jobqueue names the batch after the worker; else the worker's --name argument."""
    if ad.get("JobBatchName"):
        return ad["JobBatchName"]
    m = re.search(r"--name['\"\s]+([^\s'\"]+)", ad.get("Arguments") or ad.get("Args") or "")
    return m.group(1) if m else None


def _condor_job(ad):
    return {
        "id": f"{ad['ClusterId']}.{ad['ProcId']}",
        "status": STATUS.get(ad.get("JobStatus"), str(ad.get("JobStatus"))),
        "host": ad.get("RemoteHost"),
        "start_time": ad.get("JobCurrentStartDate") or ad.get("JobStartDate"),
        "worker_name": _worker_name(ad),
        "hold_reason": ad.get("HoldReason") if ad.get("JobStatus") == 5 else None,
    }


async def _condor_ads(cluster):
    constraint = f"DaskSchedulerAddress == {_classad_string(cluster.scheduler_address)}"
    return await _query(constraint)


def _queue_constraint(addresses):
    return " || ".join(f"DaskSchedulerAddress =?= {_classad_string(a)}" for a in sorted(addresses))


async def queue_status(addresses):
    """{scheduler address: {idle, running, held, hold_reasons}} for all the given clusters,
    from ONE query of the schedd (never one per cluster or per job)."""
    addresses = [a for a in addresses if a]
    if not addresses:
        return {}
    status = {a: {"idle": 0, "running": 0, "held": 0, "hold_reasons": []} for a in addresses}
    for ad in await _query(_queue_constraint(addresses)):
        counts = status.get(ad.get("DaskSchedulerAddress"))
        state = STATUS.get(ad.get("JobStatus"))
        if counts is None or state not in ("idle", "running", "held"):
            continue
        counts[state] += 1
        reason = ad.get("HoldReason")
        if state == "held" and reason and reason not in counts["hold_reasons"]:
            counts["hold_reasons"].append(reason)
    return status


def local_jobs(cluster):
    directories = {str(w.get("name")): w.get("local_directory")
                   for w in (cluster.scheduler_info.get("workers") or {}).values()}
    jobs = []
    for name, job in list(cluster.workers.items()):
        pid = getattr(job, "job_id", None)
        if not pid:
            continue
        try:
            start = int(psutil.Process(int(str(pid).split(",")[0])).create_time())
            status = "running"
        except (psutil.NoSuchProcess, ValueError):
            start, status = None, "exited"
        host = getattr(job, "worker_host", None)
        jobs.append({"id": str(pid), "status": status, "host": host, "start_time": start, "worker_name": str(name),
                     "directory": directories.get(str(name))})
    return jobs


async def jobs(cluster):
    """The cluster's jobs: id, status, host, start_time (epoch seconds), worker_name."""
    if cluster.backend == "htcondor":
        return [_condor_job(ad) for ad in await _condor_ads(cluster)]
    return await cluster.call("jobs")


async def _find(cluster, job_id):
    """(job, ad or None) for one of this cluster's jobs, else 404."""
    if cluster.backend == "htcondor":
        for ad in await _condor_ads(cluster):
            job = _condor_job(ad)
            if job["id"] == job_id:
                return job, ad
    else:
        for job in await cluster.call("jobs"):
            if job["id"] == job_id:
                return job, None
    raise ClusterError(f"no job {job_id!r} in this cluster", 404)


async def kill(cluster, job_id):
    """Remove one job: through the cluster when it knows the worker (so it is not restarted),
    else with condor_rm."""
    job, _ = await _find(cluster, job_id)
    if not await cluster.call("kill_job", name=job["worker_name"]) and cluster.backend == "htcondor":
        await _act("remove", job_id)
    return dict(job, status="removed")


async def release(cluster, job_id):
    """Release one held job of this cluster (condor_release): it goes back to idle and runs again."""
    job, _ = await _find(cluster, job_id)
    if job["status"] != "held":
        raise ClusterError(f"job {job_id} is {job['status']}, not held", 409)
    await _act("release", job_id)
    return dict(job, status="idle", hold_reason=None)


async def _act(action, job_id):
    """condor_release/condor_rm one job."""
    def with_bindings(s):
        import htcondor2

        s.act(getattr(htcondor2.JobAction, action.capitalize()), [job_id])

    def with_command():
        out = subprocess.run([f"condor_{action}", job_id], capture_output=True, text=True, timeout=120)
        if out.returncode != 0:
            raise ClusterError(f"condor_{action} {job_id} failed: {out.stderr.strip() or out.returncode}", 502)

    await schedd.call(with_bindings, lambda: asyncio.to_thread(with_command))


def _tail(path):
    try:
        with open(path, "rb") as f:
            f.seek(max(0, os.path.getsize(path) - LOG_BYTES))
            return f.read().decode("utf-8", "replace")
    except OSError:
        return None


async def worker_log(cluster, name):
    """The worker's own recent log lines, from the scheduler (workers log to stderr)."""
    addresses = [a for a, w in (cluster.scheduler_info.get("workers") or {}).items() if str(w.get("name")) == name]
    if not addresses:
        return None
    try:
        logs = await asyncio.wait_for(cluster.scheduler_comm.worker_logs(n=500, workers=addresses), 30)
    except Exception:
        return None
    lines = logs.get(addresses[0]) if isinstance(logs, dict) else None
    if not isinstance(lines, (list, tuple)):
        return None
    return "\n".join(str(line[1]) for line in reversed(lines))  # newest first from the worker


async def logs(cluster, job_id):
    """{id, stdout, stderr, source}: the job's output files where HTCondor has put them,
    else (while files are not back yet, and for local workers) the worker's Dask log."""
    job, ad = await _find(cluster, job_id)
    stdout = stderr = None
    if ad is not None:
        iwd = ad.get("Iwd") or ""
        paths = [os.path.join(iwd, ad[k]) if ad.get(k) else None for k in ("Out", "Err")]
        stdout, stderr = (_tail(p) if p else None for p in paths)
    source = "files"
    if not stderr:
        stderr = await cluster.call("worker_log", name=job["worker_name"])
        source = "dask"
    return {"id": job_id, "stdout": stdout or "", "stderr": stderr or "", "source": source}

