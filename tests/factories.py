"""Cluster factories for tests (`labextension.factory.module: factories`), importable by the
sidebar's host processes: tests put this folder on PYTHONPATH."""

import asyncio
import os


class Exploding:
    def __init__(self, *args, **kwargs):
        raise ValueError("the site is closed today")


class NeverReady:
    def __init__(self, *args, **kwargs):
        self.closed = False

    def __await__(self):
        return asyncio.sleep(3600).__await__()

    async def close(self):
        self.closed = True


class FakeCluster:
    """A cluster with no processes, for fuzzing the REST API without starting thousands of workers.

    It keeps the numbers a SpecCluster would report (requested workers, adapt bounds),
    so the handlers, the manager and the host run their real code paths.
    """

    backend = "local"

    def __init__(self, *args, asynchronous=False, **kwargs):
        # its "dashboard" is whatever the test serves at FAKE_DASHBOARD_PORT on 127.0.0.2
        self.scheduler_address = "tls://127.0.0.2:1"
        port = int(os.environ.get("FAKE_DASHBOARD_PORT", "0"))
        self.scheduler_info = {"workers": {}, "services": {"dashboard": port} if port else {}}
        self.plan = set()
        self.workers, self.worker_spec = {}, {}
        self._adaptive = None

    def __await__(self):
        return asyncio.sleep(0).__await__()

    def scale(self, n):
        self.plan = {str(i) for i in range(n)}

    def adapt(self, minimum=0, maximum=0, **kwargs):
        self._adaptive = type("Adaptive", (), {})()
        self._adaptive.minimum, self._adaptive.maximum = minimum, maximum
        self._adaptive.periodic_callback = object()
        self._adaptive.stop = lambda: setattr(self._adaptive, "periodic_callback", None)
        return self._adaptive

    async def close(self):
        self.plan = set()
