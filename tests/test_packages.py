"""~/requirements.txt reaches the workers on both backends (docs chapter 2), with no network."""

import base64
import hashlib
import zipfile

import dask
import pytest
from distributed import Client

from coffea_casa import CoffeaCasaCluster


def build_wheel(directory, value):
    """A tiny pure-Python wheel, written by hand so that no build backend (or index) is needed."""
    name, version = "cc_tiny_pkg", "0.1"
    files = {
        f"{name}/__init__.py": f"VALUE = {value}\n",
        f"{name}-{version}.dist-info/METADATA": f"Metadata-Version: 2.1\nName: cc-tiny-pkg\nVersion: {version}\n",
        f"{name}-{version}.dist-info/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = []
    for path, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(text.encode())}")
    record.append(f"{name}-{version}.dist-info/RECORD,,")
    files[f"{name}-{version}.dist-info/RECORD"] = "\n".join(record) + "\n"
    wheel = directory / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        for path, text in files.items():
            zf.writestr(path, text)
    return wheel


# A builtin and a string: pickled by reference to builtins, so a worker whose sys.path
# lacks tests/ (an HTCondor job in its sandbox) can still run it.
IMPORT_TINY = (eval, "__import__('cc_tiny_pkg').VALUE")


@pytest.fixture
def requirements(tmp_path):
    wheel = build_wheel(tmp_path, value=tmp_path.stat().st_ino)  # unique per test: no cache reuse
    req = tmp_path / "requirements.txt"
    req.write_text(f"{wheel}\n")
    with dask.config.set({"coffea-casa.worker-requirements": str(req)}):
        yield req, tmp_path.stat().st_ino


def test_local_workers_import_the_users_requirements(requirements, local_backend, no_leaks):
    _, value = requirements
    with pytest.raises(ImportError):
        import cc_tiny_pkg  # noqa: F401  (not in the notebook's own environment)
    with CoffeaCasaCluster(cores=1, memory="1 GiB") as cluster, Client(cluster) as client:
        cluster.scale(1)
        assert client.submit(*IMPORT_TINY, pure=False).result(timeout=120) == value


def test_htcondor_jobs_ship_and_install_the_users_requirements(requirements, condor_double):
    req, value = requirements
    with CoffeaCasaCluster(cores=1, memory="1 GiB") as cluster, Client(cluster) as client:
        assert str(req) in cluster.settings["job_extra"]["transfer_input_files"]
        cluster.scale(1)
        assert client.submit(*IMPORT_TINY, pure=False).result(timeout=180) == value
        (job,) = condor_double.jobs()
        sandbox = condor_double.sandbox(f"{job['ClusterId']}.{job['ProcId']}")
        assert (sandbox / "requirements.txt").is_file()
        assert (sandbox / ".coffea-casa-packages" / "cc_tiny_pkg").is_dir()
