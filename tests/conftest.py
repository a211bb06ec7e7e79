"""Shared test set-up.

Every test talks only to loopback: the scheduler's contact address is 127.0.0.2
(never the machine's own address), and TLS material is generated per test run,
away from the user's ~/.config.
"""

import atexit
import os
import shutil
import tempfile
from pathlib import Path

_RUN_DIR = tempfile.mkdtemp(prefix="coffea-casa-tests-")
atexit.register(shutil.rmtree, _RUN_DIR, ignore_errors=True)
_TESTS = Path(__file__).resolve().parent
# Set before dask is imported, so subprocesses (jupyter servers, sidebar hosts, scripts,
# kernels) inherit them: this folder's test factories are importable everywhere.
os.environ.update(
    {
        "PYTHONPATH": os.pathsep.join(filter(None, [str(_TESTS.parent), str(_TESTS), os.environ.get("PYTHONPATH")])),
        "JUPYTER_RUNTIME_DIR": os.path.join(_RUN_DIR, "runtime"),
        "DASK_COFFEA_CASA__EXTERNAL_ADDRESS": "127.0.0.2",
        "DASK_COFFEA_CASA__TLS_DIR": os.path.join(_RUN_DIR, "tls"),
        "DASK_COFFEA_CASA__SECRETS_DIR": os.path.join(_RUN_DIR, "no-facility-secrets"),
        "DASK_JOBQUEUE__COFFEA_CASA__LOG_DIRECTORY": os.path.join(_RUN_DIR, "logs"),
        # HTCondor-double jobs run on this host: workers listen on loopback, like the scheduler
        "DASK_JOBQUEUE__COFFEA_CASA__WORKER_EXTRA_ARGS": '["--host", "127.0.0.2"]',
        # The tests' small workers (1 core, 1 GiB) are below the shipped option limits (2-8 GiB):
        # this site declares none, and the tests of the limits declare their own.
        "DASK_COFFEA_CASA__OPTIONS": "[]",
        # No warm standby host beside each test server (CPU on a shared machine, and a + NEW
        # that takes it or not by timing); tests/test_standby.py turns it on.
        "DASK_COFFEA_CASA__STANDBY": "False",
    }
)

import psutil  # noqa: E402
import pytest  # noqa: E402

from condor_double.fixtures import condor_double  # noqa: E402,F401
from condor_pool.fixtures import condor_pool  # noqa: E402,F401


def _is_live_worker(p):
    try:
        # multiprocessing's resource tracker lives as long as the interpreter: not a worker
        return p.status() != psutil.STATUS_ZOMBIE and "resource_tracker" not in " ".join(p.cmdline())
    except psutil.NoSuchProcess:
        return False


def child_processes():
    """Live descendants of this test process (zombies and helpers excluded)."""
    return [p for p in psutil.Process().children(recursive=True) if _is_live_worker(p)]


def wait_until(predicate, timeout=30.0, interval=0.1):
    """Poll `predicate` until it is truthy; bounded, never a timing assertion."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    return predicate()


@pytest.fixture
def local_backend(monkeypatch):
    """Force the embedded default, whatever is on PATH."""
    import dask

    with dask.config.set({"coffea-casa.backend": "local"}):
        yield


@pytest.fixture
def no_leaks():
    """Fails the test if it leaves any worker process behind."""
    before = {p.pid for p in child_processes()}
    yield
    new = lambda: [p for p in child_processes() if p.pid not in before]  # noqa: E731
    wait_until(lambda: not new(), timeout=20)
    assert not new(), [p.cmdline() for p in new()]
