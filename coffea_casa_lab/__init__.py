"""coffea-casa-lab: JupyterLab sidebar, server extension and the coffea_casa API."""

from . import config  # noqa: F401  (applies the shipped dask-config defaults)
from . import tls_workaround  # noqa: F401  (stale OpenSSL errors must not break healthy TLS comms)

try:
    from ._version import __version__
except ImportError:  # running from a source tree that was never built
    __version__ = "dev"


def _jupyter_labextension_paths():
    return [{"src": "labextension", "dest": "coffea-casa-lab"}]


def _jupyter_server_extension_points():
    return [{"module": "coffea_casa_lab"}]


def _load_jupyter_server_extension(server_app):
    import signal

    from .handlers import setup_handlers
    from .manager import ClusterManager
    from .proxy import close_sessions, setup_proxy
    from .standby import FIRST_DELAY

    async def kernel_paths():
        sessions = await server_app.session_manager.list_sessions()
        return {s["kernel"]["id"]: s["path"] for s in sessions if s.get("kernel") and s.get("path")}

    manager = ClusterManager(log=server_app.log, root_dir=server_app.root_dir, kernel_paths=kernel_paths)
    setup_handlers(server_app.web_app, manager)
    setup_proxy(server_app.web_app)

    async def adopt_then_start_initial():
        # Clusters left by a stopped or crashed server are taken over; `initial` clusters
        # start in the background: the server does not wait for either.
        await manager.adopt_orphans()
        manager.start_initial()
        manager.standby.start_later(FIRST_DELAY)  # a warm host for the first + NEW

    server_app.io_loop.add_callback(adopt_then_start_initial)

    # Module extensions get no stop hook, so close the sidebar's clusters (and their jobs)
    # first thing in the server's own cleanup, which SIGTERM and a normal stop both run.
    cleanup_extensions = server_app.cleanup_extensions

    async def close_clusters_then_cleanup():
        await manager.close_all()
        await manager.shutdown()
        await close_sessions()
        await cleanup_extensions()

    server_app.cleanup_extensions = close_clusters_then_cleanup
    # Without a terminal, Jupyter leaves SIGINT to Python: stop on SIGINT as on SIGTERM
    # (as JupyterHub configures it), so that cleanup runs.
    if signal.getsignal(signal.SIGINT) != server_app._handle_sigint:
        signal.signal(signal.SIGINT, server_app._signal_stop)
    server_app.log.info("coffea-casa-lab server extension loaded")
