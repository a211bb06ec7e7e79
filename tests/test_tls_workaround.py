"""A TLS cluster survives a worker that joins late, on this Python (and, in
test_scenarios_on_the_real_pool.py, on the pool's Debian trixie Python 3.13 with OpenSSL 3.5,
where it did not: CPython gh-148594)."""

import subprocess
import sys
from pathlib import Path

import coffea_casa_lab.tls_workaround as workaround

REPRO = Path(__file__).with_name("tls_late_worker.py")


def test_late_worker_over_tls_on_this_python():
    out = subprocess.run([sys.executable, str(REPRO), "3", workaround.__file__], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0 and "result 2" in out.stdout, out.stdout + out.stderr[-4000:]
