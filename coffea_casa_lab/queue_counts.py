"""The HTCondor queue's counts for the cards: idle, running and held jobs per cluster. No HTTP here.

One `condor_q` for all of the user's HTCondor clusters, at most once per QUEUE_TTL,
however often the sidebar polls and however many clusters it shows.
"""

import asyncio
import logging
import time

from . import condor

logger = logging.getLogger("coffea_casa_lab")

QUEUE_TTL = 2.0  # seconds the counts are reused
FIRST_WAIT = 2.0  # how long a list waits for the first counts
WAIT = 0.05  # how long it waits for fresh counts before it answers with the last ones


class QueueCounts:
    def __init__(self, log=None):
        self.log = log or logger
        self._counts = (None, {})  # (monotonic time, {scheduler address: idle/running/held counts})
        self._task = None

    def of(self, scheduler_address):
        """The counts of the cluster at `scheduler_address`, or None before the first query."""
        return self._counts[1].get(scheduler_address)

    async def refresh(self, records):
        """Fresh counts for the HTCondor clusters among `records`, if the last ones are older than QUEUE_TTL."""
        addresses = {r.get("scheduler_address") for r in records if r.get("backend") == "htcondor"} - {None, ""}
        stamp = self._counts[0]
        if not addresses:
            return
        if self._task is None and (stamp is None or time.monotonic() - stamp > QUEUE_TTL
                                   or not addresses <= set(self._counts[1])):
            self._task = task = asyncio.ensure_future(self._fetch(addresses))
            task.add_done_callback(lambda _: setattr(self, "_task", None))
        if self._task is not None:
            await asyncio.wait([self._task], timeout=FIRST_WAIT if stamp is None else WAIT)

    async def _fetch(self, addresses):
        try:
            status = await condor.queue_status(addresses)
        except Exception as e:  # the cards keep their last counts; the list must not fail for it
            self.log.warning("cannot query the HTCondor queue: %s", e)
            status = self._counts[1]
        self._counts = (time.monotonic(), status)
