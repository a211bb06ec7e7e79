"""Lost workers are replaced. No HTTP here.

HTCondor evicts and preempts jobs, admins and memory limits remove them; SpecCluster
would keep the job in its plan for good and the cluster stays short. Here, in the
cluster's own process, a worker job is lost when
- it left the queue or was removed (HTCondor: one condor_q for the whole cluster, asked
  when a connected worker went missing, else at most every 6 intervals while some job
  waits for its worker), or its local Nanny closed;
- or its worker was connected and has been gone for `grace` seconds.
A lost job is dropped from the plan (SpecCluster then removes the job) and a new worker
takes its place, so the cluster keeps the size scale() asked for or adapt() wants. Held
jobs are the user's to release or remove. `max-failures` losses within `window` seconds
and replacing stops: `error` says why, until the next scale() or adapt().
"""

import asyncio
import collections
import logging
import time

from distributed.core import Status
from distributed.deploy.spec import SpecCluster

from . import config

logger = logging.getLogger("coffea_casa")
HELD, REMOVED = 5, 3


def _settings():
    s = config.get("lost-workers", {}) or {}
    return (float(s.get("check-interval", 5)), float(s.get("grace", 30)),
            int(s.get("max-failures", 3)), float(s.get("window", 600)))


class Replacer:
    def __init__(self):
        self.interval, self.grace, self.max_failures, self.window = _settings()
        self.seen = set()  # names of jobs whose worker has connected
        self.missing = {}  # name -> monotonic time its connected worker was first missed
        self.failures = collections.deque()  # (monotonic time, reason)
        self.error = None
        self._asked = 0.0  # when the schedd was last asked

    def reset(self):
        """A new scale() or adapt() from the user: try again."""
        self.failures.clear()
        self.error = None

    async def run(self, ref):
        """Check every `interval` seconds while the cluster (a weak reference) runs."""
        while True:
            await asyncio.sleep(self.interval)
            cluster = ref()
            if cluster is None or cluster.status != Status.running:
                return
            try:
                await self.check(cluster)
            except Exception as e:  # a failed check must not end the watching
                logger.warning("checking for lost workers failed: %s", e)
            del cluster

    async def check(self, cluster):
        connected = {str(w.get("name")) for w in (cluster.scheduler_info.get("workers") or {}).values()}
        jobs = {name: job for name, job in list(cluster.workers.items())
                if name in cluster.worker_spec and job.status == Status.running}
        up = {name for name in jobs if _connected(name, connected)}
        self.seen |= up
        lost, held = await self._gone(cluster, {n: j for n, j in jobs.items() if n not in up})
        now = time.monotonic()
        for name in set(self.missing) - (set(jobs) - up - held):
            del self.missing[name]  # back, held, or no longer ours
        for name in set(jobs) - up - held - set(lost):
            if name in self.seen and now - self.missing.setdefault(name, now) >= self.grace:
                lost[name] = f"worker {name} (job {jobs[name].job_id}) has been gone for {self.grace:g} s"
        if lost:
            self.replace(cluster, lost)

    async def _gone(self, cluster, waiting):
        """({name: reason} of jobs gone from the batch system, names of held jobs)."""
        lost, held = {}, set()
        if cluster.backend != "htcondor":
            for name, job in waiting.items():
                if any(n.status in (Status.closing, Status.closed, Status.failed) for n in getattr(job, "nannies", ())):
                    lost[name] = f"the worker process of {name} is gone for good"
            return lost, held
        now = time.monotonic()
        urgent = any(name in self.seen for name in waiting)  # a worker we had is missing
        if not waiting or (not urgent and now - self._asked < 6 * self.interval):
            return lost, held
        from .condor import _condor_ads

        self._asked = now
        ads = {f"{a['ClusterId']}.{a['ProcId']}": a for a in await _condor_ads(cluster)}
        for name, job in waiting.items():
            ad = ads.get(str(job.job_id))
            if ad is None:
                lost[name] = f"job {job.job_id} (worker {name}) left the queue"
            elif ad.get("JobStatus") == REMOVED:
                lost[name] = f"job {job.job_id} (worker {name}) was removed"
            elif ad.get("JobStatus") == HELD:
                held.add(name)
        return lost, held

    def replace(self, cluster, lost):
        now = time.monotonic()
        for name, reason in lost.items():
            logger.warning("cluster %s: %s", cluster.name, reason)
            self.failures.append((now, reason))
            self.seen.discard(name)
            self.missing.pop(name, None)
        while self.failures and now - self.failures[0][0] > self.window:
            self.failures.popleft()
        size = len(cluster.worker_spec)
        for name in lost:
            del cluster.worker_spec[name]  # SpecCluster removes its job
        if len(self.failures) >= self.max_failures:
            self.error = (f"{len(self.failures)} workers were lost within {self.window / 60:g} minutes, so lost "
                          f"workers are no longer replaced (last: {self.failures[-1][1]}). Scale or adapt to try again.")
            logger.error("cluster %s: %s", cluster.name, self.error)
            adaptive = getattr(cluster, "_adaptive", None)
            if adaptive is not None:
                adaptive.stop()
                cluster._adaptive = None
            cluster.loop.add_callback(cluster._correct_state)
        else:
            cluster._i += 1  # fresh names: a reused one would keep the lost job as if it were alive
            SpecCluster.scale(cluster, size)  # the lost jobs are removed on the way


def _connected(name, connected):
    """A job's worker is connected (several worker processes per job: `name-0`, `name-1`...)."""
    return name in connected or any(c.startswith(f"{name}-") for c in connected)
