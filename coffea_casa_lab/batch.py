"""One schedd transaction for the worker jobs asked for together. No HTTP here.

dask-jobqueue submits one job per worker; a busy schedd serves one transaction at a
time, so `scale(100)` was 100 transactions. Every CoffeaCasaJob of a cluster hands
its start to the cluster's Batcher instead. SpecCluster starts the jobs of one
scale() in the same loop tick, so the batcher waits a few milliseconds, then submits
them together: one `condor_submit` whose `queue WorkerName from (...)` gives each
proc its own worker name (job `C.P`), or `htcondor2.Schedd.submit(..., itemdata=...)`
where a schedd answers. Removals are gathered the same way into one `condor_rm C.P ...`.
The job script is dask-jobqueue's, with the worker's name as `$(WorkerName)`.
"""

import asyncio
import logging
import re
import shlex
import tempfile
from contextlib import suppress

from . import schedd

logger = logging.getLogger("coffea_casa")

GATHER_SECONDS = 0.02  # how long a batch waits for the other starts of the same scale()
MACRO = "$(WorkerName)"
QUEUE_LINE = re.compile(r"^Queue\s*$", re.MULTILINE | re.IGNORECASE)


def template(job):
    """The job's submit description with its worker name as $(WorkerName), or None
    when that cannot be done exactly (then the job is submitted on its own)."""
    script, name = job.job_script(), re.escape(str(job.name))
    text = re.sub(rf"(--name\s+){name}(?=[\s'\"]|$)", rf"\g<1>{MACRO}", script)
    text = re.sub(rf"^(batch_name\s*=\s*){name}\s*$", rf"\g<1>{MACRO}", text, flags=re.MULTILINE)
    if MACRO not in text or text.replace(MACRO, str(job.name)) != script or len(QUEUE_LINE.findall(text)) != 1:
        return None
    return text


class _Gather:
    """Collects items for GATHER_SECONDS, then runs `flush(items)` -> results, one per item."""

    def __init__(self, flush):
        self._flush, self._items, self._task = flush, [], None

    def add(self, item):
        future = asyncio.get_running_loop().create_future()
        self._items.append((item, future))
        if self._task is None:
            self._task = asyncio.ensure_future(self._run())
        return future

    async def _run(self):
        await asyncio.sleep(GATHER_SECONDS)
        batch, self._items, self._task = self._items, [], None
        try:
            results = await self._flush([item for item, _ in batch])
        except Exception as e:
            results = [e] * len(batch)
        for (_, future), result in zip(batch, results):
            if not future.done():
                (future.set_exception if isinstance(result, Exception) else future.set_result)(result)


class Batcher:
    """Submits and removes a cluster's worker jobs in as few schedd transactions as it can."""

    def __init__(self):
        self._submits = _Gather(self._submit_all)
        self._removals = _Gather(self._remove_all)

    async def submit(self, job):
        """The job id (`C.P`) of this job, submitted along with the others of its batch."""
        return await self._submits.add(job)

    async def remove(self, job_id, cancel_command):
        await self._removals.add((job_id, cancel_command))

    async def _submit_all(self, jobs):
        groups = {}  # one transaction per distinct description (normally one for all)
        for i, job in enumerate(jobs):
            text = template(job)
            groups.setdefault((text or f"alone-{i}", job.submit_command), []).append(i)
        results = [None] * len(jobs)
        for (text, command), indexes in groups.items():
            try:
                ids = await self._submit_group(text, command, [jobs[i] for i in indexes])
            except Exception as e:
                ids = [e] * len(indexes)
            for i, job_id in zip(indexes, ids):
                results[i] = job_id
        return results

    async def _submit_group(self, text, command, jobs):
        if text.startswith("alone-"):
            (job,) = jobs
            with job.job_file() as fn:
                return [job._job_id_from_submit_output(await job._submit_job(fn))]
        names = [str(job.name) for job in jobs]

        async def with_command():
            description = QUEUE_LINE.sub("queue WorkerName from (\n" + "".join(f"  {n}\n" for n in names) + ")", text)
            with tempfile.NamedTemporaryFile("w", suffix=".sub") as f:
                f.write(description)
                f.flush()
                out = await jobs[0]._call(shlex.split(command) + [f.name])
            cluster = re.search(r"submitted to cluster (\d+)", out)
            if cluster is None:
                raise ValueError(f"Could not parse the cluster id from the submission output:\n{out}")
            logger.debug("submitted %d worker jobs as cluster %s", len(names), cluster.group(1))
            return [f"{cluster.group(1)}.{proc}" for proc in range(len(names))]

        return await schedd.call(lambda s: _submit_bindings(s, text, names), with_command, command)

    async def _remove_all(self, items):
        by_command = {}
        for job_id, command in items:
            by_command.setdefault(command, []).append(job_id)
        from dask_jobqueue.core import Job

        for command, ids in by_command.items():
            with suppress(Exception):  # a job already gone is not an error
                await schedd.call(lambda s: _remove_bindings(s, ids),
                                  lambda: Job._call(shlex.split(command) + sorted(ids, key=_proc_order)), command)
        return [None] * len(items)


def _submit_bindings(schedd, text, names):
    import htcondor2

    result = schedd.submit(htcondor2.Submit(QUEUE_LINE.sub("", text)), itemdata=iter([{"WorkerName": n} for n in names]))
    return [f"{result.cluster()}.{proc}" for proc in range(len(names))]


def _remove_bindings(schedd, ids):
    import htcondor2

    schedd.act(htcondor2.JobAction.Remove, ids)


def _proc_order(job_id):
    cluster, _, proc = job_id.partition(".")
    return (int(cluster), int(proc or 0)) if cluster.isdigit() and proc.isdigit() else (0, 0)
