"""The HTCondor queue on the cards: idle, running and held jobs per cluster, why jobs are held,
and why they wait. No HTTP here.

The ads come from the ScheddWatch: one `condor_q` for all of the user's HTCondor clusters,
at most once per TTL, however often the sidebar polls and however many clusters it shows.
Why jobs wait comes from the pool's own analysis, in the background (IdleReasons).
"""

import time

from .idle_analysis import IdleReasons, settings
from .job_story import IDLE, STATUS
from .schedd_watch import ScheddWatch

FIRST_WAIT = 2.0  # how long a list waits for the first counts
WAIT = 0.05  # how long it waits for fresh counts before it answers with the last ones


def waited(seconds):
    """45 s, 12 min, 2 h 5 min: how long a job has waited, to the unit that matters."""
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min"
    return f"{seconds // 3600} h {seconds % 3600 // 60} min"


class QueueCounts:
    def __init__(self, log=None):
        self.watch = ScheddWatch(log)
        self.idle_reasons = IdleReasons(log)

    def of(self, scheduler_address):
        """The card's queue model of the cluster at `scheduler_address`, or None before the first query."""
        if not self.watch.seen(scheduler_address):
            return None
        ads = self.watch.queue(scheduler_address)
        counts = {"idle": 0, "running": 0, "held": 0, "hold_reasons": [], "idle_reason": None, "idle_job": None}
        for ad in ads:
            state = STATUS.get(ad.get("JobStatus"))
            if state not in ("idle", "running", "held"):
                continue
            counts[state] += 1
            reason = ad.get("HoldReason")
            if state == "held" and reason and reason not in counts["hold_reasons"]:
                counts["hold_reasons"].append(reason)
        why = self.idle_reasons.of(scheduler_address)
        if why is not None:
            counts.update(idle_reason=self._line(ads, why["summary"]), idle_job=why["job"])
        return counts

    @staticmethod
    def _line(ads, summary):
        after, _ = settings()
        now = time.time()
        waits = [now - (ad.get("EnteredCurrentStatus") or now) for ad in ads if ad.get("JobStatus") == IDLE]
        waits = [w for w in waits if w >= after]
        if not waits:
            return summary
        jobs = "1 job" if len(waits) == 1 else f"{len(waits)} jobs"
        return f"{jobs} waiting for {waited(max(waits))}: {summary}"

    async def refresh(self, records):
        """Fresh counts for the HTCondor clusters among `records`, if the last ones are older than the TTL."""
        addresses = {r.get("scheduler_address") for r in records if r.get("backend") == "htcondor"} - {None, ""}
        if not addresses:
            return
        first = not all(self.watch.seen(a) for a in addresses)
        await self.watch.refresh(addresses, wait=FIRST_WAIT if first else WAIT)
        self.idle_reasons.consider({a: [ad for ad in self.watch.queue(a) if ad.get("JobStatus") == IDLE]
                                    for a in addresses if self.watch.seen(a)})
