"""In a notebook's kernel, distributed's dashboard links point at the Jupyter server's proxy.

A browser behind JupyterHub cannot open `http://127.0.0.2:8787/status`; it can open
`{base_url}coffea-casa/dashboard/{host}:{port}/status`, which the server's proxy forwards
to that dashboard if, and only if, a registered cluster has it. The cluster's HTML, the
Client's HTML and `dashboard_link` all format distributed's `distributed.dashboard.link`.
"""

import dask.config

from . import registry

DISTRIBUTED_DEFAULT = "{scheme}://{host}:{port}/status"


def use_proxied_dashboard_links():
    """In a kernel of a Jupyter server, unless the user set their own link template."""
    server = registry.jupyter_server_info()
    if not server or dask.config.get("distributed.dashboard.link", None) != DISTRIBUTED_DEFAULT:
        return
    base = server.get("base_url") or "/"
    dask.config.set({"distributed.dashboard.link": f"{base}coffea-casa/dashboard/{{host}}:{{port}}/status"})
