"""The double's one execute machine: a partitionable slot, matchmaking, and what the pool
says about it (condor_status, condor_q -better-analyze).

Like tests/condor_pool, the machine is one partitionable slot of 16 cores and 32 GiB (the
state's `slot_cpus`, `slot_memory` in MiB, `slot_disk` in KiB change it). A job whose
Requirements the slot does not meet stays idle, as on a real pool, with
`LastRejMatchReason`; each condor_q (the double's negotiation cycle) starts the idle jobs
that match again. Resources are not accounted: every job that fits the slot runs at once.
"""

import sys
import time

import classad2

from .state import IDLE, RUNNING, SCHEDD_ADDRESS, State, hostname, is_true, job_id

DEFAULTS = {"slot_cpus": 16, "slot_memory": 32768, "slot_disk": 70_000_000}  # cores, MiB, KiB


def machine_ad(state):
    cpus, memory, disk = (int(state.setting(name, default)) for name, default in DEFAULTS.items())
    ad = classad2.ClassAd()
    ad.update({"MyType": "Machine", "TargetType": "Job", "Name": f"slot1@{hostname()}", "Machine": hostname(),
               "OpSys": "LINUX", "Arch": "X86_64", "Cpus": cpus, "Memory": memory, "Disk": disk,
               "TotalSlotCpus": cpus, "TotalSlotMemory": memory, "TotalSlotDisk": float(disk),
               "PartitionableSlot": True, "SlotType": "Partitionable", "State": "Unclaimed", "Activity": "Idle",
               "HasFileTransfer": True, "FileSystemDomain": hostname(), "START": True,
               "StartdIpAddr": SCHEDD_ADDRESS})
    return ad


def conditions(job):
    """The job's Requirements as the analysis lists them: its top-level && terms."""
    text = str(job.lookup("Requirements")) if "Requirements" in job else "true"
    terms, depth, start = [], 0, 0
    for i, c in enumerate(text):
        depth += c == "("
        depth -= c == ")"
        if depth == 0 and text.startswith("&&", i):
            terms.append(text[start:i])
            start = i + 2
    terms.append(text[start:])
    return [_strip_parens(t.strip()) for t in terms if t.strip()]


def _strip_parens(term):
    while term.startswith("(") and term.endswith(")") and _balanced(term[1:-1]):
        term = term[1:-1].strip()
    return term


def _balanced(text):
    depth = 0
    for c in text:
        depth += c == "("
        depth -= c == ")"
        if depth < 0:
            return False
    return depth == 0


def _true(expression, job, machine):
    try:
        return is_true(classad2.ExprTree(expression).eval(job, machine))
    except Exception:
        return False


def matches(job, machine):
    return all(_true(c, job, machine) for c in conditions(job)) and _true("START", machine, job)


def negotiate(state):
    """One negotiation cycle: idle jobs that did not match before and match now get started."""
    from .submit import start_shepherd

    machine, starting = machine_ad(state), []
    with state.lock():
        for ad in state.queue():
            if ad["JobStatus"] == IDLE and ad.get("DoubleUnmatched") and matches(ad, machine):
                del ad["DoubleUnmatched"]
                state.write_ad(ad)
                starting.append(job_id(ad))
    for jid in starting:
        start_shepherd(state, jid)


def better_analyze(ads, state):
    """condor_q -better-analyze, in HTCondor 23's words (as tests/condor_pool's pool prints it)."""
    machine = machine_ad(state)
    out = [f"\n\n-- Schedd: {hostname()} : <127.0.0.1:9618?...\n"]
    for ad in ads:
        cluster, proc = ad["ClusterId"], ad["ProcId"]
        name = f"{cluster}.{proc:03d}"
        terms = conditions(ad)
        out.append(f"The Requirements expression for job {name} is\n\n    {ad.lookup('Requirements')}\n\n")
        out.append(f"Job {name} defines the following attributes:\n\n")
        for attr in sorted(_referenced(ad), key=str.lower):
            unit = {"RequestDisk": " (kb)", "RequestMemory": " (mb)"}.get(attr, "")
            out.append(f"    {attr} = {ad.lookup(attr)}{unit}\n")
        out.append(f"\nThe Requirements expression for job {name} reduces to these conditions:\n\n")
        out.append("         Slots\nStep    Matched  Condition\n-----  --------  ---------\n")
        for step, term in enumerate(terms):
            out.append(f"{'[%d]' % (2 * step - 1 if step else 0):<7}{int(_true(term, ad, machine)):>8}  {term}\n")
        fits = matches(ad, machine)
        stamp = time.strftime("%a %b %d %H:%M:%S %Y")
        if ad["JobStatus"] == RUNNING:
            out.append(f"\n\n{cluster:03d}.{proc:03d}:  Job is running.\n\nLast successful match: {stamp}\n\n")
        elif not fits:
            out.append(f"\nNo successful match recorded.\nLast failed match: {stamp}\n\n"
                       "Reason for last match failure: no match found \n")
        out.append(f"\n{cluster:03d}.{proc:03d}:  Run analysis summary ignoring user priority.  Of 1 machines,\n"
                   f"      {0 if fits else 1} are rejected by your job's requirements\n"
                   "      0 reject your job because of their own requirements\n"
                   "      0 match and are already running your jobs\n"
                   "      0 match but are serving other users\n"
                   f"      {1 if fits else 0} are able to run your job\n")
        if not fits:
            out.append("\nWARNING:  Be advised:\n   No machines matched the jobs's constraints\n")
        out.append("\n")
    return "".join(out)


def _referenced(ad):
    """The job's own attributes its Requirements use, directly or through another attribute."""
    seen, todo = set(), [str(ad.lookup("Requirements"))] if "Requirements" in ad else []
    while todo:
        text = todo.pop()
        for attr in ad.keys():
            if attr not in seen and attr != "Requirements" and _mentions(text, attr):
                seen.add(attr)
                value = ad.lookup(attr)
                if isinstance(value, classad2.ExprTree):
                    todo.append(str(value))
    return seen


def _mentions(text, attr):
    import re

    return re.search(rf"(?<![\w.])(MY\.)?{re.escape(attr)}(?!\w)", text, re.IGNORECASE) is not None


def status_main(argv):
    """condor_status -af ATTR... | -json [-attributes a,b]: the one partitionable slot."""
    from .q import af_value, json_ad, parse_expr

    state = State.from_env("condor_status")
    machine = machine_ad(state)
    if argv[:1] and argv[0].startswith("-af"):
        exprs = argv[1:]
        print(" ".join(af_value(machine, e, parse_expr(e, "autoformat"), argv[0].partition(":")[2]) for e in exprs))
    elif "-json" in argv:
        attrs = argv[argv.index("-attributes") + 1].split(",") if "-attributes" in argv else None
        print("[\n" + json_ad(machine, attrs) + "\n]")
    else:
        print(f"Name               OpSys      Arch   State     Activity\n\n"
              f"{machine['Name']:<18} LINUX      X86_64 Unclaimed Idle")
    return 0


if __name__ == "__main__":
    sys.exit(status_main(sys.argv[1:]))
