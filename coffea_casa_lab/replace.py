"""Lost workers are replaced; held jobs are the user's. No HTTP here.

HTCondor evicts and preempts jobs, admins and memory limits remove them, and a submission
can fail. distributed's SpecCluster would close a job whose worker has been gone for its
lost-worker timeout (15 s), held jobs included, and forget it without a replacement, so
the cluster stayed short. CoffeaCasaCluster leaves that decision to this Replacer, in the
cluster's own process. A worker job is lost when
- its submission failed, it left the queue or was removed (HTCondor: one condor_q for the
  whole cluster, asked at once when a connected worker goes away, else at most every 6
  intervals while some job waits for its worker), or its local Nanny closed;
- or its job still runs but its worker, once connected, has been gone for `grace` seconds.
A held job is not lost: it stays until the user releases it (its worker comes back under
the same name) or removes it. A lost job is dropped from the plan (SpecCluster then
removes the job) and a new worker takes its place, so the cluster keeps the size scale()
asked for or adapt() wants. `max-failures` losses within `window` seconds and replacing
stops: `error` says why, until the next scale() or adapt().
"""

import asyncio
import collections
import logging
import time

from distributed.core import Status
from distributed.deploy.spec import SpecCluster

from . import config
from .job_book import book_of
from .job_story import COMPLETED, HELD, IDLE, REMOVED

logger = logging.getLogger("coffea_casa")


def _settings():
    s = config.get("lost-workers", {}) or {}
    return (float(s.get("check-interval", 5)), float(s.get("grace", 30)),
            int(s.get("max-failures", 3)), float(s.get("window", 600)))


class Replacer:
    def __init__(self):
        self.interval, self.grace, self.max_failures, self.window = _settings()
        self.missing = {}  # name -> monotonic time its connected worker went away
        self.failures = collections.deque()  # (monotonic time, reason)
        self.stopped = None  # why lost workers are no longer replaced
        self.start_failure = None  # (monotonic time, why) of the last job that could not start
        self._asked = 0.0  # when the schedd was last asked
        self._wake = asyncio.Event()

    @property
    def error(self):
        """What the card says: replacing stopped, or the last job could not be started."""
        return self.stopped or (self.start_failure and self.start_failure[1])

    def reset(self):
        """A new scale() or adapt() from the user: try again."""
        self.failures.clear()
        self.stopped = None

    # --- what the scheduler tells the cluster, as it happens --------------------------
    def joined(self, name):
        self.missing.pop(str(name), None)

    def left(self, name):
        if name is not None:
            self.missing.setdefault(str(name), time.monotonic())
            self._wake.set()  # ask the queue now: the job may be gone

    async def run(self, ref):
        """Check every `interval` seconds (and when a worker leaves) while the cluster runs."""
        while True:
            try:
                await asyncio.wait_for(self._wake.wait(), self.interval)
            except asyncio.TimeoutError:
                pass
            self._wake.clear()
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
        jobs = {name: job for name, job in list(cluster.workers.items()) if name in cluster.worker_spec}
        lost = {name: f"the worker job for {name} could not be started: {job.start_error}"
                for name, job in jobs.items() if job.status == Status.failed and getattr(job, "start_error", None)}
        jobs = {name: job for name, job in jobs.items() if job.status == Status.running}
        if lost:
            self.start_failure = (time.monotonic(), next(iter(lost.values())))
        elif self.start_failure and any(getattr(j, "started_at", 0) > self.start_failure[0] for j in jobs.values()):
            self.start_failure = None  # a job started since
        up = {name for name in jobs if _connected(name, connected)}
        for name in up:
            self.joined(name)
        gone, states = await self._queue(cluster, {n: j for n, j in jobs.items() if n not in up})
        lost.update(gone)
        now = time.monotonic()
        running = set()  # lost workers whose jobs still run: the cluster removes those itself
        for name in set(self.missing) - (set(jobs) - up):
            del self.missing[name]  # back, or no longer ours
        for name, since in self.missing.items():
            if states.get(name) in (HELD, IDLE):
                # Held: the user's. Idle again (released, vacated, evicted): HTCondor runs it again by
                # itself. Either way the grace counts from when it runs again.
                self.missing[name] = now
            elif name not in lost and now - since >= self.grace:
                lost[name] = f"worker {name} (job {jobs[name].job_id}) has been gone for {self.grace:g} s"
                running.add(name)
        if lost:
            self.replace(cluster, lost, running)

    async def _queue(self, cluster, waiting):
        """({name: reason} of jobs gone from the batch system, {name: JobStatus} of the others)."""
        lost, states = {}, {}
        if cluster.backend != "htcondor":
            for name, job in waiting.items():
                if any(n.status in (Status.closing, Status.closed, Status.failed) for n in getattr(job, "nannies", ())):
                    lost[name] = f"the worker process of {name} is gone for good"
            return lost, states
        now = time.monotonic()
        urgent = any(name in self.missing for name in waiting)  # a worker we had went away
        if not waiting or (not urgent and now - self._asked < 6 * self.interval):
            return lost, states
        from .condor import cluster_ads
        from .job_logs import fetch_spooled

        self._asked = now
        ads = {f"{a['ClusterId']}.{a['ProcId']}": a for a in await cluster_ads(cluster.scheduler_address)}
        spooled = []
        for name, job in waiting.items():
            ad = ads.get(str(job.job_id))
            if ad is None:
                lost[name] = f"job {job.job_id} (worker {name}) left the queue"
            elif ad.get("JobStatus") == REMOVED:
                lost[name] = f"job {job.job_id} (worker {name}) was removed"
            elif ad.get("JobStatus") == COMPLETED:  # a spooled job that exited waits in the queue
                lost[name] = f"job {job.job_id} (worker {name}) exited with code {ad.get('ExitCode')}"
                spooled.append(str(job.job_id))
            else:
                states[name] = ad.get("JobStatus")
        if spooled:  # its output, before the cluster removes it (and the spool with it)
            try:
                await fetch_spooled(spooled)
            except Exception as e:  # the job is replaced all the same
                logger.warning("cannot fetch the output of jobs %s: %s", ", ".join(spooled), e)
        return lost, states

    def replace(self, cluster, lost, running=()):
        now = time.monotonic()
        for name, reason in lost.items():
            logger.warning("cluster %s: %s", cluster.name, reason)
            self.failures.append((now, reason))
            self.missing.pop(name, None)
        while self.failures and now - self.failures[0][0] > self.window:
            self.failures.popleft()
        size = len(cluster.worker_spec)
        book = book_of(cluster)
        for name, reason in lost.items():
            if book is not None:  # the job's story: replaced, and whether it was gone already
                book.why(name, f"replaced: {reason}", gone=name not in running)
            del cluster.worker_spec[name]  # SpecCluster removes its job
        if len(self.failures) >= self.max_failures:
            self.stopped = (f"{len(self.failures)} workers were lost within {self.window / 60:g} minutes, so lost "
                          f"workers are no longer replaced (last: {self.failures[-1][1]}). Scale or adapt to try again.")
            logger.error("cluster %s: %s", cluster.name, self.stopped)
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
