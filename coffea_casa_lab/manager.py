"""ClusterManager: every cluster of the user, wherever it lives, and what the sidebar does to it.
No HTTP here.

Sidebar clusters run in host processes of their own (coffea_casa_lab.host) that this
manager starts; notebook and script clusters register themselves. All are found in
the registry and driven through their control handlers, so the Jupyter server holds
no scheduler, and a restarted server finds its clusters again.
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
from pathlib import Path

import dask.config

from . import condor, config, registry
from .control import Caller
from .errors import ClusterError
from .options import check_adapt, check_options, check_workers, labextension_config, with_default_size

logger = logging.getLogger("coffea_casa_lab")

STARTING, RUNNING, FAILED, CLOSED, LOST = "starting", "running", "failed", "closed", "lost"
INFO_TTL = 0.5  # seconds a cluster's live numbers are reused before they are asked again
INFO_WAIT = 0.05  # how long a list waits for fresh numbers before it answers with the last ones
FIRST_INFO_WAIT = 2.0  # how long it waits for the first numbers of a cluster it has not listed yet
CLOSE_TIMEOUT = 60.0
QUEUE_TTL = 2.0  # seconds the HTCondor queue's counts are reused: at most one condor_q per this, for all clusters


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
        self.root_dir = Path(root_dir or os.getcwd()).expanduser().resolve()
        self.kernel_paths = kernel_paths  # async () -> {kernel_id: notebook path}, from the server's sessions
        self._kernel_paths = {}
        self.pid, self.pid_started = os.getpid(), registry.process_started(os.getpid())
        self.reader = registry.Reader()
        self._security = security
        self._caller = None
        self._spawned = {}  # id -> _Spawn
        self._seen = {}  # id -> record, of clusters listed before: to tell when one is lost
        self._lost = {}  # id -> model of a sidebar cluster whose process died
        self._closing = set()
        self._info = {}  # id -> (monotonic time, info from its control)
        self._refreshing = {}  # id -> task asking for its live numbers
        self._adopting = {}  # id -> task adopting it
        self.reports = {}  # id -> {"start", "last_count"} while recording a performance report
        self._queue = (None, {})  # (monotonic time, {scheduler address: idle/running/held counts})
        self._queue_task = None

    @property
    def caller(self):
        if self._caller is None:
            from .security import make_security

            self._caller = Caller(self._security or make_security())
        return self._caller

    # --- starting -------------------------------------------------------------------
    def start_cluster(self, options=None):
        """Start a sidebar cluster in a host process of its own; its model, status starting."""
        cfg = labextension_config()
        options = with_default_size(check_options(options or {}), cfg["default"])
        id = registry.new_id()
        name = options.pop("name", None) or self._next_name()
        log = os.open(registry.log_path(id), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            proc = subprocess.Popen(
                # --name=: a name that starts with "-" is still the name, not an option
                [sys.executable, "-m", "coffea_casa_lab.host", "--id", id, f"--name={name}",
                 "--options", json.dumps(options), "--server-pid", str(self.pid)],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,  # its own session: a Ctrl-C or a signal to the server's group misses it
            )
        finally:
            os.close(log)
        self._spawned[id] = _Spawn(proc, name, options)
        self.log.info("cluster %s (%s): host process %s started", id, name, proc.pid)
        return self._spawn_model(id)

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

    # --- listing ----------------------------------------------------------------------
    async def list(self):
        records = self._records()
        await asyncio.gather(self._refresh_infos(records), self._refresh_queue(records))
        if self.kernel_paths and any(r.get("kind") == registry.KERNEL for r in records):
            try:
                self._kernel_paths = await self.kernel_paths()
            except Exception as e:  # the notebook's name is a nicety; the list must not fail for it
                self.log.debug("cannot read the server's sessions: %s", e)
        models = [self._model(r) for r in records]
        recorded = {r["id"] for r in records}
        models += [self._spawn_model(id) for id in self._spawned if id not in recorded]
        models += list(self._lost.values())
        return models

    def count(self):
        return len({r["id"] for r in self._records()} | set(self._spawned) | set(self._lost))

    async def model(self, id):
        for model in await self.list():
            if model["id"] == id:
                return model
        raise ClusterError(f"no cluster with id {id!r}", 404)

    def _records(self):
        """Live records; notes the clusters whose process died, and adopts orphans."""
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
                self._lost[id] = self._gone_model(id, spawn.name, spawn.proc.returncode, status, record)
        for id, record in list(self._seen.items()):
            if id not in ids:
                del self._seen[id]
                self._info.pop(id, None)
                # A sidebar host removes its record only when asked; a script's record left behind
                # means it died. A kernel's cluster just goes with its kernel.
                died = record.get("kind") == registry.SIDEBAR or (
                    record.get("kind") == registry.SCRIPT and id in self.reader.dropped)
                if died and id not in self._closing:
                    self._lost[id] = self._gone_model(id, record["name"], None, LOST, record)
        self.reader.dropped.clear()
        for record in records:
            self._seen[record["id"]] = record
            if record.get("kind") == registry.SIDEBAR and not registry.alive(
                record.get("server_pid"), record.get("server_started")
            ):
                self._adopt(record)
        return records

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
        records = self._records()
        if records:
            self.log.info("found %d running cluster(s) in %s", len(records), registry.directory())
        await asyncio.gather(*self._adopting.values(), return_exceptions=True)

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

    async def _refresh_queue(self, records):
        """The queue's counts for every HTCondor cluster of the user, in one query per QUEUE_TTL."""
        addresses = {r.get("scheduler_address") for r in records if r.get("backend") == "htcondor"} - {None, ""}
        stamp = self._queue[0]
        if not addresses:
            return
        if self._queue_task is None and (stamp is None or time.monotonic() - stamp > QUEUE_TTL
                                         or not addresses <= set(self._queue[1])):
            self._queue_task = task = asyncio.ensure_future(self._fetch_queue(addresses))
            task.add_done_callback(lambda _: setattr(self, "_queue_task", None))
        if self._queue_task is not None:
            await asyncio.wait([self._queue_task], timeout=FIRST_INFO_WAIT if stamp is None else INFO_WAIT)

    async def _fetch_queue(self, addresses):
        try:
            status = await condor.queue_status(addresses)
        except Exception as e:  # the cards keep their last counts; the list must not fail for it
            self.log.warning("cannot query the HTCondor queue: %s", e)
            status = self._queue[1]
        self._queue = (time.monotonic(), status)

    async def _fetch_info(self, record):
        try:
            info = await self.caller.call(record["control"], "info")
        except ClusterError as e:
            info = {"unreachable": str(e)}
        self._info[record["id"]] = (time.monotonic(), info)

    def _model(self, record):
        id = record["id"]
        info = (self._info.get(id) or (0, {}))[1]
        status = info.get("status") or record.get("status") or RUNNING
        model = {
            "id": id,
            "name": record.get("name") or id,
            "status": status,
            "backend": info.get("backend") or record.get("backend") or "local",
            "scheduler_address": record.get("scheduler_address") or info.get("scheduler_address") or "",
            "dashboard_url": f"{self.prefix}dashboard/{id}/",
            "workers": info.get("workers", 0),
            "cores": info.get("cores", 0),
            "memory_bytes": info.get("memory_bytes", 0),
            "adapt": info.get("adapt"),
            "requested_workers": info.get("requested_workers", 0),
            "idle": info.get("idle"),
            "recording": id in self.reports,
            "kind": record.get("kind") or registry.SCRIPT,
            "where": self._where(record),
            "pid": record.get("pid"),
            "queue": self._queue[1].get(record.get("scheduler_address")) if record.get("backend") == "htcondor" else None,
        }
        error = info.get("error") or record.get("error") or info.get("unreachable")
        if error:
            model["error"] = error
        return model

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

    def _spawn_model(self, id):
        spawn = self._spawned[id]
        options = spawn.options
        return {
            "id": id, "name": spawn.name, "status": STARTING, "backend": "local", "scheduler_address": "",
            "dashboard_url": f"{self.prefix}dashboard/{id}/", "workers": 0, "cores": 0, "memory_bytes": 0,
            "adapt": options.get("adapt"), "requested_workers": options.get("workers") or 0, "recording": False,
            "kind": registry.SIDEBAR, "where": None, "pid": spawn.proc.pid, "queue": None,
        }

    def _gone_model(self, id, name, returncode, status, record=None):
        """A cluster whose process died without closing it: why, for the card, until dismissed."""
        why = _exit_reason(returncode)
        pid = (record or {}).get("pid")
        last = _last_line(registry.log_path(id))
        error = f"its process{f' (pid {pid})' if pid else ''} is gone: {why}" + (f"; last log line: {last}" if last else "")
        self.log.warning("cluster %s (%s) %s", id, name, error)
        return {
            "id": id, "name": name, "status": status, "error": error, "backend": (record or {}).get("backend") or "local",
            "scheduler_address": "", "dashboard_url": f"{self.prefix}dashboard/{id}/", "workers": 0, "cores": 0,
            "memory_bytes": 0, "adapt": None, "requested_workers": 0, "recording": False,
            "kind": (record or {}).get("kind") or registry.SIDEBAR, "where": (record or {}).get("where"), "pid": pid,
            "queue": None,
        }

    # --- what the sidebar does ----------------------------------------------------------
    async def running(self, id):
        """The registered, running cluster `id` (for jobs, reports, packages and files)."""
        record = self._record(id)
        model = self._model(record)
        if model["status"] != RUNNING:
            raise ClusterError(f"cluster {id} is {model['status']}, not running", 409)
        return RemoteCluster(record, self.caller)

    def _record(self, id):
        self._records()
        record = self.reader.get(id)
        if record is None:
            if id in self._lost or id in self._spawned:
                raise ClusterError(f"cluster {id} is {LOST if id in self._lost else STARTING}", 409)
            raise ClusterError(f"no cluster with id {id!r}", 404)
        return record

    async def _control(self, id):
        """The record of `id`; for a host that is still coming up, wait until it has one."""
        deadline = time.monotonic() + 60
        while id in self._spawned and self.reader.get(id) is None:
            self._records()
            if id in self._lost:
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
        self._info[id] = (time.monotonic(), info)
        return self._model(record)

    async def close(self, id):
        """Close a cluster (its workers and jobs), wherever it lives; or dismiss a lost one."""
        if id in self._lost:
            registry.remove(id, log=True)
            return dict(self._lost.pop(id), status=CLOSED)
        spawn = self._spawned.get(id)
        record = self.reader.get(id) or (None if spawn else self._record(id))
        model = self._model(record) if record else self._spawn_model(id)
        self._closing.add(id)
        try:
            await self._close(id, record, spawn)
        finally:
            self._closing.discard(id)
            self.reports.pop(id, None)
        return dict(model, status=CLOSED, workers=0, cores=0, memory_bytes=0, requested_workers=0)

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
        self._info.pop(id, None)
        self._seen.pop(id, None)  # closed, not lost

    async def close_all(self):
        """On a graceful stop: close the sidebar clusters this server owns (not kernels' clusters)."""
        if config.get("keep-clusters-on-stop", False):
            if self._spawned or self._own():
                self.log.info("keeping the sidebar clusters running (coffea-casa.keep-clusters-on-stop)")
            return
        ids = [r["id"] for r in self._own()] + [id for id in self._spawned if self.reader.get(id) is None]
        if ids:
            self.log.info("closing %d cluster(s)", len(ids))
        await asyncio.gather(*(self.close(id) for id in ids), return_exceptions=True)

    def _own(self):
        return [r for r in self._records() if r.get("kind") == registry.SIDEBAR and r.get("server_pid") == self.pid]

    async def shutdown(self):
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


def _exit_reason(returncode):
    if returncode is None:
        return "it ended without closing the cluster"
    if returncode < 0:
        try:
            return f"killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"killed by signal {-returncode}"
    return f"it exited with code {returncode}"


def _last_line(path):
    try:
        with open(path, "rb") as f:
            f.seek(max(0, os.path.getsize(path) - 4096))
            lines = [line.strip() for line in f.read().decode("utf-8", "replace").splitlines() if line.strip()]
    except OSError:
        return None
    return lines[-1][:500] if lines else None
