"""Idle clusters give back their batch slots (`coffea-casa.idle-timeout`). No HTTP here.

Idle means: no task queued, running or changing state, no graph being submitted (the
scheduler's own `idle_since`, which distributed keeps up to date every 250 ms), no client
connecting or leaving, no worker arriving, and nobody scaling or adapting the cluster. After the timeout a fixed-size cluster scales to zero and
an adaptive one lowers its minimum to zero, so new work scales it up again.

Why not distributed's `distributed.scheduler.idle-timeout`: it closes the scheduler. The
user's Client and futures would break, the card would vanish, and the HTCondor jobs would
linger until their death timeout. The scheduler holds no batch slot; the workers do.
"""

import logging
import time
import weakref

import dask
from dask.utils import parse_timedelta
from distributed.core import Status
from distributed.diagnostics.plugin import SchedulerPlugin
from tornado.ioloop import PeriodicCallback

logger = logging.getLogger("coffea_casa_lab")


def idle_timeout():
    """Seconds from the dask config, or None when off (the package's default)."""
    value = dask.config.get("coffea-casa.idle-timeout", None)
    if value in (None, "", False, 0, "0"):
        return None
    seconds = parse_timedelta(value, default="s")
    if seconds is None or seconds <= 0:
        return None
    return seconds


def watch(cluster):
    """Start watching a running cluster on its own event loop; None when the timeout is off."""
    timeout = idle_timeout()
    if timeout is None:
        return None
    watcher = IdleWatch(cluster, timeout)
    cluster.scheduler.add_plugin(watcher, name=IdleWatch.name)
    watcher.callback.start()
    return watcher


class IdleWatch(SchedulerPlugin):
    name = "coffea-casa-idle"

    def __init__(self, cluster, timeout):
        self._cluster = weakref.ref(cluster)  # a notebook's cluster must stay collectable
        self.timeout = timeout
        self.last_activity = time.time()
        self._wanted = None  # what the user asked for, as last seen (see _wanted)
        self.reason = None  # why the workers were given back, while that still holds
        # Check often enough that a short timeout in a test is honoured, rarely on a facility.
        interval = min(max(timeout / 10, 0.25), 10.0)
        self.callback = PeriodicCallback(self.check, interval * 1000)

    # A client coming or going is the user doing something, even with no task yet; a worker
    # arriving is the cluster getting ready for them (its job may have queued for long).
    def add_client(self, scheduler, client):
        self.last_activity = time.time()

    def add_worker(self, scheduler, worker):
        self.last_activity = time.time()

    def remove_client(self, scheduler, client):
        self.last_activity = time.time()

    def check(self):
        cluster = self._cluster()
        if cluster is None or cluster.scheduler is None or cluster.status != Status.running:
            self.callback.stop()
            return
        adaptive = _adaptive(cluster)
        wanted = _wanted(cluster, adaptive)
        if wanted != self._wanted:  # somebody scaled or adapted: the user is back
            self._wanted, self.last_activity, self.reason = wanted, time.time(), None
        idle_since = cluster.scheduler.idle_since
        if idle_since is None:  # busy; an adaptive cluster brings its workers back by itself
            if adaptive is not None:
                self.reason = None
        elif time.time() - max(idle_since, self.last_activity) >= self.timeout:
            self._give_back(cluster, adaptive)
            self._wanted = _wanted(cluster, adaptive)  # our own change is not the user's

    def _give_back(self, cluster, adaptive):
        idle_for = duration(self.timeout)
        if adaptive is not None and adaptive.minimum > 0:
            was, adaptive.minimum = adaptive.minimum, 0
            self.reason = (
                f"idle for {idle_for}: adaptive minimum lowered from {was} to 0 to give back the slots; "
                "new work scales it up again"
            )
        elif adaptive is None and cluster.worker_spec:
            was = len(cluster.worker_spec)
            cluster.scale(0)
            self.reason = f"idle for {idle_for}: scaled from {was} to 0 workers to give back the slots; scale up to go on"
        else:
            return
        logger.info("cluster %s %s", cluster.name, self.reason)


def duration(seconds):
    """3600 -> '1 h', 90 -> '1.5 min', 20 -> '20 s': as a site would have written it."""
    for unit, size in (("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.3g} {unit}"
    return f"{seconds:.3g} s"


def _wanted(cluster, adaptive):
    """What the user asked for: a size, or an adaptive minimum (adaptivity moves the size)."""
    return ("adapt", adaptive.minimum) if adaptive is not None else ("scale", len(cluster.worker_spec))


def _adaptive(cluster):
    adaptive = getattr(cluster, "_adaptive", None)
    return adaptive if adaptive is not None and getattr(adaptive, "periodic_callback", None) is not None else None


def touch(cluster):
    """The user scaled or adapted through the sidebar: the clock starts again, the reason goes."""
    watcher = getattr(cluster, "_idle_watch", None)
    if watcher is not None:
        watcher.last_activity, watcher.reason, watcher._wanted = time.time(), None, None


def reason_of(cluster):
    """Why the cluster gave back its workers, for the card; None when it did not (or no longer)."""
    watcher = getattr(cluster, "_idle_watch", None)
    return watcher.reason if watcher is not None else None
