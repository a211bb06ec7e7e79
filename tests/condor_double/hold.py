"""condor_hold and condor_release doubles (same job selection as condor_rm).

condor_hold: JobStatus 5 with HoldReason ("R (by user U)" for -reason R, else "via condor_hold (by user U)"),
HoldReasonCode 1 (UserRequest); a running job is stopped as the starter does.
condor_release: a held job goes back to idle (JobStatus 1, ReleaseReason) and runs again.
condor_vacate_job: a running job is stopped and goes back to idle, and runs again (evicted).
"""

import sys

import classad2

from . import rm
from .state import HELD, IDLE, REMOVED, RUNNING, State, acting_user, job_id, log_event, matches, stopped


def select(state, r):
    """Job ids named by the request: C.P ids, clusters, users, -constraint, -all."""
    jids = list(r.ids)
    text, _ = r.constraint()
    if text is not None:
        tree = classad2.ExprTree(text)
        jids += [job_id(ad) for ad in state.queue() if matches(ad, tree) and job_id(ad) not in jids]
    return jids


def hold(state, jids, reason):
    """Mark held under the lock; returns ({jid: result}, running ads to stop)."""
    results, running = {}, []
    with state.transaction("hold") as transaction, state.lock():
        transaction["jobs"] = len(jids)
        for jid in jids:
            ad = state.read(jid)
            if ad is None:
                results[jid] = "not found"
            elif ad["JobStatus"] in (HELD, REMOVED):
                results[jid] = "already held" if ad["JobStatus"] == HELD else "removed"
            else:
                was = ad["JobStatus"]
                ad = state.set_status(ad, HELD, HoldReason=reason, HoldReasonCode=1, HoldReasonSubCode=0,
                                      **(stopped(ad) if was == RUNNING else {}))
                log_event(ad, 12, "Job was held.", reason, "Code 1 Subcode 0")
                results[jid] = "ok"
                if was == RUNNING and "DoublePgid" in ad:
                    running.append(ad)
    return results, running


def release(state, jids, reason):
    results = {}
    with state.transaction("release") as transaction, state.lock():
        transaction["jobs"] = len(jids)
        for jid in jids:
            ad = state.read(jid)
            if ad is None:
                results[jid] = "not found"
            elif ad["JobStatus"] != HELD:
                results[jid] = "not held"
            else:
                ad = state.set_status(ad, IDLE, ReleaseReason=reason, LastHoldReason=ad.get("HoldReason", ""))
                for name in ("HoldReason", "HoldReasonCode", "HoldReasonSubCode"):
                    if name in ad:  # a job submitted on hold has no subcode
                        del ad[name]
                state.write_ad(ad)
                log_event(ad, 13, "Job was released.", reason)
                results[jid] = "ok"
    return results


def vacate(state, jids):
    """Running jobs go back to idle, their processes stopped; they run again (a new match)."""
    results, running = {}, []
    with state.transaction("vacate") as transaction, state.lock():
        transaction["jobs"] = len(jids)
        for jid in jids:
            ad = state.read(jid)
            if ad is None:
                results[jid] = "not found"
            elif ad["JobStatus"] != RUNNING:
                results[jid] = "not running"
            else:
                ad = state.set_status(ad, IDLE, **stopped(ad))
                log_event(ad, 4, "Job was evicted.", "(0) Job was not checkpointed.")
                results[jid] = "ok"
                if "DoublePgid" in ad:
                    running.append(ad)
    return results, running


MESSAGES = {
    "hold": {"ok": "Job {} held", "not found": "Job {} not found",
             "already held": "Job {} already held", "removed": "Job {} not found"},
    "release": {"ok": "Job {} released", "not found": "Job {} not found",
                "not held": "Job {} not held to be released"},
    "vacate_job": {"ok": "Job {} vacated", "not found": "Job {} not found",
                   "not running": "Job {} not running to be vacated"},
}


def main(argv, action):
    from .submit import start_shepherd

    r = rm.parse_args(argv)
    state = State.from_env(f"condor_{action}")
    jids = select(state, r)
    # as HTCondor words it: the user's reason or the tool's, and who
    reason = f"{r.reason or f'via condor_{action}'} (by user {acting_user()})"
    if action == "hold":
        results, running = hold(state, jids, reason)
    elif action == "vacate_job":
        results, running = vacate(state, jids)
    else:
        results, running = release(state, jids, reason), []
    for jid, result in results.items():
        print(MESSAGES[action][result].format(jid), file=sys.stdout if result == "ok" else sys.stderr)
    if not jids:
        print(f"Couldn't find/{action} all jobs", file=sys.stderr)
    sys.stdout.flush()
    if running:
        rm.stop_processes(running)
    for jid, result in results.items():
        if action in ("release", "vacate_job") and result == "ok":
            start_shepherd(state, jid)  # matched again: it runs anew
    return 0 if jids and all(v == "ok" for v in results.values()) else 1


def main_hold(argv):
    return main(argv, "hold")


def main_release(argv):
    return main(argv, "release")


def main_vacate(argv):
    return main(argv, "vacate_job")
