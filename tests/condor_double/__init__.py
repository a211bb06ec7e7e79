"""A stand-in for an HTCondor access point: condor_submit, condor_q, condor_rm.

The code under test just finds the three tools on PATH; this class is the test's
side of the double (see README.md for what is emulated).
"""

import os
import signal
import sys
import time
from pathlib import Path

from .state import REMOVED, RUNNING, State, live_pids, proc_file, processes

__all__ = ["CondorDouble"]

BIN_DIR = Path(__file__).resolve().parent / "bin"


class CondorDouble:
    """One private "schedd" whose queue lives in `state_dir`."""

    def __init__(self, state_dir, python=sys.executable):
        self.state_dir = Path(state_dir)
        self.bin_dir = BIN_DIR
        self.python = python  # the tools run with this interpreter (needs htcondor2)
        self._state = State(self.state_dir)
        for tool in self.bin_dir.iterdir():  # a checkout may lose the x bit
            tool.chmod(tool.stat().st_mode | 0o111)

    def env(self):
        """Variables to add to a subprocess's environment so that it uses the double."""
        return {"PATH": f"{self.bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
                "CONDOR_DOUBLE_STATE": str(self.state_dir),
                "CONDOR_DOUBLE_PYTHON": self.python}

    def configure(self, transaction_cost=None, periodic_interval=None, slot_cpus=None, slot_memory=None,
                  slot_disk=None):
        """Seconds each schedd transaction takes (they run one at a time); seconds between
        evaluations of periodic policy expressions (periodic_hold, periodic_remove); the size of
        the one partitionable slot (cores, MiB, KiB; a job that does not fit stays idle)."""
        for name, value in (("transaction_cost", transaction_cost), ("periodic_interval", periodic_interval),
                            ("slot_cpus", slot_cpus), ("slot_memory", slot_memory), ("slot_disk", slot_disk)):
            if value is not None:
                (self.state_dir / name).write_text(str(float(value)))

    def transactions(self, tool=None):
        """[(epoch, tool, jobs)] of every schedd transaction so far (tool: submit, rm, q, hold, ...)."""
        try:
            lines = (self.state_dir / "transactions.log").read_text().splitlines()
        except FileNotFoundError:
            return []
        rows = [(float(t), name, int(n)) for t, name, n in (line.split() for line in lines)]
        return [row for row in rows if tool is None or row[1] == tool]

    def jobs(self, include_history=False):
        """Job ads as dicts (ClassAd expressions stay classad2.ExprTree), by job id.
        Without history: only jobs still in the queue, as condor_q shows them."""
        ads = self._state.queue() + (self._state.history() if include_history else [])
        return [dict(ad) for ad in sorted(ads, key=lambda a: (a["ClusterId"], a["ProcId"]))]

    def job(self, job_id):
        """The ad of job "C.P", in the queue or in history; None if unknown."""
        ad = self._state.read_any(str(job_id))
        return None if ad is None else dict(ad)

    def wait_for(self, job_id, predicate, timeout=60.0):
        """Poll until predicate(ad) is true; returns the ad or raises TimeoutError."""
        deadline = time.monotonic() + timeout
        while True:
            ad = self.job(job_id)
            if ad is not None and predicate(ad):
                return ad
            if time.monotonic() > deadline:
                raise TimeoutError(f"job {job_id} never satisfied the condition; last ad: {ad}")
            time.sleep(0.05)

    def wait_for_status(self, job_id, status, timeout=60.0):
        return self.wait_for(job_id, lambda ad: ad.get("JobStatus") == status, timeout)

    def sandbox(self, job_id):
        """The job's execute directory (kept after the job ends, unlike HTCondor)."""
        return self._state.sandbox(str(job_id))

    def _job_processes(self):
        """(job pids, shepherd pids). Job processes are found by the job's process group
        (for jobs the queue still shows running) or by their _CONDOR_SCRATCH_DIR, so a
        recycled pid of some unrelated process is never taken for a job's."""
        queue = self._state.queue()
        groups = [ad["DoublePgid"] for ad in queue
                  if "DoublePgid" in ad and ad["JobStatus"] in (RUNNING, REMOVED)]
        sandboxes = [self._state.sandbox(f"{ad['ClusterId']}.{ad['ProcId']}")
                     for ad in queue + self._state.history()]
        jobs = live_pids(pgids=groups, scratch_dirs=sandboxes)
        marker = f"{self.state_dir}".encode()
        shepherds = [pid for pid, state, _ in processes() if state not in "ZX"
                     and b"shepherd" in (cmd := proc_file(pid, "cmdline")) and marker in cmd]
        return jobs, shepherds

    def running_pids(self):
        """Pids of job processes still alive (zombies excluded)."""
        return self._job_processes()[0]

    def kill_all(self):
        """SIGKILL every job process and shepherd, wait (bounded) until they are gone;
        returns the job pids that were still alive (empty if all had ended)."""
        jobs, shepherds = self._job_processes()
        leftover = list(jobs)
        deadline = time.monotonic() + 10
        while (jobs or shepherds) and time.monotonic() < deadline:
            for pid in jobs + shepherds:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.05)
            jobs, shepherds = self._job_processes()
        return leftover
