"""Why a cluster's jobs wait in the queue, from the pool's own analysis. No HTTP here.

When a cluster's oldest idle job has waited `coffea-casa.idle-analysis.after` seconds, its
card says why in one line: HTCondor's `condor_q -better-analyze` of that job (the
negotiator's matchmaking replayed against every machine of the pool), summarised, e.g.
"no machine matches: request_memory 64 GiB, largest slot 32 GiB" or "3 of 4 machines
busy". One analysis for all the waiting clusters at once, at most every `every` seconds;
Diagnose shows the pool's whole text. The htcondor2 bindings have no -better-analyze, so
the text is the command's; the slot sizes in the summary come from the collector (the
bindings, or condor_status).
"""

import asyncio
import json
import logging
import re
import subprocess
import time

from dask.utils import parse_timedelta

from . import config, schedd
from .errors import ClusterError

logger = logging.getLogger("coffea_casa_lab")

SLOT_ATTRIBUTES = ["Name", "Memory", "TotalSlotMemory", "Cpus", "TotalSlotCpus", "Disk", "TotalSlotDisk"]
_BLOCK = re.compile(r"^The Requirements expression for job (\d+)\.(\d+) is", re.MULTILINE)
_CONDITION = re.compile(r"^\[\d+\]\s+(\d+)\s+(\S.*?)\s*$", re.MULTILINE)
_ATTRIBUTE = re.compile(r"^ {4}(\w+) = (.+?)(?: \((?:kb|mb)\))?\s*$", re.MULTILINE)
_SUMMARY = re.compile(
    r"Run analysis summary[^\n]*Of (\d+) machines,\s+(\d+) are rejected by your job's requirements\s+"
    r"(\d+) reject your job because of their own requirements\s+(\d+) match and are already running your jobs\s+"
    r"(\d+) match but are serving other users\s+(\d+) are able to run your job")


def settings():
    """(after, every) in seconds, from `coffea-casa.idle-analysis`."""
    return (float(parse_timedelta(config.get("idle-analysis.after", 120), default="s")),
            float(parse_timedelta(config.get("idle-analysis.every", 60), default="s")))


# --- the pool's analysis ---------------------------------------------------------------------
async def analyze(job_ids):
    """{job id: analysis} of `condor_q -better-analyze` for these jobs, in one call."""
    return parse(await asyncio.to_thread(_better_analyze, sorted(job_ids)))


def _better_analyze(job_ids):
    try:
        out = subprocess.run(["condor_q", "-better-analyze", *job_ids], capture_output=True, text=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise ClusterError(f"condor_q -better-analyze failed: {e}", 502) from None
    if out.returncode != 0:
        raise ClusterError(f"condor_q -better-analyze failed: {out.stderr.strip() or out.returncode}", 502)
    return out.stdout


def parse(text):
    """{job id: {conditions: [{matched, condition}], machines, rejected, refusing, running_yours,
    serving_others, available, attributes, text}} from -better-analyze output (HTCondor 23)."""
    starts = list(_BLOCK.finditer(text))
    header = text[:starts[0].start()] if starts else ""
    analyses = {}
    for n, start in enumerate(starts):
        block = text[start.start(): starts[n + 1].start() if n + 1 < len(starts) else len(text)]
        job = f"{int(start.group(1))}.{int(start.group(2))}"
        summary = _SUMMARY.search(block)
        counts = [int(x) for x in summary.groups()] if summary else [0] * 6
        defined = block.split("defines the following attributes:", 1)[-1].split("\n\n", 2)
        analyses[job] = {
            "conditions": [{"matched": int(m), "condition": c} for m, c in _CONDITION.findall(block)],
            "machines": counts[0], "rejected": counts[1], "refusing": counts[2], "running_yours": counts[3],
            "serving_others": counts[4], "available": counts[5], "complete": summary is not None,
            "attributes": dict(_ATTRIBUTE.findall(defined[1])) if len(defined) > 1 else {},
            "text": (header + block).strip("\n") + "\n",
        }
    return analyses


async def slots():
    """The pool's slots: [{memory (MiB), cpus, disk (KiB)}], each at its largest (a partitionable
    slot's total, not what it has left)."""
    def with_bindings(_):
        import htcondor2

        return [dict(ad) for ad in htcondor2.Collector().query(htcondor2.AdType.Startd, projection=SLOT_ATTRIBUTES)]

    def with_command():
        out = subprocess.run(["condor_status", "-json", "-attributes", ",".join(SLOT_ATTRIBUTES)],
                             capture_output=True, text=True, timeout=60)
        if out.returncode != 0:
            raise ClusterError(f"condor_status failed: {out.stderr.strip() or out.returncode}", 502)
        return json.loads(out.stdout) if out.stdout.strip() else []

    ads = await schedd.call(with_bindings, lambda: asyncio.to_thread(with_command))
    return [{key: _number(ad.get(f"TotalSlot{attr}")) or _number(ad.get(attr)) for key, attr in
             (("memory", "Memory"), ("cpus", "Cpus"), ("disk", "Disk"))} for ad in ads]


# --- one line for the card ---------------------------------------------------------------------
def summarize(analysis, job_ad=None, pool_slots=()):
    """What keeps the job idle, in one line; None without an analysis."""
    if not analysis or not analysis["complete"]:
        return None
    total = analysis["machines"]
    busy = analysis["running_yours"] + analysis["serving_others"]
    if total == 0:
        return "the pool has no machine to run it"
    if analysis["available"]:
        return (f"{analysis['available']} of {total} {_machines(total)} can run it: waiting for the "
                "negotiator (or for your user priority)")
    if busy:
        who = "your other jobs" if not analysis["serving_others"] else "other users" if not analysis[
            "running_yours"] else "you and other users"
        rest = f", {analysis['rejected']} do not match" if analysis["rejected"] else ""
        return f"{busy} of {total} {_machines(total)} busy (running {who}){rest}"
    if analysis["refusing"] and not analysis["rejected"]:
        return f"{analysis['refusing']} of {total} {_machines(total)} refuse it by their own policy"
    failing = [c["condition"] for c in analysis["conditions"] if c["matched"] == 0]
    if not failing:
        return "no machine matches all of its requirements at once"
    return "no machine matches: " + "; ".join(_explain(c, job_ad or {}, analysis["attributes"], pool_slots)
                                              for c in failing)


def _machines(n):
    return "machine" if n == 1 else "machines"


_RESOURCES = {  # condition's attribute -> (request, its unit in bytes, the Dask worker's size, its unit)
    "Memory": ("request_memory", 2**20, "DaskWorkerMemory", 1),
    "Disk": ("request_disk", 2**10, "DaskWorkerDisk", 1),
    "Cpus": ("request_cpus", None, "DaskWorkerCores", None),
}


def _explain(condition, job_ad, attributes, pool_slots):
    m = re.fullmatch(r"TARGET\.(Memory|Disk|Cpus)\s*>=\s*(?:MY\.)?Request\1", condition)
    if not m:
        return condition
    resource = m.group(1)
    name, unit, worker_attr, worker_unit = _RESOURCES[resource]
    asked = _number(job_ad.get(f"Request{resource}")) or _number(attributes.get(f"Request{resource}"))
    if asked is None and _number(job_ad.get(worker_attr)) is not None:
        asked = _number(job_ad[worker_attr]) / (unit or 1) if unit else _number(job_ad[worker_attr])
    largest = max((s[resource.lower()] for s in pool_slots if s.get(resource.lower()) is not None), default=None)
    show = (lambda v: _size(v * unit)) if unit else (lambda v: f"{v:g}")
    text = name + (f" {show(asked)}" if asked is not None else "")
    if largest is not None:
        text += f", largest slot {show(largest)}" + ("" if unit else " cores")
    return text


def _number(value):
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return value
    try:
        return float(str(value))
    except ValueError:
        return None


def _size(n_bytes):
    for unit, size in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n_bytes >= size:
            return f"{n_bytes / size:.3g} {unit}"
    return f"{n_bytes:g} B"


# --- the cards' idle reasons, kept fresh in the background ---------------------------------------
class IdleReasons:
    """For each cluster whose jobs have waited long enough: the analysis of its oldest idle job."""

    def __init__(self, log=None):
        self.log = log or logger
        self._reasons = {}  # address -> {"job": id, "summary": text}
        self._asked = None  # monotonic time of the last analysis
        self._task = None

    def consider(self, idle_ads):
        """`idle_ads`: {address: its idle jobs' ads}, from the last condor_q."""
        after, every = settings()
        now = time.time()
        waiting = {}
        for address, ads in idle_ads.items():
            long_idle = [ad for ad in ads if (ad.get("EnteredCurrentStatus") or now) <= now - after]
            if long_idle:
                waiting[address] = min(long_idle, key=lambda ad: ad.get("EnteredCurrentStatus") or now)
        for address in set(self._reasons) - set(waiting):
            del self._reasons[address]  # nothing waits long any more
        new = any(a not in self._reasons for a in waiting)
        gap = None if self._asked is None else time.monotonic() - self._asked
        # a cluster that starts waiting is analysed soon, but the pool never more than every 10 s
        if waiting and self._task is None and (gap is None or gap >= every or (new and gap >= min(every, 10))):
            self._asked = time.monotonic()
            self._task = asyncio.ensure_future(self._analyze(waiting))
            self._task.add_done_callback(lambda _: setattr(self, "_task", None))

    async def _analyze(self, waiting):
        from .job_story import job_id

        try:
            analyses = await analyze([job_id(ad) for ad in waiting.values()])
            pool_slots = await slots()
        except Exception as e:
            self.log.warning("cannot analyse the idle jobs: %s", e)
            return
        for address, ad in waiting.items():
            line = summarize(analyses.get(job_id(ad)), ad, pool_slots)
            if line:
                self._reasons[address] = {"job": job_id(ad), "summary": line}

    def of(self, address):
        return self._reasons.get(address)


async def diagnose(cluster, job_id, watch):
    """Diagnose: the pool's whole analysis of one queued job of the cluster, and its summary."""
    from . import condor

    job, ad = await condor.find(cluster, job_id, watch)
    if cluster.backend != "htcondor":
        raise ClusterError("local workers start at once: there is no queue, nothing to analyse", 409)
    if not job.get("in_queue", True):
        raise ClusterError(f"job {job_id} has left the queue ({job['end']['text'] if job.get('end') else job['status']})",
                           409)
    analysis = (await analyze([job_id])).get(job_id)
    if analysis is None:
        raise ClusterError(f"condor_q -better-analyze said nothing of job {job_id}", 502)
    try:
        pool_slots = await slots()
    except Exception:  # the summary goes without the slot sizes
        pool_slots = []
    return {"id": job_id, "status": job["status"], "summary": summarize(analysis, ad, pool_slots),
            "text": analysis["text"]}
