"""CoffeaCasaCluster: the documented coffea_casa API on HTCondor or local processes.

Both backends run the same Dask worker (a Nanny with a Worker, same TLS, same
names, cores and memory). On HTCondor it is a dask-jobqueue job; where no
HTCondor is usable it is a Nanny of this process, exactly as LocalCluster
starts them, so the embedded default comes up as fast as a LocalCluster.
"""

import asyncio
import errno
import logging
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import warnings
import weakref
from contextlib import suppress
from pathlib import Path

import dask.config
from dask.utils import parse_timedelta
from dask_jobqueue import HTCondorCluster
from dask_jobqueue.htcondor import HTCondorJob
from distributed import Adaptive, Nanny
from distributed.deploy.cluster import Cluster
from distributed.core import Status
from distributed.deploy.spec import ProcessInterface
from distributed.exceptions import WorkerStartTimeoutError
from distributed.objects import SchedulerInfo
from distributed.security import Security
from distributed.utils import log_errors

from . import config, environment, idle, log_forward, packages, registry, security as tls, tls_workaround, worker_logs
from .batch import Batcher
from .job_book import JobBook
from .replace import Replacer
from .safe_text import PATH_MAX_LENGTH, SUBMIT_VALUE_MAX_LENGTH, check_name, check_submit_commands, check_text
from .site_options import check_keywords

logger = logging.getLogger("coffea_casa")

BACKENDS = ("htcondor", "local")
# wait_for_workers: a worker joining wakes it; it asks the scheduler again after WAIT_INTERVAL
# seconds otherwise (distributed's own poll), or after STATUS_INTERVAL while joined workers are
# still starting (a worker joins as "init" and reports "running" a moment later).
WAIT_INTERVAL, STATUS_INTERVAL = 0.1, 0.01
WORKAROUND = Path(tls_workaround.__file__)  # preloaded by every worker job (see tls_workaround.py)
LOG_FORWARD = Path(log_forward.__file__)  # so is this: the worker's log outlives it (see log_forward.py)
_JOBQUEUE = "jobqueue.coffea-casa"


class PortInUseError(RuntimeError):
    """A fixed port is taken and the site allows no other (coffea-casa.strict-ports)."""


def choose_backend(requested=None) -> str:
    requested = requested or config.get("backend") or "auto"
    if requested == "auto":
        return "htcondor" if shutil.which("condor_submit") else "local"
    if requested not in BACKENDS:
        raise ValueError(f"backend must be 'auto', 'htcondor' or 'local', not {requested!r}")
    return requested


def external_host(backend: str) -> str:
    """The host workers use to reach the scheduler: configured, else derived from the environment."""
    configured = config.get("external-address")
    if configured:
        return str(configured)
    if backend == "local":
        return "127.0.0.1"
    return os.environ.get("POD_IP") or os.environ.get("HOST_IP") or socket.getfqdn()


def listen_host(external: str) -> str:
    """Where the scheduler binds: the external host itself unless configured.

    Binding to 0.0.0.0 would make distributed advertise the machine's primary IP
    instead of the external address, so that is opt-in (coffea-casa.listen-address).
    """
    return str(config.get("listen-address") or external)


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _address_in_use(error) -> bool:
    """Whether a failed start was a port taken by someone else (distributed wraps the OSError)."""
    while error is not None:
        if isinstance(error, OSError) and error.errno == errno.EADDRINUSE:
            return True
        error = error.__cause__ or error.__context__
    return False


def _port_taken(what, port) -> PortInUseError:
    return PortInUseError(
        f"The {what} port {port} is already in use, probably by another cluster. This site only "
        "exposes the fixed ports (coffea-casa.strict-ports: true): close the other cluster first."
    )


def local_worker_cap() -> int:
    """How many local workers this machine takes: 4 per core, and one per 256 MiB of memory."""
    import psutil

    return max(1, min(4 * (os.cpu_count() or 1), psutil.virtual_memory().total // 2**28))


def _require_tls(sec: Security) -> Security:
    if not isinstance(sec, Security) or not sec.tls_ca_file or not sec.require_encryption:
        raise ValueError(
            "coffea-casa always uses TLS: pass a Security with require_encryption=True "
            "and TLS files, or none to use CoffeaCasaCluster.security()."
        )
    return sec


class _Reaper:
    """What must not outlive a cluster: its scheduler, local workers, HTCondor jobs and registry record.

    It holds no reference to the cluster, so weakref.finalize can run it when the
    cluster is garbage collected or the interpreter exits without close().
    (At exit, local worker processes also die with their parent, by distributed's design.)
    """

    def __init__(self):
        self.nannies = set()
        self.condor_jobs = set()
        self.cancel_command = "condor_rm"
        self.scheduler = None
        self.loop = None
        self.record_id = None

    def unregister(self):
        if self.record_id:
            registry.remove(self.record_id)
            self.record_id = None

    def __call__(self):
        self.unregister()
        for server in [*self.nannies, self.scheduler]:
            if server is not None and server.status == Status.running:
                with suppress(Exception):  # the loop may be gone at interpreter exit
                    self.loop.add_callback(server.close, reason="cluster-garbage-collected")
        self.nannies.clear()
        if self.condor_jobs:
            subprocess.run(
                self.cancel_command.split() + sorted(self.condor_jobs),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                check=False,
            )
            self.condor_jobs.clear()


class CoffeaCasaJob(HTCondorJob):
    """One Dask worker as an HTCondor job.

    Workers find certificates, keys and tokens by the names they get in the job
    sandbox through transfer_input_files, never by a submit-host path.
    """

    config_name = "coffea-casa"

    def __init__(
        self,
        scheduler=None,
        name=None,
        *,
        contact_address=None,
        security=None,
        nanny_port=None,
        worker_host=None,
        reaper=None,
        batcher=None,
        book=None,
        user_files=None,
        worker_silence_logs="error",
        worker_extra_args=None,
        **kwargs,
    ):
        if worker_extra_args is None:
            worker_extra_args = dask.config.get(f"{_JOBQUEUE}.worker-extra-args", [])
        key = tls.KEY_FILE if security and security.tls_worker_key != security.tls_worker_cert else tls.CERT_FILE
        worker_extra_args = list(worker_extra_args) + [
            "--tls-ca-file", tls.CA_FILE, "--tls-cert", tls.CERT_FILE, "--tls-key", key,
            # shipped with the TLS files: the worker's Python may need it as much as ours
            "--preload", WORKAROUND.name, "--preload-nanny", WORKAROUND.name,
            "--preload", LOG_FORWARD.name, "--preload-nanny", LOG_FORWARD.name,
        ]
        if nanny_port:
            # The documented port first; where jobs share a host (no per-job network
            # namespace), the next free one, unless the site only exposes the fixed port.
            ports = str(nanny_port) if config.get("strict-ports") else f"{nanny_port}:{int(nanny_port) + 99}"
            worker_extra_args += ["--nanny-port", ports]
        # The docs' config spells job-extra/env-extra/extra; we accept them quietly.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            # Workers dial the external address, even if the scheduler binds elsewhere.
            scheduler = contact_address or scheduler
            super().__init__(scheduler, name, worker_extra_args=worker_extra_args, **kwargs)
        self.security = security
        self.worker_host = worker_host  # where local workers listen
        self.worker_silence_logs = worker_silence_logs
        self.reaper = reaper
        self.batcher = batcher  # gathers the submits and removals of a scale() into one transaction
        self.book = book  # the cluster's JobBook: when it asked for this job, why it ended it
        self.user_files = user_files or {}  # requirements.txt / environment.yml to install
        # Every string of the submit description and of the commands is checked here, where they are
        # made (the cluster's first job is made before anything starts): one line per command.
        check_submit_commands(self.job_header_dict)
        for what, text in (("shebang", self.shebang),
                           ("the worker's command (python, worker_extra_args, job_script_prologue)", self._command_template),
                           ("submit_command_extra", self.submit_command), ("cancel_command_extra", self.cancel_command)):
            check_text(text, what, SUBMIT_VALUE_MAX_LENGTH)

    async def start(self):
        if self.book is not None:
            self.book.submitting(self.name)
        try:
            await self._submit()
        except Exception as e:
            # The Replacer replaces it (counted as a loss) and the card shows why.
            self.start_error = str(e).strip() or type(e).__name__
            self.status = Status.failed
            raise
        self.start_error, self.started_at, self.started_wall = None, time.monotonic(), int(time.time())

    async def _submit(self):
        if self.batcher is None:
            await super().start()
        else:
            self.job_id = await self.batcher.submit(self)
            await ProcessInterface.start(self)
        if self.reaper is not None:
            self.reaper.cancel_command = self.cancel_command
            self.reaper.condor_jobs.add(self.job_id)

    async def close(self):
        if self.book is not None:
            self.book.ending(self.name, self.job_id)
        if self.batcher is None or not self.job_id:
            await super().close()
        else:
            await self.batcher.remove(self.job_id, self.cancel_command)
        if self.reaper is not None:
            self.reaper.condor_jobs.discard(self.job_id)
        # dask-jobqueue's Job.close never marks the job closed; SpecCluster.close() asserts it
        # of every job it made that is not yet garbage-collected.
        await ProcessInterface.close(self)


class CoffeaCasaLocalJob(CoffeaCasaJob):
    """The same worker as a Nanny of this process: the embedded default."""

    async def _submit(self):
        preload = await packages.local_preload(self.user_files)
        death_timeout = dask.config.get(f"{_JOBQUEUE}.death-timeout")
        local_directory = dask.config.get(f"{_JOBQUEUE}.local-directory")
        names = [self.name] if self.worker_processes == 1 else [
            f"{self.name}-{i}" for i in range(self.worker_processes)
        ]
        self.nannies = [
            Nanny(
                self.scheduler,
                name=n,
                nthreads=self.worker_process_threads,
                memory_limit=self.worker_process_memory,
                security=self.security,
                protocol="tls",
                host=self.worker_host,
                death_timeout=death_timeout,
                local_directory=local_directory,
                silence_logs=_log_level(self.worker_silence_logs),
                # the site's preloads (Nanny would take ours instead of them), then ours
                preload=[*dask.config.get("distributed.worker.preload", []), tls_workaround.__name__,
                         log_forward.__name__, *([preload] if preload else [])],
            )
            for n in names
        ]
        await asyncio.gather(*self.nannies)
        self.job_id = ",".join(str(n.process.process.pid) for n in self.nannies)
        if self.reaper is not None:
            self.reaper.nannies.update(self.nannies)
        await ProcessInterface.start(self)

    async def close(self):
        # how each worker process ended, if it did before the cluster stops it: its job's story
        codes = [getattr(getattr(n.process, "process", None), "exitcode", None) for n in self.nannies]
        why = self.book.ending(self.name, None) if self.book is not None else None
        await asyncio.gather(*(n.close(reason="cluster-scale-down") for n in self.nannies))
        if self.reaper is not None:
            self.reaper.nannies.difference_update(self.nannies)
        if why is not None:
            self.book.local_ended(self, codes, why)
        await ProcessInterface.close(self)


class CoffeaCasaCluster(HTCondorCluster):
    """Dask on HTCondor (or local processes) with coffea-casa's defaults and TLS always on."""

    job_cls = CoffeaCasaJob
    config_name = "coffea-casa"

    def __init__(
        self,
        *,
        security=None,
        worker_image=None,
        scheduler_options=None,
        scheduler_port=8786,
        dashboard_port=8787,
        nanny_port=8001,
        **job_kwargs,
    ):
        if job_kwargs.get("name") is not None:
            check_name(job_kwargs["name"])
        # The same limits as the sidebar's form: cores=8 on a site whose maximum is 4 is a ValueError.
        check_keywords(dict(job_kwargs, worker_image=worker_image))
        self.backend = choose_backend(job_kwargs.pop("backend", None))
        self._reaper = _Reaper()
        self._replacer = Replacer()  # lost workers are replaced (coffea-casa.lost-workers)
        self._job_book = JobBook()  # each job's story, as the cluster knows it (the jobs pane)
        self._worker_joined = asyncio.Event()  # wakes wait_for_workers (bound to the cluster's loop on first wait)
        self._replacing = None
        self._record = None  # this cluster's registry record, once it runs
        self._ports = {"scheduler": scheduler_port, "dashboard": dashboard_port}
        kwargs = self._assemble(security, worker_image, scheduler_options, job_kwargs)
        self._wire(kwargs, nanny_port)

    # --- settings: the docs' defaults, the site's config, the user's keywords ----------------
    def _assemble(self, security, worker_image, scheduler_options, job_kwargs) -> dict:
        """Sets self.settings (the docs' chapter 6.3 shape); the keywords for HTCondorCluster."""
        protocol = job_kwargs.pop("protocol", None) or "tls://"
        if not protocol.startswith("tls"):
            raise ValueError(f"coffea-casa always uses TLS; protocol {protocol!r} is not allowed")
        secrets = tls.secrets_dir() if security is None else None
        security = _require_tls(security or tls.make_security(secrets))

        host = external_host(self.backend)
        self._listen = listen_host(host)
        port = self._ports["scheduler"] or 0
        self.external_address = f"tls://{_url_host(host)}:{port}"  # the port is final once it listens
        options = {
            "port": port,
            "dashboard_address": f"{_url_host(self._listen)}:{self._ports['dashboard'] or 0}",
            "protocol": "tls",
            "host": self._listen,
            "contact_address": self.external_address,
        }
        options.update(dask.config.get(f"{_JOBQUEUE}.scheduler-options", {}) or {})
        user_options = dict(scheduler_options or {})
        if "external_address" in user_options:  # the docs' name for distributed's contact_address
            user_options["contact_address"] = user_options.pop("external_address")
        options.update(user_options)

        user_files = packages.requirement_files()
        python = job_kwargs.get("python") or dask.config.get(f"{_JOBQUEUE}.python") or sys.executable
        job_kwargs["job_script_prologue"] = _prologue(job_kwargs) + packages.condor_prologue(user_files, python)
        job_extra = self._job_extra(
            tls.transfer_files(secrets or _dir_of(security)) + [WORKAROUND, LOG_FORWARD] + list(user_files.values()),
            options["contact_address"],
            worker_image if worker_image is not None else dask.config.get(f"{_JOBQUEUE}.worker-image"),
            port,
            job_kwargs.pop("job_extra", None),
            job_kwargs.pop("job_extra_directives", None),
        )
        if job_kwargs.get("processes") is None and dask.config.get(f"{_JOBQUEUE}.processes") is None:
            job_kwargs["processes"] = 1  # one worker per job, whatever sqrt(cores) says
        log_directory = job_kwargs.pop("log_directory", None) or dask.config.get(
            f"{_JOBQUEUE}.log-directory"
        ) or os.path.expanduser("~/.cache/coffea-casa/logs")
        check_text(str(log_directory), "log_directory", PATH_MAX_LENGTH)  # before a job makes the folder
        silence_logs = job_kwargs.pop("silence_logs", "error")
        self.settings = {
            "protocol": "tls://",
            "security": security,
            "log_directory": log_directory,
            "silence_logs": silence_logs,
            "scheduler_options": dict(options, external_address=options["contact_address"]),
            "job_extra": job_extra,
        }
        return dict(
            job_kwargs,
            security=security,
            silence_logs=silence_logs,
            scheduler_options=options,
            job_extra_directives=job_extra,
            log_directory=log_directory,
            contact_address=options["contact_address"],
            user_files=user_files,
            worker_silence_logs=silence_logs,
        )

    # --- wiring: the jobqueue cluster, its reaper and the registry ---------------------------
    def _wire(self, kwargs, nanny_port):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            try:
                super().__init__(
                    job_cls=CoffeaCasaJob if self.backend == "htcondor" else CoffeaCasaLocalJob,
                    protocol="tls://",
                    nanny_port=nanny_port if self.backend == "htcondor" else None,
                    worker_host=self._listen,
                    reaper=self._reaper,
                    batcher=Batcher() if self.backend == "htcondor" else None,
                    book=self._job_book,
                    **kwargs,
                )
            except Exception:
                # SpecCluster leaves its loop thread when _start fails (a bad job fails before it has one)
                if getattr(self, "_loop_runner", None) is not None and not self.asynchronous:
                    self._loop_runner.stop()
                raise
        self._reaper.scheduler, self._reaper.loop = self.scheduler, self.loop
        weakref.finalize(self, self._reaper)
        logger.info(
            "CoffeaCasaCluster %s: %s backend, scheduler %s, dashboard %s",
            self.name, self.backend, self.scheduler_address, self.dashboard_link,
        )

    async def _start(self):
        with warnings.catch_warnings():
            # distributed warns when the dashboard's port is taken and binds another: the
            # documented behaviour here (strict-ports sites get PortInUseError instead)
            warnings.filterwarnings("ignore", message="Port .* is already in use")
            if self.scheduler is None and self.status == Status.created:
                try:
                    self.scheduler = await self._listen_scheduler()
                except Exception as e:
                    self.status = Status.failed  # nothing runs yet: no scheduler, no worker
                    raise e if isinstance(e, PortInUseError) else RuntimeError(f"Cluster failed to start: {e}") from e
                self._use_port(int(self.scheduler.address.rsplit(":", 1)[1]))
            await super()._start()
        wanted, actual = self._ports["dashboard"], (self.scheduler_info.get("services") or {}).get("dashboard")
        if wanted and actual and actual != wanted and config.get("strict-ports"):
            self.status = Status.failed
            await self._close()
            raise _port_taken("dashboard", wanted)
        if actual:  # the settings say where it really is (the documented port may be another cluster's)
            options = self.settings["scheduler_options"]
            options["dashboard_address"] = f"{options['dashboard_address'].rsplit(':', 1)[0]}:{actual}"
        if not registry.HOST_PROCESS:
            self._register()
        self._idle_watch = idle.watch(self)
        self._worker_logs = worker_logs.keep(self)  # a worker's log outlives it (the jobs pane)
        self._environment = environment.watch(self)  # kernel, scheduler and workers' packages (the card)
        self._replacing = asyncio.ensure_future(self._replacer.run(weakref.ref(self)))

    async def _listen_scheduler(self):
        """The scheduler on its documented port, else (taken, on a non-strict site) a free one.

        Binding is the test: no port is probed first and taken later by somebody else.
        """
        options = dict(self.scheduler_spec.get("options", {}))
        try:
            return await self.scheduler_spec["cls"](**options)
        except Exception as e:
            if not options.get("port") or not _address_in_use(e):
                raise
            if config.get("strict-ports"):
                raise _port_taken("scheduler", options["port"]) from None
        return await self.scheduler_spec["cls"](**dict(options, port=0))

    def _use_port(self, port):
        """Tell workers, jobs and settings the port the scheduler really listens on."""
        old = self.external_address
        self.external_address = f"{old.rsplit(':', 1)[0]}:{port}"
        if self._job_kwargs.get("contact_address") == old:
            self._job_kwargs["contact_address"] = self.external_address
        extra = self._job_kwargs["job_extra_directives"]
        if extra.get("+DaskSchedulerAddress") == f'"{old}"':
            extra["+DaskSchedulerAddress"] = f'"{self.external_address}"'
        if str(extra.get("dask_container_port")) == old.rsplit(":", 1)[1]:
            extra["dask_container_port"] = port
        options = self.settings["scheduler_options"]
        options["port"] = port
        if options["external_address"] == old:
            options["external_address"] = options["contact_address"] = self.external_address

    # --- the registry: where the sidebar finds this cluster ----------------------------------
    def _register(self):
        from .control import ClusterControl, dashboard_of

        control = ClusterControl(weakref.ref(self))
        self.scheduler.handlers.update(control.handlers)
        self._record = dict(
            registry.owner_fields(), **registry.current_process(),
            id=registry.new_id(), name=self.name, status="running", error=None, backend=self.backend,
            control=self.scheduler.address, scheduler_address=self.scheduler_address, dashboard=dashboard_of(self),
        )
        registry.write(self._record)
        self._reaper.record_id = self._record["id"]

    async def _close(self):
        self._job_book.closing = True
        if self._replacing is not None:
            self._replacing.cancel()
        try:
            await super()._close()
        finally:
            self._reaper.unregister()  # after: a sidebar that sees no record sees a closed cluster

    def _new_worker_name(self, worker_number):
        # Worker names travel in a job's command line: a cluster named "MET study" must not
        # give a worker "--name MET study-0".
        return re.sub(r"[^\w.-]+", "-", super()._new_worker_name(worker_number))

    # --- the local backend runs on this machine: bounded -------------------------------------
    def scale(self, n=None, jobs=0, memory=None, cores=None):
        if self.backend == "local" and n is not None and n > local_worker_cap():
            raise ValueError(_too_many(n))
        self._replacer.reset()  # the user asks again: lost workers are replaced again
        return self._scale(n, jobs=jobs, memory=memory, cores=cores)

    def _scale(self, n=None, jobs=0, memory=None, cores=None):
        return super().scale(n, jobs=jobs, memory=memory, cores=cores)

    @classmethod
    def security(cls) -> Security:
        """Return the Dask Security object used by CoffeaCasa."""
        return tls.make_security()

    @staticmethod
    def _job_extra(files, external_address, worker_image, scheduler_port, job_extra, job_extra_directives):
        files = ", ".join(str(p) for p in files)
        extra = {
            # No image: the vanilla universe, on the execute node's own software (sites without Docker)
            "universe": "docker" if worker_image else "vanilla",
            "docker_image": worker_image,
            "container_service_names": "dask",
            "dask_container_port": scheduler_port,
            "transfer_input_files": files,
            "encrypt_input_files": files,
            "transfer_output_files": "",
            "when_to_transfer_output": "ON_EXIT",
            "should_transfer_files": "YES",
            "Stream_Output": "False",
            "Stream_Error": "False",
            "+DaskSchedulerAddress": f'"{external_address}"',
            **(dask.config.get(f"{_JOBQUEUE}.job-extra", None) or {}),
            **(dask.config.get(f"{_JOBQUEUE}.job-extra-directives", None) or {}),
            **(job_extra or {}),
            **(job_extra_directives or {}),
        }
        if str(extra.get("universe")).lower() == "vanilla":
            # HTCondor >= 24 turns any job with a docker_image into a container job, even in vanilla
            for key in ("docker_image", "container_service_names", "dask_container_port"):
                extra.pop(key, None)
        return extra

    def _update_worker_status(self, op, msg):
        # Not SpecCluster's: it closes a job whose worker has been gone for distributed's
        # lost-worker-timeout, held jobs included, and forgets it without a replacement.
        # The Replacer decides instead (see replace.py).
        if op == "add":
            for worker in (msg.get("workers") or {}).values():
                self._replacer.joined(self._job_name(worker.get("name")))
            self._worker_joined.set()
        elif op == "remove":
            self._replacer.left(self._job_name((self.scheduler_info["workers"].get(msg) or {}).get("name")))
        Cluster._update_worker_status(self, op, msg)

    async def _wait_for_workers(self, n_workers=0, timeout=None):
        """distributed's, without up to 0.1 s of lag after the last worker joins: a worker
        joining (the scheduler tells this cluster anyway) wakes it at once."""
        deadline = None if not timeout else time.monotonic() + parse_timedelta(timeout)
        while True:
            self._worker_joined.clear()
            self.scheduler_info = SchedulerInfo(await self.scheduler_comm.identity())
            workers = self.scheduler_info["workers"].values()
            running = sum(w["status"] == Status.running.name for w in workers)
            if not n_workers or running >= n_workers:
                return
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                raise WorkerStartTimeoutError(running, n_workers, timeout)
            wait = STATUS_INTERVAL if len(workers) >= n_workers else WAIT_INTERVAL
            with suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._worker_joined.wait(), wait if left is None else min(wait, left))

    def _job_name(self, worker_name):
        """The job (worker_spec key) of a worker: `name`, or `name-i` with several processes per job."""
        name = str(worker_name)
        base = name.rsplit("-", 1)[0]
        return base if name not in self.worker_spec and base in self.worker_spec else name

    async def _correct_state_internal(self):
        try:
            await super()._correct_state_internal()
        except Exception as e:
            if not any(job.status == Status.failed for job in self.workers.values()):
                raise
            logger.warning("cluster %s: a worker job could not be started: %s", self.name, e)  # the Replacer's now

    # distributed's two background coroutines hold the cluster strongly, so a
    # cluster the user dropped would never be collected and its workers would live
    # on. These versions hold it weakly; the weakref.finalize above then reaps.
    def _watch_worker_status(self, comm):
        return _watch_worker_status(weakref.ref(self), comm)

    def _sync_cluster_info(self):
        return _sync_cluster_info(weakref.ref(self))

    def adapt(self, *args, **kwargs):
        maximum = kwargs.get("maximum", args[1] if len(args) > 1 else None)
        if self.backend == "local" and maximum is not None and maximum > local_worker_cap():
            raise ValueError(_too_many(maximum))
        kwargs.setdefault("Adaptive", _WeakAdaptive)
        self._replacer.reset()
        return super().adapt(*args, **kwargs)


def _too_many(n):
    return (
        f"{n} workers is more than this machine takes: the local backend runs every worker here, "
        f"at most {local_worker_cap()} ({os.cpu_count()} cores). On HTCondor there is no such limit."
    )


class _WeakAdaptive(Adaptive):
    """Adaptive whose periodic callback does not keep a dropped cluster alive."""

    @property
    def cluster(self):
        return self._cluster_ref()

    @cluster.setter
    def cluster(self, cluster):
        self._cluster_ref = weakref.ref(cluster)

    async def scale_up(self, n):
        self.cluster._scale(n)  # not the user's scale(): that would forget the losses counted

    async def adapt(self):
        if self._cluster_ref() is None:
            self.stop(reason="cluster-garbage-collected")
            return
        await super().adapt()


async def _watch_worker_status(ref, comm):
    while True:
        try:
            msgs = await comm.read()
        except OSError:
            break
        cluster = ref()
        if cluster is None:
            break
        with log_errors():
            for op, msg in msgs:
                cluster._update_worker_status(op, msg)
        del cluster
    await comm.close()


async def _sync_cluster_info(ref):
    """distributed's loop, minus the strong reference (and its error backoff)."""
    while True:
        cluster = ref()
        if cluster is None or cluster.status != Status.running:
            return
        with suppress(Exception):
            await cluster.scheduler_comm.set_metadata(
                keys=["cluster-manager-info"], value=cluster._cluster_info.copy()
            )
        interval = cluster._sync_interval
        del cluster
        await asyncio.sleep(interval)


def _prologue(job_kwargs) -> list:
    """The user's job-script prologue, under its new or its old (docs') name."""
    for value in (
        job_kwargs.pop("job_script_prologue", None),
        job_kwargs.pop("env_extra", None),
        dask.config.get(f"{_JOBQUEUE}.job-script-prologue", None),
        dask.config.get(f"{_JOBQUEUE}.env-extra", None),
    ):
        if value:
            return list(value)
    return []


def _log_level(level):
    """Nanny wants a logging level number; dask-jobqueue takes names like 'error'."""
    return getattr(logging, level.upper()) if isinstance(level, str) else level


def _dir_of(sec: Security) -> Path:
    return Path(sec.tls_ca_file).parent
