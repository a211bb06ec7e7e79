"""REST routes under {base_url}coffea-casa/: thin, authenticated, JSON."""

import json

from jupyter_server.base.handlers import APIHandler
from jupyter_server.utils import url_path_join
from tornado import web

from . import __version__


class HealthHandler(APIHandler):
    @web.authenticated
    def get(self):
        self.finish(json.dumps({"status": "ok", "version": __version__}))


class ClustersHandler(APIHandler):
    @web.authenticated
    def get(self):
        # The cluster manager arrives with the server-extension issue; until then none.
        self.finish(json.dumps([]))


def setup_handlers(web_app):
    base = url_path_join(web_app.settings["base_url"], "coffea-casa")
    web_app.add_handlers(
        ".*$",
        [
            (url_path_join(base, "health"), HealthHandler),
            (url_path_join(base, "clusters"), ClustersHandler),
        ],
    )
