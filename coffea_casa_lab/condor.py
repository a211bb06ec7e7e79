"""The batch jobs behind a cluster: their stories, remove one, release one. No HTTP here.

HTCondor jobs are found by their `DaskSchedulerAddress` (what CoffeaCasaCluster puts in
every worker job), through the htcondor2 bindings when a schedd answers and the condor_*
commands otherwise. The jobs pane's list comes from the ScheddWatch: the queue and the
history of all clusters, one query each per poll. On the local backend the "jobs" are the
cluster's worker processes, which only its own process knows (its JobBook, control handler
`jobs`), ended ones included. A job id that is not one of this cluster's jobs (or no longer
within the site's bound) is refused (404).

`jobs`, `kill` and `release` take a manager.RemoteCluster and the ScheddWatch.
"""

import asyncio
import json
import subprocess

from . import schedd
from .errors import ClusterError
from .job_story import job_id as job_id_of, of_ad

# what the cards, the jobs pane (job_story) and the logs need of a job, in the queue or in history
ATTRIBUTES = ["ClusterId", "ProcId", "JobStatus", "LastJobStatus", "RemoteHost", "LastRemoteHost",
              "JobCurrentStartDate", "JobStartDate", "QDate", "EnteredCurrentStatus", "CompletionDate",
              "LastVacateTime", "NumJobStarts", "ExitCode", "ExitBySignal", "ExitSignal", "RemoveReason",
              "Owner", "Arguments", "Args", "JobBatchName", "Out", "Err", "Iwd", "SUBMIT_Iwd",
              "SUBMIT_TransferOutputRemaps", "StageOutFinish", "StreamErr", "DaskSchedulerAddress",
              "HoldReason", "LastHoldReason", "RequestMemory", "RequestCpus", "RequestDisk", "DaskWorkerMemory",
              "DaskWorkerCores", "DaskWorkerDisk"]


def classad_string(value):
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def address_constraint(addresses):
    return " || ".join(f"DaskSchedulerAddress =?= {classad_string(a)}" for a in sorted(addresses))


async def query(constraint):
    """Ads of the jobs in the queue matching `constraint`."""
    def with_bindings(s):
        return [dict(ad) for ad in s.query(constraint=constraint, projection=ATTRIBUTES)]

    return await schedd.call(with_bindings, lambda: asyncio.to_thread(_condor_q, constraint))


def _condor_q(constraint):
    return _json_ads(["condor_q", "-json", "-constraint", constraint, "-attributes", ",".join(ATTRIBUTES)])


async def history(constraint, since):
    """Ads of jobs that left the queue, matching `constraint`, read newest first until `since`
    (an expression) is true: condor_history stops reading there."""
    def with_bindings(s):
        return [dict(ad) for ad in s.history(constraint=constraint, projection=ATTRIBUTES, since=since)]

    command = ["condor_history", "-json", "-constraint", constraint, "-since", since, "-attributes", ",".join(ATTRIBUTES)]
    return await schedd.call(with_bindings, lambda: asyncio.to_thread(_json_ads, command))


def _json_ads(command):
    out = subprocess.run(command, capture_output=True, text=True, timeout=60)
    if out.returncode != 0:
        raise ClusterError(f"{command[0]} failed: {out.stderr.strip() or out.returncode}", 502)
    return json.loads(out.stdout) if out.stdout.strip() else []  # no output at all when no job matches


async def cluster_ads(scheduler_address):
    """The queue's ads of one cluster's jobs (for the cluster's own process: its Replacer)."""
    return await query(address_constraint([scheduler_address]))


async def jobs(cluster, watch):
    """The cluster's jobs, with their stories: those in the queue, then those that left it
    (the newest first), within the site's bound."""
    if cluster.backend != "htcondor":
        return list(await cluster.call("jobs") or [])
    known = await cluster.call("job_notes")
    known = known if isinstance(known, dict) else {}  # a cluster that keeps no notes (not a CoffeaCasaCluster)
    started, notes = known.get("started") or 0, known.get("notes") or {}
    await watch.refresh_one(cluster.scheduler_address)
    queued = [ad for ad in watch.queue(cluster.scheduler_address) if (ad.get("QDate") or 0) >= started - 1]
    ids = {job_id_of(ad) for ad in queued}
    ended = [ad for ad in await watch.history(cluster.scheduler_address, started) if job_id_of(ad) not in ids]
    ended.sort(key=lambda ad: ad.get("EnteredCurrentStatus") or 0, reverse=True)
    return ([of_ad(ad, notes.get(job_id_of(ad))) for ad in sorted(queued, key=_order)]
            + [of_ad(ad, notes.get(job_id_of(ad)), in_queue=False) for ad in ended])


def _order(ad):
    return (ad.get("ClusterId") or 0, ad.get("ProcId") or 0)


async def find(cluster, job_id, watch):
    """(job, ad or None) of one of this cluster's jobs, else 404."""
    for job in await jobs(cluster, watch):
        if job["id"] == job_id:
            ad = watch.ad(cluster.scheduler_address, job_id) if cluster.backend == "htcondor" else None
            return job, ad
    raise ClusterError(f"no job {job_id!r} in this cluster", 404)


async def kill(cluster, job_id, watch):
    """Remove one job: through the cluster when it knows the worker (so it is not restarted),
    else with condor_rm."""
    job, _ = await find(cluster, job_id, watch)
    if not job.get("in_queue", True):
        raise ClusterError(f"job {job_id} has ended already ({job['status']})", 409)
    if not await cluster.call("kill_job", name=job["worker_name"]) and cluster.backend == "htcondor":
        await _act("remove", job_id)
    watch.forget()
    return dict(job, status="removed")


async def release(cluster, job_id, watch):
    """Release one held job of this cluster (condor_release): it goes back to idle and runs again."""
    job, _ = await find(cluster, job_id, watch)
    if job["status"] != "held":
        raise ClusterError(f"job {job_id} is {job['status']}, not held", 409)
    await _act("release", job_id)
    watch.forget()
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
