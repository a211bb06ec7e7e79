"""condor_rm double: mark jobs removed, kill them as the starter does, wait until gone."""

import contextlib
import os
import signal
import sys
import time

import classad2

from .state import (HELD, REMOVED, RUNNING, State, acting_user, finish_removal, job_id, live_pids, matches,
                    parse_signal, signal_group, stopped, unheld)

USAGE = """Usage: condor_rm [options] [constraints]
 where [options] is zero or more of:
  -forcex             Force the immediate local removal of jobs in the X state
                      (only affects jobs already being removed)
  -reason reason      Use the given RemoveReason
 and where [constraints] is one of:
  cluster.proc        remove the given job
  cluster             remove the given cluster of jobs
  user                remove all jobs owned by user
  -constraint expr    remove all jobs matching the boolean expression
  -all                remove all jobs (cannot be used with other constraints)"""

DEFAULT_GRACE = 5   # seconds between the soft kill signal and SIGKILL
HARD_KILL_WAIT = 10  # seconds we then wait for the processes to disappear


def usage(code=1):
    print(USAGE, file=sys.stderr if code else sys.stdout)
    sys.exit(code)


def is_prefix(arg, word, min_len):
    name = arg.lstrip("-").lower()
    return len(name) >= min_len and word.startswith(name)


class Request:
    """What to act on, combined like condor_rm's addConstraint()/handleConstraints()."""

    def __init__(self):
        self.ids, self.usercluster, self.constraints = [], [], []
        self.all = self.forcex = self.had_error = False
        self.reason = None

    def constraint(self):
        """(constraint text, wording for messages) or (None, None)."""
        parts, kind = list(self.constraints), "complex"
        if self.usercluster:
            parts.append(" || ".join(c for c, _ in self.usercluster))
            if not self.constraints and len(self.usercluster) == 1:
                kind = self.usercluster[0][1]
        if self.all:
            return "ClusterId >= 0", ""
        if not parts:
            return None, None
        text = parts[0] if len(parts) == 1 else " && ".join(f"({p})" for p in parts)
        if kind == "cluster":
            return text, " in cluster " + text.split(" == ")[1]
        if kind == "user":
            return text, " of user " + text.split(" == ")[1]
        return text, f" matching constraint ({text})"


def parse_args(argv):
    r, i = Request(), 0
    if not argv:
        print("You did not specify any jobs", file=sys.stderr)
        usage()
    while i < len(argv):
        arg = argv[i]
        nxt = argv[i + 1] if i + 1 < len(argv) else None
        if not arg.startswith("-"):
            if r.all:
                usage()
            cluster, dot, proc = arg.partition(".")
            if cluster.isdigit() and (not dot or proc.isdigit()):
                if int(cluster) <= 0:
                    print(f"Invalid cluster # from {arg}.", file=sys.stderr)
                    r.had_error = True
                elif dot:
                    r.ids.append(f"{int(cluster)}.{int(proc)}")
                else:
                    r.usercluster.append((f"ClusterId == {int(cluster)}", "cluster"))
            else:
                r.usercluster.append((f'Owner == "{arg}"', "user"))
        elif is_prefix(arg, "constraint", 1):
            if nxt is None or nxt.startswith("-"):
                print("condor_rm: -constraint requires another argument", file=sys.stderr)
                sys.exit(1)
            r.constraints.append(nxt)
            i += 1
        elif is_prefix(arg, "all", 1):
            if r.constraints or r.usercluster:
                print("condor_rm: can't mix -all with other constraints", file=sys.stderr)
                sys.exit(1)
            r.all = True
        elif is_prefix(arg, "forcex", 1):
            r.forcex = True
        elif is_prefix(arg, "reason", 1):
            if nxt is None:
                print("condor_rm: -reason requires another argument", file=sys.stderr)
                sys.exit(1)
            r.reason = nxt
            i += 1
        elif any(is_prefix(arg, w, 1) for w in ("name", "pool")) or is_prefix(arg, "addr", 2):
            i += 1  # there is only one schedd
        elif any(is_prefix(arg, w, n) for w, n in (("long", 1), ("totals", 3), ("debug", 1))):
            pass
        elif is_prefix(arg, "help", 1):
            usage(0)
        else:
            print(f"Unrecognized option: {arg}", file=sys.stderr)
            usage()
        i += 1
    if not (r.ids or r.usercluster or r.constraints or r.all):
        print("You did not specify any jobs", file=sys.stderr)
        usage()
    return r


def mark(state, jids, reason, forcex):
    """Under the lock, like the schedd: returns ({jid: result}, ads whose processes must die)."""
    results, running = {}, []
    with state.transaction("rm") as transaction, state.lock():
        transaction["jobs"] = len(jids)
        for jid in jids:
            ad = state.read(jid)
            if ad is None:
                results[jid] = "not found"
            elif forcex:
                if ad["JobStatus"] != REMOVED:
                    results[jid] = "bad status"
                else:
                    finish_removal(state, jid)
                    results[jid] = "ok"
            elif ad["JobStatus"] == REMOVED:
                results[jid] = "already"
            else:
                was = ad["JobStatus"]
                ad = state.set_status(ad, REMOVED, RemoveReason=f"{reason} (by user {acting_user()})",
                                      **(stopped(ad) if was == RUNNING else {}), **(unheld(ad) if was == HELD else {}))
                results[jid] = "ok"
                if was == RUNNING and "DoublePgid" in ad:
                    running.append(ad)
                else:  # nothing runs for it: it leaves the queue at once
                    finish_removal(state, jid)
    return results, running


def kill(state, ads):
    """Stop the jobs' processes, then the jobs leave the queue."""
    if not ads:
        return
    stop_processes(ads)
    with state.lock():
        for ad in ads:
            if not live_pids(pgids=[ad["DoublePgid"]]):
                finish_removal(state, job_id(ad))


def stop_processes(ads):
    """Soft kill (KillSig, default SIGTERM) to the job's main process, SIGKILL to the
    whole process group after the grace time, then wait until nothing is left."""
    groups = [ad["DoublePgid"] for ad in ads]
    for ad in ads:
        with contextlib.suppress(ProcessLookupError, PermissionError, ValueError, KeyError):
            os.kill(ad["DoublePgid"], parse_signal(ad.get("KillSig")))
    grace = max(g if type(g) is int else DEFAULT_GRACE
                for g in (ad.eval("JobMaxVacateTime") if "JobMaxVacateTime" in ad else None
                          for ad in ads))
    for sig, wait in ((None, grace), (signal.SIGKILL, HARD_KILL_WAIT)):
        if sig is not None:
            for pgid in groups:
                signal_group(pgid, sig)
        deadline = time.monotonic() + wait
        while live_pids(pgids=groups) and time.monotonic() < deadline:
            time.sleep(0.05)


MESSAGES = {"ok": "Job {} marked for removal", "not found": "Job {} not found",
            "already": "Job {} already marked for removal",
            "bad status": "Job {} not in `X' state to be forcibly removed"}


def main(argv):
    r = parse_args(argv)
    state = State.from_env("condor_rm")
    reason = r.reason or ("via condor_rm -forcex" if r.forcex else "via condor_rm")
    had_error, to_kill = r.had_error, []

    if r.ids:  # fully qualified job ids
        if r.constraints:
            print("Warning, -constraint is ignored for fully qualified job ids", file=sys.stderr)
            r.constraints = []
        results, running = mark(state, r.ids, reason, r.forcex)
        to_kill += running
        if any(v != "ok" for v in results.values()):
            had_error = True
            print("", file=sys.stderr)  # condor_rm prints its (empty) error stack first
        for jid, result in results.items():
            msg = MESSAGES[result].format(jid)
            if r.forcex and result == "ok":
                msg = f"Job {jid} removed locally (remote state unknown)"
            print(msg, file=sys.stdout if result == "ok" else sys.stderr)

    text, wording = r.constraint()  # clusters, users, -constraint, -all
    if text is not None:
        with state.lock(exclusive=False):
            queue = state.queue()
        try:
            tree = classad2.ExprTree(text)
            jids = [job_id(ad) for ad in queue if matches(ad, tree)]
        except Exception:
            jids = []
        results, running = mark(state, jids, reason, r.forcex) if jids else ({}, [])
        to_kill += running
        word = "removed locally (remote state unknown)" if r.forcex else "marked for removal"
        if any(v == "ok" for v in results.values()):
            print(f"All jobs{wording} have been {word}")
        elif not queue:
            print("condor_rm:0:There are no jobs in the queue", file=sys.stderr)
        else:
            had_error = True
            print(f"\nCouldn't find/remove all jobs{wording}", file=sys.stderr)

    sys.stdout.flush()
    kill(state, to_kill)
    return 1 if had_error else 0
