"""What the sidebar does with a running cluster's workers: performance reports (docs 3.4),
packages and files (docs 2). No HTTP here; each takes a manager.RemoteCluster.
"""

import logging
import os
import time
from html import escape
from pathlib import Path

import dask.config

from .errors import ClusterError
from .options import UPLOADABLE

logger = logging.getLogger("coffea_casa_lab")


async def start_report(cluster, reports):
    """Start recording a Dask performance report, as distributed's `performance_report` does.

    `reports` holds what is being recorded, by cluster id.
    """
    if cluster.id in reports:
        raise ClusterError(f"cluster {cluster.id} is already recording a performance report", 409)
    reports[cluster.id] = {}  # taken now: a second start while this one awaits is refused
    try:
        async with cluster.client() as client:
            last_count = await client.run_on_scheduler(lambda dask_scheduler: dask_scheduler.monitor.count)
            await client.get_task_stream(start=0, stop=0)  # makes the scheduler record the task stream
        reports[cluster.id] = {"start": time.time(), "last_count": last_count}
    except Exception as e:
        reports.pop(cluster.id, None)
        raise ClusterError(f"cannot start recording on cluster {cluster.id}: {e}", 502) from None


async def stop_report(cluster, reports, root_dir, file_name):
    """Save the report since start_report as HTML; {"path": relative to root_dir (or None), "file"}."""
    report = reports.get(cluster.id)
    if not report:
        raise ClusterError(f"cluster {cluster.id} is not recording a performance report", 409)
    del reports[cluster.id]
    root = Path(root_dir).expanduser().resolve()
    folder = root / os.path.expanduser(dask.config.get("coffea-casa.performance-report-dir", None) or ".")
    file = folder.resolve() / f"dask-report-{file_name}-{time.strftime('%Y%m%d-%H%M%S')}.html"
    try:
        async with cluster.client() as client:
            html = await client.scheduler.performance_report(
                start=report["start"], last_count=report["last_count"],
                # `code` is HTML in the report: the name is text there, whatever it holds
                code=f"# Recorded from the coffea-casa sidebar: cluster {escape(cluster.name)} ({cluster.id})",
                mode="inline",  # bokeh's JavaScript inside the file: it renders offline too
            )
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_text(html, encoding="utf-8")
    except Exception as e:
        raise ClusterError(f"cannot save the performance report of cluster {cluster.id}: {e}", 502) from None
    logger.info("performance report of cluster %s saved to %s", cluster.id, file)
    path = file.relative_to(root).as_posix() if file.is_relative_to(root) else None
    return {"path": path, "file": str(file)}


async def install_packages(cluster, packages):
    """Register distributed's PipInstall plugin: running workers install now, new ones on start.

    `packages` as options.check_packages returns them."""
    from distributed.diagnostics.plugin import PipInstall

    try:
        async with cluster.client() as client:
            await client.register_plugin(PipInstall(packages=packages))
    except Exception as e:
        raise ClusterError(f"installing {' '.join(packages)} on cluster {cluster.id} failed: {e}", 502) from None
    logger.info("cluster %s: installed %s on its workers", cluster.id, packages)


async def upload_file(cluster, path, root_dir):
    """distributed's upload_file for a file inside root_dir (`path` is relative to it, as
    options.check_upload_path returns it)."""
    from distributed.diagnostics.plugin import UploadFile

    root = Path(root_dir).expanduser().resolve()
    file = (root / path).resolve()
    if not file.is_relative_to(root):
        raise ClusterError(f"{path!r} is outside the server's root folder")
    if file.suffix not in UPLOADABLE:
        raise ClusterError(f"only {', '.join(UPLOADABLE)} files can be sent to workers, not {path!r}")
    if not file.is_file():
        raise ClusterError(f"no file {path!r}", 404)
    try:
        async with cluster.client() as client:
            # Only the workers' half of Client.upload_file: the scheduler may live in a notebook's
            # kernel, which must not import the file behind the user's back. A stable name: sending
            # the file again replaces it (and workers re-import it).
            await client.register_plugin(UploadFile(str(file)), name=f"upload-file-{file.name}")
    except Exception as e:
        raise ClusterError(f"sending {path} to the workers of cluster {cluster.id} failed: {e}", 502) from None
