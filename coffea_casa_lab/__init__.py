"""coffea-casa-lab: JupyterLab sidebar, server extension and the coffea_casa API."""

from . import config  # noqa: F401  (applies the shipped dask-config defaults)

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

    manager = ClusterManager(log=server_app.log)
    setup_handlers(server_app.web_app, manager)
    setup_proxy(server_app.web_app)
    # `initial` clusters start once the loop runs, in the background: the server does not wait.
    server_app.io_loop.add_callback(manager.start_initial)

    # Module extensions get no stop hook, so close every cluster (and its jobs) first
    # thing in the server's own cleanup, which SIGTERM and a normal stop both run.
    cleanup_extensions = server_app.cleanup_extensions

    async def close_clusters_then_cleanup():
        await manager.close_all()
        await close_sessions()
        await cleanup_extensions()

    server_app.cleanup_extensions = close_clusters_then_cleanup
    # Without a terminal, Jupyter leaves SIGINT to Python, and importing dask_jobqueue
    # sets it to sys.exit: both skip that cleanup. Import the factory's module now, then
    # stop on SIGINT as on SIGTERM (as JupyterHub configures it).
    manager.preload_factory()
    if signal.getsignal(signal.SIGINT) != server_app._handle_sigint:
        signal.signal(signal.SIGINT, server_app._signal_stop)
    server_app.log.info("coffea-casa-lab server extension loaded")
