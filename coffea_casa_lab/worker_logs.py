"""Worker logs that outlive the worker, kept in the cluster's process. No HTTP here.

Every worker (and an HTCondor job's Nanny) sends its log lines to the scheduler as it writes
them (log_forward.py); this scheduler plugin keeps the last LINES of each worker, so the log of
a worker that is gone (evicted, removed by an admin, killed, scaled down) stays readable from
the jobs pane. Workers that are gone are kept within the site's bound (coffea-casa.job-history).
"""

import collections
import time

from distributed.diagnostics.plugin import SchedulerPlugin

from .job_story import within_bound
from .log_forward import TOPIC

LINES = 1000


class WorkerLogs(SchedulerPlugin):
    name = "coffea-casa-worker-logs"

    def __init__(self):
        self.lines = {}  # worker name -> deque of its lines
        self.gone = {}  # worker name -> when it left
        self._names = {}  # worker address -> name (a removed worker is no longer in scheduler.workers)

    def log_event(self, topic, msg):
        if topic != TOPIC or not isinstance(msg, dict) or not isinstance(msg.get("lines"), (list, tuple)):
            return
        name = str(msg.get("name"))
        self.lines.setdefault(name, collections.deque(maxlen=LINES)).extend(str(line) for line in msg["lines"][-LINES:])

    def add_worker(self, scheduler, worker):
        state = scheduler.workers.get(worker)
        if state is not None:
            self._names[worker] = str(state.name)
            self.gone.pop(str(state.name), None)

    def remove_worker(self, scheduler, worker, **kwargs):
        name = self._names.pop(worker, None)
        if name is not None:
            self.gone[name] = time.time()
            self._bound()

    def _bound(self):
        kept = set(within_bound(list(self.gone), self.gone.get, time.time()))
        for name in set(self.gone) - kept:
            del self.gone[name]
            self.lines.pop(name, None)

    def of(self, name):
        """The kept lines of the job's worker(s) (`name`, or `name-0`, `name-1`... with several
        processes per job), oldest first; None when there are none."""
        names = [n for n in self.lines if n == name or n.startswith(f"{name}-")]
        return "\n".join(line for n in sorted(names) for line in self.lines[n]) or None


def keep(cluster):
    """Start keeping the logs of a running cluster's workers; the plugin."""
    plugin = WorkerLogs()
    cluster.scheduler.add_plugin(plugin, name=WorkerLogs.name)
    return plugin


def kept(cluster, name):
    plugin = getattr(cluster, "_worker_logs", None)
    return plugin.of(name) if plugin is not None else None
