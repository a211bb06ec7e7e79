"""Each worker job's story for the jobs pane: when it was submitted, idle since, running
since, its end, and the end's kind. No HTTP here.

HTCondor jobs tell it through their ads, in the queue or in the schedd's history:
QDate, EnteredCurrentStatus, JobCurrentStartDate, LastVacateTime (a run stopped before its
end), CompletionDate with ExitCode or ExitSignal (it exited), RemoveReason ("via condor_rm
(by user U)", or the pool's policy). A spooled job that exited stays queued until it is
removed, so a removed job with a CompletionDate exited first. The cluster's own notes (the
JobBook) say why it removed a job itself: scaled down, replaced, killed from the pane.
"""

import re

IDLE, RUNNING, REMOVED, COMPLETED, HELD = 1, 2, 3, 4, 5
STATUS = {1: "idle", 2: "running", 3: "removed", 4: "completed", 5: "held", 6: "transferring", 7: "suspended"}
_BY_USER = re.compile(r"\(by user ([^)]+)\)\s*$")


def job_id(ad):
    return f"{ad['ClusterId']}.{ad['ProcId']}"


def worker_name(ad):
    """dask-jobqueue names the batch after the worker; else the worker's --name argument."""
    if ad.get("JobBatchName"):
        return ad["JobBatchName"]
    m = re.search(r"--name['\"\s]+([^\s'\"]+)", ad.get("Arguments") or ad.get("Args") or "")
    return m.group(1) if m else None


def _time(value):
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0 else None


def of_ad(ad, note=None, in_queue=True):
    """The jobs pane's model of one HTCondor job; `note`: why the cluster ended it, if it did."""
    code = ad.get("JobStatus")
    status = STATUS.get(code, str(code))
    since = _time(ad.get("EnteredCurrentStatus"))
    start = _time(ad.get("JobCurrentStartDate")) or _time(ad.get("JobStartDate"))
    vacated = _time(ad.get("LastVacateTime"))
    end = end_of(ad, note) if code in (REMOVED, COMPLETED) else None
    return {
        "id": job_id(ad),
        "status": status,
        "host": ad.get("RemoteHost") or ad.get("LastRemoteHost"),
        "start_time": start,
        "worker_name": worker_name(ad),
        "hold_reason": ad.get("HoldReason") if code == HELD else None,
        "submitted": _time(ad.get("QDate")),
        "idle_since": since if code == IDLE else None,
        "running_since": start if code == RUNNING else None,
        # a run stopped before its end (evicted, vacated) and the job queued again
        "evicted": vacated if code in (IDLE, RUNNING) else None,
        "runs": ad.get("NumJobStarts") if isinstance(ad.get("NumJobStarts"), int) else None,
        "ended": (_time(ad.get("CompletionDate")) or since) if end else None,
        "end": end,
        "in_queue": in_queue,
    }


def exited(code):
    """The end of a job (an HTCondor job, a local worker's process) that exited with `code`."""
    return {"kind": "exited", "code": code, "text": f"exited with code {code}"}


def killed(signal):
    return {"kind": "signal", "signal": signal, "text": f"killed by signal {signal}"}


def end_of(ad, note=None):
    """{kind: exited | signal | removed, text, code?, signal?, by?, reason?} of a job that ended."""
    if _time(ad.get("CompletionDate")):  # it exited (a spooled job is removed only afterwards)
        return killed(ad.get("ExitSignal")) if ad.get("ExitBySignal") else exited(ad.get("ExitCode"))
    reason = str(ad.get("RemoveReason") or "")
    # removed while held: a 23.9 schedd keeps the reason as LastHoldReason
    held = (ad.get("HoldReason") or ad.get("LastHoldReason")) if ad.get("LastJobStatus") == HELD else None
    by = _BY_USER.search(reason)
    who = by.group(1) if by else None
    mine = who is not None and who.split("@")[0] == str(ad.get("Owner") or "").split("@")[0]
    if "PeriodicRemove" in reason or "SYSTEM_PERIODIC_REMOVE" in reason:
        end = {"kind": "removed", "by": "policy", "reason": reason, "text": f"removed by the pool's policy: {reason}"}
    elif who is not None and not mine:  # an administrator, say
        end = {"kind": "removed", "by": who, "reason": reason, "text": f"removed by {who}"}
    elif note:  # the cluster removed it itself (as the user), and knows why
        end = {"kind": "removed", "by": "cluster", "reason": note, "text": f"removed by the cluster: {note}"}
    elif mine:
        end = {"kind": "removed", "by": "you", "reason": reason, "text": "removed by you (condor_rm)"}
    else:
        end = {"kind": "removed", "by": None, "reason": reason or None,
               "text": f"removed: {reason}" if reason else "removed"}
    if held:
        end.update(held=held, text=f"{end['text']}, while held: {held}")
    return end


def history_bound():
    """(max jobs, max age in seconds): which ended jobs of a cluster the pane still shows, with
    their logs (`coffea-casa.job-history`, the site's bound)."""
    from dask.utils import parse_timedelta

    from . import config

    # leaf by leaf: dask finds `max_jobs` (DASK_COFFEA_CASA__JOB_HISTORY__MAX_JOBS) as `max-jobs`
    age = parse_timedelta(config.get("job-history.max-age", 86400), default="s")
    return int(config.get("job-history.max-jobs", 100)), float(age if age is not None else 86400)


def within_bound(items, ended, now):
    """The ended `items` to keep (`ended(item)`: when it ended): the newest `max-jobs`, none that
    ended more than `max-age` ago."""
    max_jobs, max_age = history_bound()
    kept = sorted((i for i in items if (ended(i) or now) >= now - max_age), key=lambda i: ended(i) or now, reverse=True)
    return kept[:max(max_jobs, 0)]
