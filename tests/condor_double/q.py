"""condor_q and condor_history doubles: query the queue (or history) with HTCondor's ClassAd evaluation."""

import os
import sys
import time

import classad2

from . import syntax
from .state import STATUS_LETTER, SCHEDD_ADDRESS, State, fail, hostname, matches, owner

USAGE = ("Usage: condor_q [-json|-long|-af[:hlVrj,t] attr ...|-better-analyze] [-constraint expr] [-allusers]\n"
         "                [-attributes a,b] [-limit n] [-hold|-run] [cluster|cluster.proc|owner ...]\n"
         "       condor_history [the same] [-match n] [-since cluster|cluster.proc|expr]")


def is_prefix(arg, word, min_len):
    """HTCondor's is_dash_arg_prefix: -word or --word, abbreviated to >= min_len chars."""
    name = arg.lstrip("-").split(":")[0].lower()
    return len(name) >= min_len and word.startswith(name)


def parse_expr(text, what="constraint"):
    try:
        return classad2.ExprTree(text)
    except Exception:
        fail(f"\n-- Parse error in {what} expression \"{text}\"")


def parse_args(argv):
    o = {"mode": "table", "af": [], "af_opts": "", "constraints": [], "restrict": [],
         "allusers": False, "attrs": None, "limit": None, "status": None, "since": None}
    i = 0
    while i < len(argv):
        arg = argv[i]
        nxt = argv[i + 1] if i + 1 < len(argv) else None
        if not arg.startswith("-"):
            o["restrict"].append(arg)
        elif is_prefix(arg, "json", 2):
            o["mode"] = "json"
        elif is_prefix(arg, "long", 1):
            o["mode"] = "long"
        elif is_prefix(arg, "af", 2) or is_prefix(arg, "autoformat", 5):
            o["mode"], o["af_opts"] = "af", arg.partition(":")[2]
            while i + 1 < len(argv) and not argv[i + 1].startswith("-"):
                i += 1
                o["af"].append(argv[i])
            if i + 1 < len(argv) and argv[i + 1] == "-":  # a lone '-' ends the list
                i += 1
            if not o["af"]:
                fail(f"Error: -af requires at least one attribute\n{USAGE}")
        elif is_prefix(arg, "constraint", 5):
            if nxt is None:
                fail(f"Error: -constraint requires another argument\n{USAGE}")
            o["constraints"].append(parse_expr(nxt))
            i += 1
        elif is_prefix(arg, "allusers", 2):
            o["allusers"] = True
        elif is_prefix(arg, "attributes", 2):
            if nxt is None:
                fail(f"Error: -attributes requires another argument\n{USAGE}")
            o["attrs"] = [a for a in nxt.replace(",", " ").split()]
            i += 1
        elif is_prefix(arg, "limit", 3) or is_prefix(arg, "match", 3):
            o["limit"] = int(nxt or 0)
            i += 1
        elif is_prefix(arg, "since", 3):  # condor_history: stop at this job, cluster or expression
            if nxt is None:
                fail(f"Error: -since requires another argument\n{USAGE}")
            o["since"] = nxt
            i += 1
        elif is_prefix(arg, "better-analyze", 3) or is_prefix(arg, "analyze", 3):
            o["mode"] = "analyze"
        elif is_prefix(arg, "hold", 2) or is_prefix(arg, "held", 4):
            o["status"] = 5
        elif is_prefix(arg, "run", 1) or is_prefix(arg, "running", 3):
            o["status"] = 2
        elif is_prefix(arg, "name", 1) or is_prefix(arg, "pool", 1):
            i += 1  # there is only one schedd
        elif any(is_prefix(arg, w, 2) for w in ("nobatch", "batch", "global", "wide")):
            pass  # the default table is the -nobatch view anyway
        elif is_prefix(arg, "help", 1):
            print(USAGE)
            sys.exit(0)
        else:
            fail(f"Error: unrecognized argument {arg}\n{USAGE}")
        i += 1
    return o


def restriction(word):
    """Positional arguments: cluster, cluster.proc or owner (several are ORed)."""
    c, dot, p = word.partition(".")
    if c.isdigit() and (not dot or p.isdigit()):
        if dot:
            return lambda ad: ad["ClusterId"] == int(c) and ad["ProcId"] == int(p)
        return lambda ad: ad["ClusterId"] == int(c)
    return lambda ad: ad.get("Owner") == word


def select(ads, o):
    if o["restrict"]:
        tests = [restriction(w) for w in o["restrict"]]
        ads = [a for a in ads if any(t(a) for t in tests)]
    elif not o["allusers"]:  # condor_q shows only your jobs unless told otherwise
        ads = [a for a in ads if a.get("Owner") == owner()]
    for c in o["constraints"]:
        ads = [a for a in ads if matches(a, c)]
    if o["status"] is not None:
        ads = [a for a in ads if a["JobStatus"] == o["status"]]
    return ads[:o["limit"]] if o["limit"] else ads


def unparse(value):
    """How HTCondor prints a value (old ClassAd syntax), e.g. true, 1.5, {1,2}."""
    one = classad2.ClassAd()
    one["V"] = value
    return one.printOld().partition(" = ")[2].rstrip("\n")


def json_ad(ad, attrs):
    """ClassAdJsonUnParser output with attributes sorted as condor_q does."""
    parts = []
    for name in sorted((a for a in (attrs or ad.keys()) if a in ad), key=str.lower):
        one = classad2.ClassAd()
        one[name] = ad.lookup(name)
        parts.append(one.printJson().strip()[1:-1].strip("\n"))
    return "{\n" + ",\n".join(parts) + "\n}"


def long_ad(ad, attrs):
    lines = [f"{name} = {unparse(ad.lookup(name))}"
             for name in sorted((a for a in (attrs or ad.keys()) if a in ad), key=str.lower)]
    return "\n".join(lines) + "\n"


def af_value(ad, text, tree, opts):
    if "r" in opts:  # raw: the unevaluated expression
        return unparse(ad.lookup(text)) if text in ad else text
    value = tree.eval(ad)
    if isinstance(value, classad2.Value):
        return "undefined" if value == classad2.Value.Undefined else "error"
    if isinstance(value, str):
        return classad2.quote(value) if "V" in opts else value
    return unparse(value)


def autoformat(ads, exprs, opts):
    trees = [parse_expr(e, "autoformat") for e in exprs]
    sep = "," if "," in opts else "\t" if "t" in opts else "\n" if "n" in opts else " "
    headers = (["ID"] if "j" in opts else []) + list(exprs)
    rows = []
    for ad in ads:
        row = [f"{ad['ClusterId']}.{ad['ProcId']}"] if "j" in opts else []
        row += [af_value(ad, e, t, opts) for e, t in zip(exprs, trees)]
        if "l" in opts:
            row = [f"{h} = {v}" for h, v in zip(headers, row)]
        rows.append(row)
    out = []
    if "h" in opts:  # headings: every column as wide as its heading or widest value
        widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(headers)]
        for row in [headers] + rows:
            out.append(sep.join(v.ljust(w) for v, w in zip(row, widths)).rstrip())
    else:
        out = [sep.join(row) for row in rows]
    return "".join(line + "\n" for line in out)


def run_time(ad, now):
    seconds = int(ad.get("RemoteWallClockTime", 0))
    if ad["JobStatus"] == 2 and isinstance(ad.get("JobCurrentStartDate"), int):
        seconds += now - ad["JobCurrentStartDate"]
    d, rest = divmod(seconds, 86400)
    return f"{d}+{rest // 3600:02d}:{rest % 3600 // 60:02d}:{rest % 60:02d}"


def totals(label, ads):
    count = {s: sum(1 for a in ads if a["JobStatus"] == s) for s in range(1, 8)}
    return (f"Total for {label}: {len(ads)} jobs; {count[4]} completed, {count[3]} removed, "
            f"{count[1]} idle, {count[2]} running, {count[5]} held, {count[7]} suspended \n")


def table(ads, everyone):
    """Roughly condor_q -nobatch."""
    now = int(time.time())
    out = [f"\n\n-- Schedd: {hostname()} : {SCHEDD_ADDRESS} @ {time.strftime('%m/%d/%y %H:%M:%S')}\n",
           f"{' ID':<5}{'':<4}{'OWNER':<14} {'  SUBMITTED':>11} {'    RUN_TIME':>12} ST PRI SIZE CMD\n"]
    for ad in ads:
        cmd = " ".join([os.path.basename(ad["Cmd"])] + [syntax.join_v2_raw(syntax.args_from_ad(ad))])
        out.append(f"{ad['ClusterId']:4d}.{ad['ProcId']:<3d} {ad['Owner']:<14} "
                   f"{time.strftime('%m/%d %H:%M', time.localtime(ad['QDate'])):>11} "
                   f"{run_time(ad, now):>12} {STATUS_LETTER.get(ad['JobStatus'], '?'):<2} "
                   f"{ad.get('JobPrio', 0):<3} {ad.get('ImageSize', 0) / 1024:>4.1f} {cmd.rstrip()}\n")
    out.append("\n" + totals("query", ads))
    out.append(totals(owner(), [a for a in everyone if a.get("Owner") == owner()]))
    out.append(totals("all users", everyone))
    return "".join(out)


def until(ads, since):
    """condor_history -since: the records read (newest first) before the given job, the first
    job of the given cluster, or the first record for which the expression is true."""
    c, dot, p = since.partition(".")
    if c.isdigit() and (not dot or p.isdigit()):
        stop = (lambda ad: f"{ad['ClusterId']}.{ad['ProcId']}" == f"{int(c)}.{int(p)}") if dot else (
            lambda ad: ad["ClusterId"] == int(c))
    else:
        tree = parse_expr(since, "since")
        stop = lambda ad: matches(ad, tree)  # noqa: E731
    for n, ad in enumerate(ads):
        if stop(ad):
            return ads[:n]
    return ads


def main(argv, tool="q"):
    o = parse_args(argv)
    state = State.from_env(f"condor_{tool}")
    with state.transaction(tool), state.lock(exclusive=False):
        # condor_history: every user's jobs that left the queue, the latest first
        everyone = state.queue() if tool == "q" else state.history_newest_first()
    if o["since"] is not None:
        everyone = until(everyone, o["since"])
    ads = select(everyone, dict(o, allusers=o["allusers"] or tool == "history"))
    if tool == "q":
        from .machine import negotiate

        negotiate(state)  # the double's negotiation cycle: idle jobs that fit now start
    if o["mode"] == "analyze":
        from .machine import better_analyze

        sys.stdout.write(better_analyze(ads, state))
    elif o["mode"] == "json":
        # ClassAdListWriter: "[" before the first ad, "," between, "]" only if any ad
        text = "".join(("[\n" if n == 0 else ",\n") + json_ad(ad, o["attrs"]) + "\n"
                       for n, ad in enumerate(ads))
        sys.stdout.write(text + ("]\n" if ads else ""))
    elif o["mode"] == "long":
        sys.stdout.write("".join(long_ad(ad, o["attrs"]) + "\n" for ad in ads))
    elif o["mode"] == "af":
        sys.stdout.write(autoformat(ads, o["af"], o["af_opts"]))
    else:
        sys.stdout.write(table(ads, everyone))
    return 0


def main_history(argv):
    return main(argv, "history")
