"""A TLS cluster survives a worker that joins late, on this Python and on the pool's own
(Debian trixie's 3.13 with OpenSSL 3.5, where it did not: CPython gh-148594)."""

import subprocess
import sys
from pathlib import Path

import coffea_casa_lab.tls_workaround as workaround

REPRO = Path(__file__).with_name("tls_late_worker.py")
POOL_PYTHON = "/opt/py313/bin/python"  # tests/condor_pool/install.py


def test_late_worker_over_tls_on_this_python():
    out = subprocess.run([sys.executable, str(REPRO), "3", workaround.__file__], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0 and "result 2" in out.stdout, out.stdout + out.stderr[-4000:]


def test_late_worker_over_tls_on_the_pools_python(condor_pool):
    env = condor_pool.user_env()
    version = condor_pool.run([POOL_PYTHON, "-c", "import ssl, sys; print(sys.version_info[:2], ssl.OPENSSL_VERSION)"],
                              env=env)
    assert "(3, 13)" in version.stdout and "OpenSSL 3.5" in version.stdout, version
    out = condor_pool.run([POOL_PYTHON, str(REPRO), "3", workaround.__file__], env=env, timeout=120)
    assert out.returncode == 0 and "result 2" in out.stdout, out.stdout + out.stderr[-4000:]
