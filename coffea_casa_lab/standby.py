"""A warm host process for the next + NEW (`coffea-casa.standby`). No HTTP here.

A sidebar cluster started cold waits for a new interpreter, its imports (distributed,
bokeh, dask-jobqueue, the scheduler's HTTP routes), its TLS material and a first
cluster start that costs twice a later one: about a second, most of + NEW. So the server
keeps one standby host (`python -m coffea_casa_lab.host --standby`) that has done all that
(its first start on a throwaway cluster) and waits on its stdin. + NEW hands it the request
(one JSON line), site options included, when it was made from the dask config a new host
would read now; from then on it is an ordinary host (coffea_casa_lab.host). The next
standby starts a few seconds later, so that it takes no CPU from the cluster starting.

It holds no scheduler: measured (bench/p12_new_cluster.py --depth), a held one would save
a later start, some 30 ms of a 0.6 s + NEW, while it held the documented ports (a notebook's
cluster would lose them, or fail on a strict-ports site) and fixed the cluster's options in
advance. No worker and no job either, and no registry record: nothing lists it, adopts it
or counts it idle. It ends with its server: a graceful stop closes its stdin, and so does
the kernel when the server dies (kill -9 included); it also watches the server's pid.
"""
import asyncio
import contextlib
import hashlib
import importlib
import json
import logging
import os
import signal
import subprocess
import sys
import time

from . import config, registry

logger = logging.getLogger("coffea_casa_lab")

FIRST_DELAY = 2.0  # seconds after the server starts: the lab is loading
NEXT_DELAY = 5.0  # seconds after a hand-over: the cluster's workers are starting
STOP_TIMEOUT = 10.0
WATCH_INTERVAL = 1.0


def enabled():
    return bool(config.get("standby", True))


def settings():
    """What a new host would be made from: the dask config in the site's and user's files and
    DASK_* variables (read afresh), and this package's version."""
    import dask.config

    from . import __version__

    collected = dask.config.collect(paths=dask.config.paths, env=os.environ)
    return hashlib.sha256(repr((__version__, collected)).encode()).hexdigest()


def log_path(id):
    return registry.directory() / f"standby-{id}.log"


class Standby:
    """The server's standby host: started, handed a request, replaced, stopped."""

    def __init__(self, server_pid, log=None):
        self.server_pid = server_pid
        self.log = log or logger
        self.proc = self.id = self.settings = None
        self._timer = None

    def start_later(self, delay=NEXT_DELAY):
        """Start a standby in `delay` seconds (on the running loop), unless one is there or coming."""
        if not enabled() or self.proc is not None or self._timer is not None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # a manager used outside a server (tests, scripts): no standby
            return
        self._timer = loop.call_later(delay, self._start)

    def _start(self):
        self._timer = None
        if self.proc is not None:
            return
        self.id, self.settings = registry.new_id(), settings()  # the settings before the process reads them
        log = os.open(log_path(self.id), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "coffea_casa_lab.host", "--standby", "--id", self.id,
                 "--server-pid", str(self.server_pid)],
                stdin=subprocess.PIPE, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,  # as every host: a signal to the server's group misses it
            )
        finally:
            os.close(log)
        self.log.debug("standby host process %s started", self.proc.pid)

    def hand_over(self, name, options):
        """(id, process) of the standby now running this request; None when there is no usable one."""
        proc, id, made_from = self.proc, self.id, self.settings
        if proc is None:
            return None
        self.proc = self.id = self.settings = None
        if proc.poll() is not None or made_from != settings():
            self.log.info("standby host process %s not used: %s", proc.pid,
                          "it is gone" if proc.returncode is not None else "the dask config changed since it started")
            _end(proc, id)
            return None
        try:
            proc.stdin.write(json.dumps({"name": name, "options": options}).encode() + b"\n")
            proc.stdin.close()
        except OSError as e:  # it died meanwhile
            self.log.info("standby host process %s not used: %s", proc.pid, e)
            _end(proc, id)
            return None
        with contextlib.suppress(OSError):  # its log is the cluster's from now on (the open file moves with it)
            os.replace(log_path(id), registry.log_path(id))
        return id, proc

    async def stop(self):
        """At the server's stop: the standby ends (and leaves nothing)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        proc, id, self.proc = self.proc, self.id, None
        if proc is None:
            return
        with contextlib.suppress(OSError):
            proc.stdin.close()  # what it waits on: it exits at once
        deadline = time.monotonic() + STOP_TIMEOUT
        while proc.poll() is None and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        _end(proc, id)


def _end(proc, id):
    """A standby that will not be used: gone, with its log (it holds nothing else)."""
    with contextlib.suppress(OSError):
        proc.stdin.close()
    if proc.poll() is None:
        with contextlib.suppress(OSError):
            os.killpg(proc.pid, signal.SIGKILL)  # it leads its own session
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(5)
    with contextlib.suppress(OSError):
        log_path(id).unlink()


# --- in the standby process ------------------------------------------------------------------

async def wait_for_request(id, server_pid):
    """In `host --standby`: load what a host needs, then the request {name, options} from stdin;
    None when the server is gone first (then nothing is left behind)."""
    started = registry.process_started(server_pid)
    t0 = time.monotonic()
    preload()
    await warm_up()
    logger.info("standby %s ready in %.2f s", os.getpid(), time.monotonic() - t0)
    loop = asyncio.get_running_loop()
    readable = loop.create_future()
    loop.add_reader(sys.stdin.fileno(), lambda: readable.done() or readable.set_result(None))
    try:
        while registry.alive(server_pid, started) and not readable.done():
            await asyncio.wait([readable], timeout=WATCH_INTERVAL)
    finally:
        loop.remove_reader(sys.stdin.fileno())
    line = sys.stdin.buffer.readline() if readable.done() else b""
    if not line.strip():  # stdin closed: the server stopped or died
        logger.info("standby %s: its server is gone", os.getpid())
        with contextlib.suppress(OSError):
            log_path(id).unlink()
        return None
    return json.loads(line)


def preload():
    """Import what a cluster's start imports, and make the TLS material."""
    import dask.config

    from . import cluster, control, security  # noqa: F401  (distributed, dask-jobqueue)
    from .options import labextension_config

    modules = ["distributed.dashboard.scheduler",  # bokeh
               *dask.config.get("distributed.scheduler.http.routes", [])]
    with contextlib.suppress(Exception):  # a broken factory fails the cluster later, with its message
        modules.append(labextension_config()["module"])
    for module in modules:
        try:
            importlib.import_module(module)
        except Exception as e:
            logger.warning("standby: cannot import %s: %s", module, e)
    security.make_security()  # generates the TLS material on first use


async def warm_up():
    """Start and close a throwaway CoffeaCasaCluster (no worker, so no job; loopback, free ports) when
    the factory makes CoffeaCasaClusters: a process's first cluster start costs twice a later one
    (lazy imports, caches), and the standby pays that, not + NEW. Not registered: this is a host."""
    from .cluster import CoffeaCasaCluster
    from .options import labextension_config

    try:
        cfg = labextension_config()
        if not issubclass(getattr(importlib.import_module(cfg["module"]), cfg["class"]), CoffeaCasaCluster):
            return
        quiet = logging.getLogger("coffea_casa")
        level, _ = quiet.level, quiet.setLevel(logging.WARNING)  # its log becomes a cluster's: no other cluster in it
        try:
            cluster = CoffeaCasaCluster(asynchronous=True, scheduler_port=0, dashboard_port=0,
                                        scheduler_options={"host": "127.0.0.1", "dashboard_address": "127.0.0.1:0"})
            try:
                await cluster
            finally:
                await cluster.close()
        finally:
            quiet.setLevel(level)
    except Exception as e:  # only a warm-up: the cluster itself says what is wrong
        logger.warning("standby: the warm-up cluster failed: %s", e)
