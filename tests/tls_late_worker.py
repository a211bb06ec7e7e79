"""Plain distributed over TLS: a scheduler and a client here, and a `dask worker` process
that joins DELAY seconds after the client connected; exit 0 when a task runs on it.

    python tls_late_worker.py DELAY [WORKAROUND.py]

WORKAROUND is coffea_casa_lab/tls_workaround.py, loaded from its file here and preloaded by
the worker, as HTCondor worker jobs do. Without it, Python >= 3.12.9 / 3.13.2 with OpenSSL
3.5 fails here with CommClosedError (rpc identity, BrokenPipeError): CPython gh-148594.
"""

import asyncio
import importlib.util
import os
import ssl
import subprocess
import sys
import tempfile


def load(path):
    spec = importlib.util.spec_from_file_location("tls_workaround", path)
    spec.loader.exec_module(importlib.util.module_from_spec(spec))


async def main(delay, workaround):
    from distributed import Client, Scheduler
    from distributed.security import Security

    pem = Security.temporary()  # in memory; the worker needs files
    files = {}
    for key in ("tls_ca_file", "tls_scheduler_cert", "tls_scheduler_key"):
        files[key] = os.path.join(tempfile.mkdtemp(), key + ".pem")
        with open(files[key], "w") as f:
            f.write(getattr(pem, key))
    sec = Security(tls_ca_file=files["tls_ca_file"], require_encryption=True,
                   tls_scheduler_cert=files["tls_scheduler_cert"], tls_scheduler_key=files["tls_scheduler_key"],
                   tls_client_cert=files["tls_scheduler_cert"], tls_client_key=files["tls_scheduler_key"])
    preload = ["--preload", workaround, "--preload-nanny", workaround] if workaround else []
    async with Scheduler(security=sec, protocol="tls", host="127.0.0.2", port=0, dashboard=False) as s, \
            Client(s.address, security=sec, asynchronous=True) as client:
        await asyncio.sleep(delay)
        worker = subprocess.Popen(
            [sys.executable, "-m", "distributed.cli.dask_worker", s.address, "--nthreads", "1", "--host", "127.0.0.2",
             "--no-dashboard", "--tls-ca-file", files["tls_ca_file"], "--tls-cert", files["tls_scheduler_cert"],
             "--tls-key", files["tls_scheduler_key"], *preload], stderr=subprocess.DEVNULL)
        try:
            await client.wait_for_workers(1, timeout=60)
            print("result", await client.submit(lambda x: x + 1, 1), flush=True)
        finally:
            worker.terminate()
            worker.wait(30)


if __name__ == "__main__":
    print(sys.version.split()[0], ssl.OPENSSL_VERSION, flush=True)
    workaround = sys.argv[2] if len(sys.argv) > 2 else None
    if workaround:
        load(workaround)
    asyncio.run(main(float(sys.argv[1]), workaround))
