"""The process a sidebar cluster lives in: `python -m coffea_casa_lab.host --id ID ...`.

The Jupyter server starts one host per sidebar cluster, in a session of its own, so
the scheduler never shares the server's event loop and a server crash does not take
the cluster with it. The host:
- serves the cluster's control handlers on a TLS port of its own (loopback), plus
  `adopt`, which a Jupyter server calls to take the cluster over after a restart;
- writes the cluster's registry record, and removes it when the cluster closes;
- closes the cluster, its workers and its jobs, then exits, when asked (control
  `close`, SIGTERM, SIGINT), when the cluster ends on its own, or when no live
  Jupyter server has adopted it for `coffea-casa.orphan-timeout` seconds, or for its
  keep time if the user kept it (`keep`, coffea_casa_lab.keep).
A host started with `--standby` loads all it needs first and takes its cluster's name and
options on stdin later, from + NEW (coffea_casa_lab.standby).
"""

import argparse
import asyncio
import importlib
import json
import logging
import signal
import sys
import time

import dask.config

from . import config, keep, registry, standby
from .control import ClusterControl
from .options import labextension_config
from .safe_text import check_name

logger = logging.getLogger("coffea_casa_lab.host")
CONTROL_HOST = "127.0.0.1"  # the control channel is local: only this machine's Jupyter server calls it
WATCH_INTERVAL = 1.0


class HostControl(ClusterControl):
    """The cluster's handlers, plus what only a host does: be adopted, and exit on close."""

    def __init__(self, host):
        super().__init__(lambda: host.cluster)
        self.host = host
        self.status = "starting"

    @property
    def handlers(self):
        return dict(super().handlers, coffea_casa_adopt=self.adopt, coffea_casa_keep=self.keep)

    def info(self):
        return dict(super().info(), keep=self.host.record["keep"])

    def keep(self, seconds):
        self.host.set_keep(seconds)
        return self.info()

    def close(self):
        self.host.request_stop("closed on request", requested=True)
        return {"status": "closing"}

    def adopt(self, server_pid, server_started):
        self.host.adopt(server_pid, server_started)
        return {"status": "adopted"}


class Host:
    def __init__(self, id, name, options, server_pid):
        self.id, self.name, self.options = id, name, options
        self.cluster = None
        self.control = HostControl(self)
        self.server = (server_pid, registry.process_started(server_pid))
        self.orphan_since = None
        self.orphan_timeout = float(config.get("orphan-timeout", 600))
        self.keep_seconds = options.get("keep")  # None: not kept (the server decided the default)
        self.orphan_wait = self.orphan_timeout
        self.stopping = None  # asyncio.Event, made on the running loop
        self.reason, self.requested = None, False
        self.record = dict(
            registry.owner_fields(), id=id, name=name, kind=registry.SIDEBAR, where=None,
            status="starting", error=None, scheduler_address="", dashboard=None, backend=None, control=None,
            keep=keep.model(self.keep_seconds),
        )

    # --- the life of the host ---------------------------------------------------------
    async def run(self):
        from distributed.core import Server

        from .security import make_security

        self.stopping = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.request_stop, f"stopped by {signal.Signals(sig).name}", True)
        server = Server(self.control.handlers)
        await server.listen(f"tls://{CONTROL_HOST}:0", **make_security().get_listen_args("scheduler"))
        self.record["control"] = server.address
        self._write()
        starting = asyncio.ensure_future(self._start_cluster())
        watching = asyncio.ensure_future(self._watch())
        await self.stopping.wait()
        logger.info("cluster %s (%s): %s", self.id, self.name, self.reason)
        for task in (starting, watching):
            task.cancel()
        await asyncio.gather(starting, watching, return_exceptions=True)
        await self._close_cluster()
        # A requested close leaves nothing; any other end keeps the log, which says why.
        registry.remove(self.id, log=self.requested)
        server.stop()

    def request_stop(self, reason, requested=False):
        if not self.stopping.is_set():
            self.reason, self.requested = reason, requested
            self.stopping.set()

    def adopt(self, pid, started):
        self.server, self.orphan_since = (pid, started), None
        self.record["keep"] = keep.model(self.keep_seconds)  # waits for no one: no deadline
        self._write()
        logger.info("cluster %s adopted by the Jupyter server with pid %s", self.id, pid)

    def set_keep(self, seconds):
        """Kept (for `seconds` after its server is gone) or not (None): the record tells the next server."""
        self.keep_seconds = seconds
        self.record["keep"] = keep.model(seconds)
        self._write()
        logger.info("cluster %s %s", self.id, f"kept for {seconds} s after its server stops" if seconds else "not kept")

    def _write(self):
        self.record.update(server_pid=self.server[0], server_started=self.server[1])
        registry.write(self.record)

    # --- the cluster ------------------------------------------------------------------
    async def _start_cluster(self):
        cfg = labextension_config()
        target = f"{cfg['module']}.{cfg['class']}"
        timeout = dask.config.get("labextension.start-timeout", 300)
        try:
            try:
                factory = getattr(importlib.import_module(cfg["module"]), cfg["class"])
            except (ImportError, AttributeError) as e:
                raise _Failure(f"cannot import the cluster factory {target}: {e}") from None
            # The user's options (checked against the site's) over the factory's own keywords.
            kwargs = dict(cfg["kwargs"], **self.options.get("cluster", {}))
            self.cluster = factory(*cfg["args"], asynchronous=True, **kwargs)
            try:
                await asyncio.wait_for(_awaitable(self.cluster), timeout)
            except asyncio.TimeoutError:
                raise _Failure(f"{target} did not start within {timeout} s") from None
            self._size()
        except asyncio.CancelledError:
            raise
        except Exception as e:
            error = str(e) if isinstance(e, _Failure) else f"{type(e).__name__}: {e}"
            logger.error("cluster %s failed to start: %s", self.id, error)
            self.control.status, self.control.error = "failed", error
            self.record.update(status="failed", error=error)
            self._write()
            await self._close_cluster()
            return
        self.control.status = "running"
        summary = self.control.info()
        self.record.update(status="running", **{k: summary[k] for k in ("scheduler_address", "dashboard", "backend")})
        self._write()
        logger.info("cluster %s (%s) running at %s", self.id, self.name, self.cluster.scheduler_address)

    def _size(self):
        """The size asked for at start, then whatever was asked while starting."""
        if self.options.get("adapt"):
            self.cluster.adapt(**self.options["adapt"])
        elif self.options.get("workers"):
            self.cluster.scale(self.options["workers"])
        self.control.apply_pending()

    async def _close_cluster(self):
        cluster, self.cluster = self.cluster, None
        if cluster is None:
            return
        try:
            result = cluster.close()
            if asyncio.iscoroutine(result) or isinstance(result, asyncio.Future):
                await asyncio.wait_for(result, 60)
        except Exception as e:  # its reaper still removes workers and jobs at exit
            logger.warning("closing cluster %s failed: %s", self.id, e)

    async def _watch(self):
        """End with the cluster, and after `orphan-timeout` (or its keep time) without a live Jupyter server."""
        while True:
            await asyncio.sleep(WATCH_INTERVAL)
            status = getattr(getattr(self.cluster, "status", None), "name", None)
            if self.control.status == "running" and status in ("closed", "failed", "closing"):
                self.control.status = "closed"
                self.request_stop(f"the cluster ended on its own (status {status})")
            if registry.alive(*self.server):
                self.orphan_since = None
                continue
            now = time.monotonic()
            if self.orphan_since is None:
                self.orphan_since, self.orphan_wait = now, self.keep_seconds or self.orphan_timeout
                if self.keep_seconds:  # the next server, or a look at the record, tells until when
                    self.record["keep"] = keep.model(self.keep_seconds, until=time.time() + self.orphan_wait)
                    self._write()
                logger.warning("cluster %s: its Jupyter server (pid %s) is gone; closing in %s s unless "
                               "a server adopts it", self.id, self.server[0], self.orphan_wait)
            elif now - self.orphan_since >= self.orphan_wait:
                self.request_stop(f"no Jupyter server adopted it within {self.orphan_wait:g} s", True)


class _Failure(Exception):
    pass


async def _awaitable(cluster):
    if hasattr(cluster, "__await__"):
        await cluster


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--id", required=True)
    parser.add_argument("--name")
    parser.add_argument("--options", default="{}", help="JSON: {workers} or {adapt: {minimum, maximum}}, "
                        "cluster: {the user's cluster options}, keep: seconds or null")
    parser.add_argument("--server-pid", type=int, required=True, help="the Jupyter server that adopts it first")
    parser.add_argument("--standby", action="store_true", help="load everything, then take --name and --options "
                        "as a JSON line {name, options} on stdin (coffea_casa_lab.standby)")
    args = parser.parse_args(argv)

    def checked(name):
        try:
            return check_name(name)  # the server checked it; a host started by hand is checked too
        except ValueError as e:
            parser.error(str(e))

    if not args.standby:
        checked(args.name)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(name)s %(levelname)s: %(message)s")
    registry.HOST_PROCESS = True  # the cluster made here is registered by the host, not by itself
    asyncio.run(_serve(args, checked))


async def _serve(args, checked):
    options = json.loads(args.options)
    if args.standby:
        request = await standby.wait_for_request(args.id, args.server_pid)
        if request is None:
            return  # its server is gone
        args.name, options = checked(request["name"]), request["options"]
    await Host(args.id, args.name, options, args.server_pid).run()


if __name__ == "__main__":
    main()
