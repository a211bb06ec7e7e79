"""ClusterListing: what the sidebar sees of the user's clusters, polled. No HTTP here.

Every cluster is found in the registry; its live numbers are asked of its control
(cached for INFO_TTL, so a poll never waits long on a slow cluster) and the HTCondor
queue's counts come from one condor_q for all. It also notices clusters whose process
died (lost, until dismissed) and sidebar clusters that no live server owns (orphans,
handed to `on_orphan` for adoption).
"""

import asyncio
import logging
import os
import time
from pathlib import Path

from . import registry
from .errors import ClusterError
from .models import FAILED, LOST, gone_model, registered_model, starting_model
from .queue_counts import QueueCounts

logger = logging.getLogger("coffea_casa_lab")

INFO_TTL = 0.5  # seconds a cluster's live numbers are reused before they are asked again
INFO_WAIT = 0.05  # how long a list waits for fresh numbers before it answers with the last ones
FIRST_INFO_WAIT = 2.0  # how long it waits for the first numbers of a cluster it has not listed yet


class ClusterListing:
    """The models of every cluster of the user.

    `spawned` (id -> the server's host processes still around) and `closing` (ids being
    closed) belong to the manager; this reads them, and forgets a spawn whose host died.
    """

    def __init__(self, reader, caller, *, spawned, closing, on_orphan, recording, prefix="coffea-casa/",
                 log=None, root_dir=None, kernel_paths=None):
        self.reader = reader
        self._caller = caller  # () -> control.Caller, made on first use
        self._spawned, self._closing = spawned, closing
        self._on_orphan = on_orphan  # (record) -> None: a sidebar cluster no live server owns
        self._recording = recording  # (id) -> whether a performance report is being recorded
        self.prefix = prefix
        self.log = log or logger
        self.root_dir = Path(root_dir or os.getcwd()).expanduser().resolve()
        self.kernel_paths = kernel_paths  # async () -> {kernel_id: notebook path}, from the server's sessions
        self._kernel_paths = {}
        self._seen = {}  # id -> record, of clusters listed before: to tell when one is lost
        self._lost = {}  # id -> model of a cluster whose process died
        self._info = {}  # id -> (monotonic time, info from its control)
        self._refreshing = {}  # id -> task asking for its live numbers
        self.queue = QueueCounts(self.log)

    # --- what the sidebar asks ----------------------------------------------------------
    async def list(self):
        records = self.records()
        await asyncio.gather(self._refresh_infos(records), self.queue.refresh(records))
        if self.kernel_paths and any(r.get("kind") == registry.KERNEL for r in records):
            try:
                self._kernel_paths = await self.kernel_paths()
            except Exception as e:  # the notebook's name is a nicety; the list must not fail for it
                self.log.debug("cannot read the server's sessions: %s", e)
        models = [self.model_of(r) for r in records]
        recorded = {r["id"] for r in records}
        models += [self.starting(id) for id in self._spawned if id not in recorded]
        models += list(self._lost.values())
        return models

    def count(self):
        return len({r["id"] for r in self.records()} | set(self._spawned) | set(self._lost))

    async def model(self, id):
        for model in await self.list():
            if model["id"] == id:
                return model
        raise ClusterError(f"no cluster with id {id!r}", 404)

    def model_of(self, record):
        """The model of a registered cluster, with the numbers last fetched."""
        id = record["id"]
        return registered_model(
            record, (self._info.get(id) or (0, {}))[1], prefix=self.prefix, where=self._where(record),
            recording=self._recording(id), queue=self.queue.of(record.get("scheduler_address")),
        )

    def starting(self, id):
        spawn = self._spawned[id]
        return starting_model(id, spawn.name, spawn.proc.pid, spawn.options, prefix=self.prefix)

    # --- what the commands tell it ------------------------------------------------------
    def note_info(self, id, info):
        """Fresh numbers a command got back (a scale, an adapt): the next list shows them."""
        self._info[id] = (time.monotonic(), info)

    def forget(self, id):
        """A cluster that was closed: not lost, nothing to show."""
        self._info.pop(id, None)
        self._seen.pop(id, None)

    def is_lost(self, id):
        return id in self._lost

    def dismiss(self, id):
        """The model of a lost cluster, taken off the list."""
        return self._lost.pop(id)

    # --- the registry ---------------------------------------------------------------------
    def records(self):
        """Live records; notes the clusters whose process died, and hands on orphans."""
        for spawn in self._spawned.values():
            spawn.proc.poll()  # reap a host that died, so that it does not linger as a zombie
        records = self.reader.records()
        ids = {r["id"] for r in records}
        for id, spawn in list(self._spawned.items()):
            if spawn.proc.poll() is None or id in ids:
                continue
            del self._spawned[id]  # the host is gone (and now reaped)
            if id not in self._closing:
                record = self._seen.pop(id, None)
                status = LOST if record else FAILED  # died running, or before it had a record
                self._gone(id, spawn.name, spawn.proc.returncode, status, record)
        for id, record in list(self._seen.items()):
            if id not in ids:
                del self._seen[id]
                self._info.pop(id, None)
                # A sidebar host removes its record only when asked; a script's record left behind
                # means it died. A kernel's cluster just goes with its kernel.
                died = record.get("kind") == registry.SIDEBAR or (
                    record.get("kind") == registry.SCRIPT and id in self.reader.dropped)
                if died and id not in self._closing:
                    self._gone(id, record["name"], None, LOST, record)
        self.reader.dropped.clear()
        for record in records:
            self._seen[record["id"]] = record
            if record.get("kind") == registry.SIDEBAR and not registry.alive(
                record.get("server_pid"), record.get("server_started")
            ):
                self._on_orphan(record)
        return records

    def _gone(self, id, name, returncode, status, record):
        model = gone_model(id, name, returncode, status, record, prefix=self.prefix)
        self.log.warning("cluster %s (%s) %s", id, name, model["error"])
        self._lost[id] = model

    # --- live numbers -----------------------------------------------------------------------
    async def _refresh_infos(self, records):
        now = time.monotonic()
        tasks, new = [], []
        for record in records:
            id = record["id"]
            seen = self._info.get(id)
            if id not in self._refreshing and (seen is None or now - seen[0] > INFO_TTL):
                self._refreshing[id] = task = asyncio.ensure_future(self._fetch_info(record))
                task.add_done_callback(lambda _, id=id: self._refreshing.pop(id, None))
            if id in self._refreshing:
                (tasks if seen else new).append(self._refreshing[id])
        # New clusters are waited for (so they appear complete); known ones only briefly.
        if new:
            await asyncio.wait(new, timeout=FIRST_INFO_WAIT)
        if tasks:
            await asyncio.wait(tasks, timeout=INFO_WAIT)

    async def _fetch_info(self, record):
        try:
            info = await self._caller().call(record["control"], "info")
        except ClusterError as e:
            info = {"unreachable": str(e)}
        if not isinstance(info, dict):  # a Dask server without our handlers answers None (a stale record)
            info = {"unreachable": f"no coffea-casa cluster answers at {record['control']}"}
        self._info[record["id"]] = (time.monotonic(), info)

    def _where(self, record):
        """The notebook of a kernel's cluster (relative to the server's root), or the script's command."""
        if record.get("kind") != registry.KERNEL:
            return record.get("where")
        path = self._kernel_paths.get(record.get("kernel_id"))
        if path:
            return path
        where = record.get("where")
        if where and Path(where).is_absolute():
            with_root = Path(where).resolve()
            if with_root.is_relative_to(self.root_dir):
                return with_root.relative_to(self.root_dir).as_posix()
        return where
