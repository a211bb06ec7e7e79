"""ClusterManager: the clusters this Jupyter server started, and their models. No HTTP here.

Clusters come from the dask-config factory `labextension.factory.{module,class,args,kwargs}`
and are created with asynchronous=True on the server's event loop, so starting
one never blocks other requests. A factory that fails (import error, exception,
timeout) leaves a model with status "failed" and a readable error.
"""

import asyncio
import importlib
import logging
import math
import os
import re
import time
import uuid
from pathlib import Path
from urllib.parse import urlparse

import dask.config

logger = logging.getLogger("coffea_casa_lab")

STARTING, RUNNING, FAILED, CLOSED = "starting", "running", "failed", "closed"
MAX_WORKERS = 10_000  # far above any facility quota; bigger numbers are typos or attacks


class ClusterError(Exception):
    """A request the manager refuses; `status` is the fitting HTTP-like code (no HTTP here)."""

    def __init__(self, message, status=400):
        super().__init__(message)
        self.status = status


def labextension_config():
    """`labextension` settings, accepting the shapes found in the wild.

    - The docs' YAML nests `default` (and images nest `initial`) under `factory`.
    - coffea-casa images ship `default` as a list of one-key dicts:
      `default: [{workers: 1}, {adapt: {minimum: 1, maximum: 10}}]`.
    """
    cfg = dask.config.get("labextension", {}) or {}
    factory = dict(cfg.get("factory") or {})
    default = factory.pop("default", None)
    initial = factory.pop("initial", None)
    default = _as_options(default if default is not None else cfg.get("default"))
    initial = initial if initial is not None else cfg.get("initial")
    initial = [_as_options(i) for i in (initial or [])]
    kwargs = {str(k).replace("-", "_"): v for k, v in (factory.get("kwargs") or {}).items()}
    return {
        "module": factory.get("module") or "coffea_casa",
        "class": factory.get("class") or "CoffeaCasaCluster",
        "args": list(factory.get("args") or []),
        "kwargs": kwargs,
        "default": default,
        "initial": initial,
    }


def _as_options(value):
    """{workers, adapt, name} from a dict or a list of one-key dicts."""
    if value is None:
        return {}
    if isinstance(value, dict):
        return dict(value)
    if isinstance(value, (list, tuple)):
        merged = {}
        for item in value:
            if isinstance(item, dict):
                merged.update(item)
        return merged
    raise ClusterError(f"labextension default must be a mapping or a list of mappings, not {value!r}")


def check_workers(value, what="workers"):
    if isinstance(value, bool) or not isinstance(value, int):
        raise ClusterError(f"{what} must be an integer, not {value!r}")
    if value < 0:
        raise ClusterError(f"{what} must not be negative (got {value})")
    if value > MAX_WORKERS:
        raise ClusterError(f"{what} must be at most {MAX_WORKERS} (got {value})")
    return value


def check_adapt(value):
    """{minimum, maximum} (plus Adaptive's interval/wait_count/target_duration) or an error."""
    if not isinstance(value, dict):
        raise ClusterError(f"adapt must be an object with minimum and maximum, not {value!r}")
    unknown = set(value) - {"minimum", "maximum", "interval", "wait_count", "target_duration"}
    if unknown:
        raise ClusterError(f"adapt takes minimum and maximum; unknown keys: {sorted(unknown)}")
    minimum = check_workers(value.get("minimum", 0), "adapt.minimum")
    maximum = check_workers(value.get("maximum", minimum), "adapt.maximum")
    if minimum > maximum:
        raise ClusterError(f"adapt.minimum ({minimum}) must not be larger than adapt.maximum ({maximum})")
    return dict(value, minimum=minimum, maximum=maximum)


def check_options(options):
    """Validate {name?, workers?, adapt?}; returns a clean dict."""
    if not isinstance(options, dict):
        raise ClusterError("expected a JSON object")
    unknown = set(options) - {"name", "workers", "adapt"}
    if unknown:
        raise ClusterError(f"unknown fields: {sorted(unknown)}")
    clean = {}
    if options.get("name") is not None:
        if not isinstance(options["name"], str) or len(options["name"]) > 200:
            raise ClusterError("name must be a string of at most 200 characters")
        clean["name"] = options["name"]
    if options.get("workers") is not None:
        clean["workers"] = check_workers(options["workers"])
    if options.get("adapt") is not None:
        clean["adapt"] = check_adapt(options["adapt"])
    return clean


class _NoFactory(Exception):
    pass


class _Entry:
    def __init__(self, id, name):
        self.id, self.name = id, name
        self.status, self.error = STARTING, None
        self.cluster = None
        self.task = None
        self.report = None  # {"start", "last_count"} while recording a performance report


class ClusterManager:
    def __init__(self, prefix="coffea-casa/", start_timeout=None, log=None):
        self.log = log or logger  # the Jupyter server's log, so cluster events show there
        self.prefix = prefix  # dashboard URLs are `{prefix}dashboard/{id}/`, relative to base_url
        self.start_timeout = start_timeout or dask.config.get("labextension.start-timeout", 300)
        self._entries = {}
        self._count = 0
        self._start_lock = asyncio.Lock()

    # --- lifecycle -------------------------------------------------------------------
    def start_cluster(self, options=None):
        """Register a cluster and start it in the background; returns its model (status starting).

        Must be called with the event loop running.
        """
        cfg = labextension_config()
        options = check_options(options or {})
        if "workers" not in options and "adapt" not in options:
            default = cfg["default"]
            if default.get("adapt"):
                options["adapt"] = check_adapt(default["adapt"])
            elif default.get("workers") is not None:
                options["workers"] = check_workers(default["workers"])
        self._count += 1
        entry = _Entry(uuid.uuid4().hex[:12], options.get("name") or f"Cluster {self._count}")
        self._entries[entry.id] = entry
        entry.task = asyncio.ensure_future(self._start(entry, cfg, options))
        return self.model(entry.id)

    def start_initial(self):
        """Start the `labextension.initial` clusters (in the background)."""
        try:
            initial = labextension_config()["initial"]
        except ClusterError as e:
            self.log.error("labextension.initial: %s", e)
            return []
        models = []
        for options in initial:
            try:
                models.append(self.start_cluster({k: options.get(k) for k in ("name", "workers", "adapt")}))
            except ClusterError as e:
                self.log.error("labextension.initial entry %r: %s", options, e)
        return models

    def preload_factory(self):
        """Import the factory's module ahead of the first cluster (import side effects happen now)."""
        try:
            importlib.import_module(labextension_config()["module"])
        except Exception as e:  # reported as the cluster's error when one is started
            self.log.warning("cannot import the cluster factory module: %s", e)

    async def _start(self, entry, cfg, options):
        target = f"{cfg['module']}.{cfg['class']}"
        try:
            try:
                factory = getattr(importlib.import_module(cfg["module"]), cfg["class"])
            except (ImportError, AttributeError) as e:
                raise _NoFactory(f"cannot import the cluster factory {target}: {e}") from None
            # One start at a time: CoffeaCasaCluster picks its ports (8786/8787 first) when
            # constructed but binds them only when awaited, so two concurrent starts would
            # both pick the same port. Workers are added after the lock is released.
            async with self._start_lock:
                cluster = factory(*cfg["args"], asynchronous=True, **cfg["kwargs"])
                entry.cluster = cluster
                await asyncio.wait_for(_awaitable(cluster), self.start_timeout)
            if entry.status == CLOSED:  # closed while starting
                await _close(cluster)
                return
            if "adapt" in options:
                self._adapt(cluster, options["adapt"])
            elif options.get("workers"):
                cluster.scale(options["workers"])
            entry.status = RUNNING
            self.log.info("cluster %s (%s) running at %s", entry.id, entry.name, cluster.scheduler_address)
        except asyncio.CancelledError:
            raise
        except Exception as e:
            entry.status = FAILED
            if isinstance(e, asyncio.TimeoutError):
                entry.error = f"{target} did not start within {self.start_timeout} s"
            else:
                entry.error = str(e) if isinstance(e, _NoFactory) else f"{type(e).__name__}: {e}"
            self.log.error("cluster %s (%s) failed to start: %s", entry.id, entry.name, entry.error)
            if entry.cluster is not None:
                await _close(entry.cluster)
                entry.cluster = None

    def _get(self, id, running=False):
        entry = self._entries.get(id)
        if entry is None:
            raise ClusterError(f"no cluster with id {id!r}", 404)
        if running and entry.status != RUNNING:
            raise ClusterError(f"cluster {id} is {entry.status}, not running", 409)
        return entry

    def scale(self, id, workers):
        entry = self._get(id, running=True)
        workers = check_workers(workers)
        if entry.cluster._adaptive is not None:
            entry.cluster._adaptive.stop()
            entry.cluster._adaptive = None
        entry.cluster.scale(workers)
        return self.model(id)

    def adapt(self, id, adapt):
        entry = self._get(id, running=True)
        self._adapt(entry.cluster, check_adapt(adapt))
        return self.model(id)

    @staticmethod
    def _adapt(cluster, adapt):
        cluster.adapt(**adapt)

    async def close(self, id):
        entry = self._get(id)
        model = self.model(id)
        del self._entries[id]
        previous, entry.status = entry.status, CLOSED
        if previous == STARTING and entry.task is not None:
            entry.task.cancel()
            await asyncio.gather(entry.task, return_exceptions=True)
        if entry.cluster is not None:
            await _close(entry.cluster)
            entry.cluster = None
        return dict(model, status=CLOSED, workers=0, cores=0, memory_bytes=0, requested_workers=0)

    async def close_all(self):
        if self._entries:
            self.log.info("closing %d cluster(s)", len(self._entries))
        await asyncio.gather(*(self.close(id) for id in list(self._entries)), return_exceptions=True)

    # --- views -----------------------------------------------------------------------
    def ids(self):
        return list(self._entries)

    def list(self):
        return [self.model(id) for id in self._entries]

    def model(self, id):
        entry = self._get(id)
        cluster = entry.cluster if entry.status == RUNNING else None
        info = (getattr(cluster, "scheduler_info", None) or {}) if cluster is not None else {}
        workers = (info.get("workers") or {}).values()
        adaptive = getattr(cluster, "_adaptive", None)
        adapt = None
        if adaptive is not None and getattr(adaptive, "periodic_callback", None) is not None:
            adapt = {"minimum": _finite(adaptive.minimum), "maximum": _finite(adaptive.maximum)}
        model = {
            "id": entry.id,
            "name": entry.name,
            "status": entry.status,
            "backend": getattr(cluster or entry.cluster, "backend", "local"),
            "scheduler_address": (cluster.scheduler_address or "") if cluster is not None else "",
            "dashboard_url": f"{self.prefix}dashboard/{entry.id}/",
            "workers": len(workers),
            "cores": sum(w.get("nthreads", 0) for w in workers),
            "memory_bytes": sum(w.get("memory_limit", 0) or 0 for w in workers),
            "adapt": adapt,
            "requested_workers": _planned(cluster),
            "recording": entry.report is not None,
        }
        if entry.error:
            model["error"] = entry.error
        return model

    def dashboard_target(self, id):
        """(host, port) of the running cluster's dashboard, or None. Never taken from a request."""
        entry = self._entries.get(id)
        if entry is None or entry.status != RUNNING or entry.cluster is None:
            return None
        cluster = entry.cluster
        port = ((cluster.scheduler_info or {}).get("services") or {}).get("dashboard")
        host = urlparse(cluster.scheduler_address or "").hostname
        if not port or not host:
            return None
        return host, int(port)

    def cluster(self, id):
        """The cluster object of a running cluster (for jobs and logs)."""
        return self._get(id, running=True).cluster

    # --- performance reports, packages and files (docs chapters 2 and 3.4) ---------------
    async def start_report(self, id):
        """Start recording a Dask performance report, as distributed's `performance_report` does."""
        entry = self._get(id, running=True)
        if entry.report is not None:
            raise ClusterError(f"cluster {id} is already recording a performance report", 409)
        entry.report = {}  # taken now: a second start while this one awaits is refused
        try:
            async with _client(entry.cluster) as client:
                last_count = await client.run_on_scheduler(lambda dask_scheduler: dask_scheduler.monitor.count)
                await client.get_task_stream(start=0, stop=0)  # makes the scheduler record the task stream
            entry.report = {"start": time.time(), "last_count": last_count}
        except Exception as e:
            entry.report = None
            raise ClusterError(f"cannot start recording on cluster {id}: {e}", 502) from None
        return self.model(id)

    async def stop_report(self, id, root_dir):
        """Save the report since start_report as HTML; {"path": relative to root_dir (or None), "file"}."""
        entry = self._get(id, running=True)
        report = entry.report
        if not report:
            raise ClusterError(f"cluster {id} is not recording a performance report", 409)
        entry.report = None
        root = Path(root_dir).expanduser().resolve()
        folder = root / os.path.expanduser(dask.config.get("coffea-casa.performance-report-dir", None) or ".")
        name = re.sub(r"[^\w.-]+", "-", entry.name).strip("-.") or entry.id
        file = folder.resolve() / f"dask-report-{name}-{time.strftime('%Y%m%d-%H%M%S')}.html"
        try:
            async with _client(entry.cluster) as client:
                html = await client.scheduler.performance_report(
                    start=report["start"], last_count=report["last_count"],
                    code=f"# Recorded from the coffea-casa sidebar: cluster {entry.name} ({entry.id})",
                    mode="inline",  # bokeh's JavaScript inside the file: it renders offline too
                )
            file.parent.mkdir(parents=True, exist_ok=True)
            file.write_text(html, encoding="utf-8")
        except Exception as e:
            raise ClusterError(f"cannot save the performance report of cluster {id}: {e}", 502) from None
        self.log.info("performance report of cluster %s saved to %s", id, file)
        path = file.relative_to(root).as_posix() if file.is_relative_to(root) else None
        return {"path": path, "file": str(file)}

    async def install_packages(self, id, packages):
        """Register distributed's PipInstall plugin: running workers install now, new ones on start."""
        from distributed.diagnostics.plugin import PipInstall

        entry = self._get(id, running=True)
        packages = check_packages(packages)
        try:
            async with _client(entry.cluster) as client:
                await client.register_plugin(PipInstall(packages=packages))
        except Exception as e:
            raise ClusterError(f"installing {' '.join(packages)} on cluster {id} failed: {e}", 502) from None
        self.log.info("cluster %s: installed %s on its workers", id, packages)
        return self.model(id)

    async def upload_file(self, id, path, root_dir):
        """distributed's upload_file for a file inside root_dir (`path` is relative to it)."""
        from distributed.diagnostics.plugin import UploadFile

        entry = self._get(id, running=True)
        if not isinstance(path, str) or not path or "\0" in path:
            raise ClusterError("path must be a file path relative to the server's root folder")
        root = Path(root_dir).expanduser().resolve()
        file = (root / path).resolve()
        if not file.is_relative_to(root):
            raise ClusterError(f"{path!r} is outside the server's root folder")
        if file.suffix not in UPLOADABLE:
            raise ClusterError(f"only {', '.join(UPLOADABLE)} files can be sent to workers, not {path!r}")
        if not file.is_file():
            raise ClusterError(f"no file {path!r}", 404)
        try:
            async with _client(entry.cluster) as client:
                # Only the workers' half of Client.upload_file: the scheduler runs inside this
                # Jupyter server, which must not import the user's module. A stable name: sending
                # the file again replaces it (and workers re-import it).
                await client.register_plugin(UploadFile(str(file)), name=f"upload-file-{file.name}")
        except Exception as e:
            raise ClusterError(f"sending {path} to the workers of cluster {id} failed: {e}", 502) from None
        return self.model(id)


MAX_PACKAGES = 100
UPLOADABLE = (".py", ".egg", ".zip")  # what distributed's upload_file puts on the workers' sys.path


def check_packages(packages):
    """A non-empty list of pip requirement strings (no pip options)."""
    if (not isinstance(packages, list) or not 0 < len(packages) <= MAX_PACKAGES
            or not all(isinstance(p, str) and p.strip() and len(p) <= 1000 for p in packages)):
        raise ClusterError(f"packages must be a list of 1 to {MAX_PACKAGES} requirement strings")
    packages = [p.strip() for p in packages]
    if any(p.startswith("-") for p in packages):
        raise ClusterError("packages are requirements, not pip options")
    return packages


def _client(cluster):
    """An asynchronous Client of the cluster, with the cluster's own TLS settings."""
    from distributed import Client

    return Client(cluster.scheduler_address, security=getattr(cluster, "security", None),
                  asynchronous=True, set_as_default=False, timeout=30)


def _planned(cluster):
    """Workers asked for (SpecCluster.plan), whether or not their jobs have started yet."""
    if cluster is None:
        return 0
    return len(getattr(cluster, "plan", None) or getattr(cluster, "requested", None) or ())


def _finite(x):
    return int(x) if x is not None and math.isfinite(x) else MAX_WORKERS


async def _awaitable(cluster):
    if hasattr(cluster, "__await__"):
        await cluster


async def _close(cluster):
    try:
        result = cluster.close()
        if asyncio.iscoroutine(result) or isinstance(result, asyncio.Future):
            await asyncio.wait_for(result, 60)
    except Exception as e:  # a half-started cluster may fail to close; its reaper still runs
        logger.warning("closing cluster failed: %s", e)
