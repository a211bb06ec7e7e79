"""ClusterManager: what the sidebar does to the user's clusters, wherever they live. No HTTP here.

Sidebar clusters run in host processes of their own (coffea_casa_lab.host) that this
manager starts; notebook and script clusters register themselves. All are found in
the registry and driven through their control handlers, so the Jupyter server holds
no scheduler, and a restarted server finds (adopts) its clusters again. What the
sidebar sees of them (the polled list and its models) is the ClusterListing's.
"""

import asyncio
import json
import logging
import os
import re
import signal
import subprocess
import sys
import time

from . import keep, registry, site_options
from .control import Caller
from .errors import ClusterError
from .listing import ClusterListing
from .models import CLOSED, LOST, RUNNING, STARTING, closed_model
from .options import check_adapt, check_options, check_workers, labextension_config, with_default_size
from .standby import Standby

logger = logging.getLogger("coffea_casa_lab")

CLOSE_TIMEOUT = 60.0


class RemoteCluster:
    """A registered cluster, as the jobs, reports and files code needs it."""

    def __init__(self, record, caller):
        self.id, self.name = record["id"], record["name"]
        self.backend = record.get("backend") or "local"
        self.scheduler_address = record.get("scheduler_address") or ""
        self.security = caller.security
        self._caller, self._control = caller, record["control"]

    async def call(self, op, **kwargs):
        return await self._caller.call(self._control, op, **kwargs)

    def client(self):
        """An asynchronous Client of the cluster's scheduler, with the user's TLS settings."""
        from distributed import Client

        return Client(self.scheduler_address, security=self.security, asynchronous=True,
                      set_as_default=False, timeout=30)


class _Spawn:
    """A host process this server started, until it is gone."""

    def __init__(self, proc, name, options):
        self.proc, self.name, self.options = proc, name, options
        self.created = time.time()


class ClusterManager:
    def __init__(self, prefix="coffea-casa/", log=None, root_dir=None, kernel_paths=None, security=None):
        self.log = log or logger  # the Jupyter server's log, so cluster events show there
        self.prefix = prefix  # dashboard URLs are `{prefix}dashboard/{id}/`, relative to base_url
        self.pid, self.pid_started = os.getpid(), registry.process_started(os.getpid())
        self.reader = registry.Reader()
        self._security = security
        self._caller = None
        self._spawned = {}  # id -> _Spawn
        self._closing = set()
        self._adopting = {}  # id -> task adopting it
        self.reports = {}  # id -> {"start", "last_count"} while recording a performance report
        self.standby = Standby(self.pid, log=self.log)  # a warm host for the next + NEW
        self.listing = ClusterListing(
            self.reader, lambda: self.caller, spawned=self._spawned, closing=self._closing,
            on_orphan=self._adopt, recording=lambda id: id in self.reports,
            prefix=prefix, log=self.log, root_dir=root_dir, kernel_paths=kernel_paths,
        )

    @property
    def caller(self):
        if self._caller is None:
            from .security import make_security

            self._caller = Caller(self._security or make_security())
        return self._caller

    # --- what the sidebar sees (the listing's) ------------------------------------------
    async def list(self):
        return await self.listing.list()

    def count(self):
        return self.listing.count()

    async def model(self, id):
        return await self.listing.model(id)

    # --- starting -------------------------------------------------------------------
    def start_cluster(self, request=None):
        """Start a sidebar cluster in a host process of its own; its model, status starting.

        `request`: {name, workers | adapt, options: {the site's cluster options}, keep}.
        """
        cfg = labextension_config()
        request = dict(request) if isinstance(request, dict) else check_options(request or {})  # refuses a non-object
        values = request.pop("options", None)
        cluster = site_options.check_request({} if values is None else values)
        kept = keep.for_new_cluster(request)
        request.pop("keep", None)
        options = dict(with_default_size(check_options(request), cfg["default"]), cluster=cluster, keep=kept)
        name = options.pop("name", None) or self._next_name()
        warm = self.standby.hand_over(name, options)
        if warm is not None:
            id, proc = warm
            self.log.info("cluster %s (%s): handed to the standby host process %s", id, name, proc.pid)
        else:
            id = registry.new_id()
            proc = self._start_host(id, name, options)
            self.log.info("cluster %s (%s): host process %s started", id, name, proc.pid)
        self.standby.start_later()  # the next + NEW's
        self._spawned[id] = _Spawn(proc, name, options)
        return self.listing.starting(id)

    def _start_host(self, id, name, options):
        log = os.open(registry.log_path(id), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            return subprocess.Popen(
                # --name=: a name that starts with "-" is still the name, not an option
                [sys.executable, "-m", "coffea_casa_lab.host", "--id", id, f"--name={name}",
                 "--options", json.dumps(options), "--server-pid", str(self.pid)],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,  # its own session: a Ctrl-C or a signal to the server's group misses it
            )
        finally:
            os.close(log)

    def start_initial(self):
        """Start the `labextension.initial` clusters, unless clusters of this user already run."""
        try:
            initial = labextension_config()["initial"]
        except ClusterError as e:
            self.log.error("labextension.initial: %s", e)
            return []
        if any(r.get("kind") == registry.SIDEBAR for r in self.reader.records()):
            return []  # a restarted server finds them again instead
        models = []
        for options in initial:
            try:
                models.append(self.start_cluster({k: options.get(k) for k in ("name", "workers", "adapt")}))
            except ClusterError as e:
                self.log.error("labextension.initial entry %r: %s", options, e)
        return models

    def _next_name(self):
        names = {r.get("name") for r in self.reader.records()} | {s.name for s in self._spawned.values()}
        n = 1
        while f"Cluster {n}" in names:
            n += 1
        return f"Cluster {n}"

    # --- adopting ----------------------------------------------------------------------
    def _adopt(self, record):
        async def adopt():
            try:
                await self.caller.call(record["control"], "adopt", server_pid=self.pid, server_started=self.pid_started)
                self.log.info("adopted cluster %s (%s)", record["id"], record["name"])
            except ClusterError as e:
                self.log.warning("cannot adopt cluster %s: %s", record["id"], e)

        if record["id"] not in self._adopting:
            self._adopting[record["id"]] = task = asyncio.ensure_future(adopt())
            task.add_done_callback(lambda _: self._adopting.pop(record["id"], None))

    async def adopt_orphans(self):
        """At start-up: take over the sidebar clusters that a stopped or crashed server left."""
        records = self.listing.records()
        if records:
            self.log.info("found %d running cluster(s) in %s", len(records), registry.directory())
        await asyncio.gather(*self._adopting.values(), return_exceptions=True)

    # --- what the sidebar does ----------------------------------------------------------
    async def running(self, id):
        """The registered, running cluster `id` (for jobs, reports, packages and files)."""
        record = self._record(id)
        status = self.listing.model_of(record)["status"]
        if status == STARTING and record.get("status") == RUNNING:
            status = RUNNING  # the host writes its record as it starts: the numbers last polled are older
        if status != RUNNING:
            raise ClusterError(f"cluster {id} is {status}, not running", 409)
        return RemoteCluster(record, self.caller)

    def _record(self, id):
        self.listing.records()
        record = self.reader.get(id)
        if record is None:
            if self.listing.is_lost(id) or id in self._spawned:
                raise ClusterError(f"cluster {id} is {LOST if self.listing.is_lost(id) else STARTING}", 409)
            raise ClusterError(f"no cluster with id {id!r}", 404)
        return record

    async def _control(self, id):
        """The record of `id`; for a host that is still coming up, wait until it has one."""
        deadline = time.monotonic() + 60
        while id in self._spawned and self.reader.get(id) is None:
            self.listing.records()
            if self.listing.is_lost(id):
                break
            if time.monotonic() > deadline:
                raise ClusterError(f"cluster {id} did not come up in time", 504)
            await asyncio.sleep(0.05)
        return self._record(id)

    async def scale(self, id, workers):
        workers = check_workers(workers)
        return await self._resize(id, "scale", n=workers)

    async def adapt(self, id, adapt):
        adapt = check_adapt(adapt)
        return await self._resize(id, "adapt", **adapt)

    async def _resize(self, id, op, **kwargs):
        record = await self._control(id)
        info = await self.caller.call(record["control"], op, **kwargs)
        self.listing.note_info(id, info)
        return self.listing.model_of(record)

    async def close(self, id):
        """Close a cluster (its workers and jobs), wherever it lives; or dismiss a lost one."""
        if self.listing.is_lost(id):
            registry.remove(id, log=True)
            return dict(self.listing.dismiss(id), status=CLOSED)
        spawn = self._spawned.get(id)
        record = self.reader.get(id) or (None if spawn else self._record(id))
        model = self.listing.model_of(record) if record else self.listing.starting(id)
        self._closing.add(id)
        try:
            await self._close(id, record, spawn)
        finally:
            self._closing.discard(id)
            self.reports.pop(id, None)
        return closed_model(model)

    async def _close(self, id, record, spawn):
        pid = (record or {}).get("pid") or spawn.proc.pid
        started = (record or {}).get("pid_started") or registry.process_started(pid)
        host = record is None or record.get("kind") == registry.SIDEBAR
        try:
            if record is None:
                raise ClusterError("not registered yet")
            await self.caller.call(record["control"], "close")
        except ClusterError as e:
            if not host:
                raise
            self.log.info("cluster %s: %s; stopping its host process", id, e)
            _signal(pid, started, signal.SIGTERM)
        # A host exits once its cluster is closed; a kernel's cluster removes its record.
        gone = (lambda: not registry.alive(pid, started)) if host else (
            lambda: self.reader.get(id) is None or not registry.alive(pid, started))
        deadline = time.monotonic() + CLOSE_TIMEOUT
        while not gone():
            if spawn is not None:
                spawn.proc.poll()
            if time.monotonic() > deadline:
                if not host:
                    raise ClusterError(f"cluster {id} did not close within {CLOSE_TIMEOUT:g} s", 504)
                self.log.warning("cluster %s: host process %s did not exit; killing it", id, pid)
                _signal(pid, started, signal.SIGKILL)
                break
            await asyncio.sleep(0.05)
        if spawn is not None:
            spawn.proc.poll()
            self._spawned.pop(id, None)
        registry.remove(id, log=host)
        self.listing.forget(id)  # closed, not lost

    async def keep(self, id, value):
        """Keep a sidebar cluster running when this server stops (`value`: true, seconds, false)."""
        seconds = keep.check(value)
        record = await self._control(id)
        if record.get("kind") != registry.SIDEBAR:
            owner = "its kernel" if record.get("kind") == registry.KERNEL else "its script"
            raise ClusterError(f"cluster {id} ends with {owner}: only a sidebar cluster can be kept", 409)
        info = await self.caller.call(record["control"], "keep", seconds=seconds)
        self.listing.note_info(id, info)
        return self.listing.model_of(record)

    async def close_all(self):
        """On a graceful stop: close the sidebar clusters this server owns, except the kept ones
        (kernels' clusters end with their kernels)."""
        keeps = {r["id"]: r.get("keep") for r in self._own()}  # id -> its keep, None when not kept
        keeps.update({id: s.options.get("keep") for id, s in self._spawned.items() if self.reader.get(id) is None})
        kept = [id for id, k in keeps.items() if k]
        if kept:
            self.log.info("keeping the sidebar clusters running for the next server: %s", ", ".join(kept))
        ids = [id for id, k in keeps.items() if not k]
        if ids:
            self.log.info("closing %d cluster(s)", len(ids))
        await asyncio.gather(*(self.close(id) for id in ids), return_exceptions=True)

    def _own(self):
        return [r for r in self.listing.records()
                if r.get("kind") == registry.SIDEBAR and r.get("server_pid") == self.pid]

    async def shutdown(self):
        await self.standby.stop()
        if self._caller is not None:
            await self._caller.close()

    # --- the dashboard proxy --------------------------------------------------------------
    def dashboard_target(self, key):
        """(host, port) of a registered cluster's dashboard, or None. Never taken from a request.

        `key` is a cluster id, or `host:port` of a registered dashboard (the link
        distributed shows in a kernel: `distributed.dashboard.link`).
        """
        records = self.reader.records(prune=False)
        for record in records:
            if record["id"] == key and record.get("dashboard"):
                return tuple(record["dashboard"])
        host, _, port = key.rpartition(":")
        for record in records:
            dashboard = record.get("dashboard")
            if dashboard and [dashboard[0], str(dashboard[1])] == [host.strip("[]"), port]:
                return tuple(dashboard)
        return None

    def report_name(self, id):
        record = self.reader.get(id) or {}
        # at most 50 characters (200 bytes): the report's whole file name stays within 255 bytes
        return re.sub(r"[^\w.-]+", "-", record.get("name") or "")[:50].strip("-.") or id


def _signal(pid, started, sig):
    """Signal a host's process group (it leads its own session), if it is still that process."""
    if registry.alive(pid, started):
        try:
            os.killpg(pid, sig)
        except (ProcessLookupError, PermissionError):
            pass
