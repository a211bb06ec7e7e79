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
    from .handlers import setup_handlers

    setup_handlers(server_app.web_app)
    server_app.log.info("coffea-casa-lab server extension loaded")
