"""The ClusterModel dicts the REST API answers with (see openapi.yaml). No HTTP here.

One shape for every cluster: registered (from its record and the numbers its control
last gave), starting (a host process with no record yet) and gone (its process died
without closing it).
"""

import os
import signal

from . import keep, registry

STARTING, RUNNING, FAILED, CLOSED, LOST = "starting", "running", "failed", "closed", "lost"


def registered_model(record, info, *, prefix, where, recording, queue):
    """A registered cluster: its record, its live numbers (`info`, {} until asked) and the queue's counts."""
    id = record["id"]
    model = {
        "id": id,
        "name": record.get("name") or id,
        "status": info.get("status") or record.get("status") or RUNNING,
        "backend": info.get("backend") or record.get("backend") or "local",
        "scheduler_address": record.get("scheduler_address") or info.get("scheduler_address") or "",
        "dashboard_url": dashboard_url(prefix, id),
        "workers": info.get("workers", 0),
        "cores": info.get("cores", 0),
        "memory_bytes": info.get("memory_bytes", 0),
        "adapt": info.get("adapt"),
        "requested_workers": info.get("requested_workers", 0),
        "idle": info.get("idle"),
        "recording": recording,
        "kind": record.get("kind") or registry.SCRIPT,
        "where": where,
        "pid": record.get("pid"),
        "queue": queue if record.get("backend") == "htcondor" else None,
        "worker_shape": info.get("worker_shape"),
        "keep": info["keep"] if "keep" in info else record.get("keep"),
        "environment": info.get("environment"),
    }
    error = info.get("error") or record.get("error") or info.get("unreachable")
    if error:
        model["error"] = error
    return model


def starting_model(id, name, pid, options, *, prefix):
    """A sidebar cluster whose host process has not written its record yet."""
    return {
        "id": id, "name": name, "status": STARTING, "backend": "local", "scheduler_address": "",
        "dashboard_url": dashboard_url(prefix, id), "workers": 0, "cores": 0, "memory_bytes": 0,
        "adapt": options.get("adapt"), "requested_workers": options.get("workers") or 0, "recording": False,
        "kind": registry.SIDEBAR, "where": None, "pid": pid, "queue": None, "worker_shape": None,
        "keep": keep.model(options.get("keep")), "environment": None,
    }


def gone_model(id, name, returncode, status, record=None, *, prefix):
    """A cluster whose process died without closing it: why, for the card, until dismissed."""
    why = exit_reason(returncode)
    pid = (record or {}).get("pid")
    last = last_line(registry.log_path(id))
    error = f"its process{f' (pid {pid})' if pid else ''} is gone: {why}" + (f"; last log line: {last}" if last else "")
    return {
        "id": id, "name": name, "status": status, "error": error, "backend": (record or {}).get("backend") or "local",
        "scheduler_address": "", "dashboard_url": dashboard_url(prefix, id), "workers": 0, "cores": 0,
        "memory_bytes": 0, "adapt": None, "requested_workers": 0, "recording": False,
        "kind": (record or {}).get("kind") or registry.SIDEBAR, "where": (record or {}).get("where"), "pid": pid,
        "queue": None, "worker_shape": None, "keep": None, "environment": None,
    }


def closed_model(model):
    """What DELETE answers: the cluster as it was, closed and empty."""
    return dict(model, status=CLOSED, workers=0, cores=0, memory_bytes=0, requested_workers=0)


def dashboard_url(prefix, id):
    return f"{prefix}dashboard/{id}/"


def exit_reason(returncode):
    if returncode is None:
        return "it ended without closing the cluster"
    if returncode < 0:
        try:
            return f"killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"killed by signal {-returncode}"
    return f"it exited with code {returncode}"


def last_line(path):
    try:
        with open(path, "rb") as f:
            f.seek(max(0, os.path.getsize(path) - 4096))
            lines = [line.strip() for line in f.read().decode("utf-8", "replace").splitlines() if line.strip()]
    except OSError:
        return None
    return lines[-1][:500] if lines else None
