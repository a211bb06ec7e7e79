"""The user's packages on workers (docs chapter 2): ~/requirements.txt and ~/environment.yml.

A file that exists is shipped with every worker job and installed before the
worker starts. HTCondor jobs install into their sandbox; local workers share
one install per file content, cached, so a restart costs nothing.
"""

import asyncio
import hashlib
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

from . import config

TARGET = ".coffea-casa-packages"  # in a job's sandbox, relative to its working directory
_CACHE = Path("~/.cache/coffea-casa/worker-packages")
_lock = asyncio.Lock()


def requirement_files() -> dict:
    """{"pip": Path, "conda": Path} for the files that exist (conda only where conda is)."""
    files = {}
    pip = Path(os.path.expanduser(config.get("worker-requirements") or "")).resolve()
    if pip.is_file():
        files["pip"] = pip
    env = Path(os.path.expanduser(config.get("worker-environment") or "")).resolve()
    if env.is_file() and shutil.which("conda"):
        files["conda"] = env
    return files


def condor_prologue(files: dict, python: str) -> list:
    """Shell lines a worker job runs first, in its sandbox, with the files transferred there."""
    lines = []
    if "conda" in files:
        lines.append(f"conda env update --quiet --name base --file {files['conda'].name}")
    if "pip" in files:
        lines.append(
            f"{shlex.quote(python)} -m pip install --quiet --disable-pip-version-check --target {TARGET} -r {files['pip'].name}"
        )
        lines.append(f'export PYTHONPATH="$PWD/{TARGET}${{PYTHONPATH:+:$PYTHONPATH}}"')
    return lines


async def local_preload(files: dict):
    """Install the pip requirements once for local workers; a preload file that adds them.

    A preload, not PYTHONPATH: the Nanny sets a worker's environment only after its
    interpreter has started, too late for sys.path.
    """
    if "pip" not in files:
        return None
    text = files["pip"].read_bytes()
    target = Path(os.path.expanduser(_CACHE)) / hashlib.sha256(text).hexdigest()[:16]
    async with _lock:
        if not (target / ".complete").exists():
            await asyncio.to_thread(_pip_install, files["pip"], target)
    return str(target / "coffea_casa_site.py")


def _pip_install(requirements: Path, target: Path):
    tmp = target.with_name(target.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    cmd = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
           "--target", str(tmp), "-r", str(requirements)]
    # relative paths in the file are relative to it, as for a job's sandbox copy
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=requirements.parent)
    if done.returncode:
        raise RuntimeError(f"Installing {requirements} for the workers failed:\n{done.stderr[-2000:]}")
    (tmp / "coffea_casa_site.py").write_text(f"import site\nsite.addsitedir({str(target)!r})\n")
    (tmp / ".complete").touch()
    shutil.rmtree(target, ignore_errors=True)
    tmp.rename(target)
