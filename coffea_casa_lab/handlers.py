"""REST routes under {base_url}coffea-casa/: thin, authenticated, JSON.

Each handler parses the request, calls the ClusterManager and answers JSON.
Every refusal is a 4xx with {"message": ...}; the OpenAPI document next to this
file (openapi.yaml) lists the same routes.
"""

import json

from jupyter_server.base.handlers import APIHandler
from jupyter_server.utils import url_path_join
from tornado import web

from . import __version__, condor, idle_analysis, job_logs, site_options, tools
from .errors import ClusterError
from .options import check_packages, check_upload_path

MANAGER_KEY = "coffea_casa_manager"
ID = r"(?P<cluster_id>[^/]+)"
JOB = r"(?P<job_id>[^/]+)"


class BaseHandler(APIHandler):
    @property
    def manager(self):
        return self.settings[MANAGER_KEY]

    @property
    def watch(self):
        """What the schedd says of all the user's clusters: one query per poll for all of them."""
        return self.manager.listing.queue.watch

    def fail(self, status, message):
        raise ClusterError(message, status)

    def body(self, required=False):
        """The request body as a JSON object ({} if empty and optional)."""
        raw = self.request.body or b""
        if not raw.strip():
            if required:
                self.fail(400, "a JSON object is required")
            return {}
        try:
            data = json.loads(raw)
        except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: absurd nesting
            self.fail(400, "the request body is not valid JSON")
        if not isinstance(data, dict):
            self.fail(400, "the request body must be a JSON object")
        return data

    def reply(self, data, status=200):
        self.set_status(status)
        self.finish(json.dumps(data))

    # Refusals (ClusterError, from here or the manager) answer {"message": ...} with their
    # 4xx. Not tornado's HTTPError: its log_message is a %-format, and messages quote user input.
    def send_error(self, status_code=500, **kwargs):
        exc = kwargs.get("exc_info", (None, None, None))[1]
        super().send_error(exc.status if isinstance(exc, ClusterError) else status_code, **kwargs)

    def write_error(self, status_code, **kwargs):
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if not isinstance(exc, ClusterError):
            return super().write_error(status_code, **kwargs)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"message": str(exc), "reason": None}))

    def log_exception(self, typ, value, tb):
        if isinstance(value, ClusterError):  # an expected refusal, not a server error
            self.log.info("coffea-casa: %s %s refused (%d): %s", self.request.method,
                          self.request.path, value.status, value)
        else:
            super().log_exception(typ, value, tb)


class HealthHandler(BaseHandler):
    @web.authenticated
    def get(self):
        self.reply({"status": "ok", "version": __version__, "clusters": self.manager.count()})


class OptionsHandler(BaseHandler):
    @web.authenticated
    def get(self):
        self.reply(site_options.declared())


class ClustersHandler(BaseHandler):
    @web.authenticated
    async def get(self):
        self.reply(await self.manager.list())

    @web.authenticated
    def put(self):
        self.reply(self.manager.start_cluster(self.body()), 201)


class ClusterHandler(BaseHandler):
    @web.authenticated
    async def get(self, cluster_id):
        self.reply(await self.manager.model(cluster_id))

    @web.authenticated
    async def patch(self, cluster_id):
        body = self.body(required=True)
        if set(body) == {"workers"}:
            self.reply(await self.manager.scale(cluster_id, body["workers"]))
        elif set(body) == {"adapt"}:
            self.reply(await self.manager.adapt(cluster_id, body["adapt"]))
        elif set(body) == {"keep"}:
            self.reply(await self.manager.keep(cluster_id, body["keep"]))
        else:
            self.fail(400, 'send either {"workers": n}, {"adapt": {"minimum": m, "maximum": M}} or {"keep": true}')

    @web.authenticated
    async def delete(self, cluster_id):
        self.reply(await self.manager.close(cluster_id))


class JobsHandler(BaseHandler):
    @web.authenticated
    async def get(self, cluster_id):
        self.reply(await condor.jobs(await self.manager.running(cluster_id), self.watch))


class JobHandler(BaseHandler):
    @web.authenticated
    async def delete(self, cluster_id, job_id):
        self.reply(await condor.kill(await self.manager.running(cluster_id), job_id, self.watch))


class JobReleaseHandler(BaseHandler):
    @web.authenticated
    async def post(self, cluster_id, job_id):
        self.reply(await condor.release(await self.manager.running(cluster_id), job_id, self.watch))


class JobLogsHandler(BaseHandler):
    @web.authenticated
    async def get(self, cluster_id, job_id):
        self.reply(await job_logs.logs(await self.manager.running(cluster_id), job_id, self.watch))


class JobAnalysisHandler(BaseHandler):
    @web.authenticated
    async def get(self, cluster_id, job_id):
        self.reply(await idle_analysis.diagnose(await self.manager.running(cluster_id), job_id, self.watch))


class ReportHandler(BaseHandler):
    @web.authenticated
    async def post(self, cluster_id):
        await tools.start_report(await self.manager.running(cluster_id), self.manager.reports)
        self.reply(await self.manager.model(cluster_id))

    @web.authenticated
    async def delete(self, cluster_id):
        cluster = await self.manager.running(cluster_id)
        self.reply(await tools.stop_report(cluster, self.manager.reports, self.settings["server_root_dir"],
                                           self.manager.report_name(cluster_id)))


class PackagesHandler(BaseHandler):
    @web.authenticated
    async def post(self, cluster_id):
        body = self.body(required=True)
        if set(body) != {"packages"}:
            self.fail(400, 'send {"packages": ["requirement", ...]}')
        packages = check_packages(body["packages"])  # a bad body is a 400 whichever the cluster
        await tools.install_packages(await self.manager.running(cluster_id), packages)
        self.reply(await self.manager.model(cluster_id))


class FilesHandler(BaseHandler):
    @web.authenticated
    async def post(self, cluster_id):
        body = self.body(required=True)
        if set(body) != {"path"}:
            self.fail(400, 'send {"path": "file.py"} (relative to the server\'s root folder)')
        path = check_upload_path(body["path"])
        await tools.upload_file(await self.manager.running(cluster_id), path, self.settings["server_root_dir"])
        self.reply(await self.manager.model(cluster_id))


def routes(base_url):
    base = url_path_join(base_url, "coffea-casa")
    return [
        (url_path_join(base, "health"), HealthHandler),
        (url_path_join(base, "options"), OptionsHandler),
        (url_path_join(base, "clusters"), ClustersHandler),
        (url_path_join(base, "clusters", ID), ClusterHandler),
        (url_path_join(base, "clusters", ID, "jobs"), JobsHandler),
        (url_path_join(base, "clusters", ID, "performance-report"), ReportHandler),
        (url_path_join(base, "clusters", ID, "packages"), PackagesHandler),
        (url_path_join(base, "clusters", ID, "files"), FilesHandler),
        (url_path_join(base, "clusters", ID, "jobs", JOB), JobHandler),
        (url_path_join(base, "clusters", ID, "jobs", JOB, "logs"), JobLogsHandler),
        (url_path_join(base, "clusters", ID, "jobs", JOB, "analysis"), JobAnalysisHandler),
        (url_path_join(base, "clusters", ID, "jobs", JOB, "release"), JobReleaseHandler),
    ]


def setup_handlers(web_app, manager):
    web_app.settings[MANAGER_KEY] = manager
    web_app.add_handlers(".*$", routes(web_app.settings["base_url"]))
