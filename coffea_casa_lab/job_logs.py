"""A worker job's stdout and stderr, while it runs and after it ended. No HTTP here.

- A job that exited: HTCondor brought its output files back (the job's Out and Err, in the
  log directory). Where the pool spools output (`condor_submit -spool`), a job that exited
  waits in the queue with its output in the spool: it is fetched the pool's way, with
  `condor_transfer_data` (the bindings' `Schedd.retrieve`), first. Its cluster fetches it
  too before it removes such a job (replace.py), so the files outlive it.
- A job that is running, or was evicted or removed (HTCondor brings nothing back then), and
  a local worker: the worker's Dask log, from the worker while it is connected, else as it
  sent it to its scheduler while it ran (log_forward.py, worker_logs.py).
Jobs that ended are served within the site's bound (coffea-casa.job-history), like the pane.
"""

import asyncio
import os
import subprocess

from . import condor, schedd
from .errors import ClusterError

LOG_BYTES = 64 * 1024  # the tail of each log file: enough to see why a worker died
SPOOL_INTERNAL = ("_condor_stdout", "_condor_stderr")


async def logs(cluster, job_id, watch):
    """{id, stdout, stderr, source: files | dask, note}."""
    job, ad = await condor.find(cluster, job_id, watch)
    stdout = stderr = None
    note = None
    exited = (job.get("end") or {}).get("kind") in ("exited", "signal")
    if ad is not None and (exited or ad.get("StreamErr") is True):  # else HTCondor has brought nothing back
        if _spooled(ad) and job["status"] == "completed" and not ad.get("StageOutFinish"):
            await fetch_spooled([job_id])
        # not a file an earlier job of the same id left (ClusterIds start again with a new schedd)
        stdout, stderr = (_tail(path, since=ad.get("QDate")) for path in output_paths(ad))
    source = "files"
    if not stderr:
        stderr = await cluster.call("worker_log", name=job["worker_name"])
        source = "dask"
        note = _why_dask(job, cluster.backend)
    return {"id": job_id, "stdout": stdout or "", "stderr": stderr or "", "source": source, "note": note}


def _why_dask(job, backend):
    if backend != "htcondor":
        return "A local worker has no output files: this is its Dask log."
    if job.get("in_queue", True) and job["status"] in ("running", "idle", "held"):
        return "HTCondor returns the job's output files when it exits: meanwhile, this is the worker's Dask log."
    if job["status"] == "removed":
        return ("HTCondor returns no output files for a removed job: this is the worker's Dask log, "
                "as its scheduler received it.")
    return "The job's output files are not there: this is the worker's Dask log, as its scheduler received it."


def _spooled(ad):
    return bool(ad.get("SUBMIT_Iwd"))


def output_paths(ad):
    """(stdout, stderr) files of a job on this machine: where HTCondor puts them back, or None."""
    iwd = ad.get("SUBMIT_Iwd") or ad.get("Iwd") or ""
    remaps = {}
    for pair in str(ad.get("SUBMIT_TransferOutputRemaps") or "").split(";"):
        name, sep, path = pair.partition("=")
        if sep:
            remaps[name.strip()] = path.strip()
    paths = []
    for key in ("Out", "Err"):
        name = ad.get(key)
        if not name or name == "/dev/null" or (name in SPOOL_INTERNAL and name not in remaps):
            paths.append(None)
        else:
            paths.append(os.path.join(iwd, remaps.get(name, name)))
    return paths


def _tail(path, since=None):
    """The end of the file at `path`; None if there is none, or if it is older than `since`."""
    if not path:
        return None
    try:
        if isinstance(since, (int, float)) and os.path.getmtime(path) < since - 1:
            return None
        with open(path, "rb") as f:
            f.seek(max(0, os.path.getsize(path) - LOG_BYTES))
            return f.read().decode("utf-8", "replace")
    except OSError:
        return None


async def fetch_spooled(job_ids):
    """condor_transfer_data (Schedd.retrieve) for spooled jobs that exited: their output to
    where the submit description asked for it."""
    def with_bindings(s):
        s.retrieve(list(job_ids))

    def with_command():
        out = subprocess.run(["condor_transfer_data", *job_ids], capture_output=True, text=True, timeout=300)
        if out.returncode != 0:
            raise ClusterError(f"condor_transfer_data failed: {out.stderr.strip() or out.returncode}", 502)

    await schedd.call(with_bindings, lambda: asyncio.to_thread(with_command))


async def live_worker_log(cluster, name):
    """The connected worker's own recent log lines, from the scheduler (in the cluster's process)."""
    addresses = [a for a, w in (cluster.scheduler_info.get("workers") or {}).items()
                 if str(w.get("name")) == name or str(w.get("name")).startswith(f"{name}-")]
    if not addresses:
        return None
    try:
        logs = await asyncio.wait_for(cluster.scheduler_comm.worker_logs(n=500, workers=addresses), 30)
    except Exception:
        return None
    lines = logs.get(addresses[0]) if isinstance(logs, dict) else None
    if not isinstance(lines, (list, tuple)):
        return None
    return "\n".join(str(line[1]) for line in reversed(lines))  # newest first from the worker
