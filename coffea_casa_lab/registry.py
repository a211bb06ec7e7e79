"""The per-user registry of running clusters, wherever they were made. No HTTP here.

One JSON record per cluster, `cluster-<id>.json`, in `{jupyter runtime dir}/coffea-casa/`
(directory 0700, files 0600), as Jupyter keeps its own servers and kernels in that
directory. A cluster writes its record when it runs and removes it when it closes;
a crash leaves a record whose owner process is gone, and readers drop it.

A record: {id, name, kind: sidebar|kernel|script, where, pid, pid_started, host,
control (TLS address of its control handlers), scheduler_address, dashboard: [host, port],
backend, status: starting|running|failed, error, created, plus server_pid/server_started
for sidebar clusters (the Jupyter server that adopted them) and kernel_id for kernels}.
"""

import contextlib
import json
import os
import shlex
import socket
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psutil

SIDEBAR, KERNEL, SCRIPT = "sidebar", "kernel", "script"
HOST_PROCESS = False  # True in a sidebar host, which registers its cluster itself
_PREFIX, _SUFFIX = "cluster-", ".json"
_HOST = socket.gethostname()


def directory(create=True) -> Path:
    """`{jupyter runtime dir}/coffea-casa`, private to the user."""
    from jupyter_core.paths import jupyter_runtime_dir

    path = Path(jupyter_runtime_dir()) / "coffea-casa"
    if create and not path.is_dir():
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(path, 0o700)  # mkdir's mode is masked by the umask
    return path


def new_id() -> str:
    return uuid.uuid4().hex[:12]


def record_path(id: str) -> Path:
    return directory() / f"{_PREFIX}{id}{_SUFFIX}"


def log_path(id: str) -> Path:
    return directory() / f"{_PREFIX}{id}.log"


def process_started(pid: int):
    """The create time of `pid` (with the pid, it names one process), or None if it is gone."""
    try:
        return psutil.Process(pid).create_time()
    except (psutil.NoSuchProcess, psutil.AccessDenied, ValueError):
        return None


_VERIFIED = {}  # (pid, started) -> when psutil last confirmed it
_REVERIFY = 2.0  # seconds between full checks of a process that keeps answering


def alive(pid, started) -> bool:
    """Whether the process `pid` that started at `started` still runs (not a reused pid, no zombie).

    A sidebar polls every record each time: `kill(pid, 0)` answers at once for a process that
    is gone; the full check (start time, zombie) is repeated every couple of seconds only.
    """
    try:
        key = (int(pid), float(started or 0))
        os.kill(key[0], 0)
    except (ProcessLookupError, ValueError, TypeError, OverflowError):
        return False
    except PermissionError:
        pass  # somebody else's process has that pid: the full check tells
    now = time.monotonic()
    if now - _VERIFIED.get(key, -_REVERIFY) < _REVERIFY:
        return True
    try:
        process = psutil.Process(key[0])
        ok = abs(process.create_time() - key[1]) < 0.01 and process.status() != psutil.STATUS_ZOMBIE
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        ok = False
    if ok:
        _VERIFIED[key] = now
    else:
        _VERIFIED.pop(key, None)
    return ok


def write(record: dict) -> Path:
    """Write (or replace) a record atomically, mode 0600."""
    folder = directory()
    fd, tmp = tempfile.mkstemp(prefix=".cluster-", suffix=".tmp", dir=folder)  # mode 0600
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(record, f)
        path = folder / f"{_PREFIX}{record['id']}{_SUFFIX}"
        os.replace(tmp, path)
        return path
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def remove(id: str, log=False):
    with contextlib.suppress(OSError):
        record_path(id).unlink()
    if log:
        with contextlib.suppress(OSError):
            log_path(id).unlink()


class Reader:
    """Reads the registry, re-parsing only the files that changed, and drops dead records."""

    def __init__(self):
        self.folder = directory()
        self._cache = {}  # path -> (mtime_ns, record)
        self._dir_mtime = None
        self._records = []
        self.dropped = set()  # ids of records this reader deleted because their process was gone

    def records(self, prune=True) -> list:
        """Live records, oldest first. Records whose owner process is gone are deleted."""
        folder = self.folder
        try:
            mtime = folder.stat().st_mtime_ns
        except OSError:
            return []
        if mtime != self._dir_mtime:
            self._records = self._scan(folder)
            self._dir_mtime = mtime
        if not prune:
            return list(self._records)
        live = [r for r in self._records if alive(r.get("pid"), r.get("pid_started"))]
        if len(live) != len(self._records):
            for record in self._records:
                if record not in live:
                    remove(record["id"])
                    self.dropped.add(record["id"])
            self._records = live
        return list(live)

    def _scan(self, folder):
        found = {}
        for path in folder.glob(f"{_PREFIX}*{_SUFFIX}"):
            try:
                mtime = path.stat().st_mtime_ns
                cached = self._cache.get(path)
                if cached and cached[0] == mtime:
                    found[path] = cached
                    continue
                record = json.loads(path.read_text())
                if (isinstance(record, dict) and record.get("id") and path.name == f"{_PREFIX}{record['id']}{_SUFFIX}"
                        # a home shared by several machines: another machine's pids mean nothing here
                        and record.get("host", _HOST) == _HOST):
                    found[path] = (mtime, record)
            except (OSError, ValueError):
                continue  # being replaced, or not ours
        self._cache = found
        return sorted((r for _, r in found.values()), key=lambda r: (r.get("created", 0), r["id"]))

    def get(self, id):
        return next((r for r in self.records(prune=False) if r["id"] == id), None)


# --- where a cluster lives ---------------------------------------------------------------

def current_process() -> dict:
    """{kind, where, kernel_id?} of this process: a Jupyter kernel (with its notebook) or a script."""
    if _in_kernel():
        info = {"kind": KERNEL, "where": os.environ.get("JPY_SESSION_NAME") or None}
        with contextlib.suppress(Exception):
            from ipykernel.connect import get_connection_file

            name = Path(get_connection_file()).stem  # kernel-<id>
            info["kernel_id"] = name[len("kernel-"):] if name.startswith("kernel-") else None
        return info
    argv = [a for a in sys.argv if a] or ["python"]
    return {"kind": SCRIPT, "where": shlex.join([Path(sys.executable).name, *argv])}


def _in_kernel() -> bool:
    app = sys.modules.get("ipykernel.kernelapp")
    return bool(app and app.IPKernelApp.initialized())


def owner_fields() -> dict:
    """This process, for a record: pid, pid_started and host."""
    return {"pid": os.getpid(), "pid_started": process_started(os.getpid()), "host": socket.gethostname(),
            "created": time.time()}


def jupyter_server_info():
    """The Jupyter server that started this kernel (its jpserver-<pid>.json), or None."""
    from jupyter_core.paths import jupyter_runtime_dir

    pid = os.environ.get("JPY_PARENT_PID")
    if not pid or not _in_kernel():
        return None
    try:
        return json.loads((Path(jupyter_runtime_dir()) / f"jpserver-{int(pid)}.json").read_text())
    except (OSError, ValueError):
        return None
