"""CoffeaCasaCluster: the documented coffea_casa API on HTCondor or local processes.

Both backends run the same Dask worker (a Nanny with a Worker, same TLS, same
names, cores and memory). On HTCondor it is a dask-jobqueue job; where no
HTCondor is usable it is a Nanny of this process, exactly as LocalCluster
starts them, so the embedded default comes up as fast as a LocalCluster.
"""

import asyncio
import logging
import os
import shutil
import socket
import subprocess
import sys
import warnings
import weakref
from contextlib import suppress
from pathlib import Path

import dask.config
from dask_jobqueue import HTCondorCluster
from dask_jobqueue.htcondor import HTCondorJob
from distributed import Adaptive, Nanny
from distributed.core import Status
from distributed.deploy.spec import ProcessInterface
from distributed.security import Security
from distributed.utils import log_errors

from . import config, packages, security as tls

logger = logging.getLogger("coffea_casa")

BACKENDS = ("htcondor", "local")
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


def pick_port(preferred, host: str, what: str) -> int:
    """`preferred` if it is free on `host`, else a free port (or an error on strict sites)."""
    if preferred:
        try:
            _bind_probe(host, int(preferred))
            return int(preferred)
        except OSError:
            if config.get("strict-ports"):
                raise PortInUseError(
                    f"The {what} port {preferred} is already in use, probably by another "
                    "cluster. This site only exposes the fixed ports "
                    "(coffea-casa.strict-ports: true): close the other cluster first."
                ) from None
    return _bind_probe(host, 0)


def _bind_probe(host: str, port: int) -> int:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("" if host == "0.0.0.0" else host, port))
        return s.getsockname()[1]


def _require_tls(sec: Security) -> Security:
    if not isinstance(sec, Security) or not sec.tls_ca_file or not sec.require_encryption:
        raise ValueError(
            "coffea-casa always uses TLS: pass a Security with require_encryption=True "
            "and TLS files, or none to use CoffeaCasaCluster.security()."
        )
    return sec


class _Reaper:
    """What must not outlive a cluster: its scheduler, local workers and HTCondor jobs.

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

    def __call__(self):
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
        self.user_files = user_files or {}  # requirements.txt / environment.yml to install

    async def start(self):
        await super().start()
        if self.reaper is not None:
            self.reaper.cancel_command = self.cancel_command
            self.reaper.condor_jobs.add(self.job_id)

    async def close(self):
        await super().close()
        if self.reaper is not None:
            self.reaper.condor_jobs.discard(self.job_id)


class CoffeaCasaLocalJob(CoffeaCasaJob):
    """The same worker as a Nanny of this process: the embedded default."""

    async def start(self):
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
                preload=[preload] if preload else None,
            )
            for n in names
        ]
        await asyncio.gather(*self.nannies)
        self.job_id = ",".join(str(n.process.process.pid) for n in self.nannies)
        if self.reaper is not None:
            self.reaper.nannies.update(self.nannies)
        await ProcessInterface.start(self)

    async def close(self):
        await asyncio.gather(*(n.close(reason="cluster-scale-down") for n in self.nannies))
        if self.reaper is not None:
            self.reaper.nannies.difference_update(self.nannies)
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
        self.backend = choose_backend(job_kwargs.pop("backend", None))
        protocol = job_kwargs.pop("protocol", None) or "tls://"
        if not protocol.startswith("tls"):
            raise ValueError(f"coffea-casa always uses TLS; protocol {protocol!r} is not allowed")
        secrets = tls.secrets_dir() if security is None else None
        security = _require_tls(security or tls.make_security(secrets))

        host = external_host(self.backend)
        listen = listen_host(host)
        scheduler_port = pick_port(scheduler_port, listen, "scheduler")
        dashboard_port = pick_port(dashboard_port, listen, "dashboard")
        self.external_address = f"tls://{_url_host(host)}:{scheduler_port}"

        options = {
            "port": scheduler_port,
            "dashboard_address": f"{_url_host(listen)}:{dashboard_port}",
            "protocol": "tls",
            "host": listen,
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
            tls.transfer_files(secrets or _dir_of(security)) + list(user_files.values()),
            self.external_address,
            worker_image or dask.config.get(f"{_JOBQUEUE}.worker-image"),
            scheduler_port,
            job_kwargs.pop("job_extra", None),
            job_kwargs.pop("job_extra_directives", None),
        )
        if job_kwargs.get("processes") is None and dask.config.get(f"{_JOBQUEUE}.processes") is None:
            job_kwargs["processes"] = 1  # one worker per job, whatever sqrt(cores) says
        log_directory = job_kwargs.pop("log_directory", None) or dask.config.get(
            f"{_JOBQUEUE}.log-directory"
        ) or os.path.expanduser("~/.cache/coffea-casa/logs")
        self._reaper = _Reaper()
        silence_logs = job_kwargs.pop("silence_logs", "error")

        self.settings = {
            "protocol": "tls://",
            "security": security,
            "log_directory": log_directory,
            "silence_logs": silence_logs,
            "scheduler_options": dict(options, external_address=options["contact_address"]),
            "job_extra": job_extra,
        }
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            super().__init__(
                job_cls=CoffeaCasaJob if self.backend == "htcondor" else CoffeaCasaLocalJob,
                security=security,
                protocol="tls://",
                silence_logs=silence_logs,
                scheduler_options=options,
                job_extra_directives=job_extra,
                log_directory=log_directory,
                nanny_port=nanny_port if self.backend == "htcondor" else None,
                worker_host=listen,
                contact_address=options["contact_address"],
                reaper=self._reaper,
                user_files=user_files,
                worker_silence_logs=silence_logs,
                **job_kwargs,
            )
        self._reaper.scheduler, self._reaper.loop = self.scheduler, self.loop
        weakref.finalize(self, self._reaper)
        logger.info(
            "CoffeaCasaCluster %s: %s backend, scheduler %s, dashboard %s",
            self.name, self.backend, self.scheduler_address, self.dashboard_link,
        )

    @classmethod
    def security(cls) -> Security:
        """Return the Dask Security object used by CoffeaCasa."""
        return tls.make_security()

    @staticmethod
    def _job_extra(files, external_address, worker_image, scheduler_port, job_extra, job_extra_directives):
        files = ", ".join(str(p) for p in files)
        return {
            "universe": "docker",
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

    # distributed's two background coroutines hold the cluster strongly, so a
    # cluster the user dropped would never be collected and its workers would live
    # on. These versions hold it weakly; the weakref.finalize above then reaps.
    def _watch_worker_status(self, comm):
        return _watch_worker_status(weakref.ref(self), comm)

    def _sync_cluster_info(self):
        return _sync_cluster_info(weakref.ref(self))

    def adapt(self, *args, **kwargs):
        kwargs.setdefault("Adaptive", _WeakAdaptive)
        return super().adapt(*args, **kwargs)


class _WeakAdaptive(Adaptive):
    """Adaptive whose periodic callback does not keep a dropped cluster alive."""

    @property
    def cluster(self):
        return self._cluster_ref()

    @cluster.setter
    def cluster(self, cluster):
        self._cluster_ref = weakref.ref(cluster)

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
