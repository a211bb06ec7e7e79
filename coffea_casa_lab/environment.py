"""Do the kernel, the scheduler and the workers run the same packages? In the cluster's
process, for its card. No HTTP here.

A worker whose packages differ from the kernel's fails late, with a deserialization error far
from the cause (docs chapter 2). distributed gathers versions (`get_versions`): the scheduler
is this process; each worker is asked once, when it joins, for PACKAGES. The kernel is the
client: for a notebook's (or a script's) cluster it is this very process; for a sidebar
cluster, the clients connected to it. A client reports distributed's own list when it
connects (Python, dask, distributed, cloudpickle, numpy), and, from a process that imported
`coffea_casa`, all of PACKAGES (a client preload, `dask_setup` below). What differs is
reported with the versions on each side; the card points to the remedies of chapter 2.
"""

import asyncio
import logging

import dask.config
from distributed.diagnostics.plugin import SchedulerPlugin
from distributed.versions import get_versions

from . import registry

logger = logging.getLogger("coffea_casa")

PACKAGES = ("python", "dask", "distributed", "cloudpickle", "numpy", "awkward", "uproot", "coffea")
EXTRA = [p for p in PACKAGES if p not in ("python", "dask", "distributed", "cloudpickle", "numpy")]
SCHEDULER_RELEVANT = ("python", "dask", "distributed", "cloudpickle")  # as distributed's own check
MISSING = "not installed"
CLIENT_TOPIC = "coffea-casa-client-versions"


def versions_of(report):
    """{package: version or None} from distributed's get_versions(); Python as major.minor, which is
    what pickles must agree on."""
    packages = dict((report or {}).get("packages") or {})
    python = packages.get("python")
    packages["python"] = ".".join(str(python).split(".")[:2]) if python else None
    return {p: packages.get(p) for p in PACKAGES}


class EnvironmentCheck(SchedulerPlugin):
    name = "coffea-casa-environment"

    def __init__(self, scheduler, kernel_is_here):
        self.scheduler = scheduler
        self.here = versions_of(get_versions(packages=EXTRA))
        self.kernel_is_here = kernel_is_here  # a notebook's cluster: its kernel runs this very process
        self.workers = {}  # worker address -> {package: version}
        self.clients = {}  # client id -> {package: version} (what it reported; None for unknown)

    # --- who is there ------------------------------------------------------------------
    def add_worker(self, scheduler, worker):
        asyncio.ensure_future(self._ask(worker))

    async def _ask(self, worker):
        try:
            answers = await self.scheduler.broadcast(msg={"op": "versions", "packages": EXTRA}, workers=[worker])
            if worker in self.scheduler.workers:
                self.workers[worker] = versions_of(answers.get(worker))
        except Exception as e:  # gone already, or too old to answer: nothing to compare
            logger.debug("cannot ask worker %s for its versions: %s", worker, e)

    def remove_worker(self, scheduler, worker, **kwargs):
        self.workers.pop(worker, None)

    def add_client(self, scheduler, client):
        reported = getattr(scheduler.clients.get(client), "versions", None)
        if reported and not client.startswith("fire-and-forget"):
            listed = set((reported.get("packages") or {})) | {"python"}
            known = versions_of(reported)  # what it did not report is unknown, not missing
            self.clients[client] = {p: known[p] or MISSING for p in PACKAGES if p in listed}

    def remove_client(self, scheduler, client):
        self.clients.pop(client, None)

    def log_event(self, topic, msg):
        """A client's full report (see dask_setup), over what it said when it connected."""
        if topic == CLIENT_TOPIC and isinstance(msg, dict) and msg.get("client") in self.scheduler.clients:
            versions = msg.get("versions") or {}
            self.clients[msg["client"]] = {p: versions.get(p) or MISSING for p in PACKAGES}

    # --- what differs -------------------------------------------------------------------
    def report(self):
        """{"mismatches": [{package, kernel, scheduler, workers: {version: count}}], "workers": n}
        (n workers compared), or None until a worker has answered."""
        if not self.workers:
            return None
        here = {p: v or MISSING for p, v in self.here.items()}
        kernels = [here] if self.kernel_is_here else list(self.clients.values())
        mismatches = []
        for package in PACKAGES:
            on_workers = {}
            for versions in self.workers.values():
                version = versions[package] or MISSING
                on_workers[version] = on_workers.get(version, 0) + 1
            in_kernels = {k[package] for k in kernels if package in k}
            seen = set(on_workers) | in_kernels
            if package in SCHEDULER_RELEVANT:  # the scheduler runs no task: only these matter there
                seen.add(here[package])
            if len(seen) > 1:
                mismatches.append({"package": package, "kernel": ", ".join(sorted(in_kernels)) or None,
                                   "scheduler": here[package], "workers": dict(sorted(on_workers.items()))})
        return {"mismatches": mismatches, "workers": len(self.workers)}


def watch(cluster):
    """Start comparing the packages of a running cluster's kernel, scheduler and workers."""
    # a notebook's or a script's cluster lives in the process that uses it; a sidebar host serves others
    plugin = EnvironmentCheck(cluster.scheduler, kernel_is_here=not registry.HOST_PROCESS)
    cluster.scheduler.add_plugin(plugin, name=EnvironmentCheck.name)
    return plugin


def report_from_this_process():
    """Every Client this process makes tells its scheduler all of PACKAGES when it connects."""
    preloads = list(dask.config.get("distributed.client.preload", None) or [])
    if __name__ not in preloads:
        dask.config.set({"distributed.client.preload": [*preloads, __name__]})
    # distributed logs each preload at INFO: in a kernel, stderr under every `Client(...)` cell
    logging.getLogger("distributed.preloading").addFilter(_not_this_preload)


def _not_this_preload(record):
    return not (record.args and record.args[0] == __name__)


async def dask_setup(client):
    """Client preload: this process's versions, as a log event the cluster's EnvironmentCheck reads."""
    try:
        await client.scheduler.log_event(topic=CLIENT_TOPIC, msg={
            "client": client.id, "versions": versions_of(get_versions(packages=EXTRA))})
    except Exception as e:  # a scheduler that is not a coffea-casa one, or gone: nothing to compare
        logger.debug("cannot report this client's versions: %s", e)


def report_of(cluster):
    plugin = getattr(cluster, "_environment", None)
    return plugin.report() if plugin is not None else None
