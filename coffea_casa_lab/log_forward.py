"""A worker's log lines, sent to its scheduler as they are written, so they outlive the worker.

HTCondor returns a worker job's stdout and stderr only when the job exits on its own: an
evicted or removed job's output is gone with its sandbox, and a killed local worker had no
files at all. So every worker (a Dask preload) and, in an HTCondor job, its Nanny send the
lines of the `distributed` logger to their scheduler as log events (topic TOPIC), where the
cluster keeps them (coffea_casa_lab.worker_logs). Lines written before the worker reaches
its scheduler wait (the last PENDING of them) and go once it is (checked every second).

HTCondor worker jobs get this very file with their TLS files and preload it, so it must not
import anything of coffea_casa_lab.
"""

import collections
import logging
import threading

TOPIC = "coffea-casa-worker-log"
PENDING = 500  # lines kept while the scheduler cannot be reached
MAX_LINE = 4000  # characters of one line (a traceback is one line)
FORMAT = "%(asctime)s - %(name)s - %(levelname)s - %(message)s"  # as distributed's own handlers


class _Forward(logging.Handler):
    def __init__(self, server):
        super().__init__(logging.INFO)
        self.server = server
        self.setFormatter(logging.Formatter(FORMAT))
        self.pending = collections.deque(maxlen=PENDING)
        self._sending = threading.Lock()
        self._busy = threading.local()  # sending may log too: never forward those lines

    def emit(self, record):
        if getattr(self._busy, "on", False):
            return
        try:
            self.pending.append(self.format(record)[:MAX_LINE])
        except Exception:  # a log line must never break the worker
            return
        self.flush()

    def flush(self):
        """Send what waits, if the scheduler can be reached (also every second: the last lines
        before a quiet spell, e.g. the worker's registration, go too)."""
        if not self.pending or not self._connected() or not self._sending.acquire(blocking=False):
            return
        self._busy.on = True
        try:
            lines = [self.pending.popleft() for _ in range(len(self.pending))]
            self._send({"name": str(self.server.name), "lines": lines})
        except Exception:
            pass
        finally:
            self._busy.on = False
            self._sending.release()

    def _connected(self):
        stream = getattr(self.server, "batched_stream", None)
        if stream is None:  # a Nanny: it calls its scheduler when it has something to say
            return getattr(self.server, "scheduler", None) is not None
        return stream.comm is not None and not stream.comm.closed()

    def _send(self, msg):
        if hasattr(self.server, "batched_stream"):
            self.server.log_event(TOPIC, msg)  # a Worker: thread-safe, over its stream to the scheduler
        else:
            self.server.loop.add_callback(self._call, msg)

    async def _call(self, msg):
        try:
            await self.server.scheduler.log_event(topic=TOPIC, msg=msg)
        except Exception:
            pass


def dask_setup(server):
    """Preload hook of a Worker or a Nanny (it runs on the server's event loop)."""
    from tornado.ioloop import PeriodicCallback

    handler = _Forward(server)
    logging.getLogger("distributed").addHandler(handler)
    handler.periodic = PeriodicCallback(handler.flush, 1000)
    handler.periodic.start()


def dask_teardown(server):
    for handler in list(logging.getLogger("distributed").handlers):
        if isinstance(handler, _Forward) and handler.server is server:
            handler.flush()
            handler.periodic.stop()
            logging.getLogger("distributed").removeHandler(handler)
