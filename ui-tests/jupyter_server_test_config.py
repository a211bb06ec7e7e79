"""Jupyter server configuration for the galata UI tests.

Never use this configuration in production: galata's helper removes the
token, the password and the XSRF checks.
"""

from jupyterlab.galata import configure_jupyter_server

configure_jupyter_server(c)  # noqa: F821

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
