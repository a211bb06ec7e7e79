"""What a cluster knows of its own worker jobs, in the cluster's process. No HTTP here.

For every job: when the cluster asked for it, and why the cluster ended it if it did
(scaled down, replaced as lost, killed from the jobs pane, the cluster closed). An HTCondor
job's ads tell the rest of its story (job_story); a local worker's whole story is here, from
its Nanny and its process: submitted, running since, its end, and how its process ended.
Ended jobs are kept within the site's bound (coffea-casa.job-history).
"""

import time

import psutil

from .job_story import exited, killed, within_bound

NOTES = 1000  # why-notes kept for HTCondor jobs (the schedd's bound decides what is shown)


class JobBook:
    def __init__(self):
        self.started = time.time()
        self.closing = False
        self.notes = {}  # HTCondor job id -> why the cluster ended it
        self.ended = []  # local jobs that ended: their models
        self._why = {}  # worker name -> why the cluster is about to end its job
        self._submitted = {}  # worker name -> when the cluster asked for it

    # --- what the cluster tells it ----------------------------------------------------
    def submitting(self, name):
        self._submitted[str(name)] = time.time()

    def why(self, name, reason, gone=False):
        """The cluster is about to end this worker's job, for `reason`; `gone`: the job already
        ended by itself (left the queue, was removed by someone else, its process died)."""
        self._why[str(name)] = (reason, gone)

    def ending(self, name, job_id):
        """The cluster ends the job of `name` now: (why, gone). Why is the reason given, else the
        job was scaled down or the cluster closed; only what the cluster removed itself is noted."""
        reason, gone = self._why.pop(str(name), (None, False))
        reason = reason or ("the cluster closed" if self.closing else "scaled down")
        if job_id and not gone:
            self.notes[str(job_id)] = reason
            while len(self.notes) > NOTES:
                self.notes.pop(next(iter(self.notes)))
        return reason, gone

    def submitted_at(self, name):
        return self._submitted.get(str(name))

    # --- local workers --------------------------------------------------------------------
    def local_ended(self, job, exit_codes, why, directory=None):
        """A local job closed: `exit_codes` of its worker processes as they were before the cluster
        stopped them (None while alive), and `why` the cluster ended it, as `ending` said."""
        reason, gone = why
        dead = [c for c in exit_codes if c is not None]
        if dead and dead[0] < 0:
            end = killed(-dead[0])
        elif dead:
            end = exited(dead[0])
        elif gone:  # its Nanny ended before the cluster stopped it
            end = {"kind": "lost", "reason": reason, "text": reason}
        else:
            end = {"kind": "removed", "by": "cluster", "reason": reason, "text": f"removed by the cluster: {reason}"}
        now = time.time()
        self.ended.append(dict(self.local_model(job, directory), status="exited" if dead else "removed",
                               running_since=None, ended=int(now), end=end, in_queue=False))
        self.ended = within_bound(self.ended, lambda m: m["ended"], now)

    def local_model(self, job, directory=None):
        started = getattr(job, "started_wall", None)
        submitted = self.submitted_at(job.name)
        return {"id": str(job.job_id), "status": "running", "host": getattr(job, "worker_host", None),
                "start_time": started, "worker_name": str(job.name), "directory": directory,
                "hold_reason": None, "submitted": int(submitted) if submitted else started, "idle_since": None,
                "running_since": started, "evicted": None, "runs": 1, "ended": None, "end": None, "in_queue": True}

    def local_jobs(self, cluster):
        """The local backend's jobs: its worker processes, then those that ended (newest first)."""
        directories = {str(w.get("name")): w.get("local_directory")
                       for w in (cluster.scheduler_info.get("workers") or {}).values()}
        live = []
        for name, job in list(cluster.workers.items()):
            if not getattr(job, "job_id", None):
                continue
            model = self.local_model(job, directories.get(str(name)))
            if not _alive(job.job_id):
                model.update(status="exited", running_since=None)
            live.append(model)
        return live + sorted(self.ended, key=lambda m: m["ended"], reverse=True)


def _alive(job_id):
    try:
        return psutil.Process(int(str(job_id).split(",")[0])).status() != psutil.STATUS_ZOMBIE
    except (psutil.NoSuchProcess, ValueError):
        return False


def book_of(cluster):
    return getattr(cluster, "_job_book", None)
