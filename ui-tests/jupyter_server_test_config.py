"""Jupyter server configuration for the galata UI tests.

Never use this configuration in production: galata's helper removes the
token, the password and the XSRF checks.
"""

import os
import sys

# The repository's packages (coffea_casa_lab, coffea_casa), for this server and
# its kernels, even where the project is not pip-installed into the venv.
_REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if _REPO not in sys.path:
    sys.path.insert(0, _REPO)
os.environ["PYTHONPATH"] = os.pathsep.join(
    p for p in (_REPO, os.environ.get("PYTHONPATH")) if p
)

# Each server a cluster registry of its own (own-server.ts sets one): the registry is the
# user's, so two servers sharing one would list, and shut down, each other's clusters.
if not os.environ.get("JUPYTER_RUNTIME_DIR"):
    import atexit
    import shutil
    import tempfile

    os.environ["JUPYTER_RUNTIME_DIR"] = tempfile.mkdtemp(prefix="coffea-casa-ui-runtime-")
    atexit.register(shutil.rmtree, os.environ["JUPYTER_RUNTIME_DIR"], ignore_errors=True)

# Before anything imports dask: the embedded local backend, small workers, and
# a loopback contact address (tests run in a loopback-only network namespace).
# The kernels inherit these, so injected client code finds the same cluster.
os.environ.setdefault("DASK_COFFEA_CASA__BACKEND", "local")
os.environ.setdefault("DASK_COFFEA_CASA__EXTERNAL_ADDRESS", "127.0.0.2")
os.environ.setdefault("DASK_JOBQUEUE__COFFEA_CASA__CORES", "1")
os.environ.setdefault("DASK_JOBQUEUE__COFFEA_CASA__MEMORY", "1 GiB")
# + NEW starts one worker (the shipped labextension default starts none).
os.environ.setdefault("DASK_LABEXTENSION__DEFAULT__WORKERS", "1")
# The shipped cluster options (2-8 GiB workers) are above these small workers: this site
# declares none, so + NEW is one click; options.spec.ts runs a server that declares some.
os.environ.setdefault("DASK_COFFEA_CASA__OPTIONS", "[]")

# A second server (port 8889) runs the HTCondor backend on the repository's
# HTCondor test double (tests/condor_double): condor_submit/condor_q/condor_rm
# on PATH, a fresh queue per server, jobs running on this host.
if os.environ.get("COFFEA_CASA_UI_BACKEND") == "htcondor":
    import atexit
    import shutil
    import tempfile

    os.environ["DASK_COFFEA_CASA__BACKEND"] = "htcondor"
    _DOUBLE = os.path.join(_REPO, "tests", "condor_double")
    os.environ["PATH"] = os.path.join(_DOUBLE, "bin") + os.pathsep + os.environ["PATH"]
    if not os.environ.get("CONDOR_DOUBLE_STATE"):  # playwright.config.js shares one with the tests
        os.environ["CONDOR_DOUBLE_STATE"] = tempfile.mkdtemp(prefix="condor-double-ui-")
        atexit.register(shutil.rmtree, os.environ["CONDOR_DOUBLE_STATE"], ignore_errors=True)
    os.environ["CONDOR_DOUBLE_PYTHON"] = sys.executable
    # Every job of the double runs on this one host: the facility's fixed nanny
    # port (8001, one worker per container there) would collide from job two on.
    os.environ["DASK_LABEXTENSION__FACTORY__KWARGS__NANNY_PORT"] = "None"
    # Why jobs wait, on the card as soon as they do (tests/why.spec.ts), not after 2 min.
    os.environ.setdefault("DASK_COFFEA_CASA__IDLE_ANALYSIS__AFTER", "1")
    os.environ.setdefault("DASK_COFFEA_CASA__IDLE_ANALYSIS__EVERY", "2")

# A server that pool.spec.ts starts inside the real HTCondor pool (tests/condor_pool), as its
# user: the real condor_* tools on PATH, no Docker (the vanilla universe), workers on loopback.
if os.environ.get("COFFEA_CASA_UI_BACKEND") == "pool":
    os.environ["DASK_COFFEA_CASA__BACKEND"] = "htcondor"
    os.environ["DASK_JOBQUEUE__COFFEA_CASA__WORKER_IMAGE"] = ""
    os.environ["DASK_JOBQUEUE__COFFEA_CASA__MEMORY"] = "2 GiB"
    os.environ["DASK_JOBQUEUE__COFFEA_CASA__WORKER_EXTRA_ARGS"] = '["--host", "127.0.0.2"]'

from jupyterlab.galata import configure_jupyter_server  # noqa: E402

configure_jupyter_server(c)  # noqa: F821
if os.environ.get("COFFEA_CASA_UI_BACKEND") == "htcondor":
    c.ServerApp.port = 8889  # noqa: F821

# Tests run as root here and in CI.
c.ServerApp.allow_root = True  # noqa: F821
# Loopback only (galata's helper would listen on 0.0.0.0 for a "jovyan" user).
c.ServerApp.ip = "localhost"  # noqa: F821
# A JupyterHub-style prefix, as on coffea-casa; keep in sync with playwright.config.js.
c.ServerApp.base_url = "/user/alice/"  # noqa: F821
# Our server extension; the sidebar must cope if it is missing or failing.
c.ServerApp.jpserver_extensions = {  # noqa: F821
    "coffea_casa_lab": True,
    "dask_labextension": False,
}
