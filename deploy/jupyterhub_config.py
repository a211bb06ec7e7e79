"""JupyterHub for coffea-casa-lab on one machine: every user's server is a local process.

    jupyterhub -f deploy/jupyterhub_config.py

Run it from the venv that has coffea-casa-lab (the users' servers start from the same
venv). Everything a site changes is an environment variable of the hub, listed below with
its default; tests/test_hub.py runs this very file (with the test-only spawner and
authenticator). Kubernetes sites use values.yaml instead.

Ports (see README, "Behind JupyterHub"):
  COFFEA_CASA_HUB_PORT        8000  the only public one: configurable-http-proxy, what users open
  COFFEA_CASA_HUB_API_PORT    8081  the hub itself, behind the proxy (127.0.0.1)
  COFFEA_CASA_PROXY_API_PORT  8002  the proxy's REST API, for the hub only (127.0.0.1); not
                                    CHP's default 8001, which is the worker nanny's port
Users' servers take free ports on 127.0.0.1; their clusters' schedulers take 8786 (TLS,
reached by the workers) and 8787 (dashboard, reached through the user's server only).
"""

import os
import shutil
import sys
from pathlib import Path

c = get_config()  # noqa: F821


def env(name, default):
    return os.environ.get(name, default)


STATE = Path(env("COFFEA_CASA_HUB_STATE_DIR", "/srv/jupyterhub"))  # database, cookie secret, proxy pid
STATE.mkdir(parents=True, exist_ok=True)
VENV_BIN = Path(sys.executable).parent

# --- network --------------------------------------------------------------------------
c.JupyterHub.ip = env("COFFEA_CASA_HUB_IP", "")  # "": every interface; put TLS in front (or set ssl_*)
c.JupyterHub.port = int(env("COFFEA_CASA_HUB_PORT", "8000"))
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = int(env("COFFEA_CASA_HUB_API_PORT", "8081"))
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{env('COFFEA_CASA_PROXY_API_PORT', '8002')}"
c.ConfigurableHTTPProxy.command = [env("COFFEA_CASA_CHP", shutil.which("configurable-http-proxy") or
                                       "configurable-http-proxy")]
c.ConfigurableHTTPProxy.pid_file = str(STATE / "jupyterhub-proxy.pid")
c.JupyterHub.db_url = f"sqlite:///{STATE / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(STATE / "jupyterhub_cookie_secret")
c.JupyterHub.pid_file = str(STATE / "jupyterhub.pid")

# --- who logs in ----------------------------------------------------------------------
# pam: this machine's unix accounts. The facility's login (CILogon, CMS IAM) is an
# OAuthenticator; see values.yaml for an (untested) example of its settings.
c.JupyterHub.authenticator_class = env("COFFEA_CASA_HUB_AUTHENTICATOR", "pam")
users = env("COFFEA_CASA_HUB_USERS", "")
if users:
    c.Authenticator.allowed_users = set(users.split(","))
else:
    c.Authenticator.allow_all = True
if "COFFEA_CASA_HUB_ADMINS" in os.environ:
    c.Authenticator.admin_users = set(os.environ["COFFEA_CASA_HUB_ADMINS"].split(","))
if c.JupyterHub.authenticator_class == "dummy":  # tests only: one shared password
    c.DummyAuthenticator.password = os.environ["COFFEA_CASA_HUB_DUMMY_PASSWORD"]

# --- the users' servers ---------------------------------------------------------------
# local: LocalProcessSpawner, each server as its unix user (the hub runs as root).
# simple: SimpleLocalProcessSpawner, every server as the hub's own user, in a home of
# its own under COFFEA_CASA_HUB_HOMES: for tests and trials only, users are not isolated.
spawner = env("COFFEA_CASA_HUB_SPAWNER", "local")
c.JupyterHub.spawner_class = spawner
c.Spawner.cmd = [str(VENV_BIN / "jupyterhub-singleuser")]
c.Spawner.default_url = "/lab"
c.Spawner.http_timeout = 120  # a cold first start (TLS CA, lab build check) on a busy machine
if spawner == "simple":
    c.SimpleLocalProcessSpawner.home_dir_template = str(Path(env("COFFEA_CASA_HUB_HOMES", STATE / "homes")) / "{username}")
    if os.getuid() == 0:
        c.Spawner.args = ["--allow-root"]

# A server gets only the environment the hub gives it: the dask config of the hub's
# environment (DASK_*: e.g. DASK_COFFEA_CASA__EXTERNAL_ADDRESS, the address the workers
# reach the scheduler at) and HTCondor's (CONDOR_CONFIG, _CONDOR_*: CONDOR_HOST,
# SCHEDD_HOST, SEC_TOKEN_DIRECTORY). A user's dask config in ~/.config/dask still applies.
c.Spawner.environment = {
    # Idle clusters give back their slots after an hour (off by default in the package).
    "DASK_COFFEA_CASA__IDLE_TIMEOUT": env("COFFEA_CASA_IDLE_TIMEOUT", "3600"),
    **{k: v for k, v in os.environ.items()
       if k.startswith(("DASK_", "_CONDOR_")) or k in ("CONDOR_CONFIG", "CONDOR_HOST", "SCHEDD_HOST")},
}

# Stopping a server (the user, an admin, the culler, the hub's own shutdown) sends SIGINT:
# the server then closes its sidebar clusters and removes their jobs (condor_rm) before it
# exits. Give it time for that before SIGTERM (5 s later SIGKILL, which would leave them
# to coffea-casa.orphan-timeout).
c.LocalProcessSpawner.interrupt_timeout = 30

# --- idle servers ---------------------------------------------------------------------
# jupyterhub-idle-culler stops a server nobody used for COFFEA_CASA_CULL_TIMEOUT seconds
# (0: never); its stop is the graceful one above.
c.JupyterHub.services = []
c.JupyterHub.load_roles = []
cull_timeout = int(env("COFFEA_CASA_CULL_TIMEOUT", "3600"))
if cull_timeout > 0:
    c.JupyterHub.load_roles.append({
        "name": "idle-culler",
        "scopes": ["list:users", "read:users:activity", "read:servers", "delete:servers"],
        "services": ["idle-culler"],
    })
    c.JupyterHub.services.append({
        "name": "idle-culler",
        "command": [sys.executable, "-m", "jupyterhub_idle_culler", f"--timeout={cull_timeout}",
                    f"--cull-every={env('COFFEA_CASA_CULL_EVERY', str(min(300, max(1, cull_timeout // 2))))}"],
    })
