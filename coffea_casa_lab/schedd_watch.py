"""What the schedd says about all of the user's HTCondor clusters, for the cards and the jobs
panes. No HTTP here.

However many clusters, cards and panes there are, each poll asks the schedd at most:
- ONE condor_q for the jobs of every cluster still in the queue (at most once per TTL);
- ONE condor_history for the jobs of every cluster whose jobs pane is open (at most once per
  TTL). The history file is read newest first and each query stops (`-since`) where the last
  one had read up to, so a poll reads only what left the queue since. A cluster seen for the
  first time is read back to its start, within the site's bound (`coffea-casa.job-history`).
Jobs are found by their DaskSchedulerAddress; an address a new cluster reuses (the documented
port 8786) does not bring back the jobs of the cluster before it: only jobs submitted since
the cluster started are its own.
"""

import asyncio
import logging
import time

from . import condor
from .job_story import history_bound, job_id, within_bound

logger = logging.getLogger("coffea_casa_lab")

TTL = 2.0  # seconds the schedd's answers are reused
PANE_TIMEOUT = 30.0  # a pane that has not asked for this long is closed: its cluster's history is not read
MARGIN = 120.0  # seconds read back before where the last history query stopped: jobs leave it nearly in order


class _Cached:
    """A query at most once per TTL, shared by everyone who asks meanwhile."""

    def __init__(self, fetch):
        self._fetch, self.stamp, self._task = fetch, None, None

    async def refresh(self, force=False, wait=None):
        if self._task is None and (force or self.stamp is None or time.monotonic() - self.stamp > TTL):
            self._task = task = asyncio.ensure_future(self._run())
            task.add_done_callback(lambda _: setattr(self, "_task", None))
        if self._task is not None:
            await asyncio.wait([self._task], timeout=wait)

    async def _run(self):
        try:
            await self._fetch()
        finally:
            self.stamp = time.monotonic()

    def forget(self):
        self.stamp = None


class ScheddWatch:
    def __init__(self, log=None):
        self.log = log or logger
        self.addresses = set()  # every HTCondor cluster of the user, as the cards last listed them
        self._queue = {}  # address -> [ad]
        self._history = {}  # address -> {job id: ad}
        self._panes = {}  # address -> (the cluster's start, epoch; monotonic time its pane last asked)
        self._read_up_to = {}  # address -> epoch down to which its history has been read
        self._left = set()  # addresses some of whose jobs left the queue since their history was read
        self._queue_query = _Cached(self._fetch_queue)
        self._history_query = _Cached(self._fetch_history)

    # --- the queue ------------------------------------------------------------------------
    async def refresh(self, addresses=None, wait=None):
        """Fresh queue ads, if the last are older than TTL. `addresses`: every HTCondor cluster of
        the user, as the cards list them (None: the last ones)."""
        addresses = self.addresses if addresses is None else set(addresses) - {None, ""}
        new = addresses - self.addresses
        self.addresses = set(addresses)
        if self.addresses:
            await self._queue_query.refresh(force=bool(new), wait=wait)

    async def refresh_one(self, address):
        """Fresh queue ads, for a pane of the cluster at `address` (one query for all, still)."""
        await self.refresh(self.addresses | {address})

    def seen(self, address):
        return address in self._queue

    def queue(self, address):
        return self._queue.get(address, [])

    def ad(self, address, job_id_):
        """The last ad of a job of this cluster, in the queue or in history; None if unknown."""
        queued = {job_id(ad): ad for ad in self.queue(address)}
        return queued.get(job_id_) or self._history.get(address, {}).get(job_id_)

    async def _fetch_queue(self):
        addresses = set(self.addresses)
        try:
            ads = await condor.query(condor.address_constraint(addresses))
        except Exception as e:  # the cards keep their last counts; a list must not fail for it
            self.log.warning("cannot query the HTCondor queue: %s", e)
            return
        by_address = {a: [] for a in addresses}
        for ad in ads:
            if ad.get("DaskSchedulerAddress") in by_address:
                by_address[ad["DaskSchedulerAddress"]].append(ad)
        for address, now in by_address.items():  # jobs that left: a pane reads them from history at once
            if {job_id(ad) for ad in self._queue.get(address, [])} - {job_id(ad) for ad in now}:
                self._left.add(address)
        self._queue = by_address

    # --- the history ------------------------------------------------------------------------
    async def history(self, address, started):
        """The ads of the cluster's jobs that left the queue since `started`, within the site's bound."""
        started = started or 0.0
        if address in self._panes and self._panes[address][0] != started:  # a new cluster at this address
            self._history.pop(address, None)
            self._read_up_to.pop(address, None)
        first = address not in self._read_up_to
        self._panes[address] = (started, time.monotonic())
        await self._history_query.refresh(force=first or address in self._left)
        return [ad for ad in self._history.get(address, {}).values() if (ad.get("QDate") or 0) >= started - 1]

    async def _fetch_history(self):
        now_wall, now = time.time(), time.monotonic()
        panes = {a: s for a, (s, asked) in self._panes.items() if now - asked < PANE_TIMEOUT}
        for gone in set(self._panes) - set(panes):  # its pane closed: nothing kept for it
            self._panes.pop(gone)
            self._history.pop(gone, None)
            self._read_up_to.pop(gone, None)
        if not panes:
            return
        _, max_age = history_bound()
        back_to = min(self._read_up_to.get(a, started) for a, started in panes.items()) - MARGIN
        back_to = max(back_to, now_wall - max_age)
        try:
            ads = await condor.history(condor.address_constraint(panes), f"EnteredCurrentStatus < {int(back_to)}")
        except Exception as e:
            self.log.warning("cannot read the HTCondor history: %s", e)
            return
        for ad in ads:
            address = ad.get("DaskSchedulerAddress")
            if address in panes and (ad.get("QDate") or 0) >= panes[address] - 1:
                self._history.setdefault(address, {})[job_id(ad)] = ad
        for address in panes:
            self._left.discard(address)
            self._read_up_to[address] = now_wall
            kept = within_bound(self._history.get(address, {}).values(), lambda a: a.get("EnteredCurrentStatus"), now_wall)
            self._history[address] = {job_id(a): a for a in kept}

    def forget(self):
        """After the user acted on a job: the next look asks the schedd again."""
        self._queue_query.forget()
        self._history_query.forget()
