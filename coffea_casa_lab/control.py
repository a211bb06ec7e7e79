"""Scale, adapt, close and look into a cluster from another process. No HTTP here.

The cluster's side is a set of handlers on a TLS server that the cluster's process
runs: its own scheduler (a notebook's or a script's CoffeaCasaCluster) or the sidebar
host's control server. The caller's side connects with the user's certificate, and a
cluster that does not answer in time is an error, never a hang.
"""

import asyncio
import contextlib
import logging
import math
from urllib.parse import urlparse

from distributed.comm.core import CommClosedError

from . import environment, idle, worker_logs
from .errors import ClusterError
from .job_book import book_of
from .worker_shape import worker_shape

logger = logging.getLogger("coffea_casa_lab")

PREFIX = "coffea_casa_"
MAX_WORKERS = 10_000  # far above any facility quota; bigger numbers are typos or attacks


def summary(cluster) -> dict:
    """Workers, cores, memory, requested workers and adaptive bounds of a live cluster object."""
    info = getattr(cluster, "scheduler_info", None) or {}
    workers = (info.get("workers") or {}).values()
    adaptive = getattr(cluster, "_adaptive", None)
    adapt = None
    if adaptive is not None and getattr(adaptive, "periodic_callback", None) is not None:
        adapt = {"minimum": _finite(adaptive.minimum), "maximum": _finite(adaptive.maximum)}
    return {
        "backend": getattr(cluster, "backend", "local"),
        "scheduler_address": getattr(cluster, "scheduler_address", "") or "",
        "dashboard": dashboard_of(cluster),
        "workers": len(workers),
        "cores": sum(w.get("nthreads", 0) for w in workers),
        "memory_bytes": sum(w.get("memory_limit", 0) or 0 for w in workers),
        "adapt": adapt,
        "requested_workers": len(getattr(cluster, "plan", None) or getattr(cluster, "requested", None) or ()),
        "idle": idle.reason_of(cluster),
        "error": getattr(getattr(cluster, "_replacer", None), "error", None),  # lost workers no longer replaced
        "worker_shape": worker_shape(cluster),
        "environment": environment.report_of(cluster),  # packages that differ: kernel, scheduler, workers
    }


def dashboard_of(cluster):
    """[host, port] of the cluster's dashboard, or None."""
    port = ((getattr(cluster, "scheduler_info", None) or {}).get("services") or {}).get("dashboard")
    host = urlparse(getattr(cluster, "scheduler_address", "") or "").hostname
    return [host, int(port)] if port and host else None


def _finite(x):
    return int(x) if x is not None and math.isfinite(x) else MAX_WORKERS


class ClusterControl:
    """The handlers other processes call, for one cluster.

    `cluster` returns the cluster object, or None while it is not (or no longer) there;
    it is a weak reference for a notebook's cluster, which must stay collectable.
    Scale and adapt requests that come before the cluster runs are kept and applied
    by `apply_pending` once it does.
    """

    def __init__(self, cluster, close=None):
        self._cluster = cluster
        self._close = close or self._close_cluster
        self.pending = None  # ("scale", n) or ("adapt", {...}) asked for while starting
        self.status, self.error = "running", None

    @property
    def handlers(self) -> dict:
        ops = ("info", "scale", "adapt", "close", "jobs", "job_notes", "kill_job", "worker_log")
        return {PREFIX + op: getattr(self, op) for op in ops}

    def info(self):
        cluster = self._cluster() if self.status == "running" else None
        model = summary(cluster) if cluster is not None else {"workers": 0, "cores": 0, "memory_bytes": 0}
        if cluster is None and self.pending:
            op, value = self.pending
            model.update(requested_workers=value if op == "scale" else value["minimum"],
                         adapt=value if op == "adapt" else None)
        return dict(model, status=self.status, error=self.error or model.get("error"))

    def scale(self, n):
        return self._request("scale", n)

    def adapt(self, minimum, maximum, **options):
        return self._request("adapt", dict(options, minimum=minimum, maximum=maximum))

    def _request(self, op, value):
        cluster = self._cluster() if self.status == "running" else None
        if cluster is None:
            if self.status != "starting":
                return {"error": f"the cluster is not running ({self.status})", "code": 409}
            self.pending = (op, value)
            return self.info()
        try:
            apply(cluster, op, value)
        except (ValueError, TypeError) as e:
            return {"error": str(e)}
        return self.info()

    def apply_pending(self):
        cluster, pending, self.pending = self._cluster(), self.pending, None
        if cluster is not None and pending:
            apply(cluster, *pending)

    def close(self):
        # Answer first: the cluster may be served by the scheduler this call arrived on.
        asyncio.get_running_loop().call_soon(lambda: asyncio.ensure_future(self._close()))
        return {"status": "closing"}

    async def _close_cluster(self):
        cluster = self._cluster()
        if cluster is not None:
            close = getattr(cluster, "_close", None) or cluster.close  # _close: safe on the cluster's own loop
            with contextlib.suppress(Exception):
                await close()

    def jobs(self):
        """The local backend's worker processes, those that ended too (HTCondor jobs are asked of
        the schedd instead)."""
        cluster = self._cluster()
        book = book_of(cluster) if cluster is not None else None
        return book.local_jobs(cluster) if book is not None else []

    def job_notes(self):
        """What the schedd cannot say of an HTCondor cluster's jobs: when the cluster started (its
        jobs were submitted since) and why it removed the jobs it removed itself."""
        book = book_of(self._cluster())
        return {"started": book.started, "notes": dict(book.notes)} if book is not None else {
            "started": None, "notes": {}}

    async def kill_job(self, name):
        """Stop one worker through the cluster, so it is not started again; False if unknown."""
        cluster = self._cluster()
        if cluster is None or name not in getattr(cluster, "worker_spec", {}):
            return False
        book = book_of(cluster)
        if book is not None:
            book.why(name, "killed from the jobs pane")
        await cluster.scale_down([name])
        return True

    async def worker_log(self, name):
        """The worker's own recent log lines: from the worker while it is connected, else the lines
        it sent its scheduler while it ran (a worker that is gone)."""
        from .job_logs import live_worker_log

        cluster = self._cluster()
        if cluster is None:
            return None
        return await live_worker_log(cluster, name) or worker_logs.kept(cluster, name)


def apply(cluster, op, value):
    if op == "scale":
        adaptive = getattr(cluster, "_adaptive", None)
        if adaptive is not None:  # a fixed size ends adaptivity
            adaptive.stop()
            cluster._adaptive = None
        cluster.scale(value)
    else:
        cluster.adapt(**value)
    idle.touch(cluster)


class Caller:
    """Calls a cluster's control handlers over TLS with the user's certificate, pooled."""

    def __init__(self, security, timeout=10.0):
        self.security = security
        self.timeout = timeout
        self._pool = None

    async def call(self, address, op, **kwargs):
        """The handler's answer; ClusterError 502 when the cluster does not answer, 400 when it refuses."""
        from distributed.core import ConnectionPool

        if self._pool is None:
            self._pool = await ConnectionPool(
                limit=256, connection_args=self.security.get_connection_args("client"), timeout=self.timeout
            )
        try:
            result = await asyncio.wait_for(getattr(self._pool(address), PREFIX + op)(**kwargs), self.timeout)
        except (OSError, CommClosedError, asyncio.TimeoutError) as e:
            reason = "no answer in time" if isinstance(e, asyncio.TimeoutError) else type(e).__name__
            raise ClusterError(f"the cluster does not answer at {address} ({reason})", 502) from None
        if isinstance(result, dict) and result.get("error"):
            raise ClusterError(str(result["error"]), result.get("code", 400))
        if isinstance(result, dict) and result.get("status") == "uncaught-error":
            raise ClusterError(f"the cluster failed: {result.get('exception')}", 502)
        return result

    async def close(self):
        if self._pool is not None:
            await self._pool.close()
            self._pool = None
