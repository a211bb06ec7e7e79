"""The HTCondor scenarios (htcondor_scenarios.py) on a real personal HTCondor pool
(tests/condor_pool), and a TLS cluster on the pool's own Python. Every test of the real pool
lives in this file: under pytest-xdist a file runs on one worker, and the pool is one per
chroot."""

from pathlib import Path

import pytest

import coffea_casa_lab.tls_workaround as workaround
from htcondor_scenarios import *  # noqa: F401,F403 (the scenarios, collected here)
from htcondor_sites import PoolSite

REPRO = Path(__file__).with_name("tls_late_worker.py")
POOL_PYTHON = "/opt/py313/bin/python"  # tests/condor_pool/install.py


@pytest.fixture
def make_site(condor_pool):
    return lambda: PoolSite(condor_pool)


def test_late_worker_over_tls_on_the_pools_python(condor_pool):
    """Debian trixie's Python 3.13 with OpenSSL 3.5, where it failed (CPython gh-148594)."""
    env = condor_pool.user_env()
    version = condor_pool.run([POOL_PYTHON, "-c", "import ssl, sys; print(sys.version_info[:2], ssl.OPENSSL_VERSION)"],
                              env=env)
    assert "(3, 13)" in version.stdout and "OpenSSL 3.5" in version.stdout, version
    out = condor_pool.run([POOL_PYTHON, str(REPRO), "3", workaround.__file__], env=env, timeout=120)
    assert out.returncode == 0 and "result 2" in out.stdout, out.stdout + out.stderr[-4000:]
