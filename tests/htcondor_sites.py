"""One set of HTCondor scenarios, two pools: the test double and a real personal pool.

A scenario talks to a Site: the user's side (a script, a Jupyter server, both running
the product as a user would) and the pool administrator's side (condor_hold, condor_rm,
condor_vacate_job, condor_q, condor_history). Written once against this interface, a
scenario runs on both pools, so the double cannot drift from the real thing unseen.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from test_rest_api import ROOT, JupyterServer

# The product's files for one test, and small workers that fit 2 cores: what a user's
# environment holds on every site. No Docker on either pool: the vanilla universe. The site's
# options are the shipped ones (a test's own environment may declare none).
ATTRIBUTES = ("ClusterId,ProcId,JobStatus,Owner,JobBatchName,HoldReason,RemoteHost,RequestCpus,RequestMemory,"
              "JobUniverse,TransferInput,EncryptInputFiles,DaskSchedulerAddress,RemoveReason,ExitCode,Cmd")


def product_env(home: Path) -> dict:
    return {
        "DASK_COFFEA_CASA__BACKEND": "htcondor",
        "DASK_COFFEA_CASA__EXTERNAL_ADDRESS": "127.0.0.2",
        "DASK_COFFEA_CASA__TLS_DIR": str(home / "tls"),
        "DASK_COFFEA_CASA__SECRETS_DIR": str(home / "no-facility-secrets"),
        "DASK_COFFEA_CASA__WORKER_REQUIREMENTS": str(home / "requirements.txt"),
        "DASK_JOBQUEUE__COFFEA_CASA__LOG_DIRECTORY": str(home / "logs"),
        "DASK_JOBQUEUE__COFFEA_CASA__WORKER_EXTRA_ARGS": '["--host", "127.0.0.2"]',
        "DASK_JOBQUEUE__COFFEA_CASA__WORKER_IMAGE": "",
        "DASK_JOBQUEUE__COFFEA_CASA__CORES": "1",
        "DASK_JOBQUEUE__COFFEA_CASA__MEMORY": "2 GiB",  # the smallest the shipped coffea-casa.options allow
        "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "tests")]),
        "PYTHONUNBUFFERED": "1",
    }


class Site:
    name = None

    def __init__(self):
        # /tmp, not pytest's tmp_path: the pool's user must be able to reach it
        self.home = Path(tempfile.mkdtemp(prefix=f"coffea-casa-{self.name}-"))
        self._scripts = 0

    # --- the user's side --------------------------------------------------------------
    def env(self, **extra) -> dict:
        """The user's environment: the product's settings for this test, plus `extra`."""
        raise NotImplementedError

    def _popen(self, argv, env, cwd, **kwargs):
        raise NotImplementedError

    def script(self, code, env=None, timeout=300):
        """Run `code` as the user's Python script in their folder; the CompletedProcess."""
        self._scripts += 1
        path = self.home / f"script{self._scripts}.py"
        path.write_text(code)
        return self.run([sys.executable, self.give(path)], env, timeout)

    def popen(self, argv, env=None, **kwargs):
        """A process of the user's, in their folder, with their environment plus `env`."""
        return self._popen(list(map(str, argv)), self.env(**(env or {})), self.home, **kwargs)

    def run(self, argv, env=None, timeout=300):
        """Run a command of the user's to its end; the CompletedProcess."""
        proc = self.popen(argv, env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
            raise AssertionError(f"{argv[:3]} timed out after {timeout} s:\n{out}\n{err[-6000:]}") from None
        return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)

    def give(self, path):
        """Make a file or folder the test wrote the user's."""
        self._own(path)
        return path

    def server(self, env=None, **kwargs) -> JupyterServer:
        """The user's Jupyter server with coffea_casa_lab, at /user/alice/."""
        tmp = self.home / f"jupyter{self._scripts}"
        self._scripts += 1
        for d in ("", "config", "data", "runtime", "root"):
            (tmp / d).mkdir(exist_ok=True)
        self._own(tmp)
        return JupyterServer(tmp, env=self.env(**(env or {})), base_env={}, popen=self._server_popen, **kwargs)

    def _server_popen(self, argv, env, **kwargs):
        return self._popen(argv, env, self.home, **kwargs)

    def _own(self, path):
        pass

    # --- the administrator's side -----------------------------------------------------
    def admin(self, *argv) -> subprocess.CompletedProcess:
        raise NotImplementedError

    def queue(self):
        """Every job in the queue as dicts: condor_q -allusers -json."""
        return self._ads("condor_q", "-allusers")

    def history(self):
        """Jobs that left the queue: condor_history -json."""
        return self._ads("condor_history")

    def _ads(self, tool, *args):
        out = self.admin(tool, *args, "-json", "-attributes", ATTRIBUTES)
        assert out.returncode == 0, f"{tool}: {out.stderr}"
        return json.loads(out.stdout) if out.stdout.strip() else []

    def close(self):
        shutil.rmtree(self.home, ignore_errors=True)


class DoubleSite(Site):
    """The HTCondor test double: jobs are processes of this host, the test's own user."""

    name = "double"

    def __init__(self, double):
        super().__init__()
        self.double = double

    def env(self, **extra):
        env = dict(os.environ, **self.double.env(), **product_env(self.home))
        env.update({k: str(v) for k, v in extra.items()})
        return env

    def _popen(self, argv, env, cwd, **kwargs):
        return subprocess.Popen(argv, env=env, cwd=cwd, **kwargs)

    def admin(self, *argv):
        # the pool's administrator is not the user: root's actions on a real pool say "(by user condor)"
        return subprocess.run(argv, env=dict(os.environ, **self.double.env(), CONDOR_DOUBLE_ACTING_USER="condor"),
                              capture_output=True, text=True, timeout=120)


class PoolSite(Site):
    """The real personal pool: the user is `tester`, inside the pool's chroot."""

    name = "pool"

    def __init__(self, pool):
        super().__init__()
        self.pool = pool
        self._own(self.home)

    def env(self, **extra):
        return self.pool.user_env(**{**product_env(self.home), **extra})

    def _popen(self, argv, env, cwd, **kwargs):
        return self.pool.popen(argv, env=env, cwd=cwd, **kwargs)

    def _own(self, path):
        self.pool.give(path)

    def admin(self, *argv):
        return self.pool.admin(*argv, timeout=120)
