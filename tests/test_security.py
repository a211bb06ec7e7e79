"""TLS material: facility certificates when present, else a per-user CA (0600)."""

import stat
from pathlib import Path

import dask
import pytest
from distributed.security import Security

from coffea_casa import CoffeaCasaCluster
from coffea_casa_lab import security as tls


def mode(path):
    return stat.S_IMODE(Path(path).stat().st_mode)


def test_generated_ca_and_certificate_are_private(tmp_path):
    target = tmp_path / "tls"
    with dask.config.set({"coffea-casa.tls-dir": str(target)}):
        directory = tls.secrets_dir()
    assert directory == target
    assert mode(target) == 0o700
    for name in ("ca.pem", "ca.key", "hostcert.pem"):
        assert mode(target / name) == 0o600, name
    assert b"PRIVATE KEY" in (target / "hostcert.pem").read_bytes()
    assert b"PRIVATE KEY" not in (target / "ca.pem").read_bytes()


def test_generated_material_is_reused_not_regenerated(tmp_path):
    with dask.config.set({"coffea-casa.tls-dir": str(tmp_path / "tls")}):
        first = (tls.secrets_dir() / "hostcert.pem").read_bytes()
        second = (tls.secrets_dir() / "hostcert.pem").read_bytes()
    assert first == second


def test_facility_certificates_win_when_present(tmp_path):
    facility = tmp_path / "cmsaf-secrets"
    with dask.config.set({"coffea-casa.tls-dir": str(facility)}):
        tls.secrets_dir()  # lay out a facility-shaped dir
    (facility / "xcache_token").write_text("token")
    with dask.config.set(
        {"coffea-casa.secrets-dir": str(facility), "coffea-casa.tls-dir": str(tmp_path / "unused")}
    ):
        sec = CoffeaCasaCluster.security()
    assert not (tmp_path / "unused").exists()
    assert sec.tls_ca_file == str(facility / "ca.pem")
    assert sec.tls_client_cert == sec.tls_client_key == str(facility / "hostcert.pem")
    assert sec.require_encryption
    files = [p.name for p in tls.transfer_files(facility)]
    assert files == ["ca.pem", "hostcert.pem", "xcache_token"]


def test_separate_hostkey_is_used_when_present(tmp_path):
    facility = tmp_path / "cmsaf-secrets"
    with dask.config.set({"coffea-casa.tls-dir": str(facility)}):
        tls.secrets_dir()
    (facility / "hostkey.pem").write_bytes((facility / "hostcert.pem").read_bytes())
    with dask.config.set({"coffea-casa.secrets-dir": str(facility)}):
        sec = CoffeaCasaCluster.security()
    assert sec.tls_worker_key == str(facility / "hostkey.pem")
    assert sec.tls_worker_cert == str(facility / "hostcert.pem")


def test_security_is_a_classmethod_returning_tls_everywhere():
    sec = CoffeaCasaCluster.security()
    assert isinstance(sec, Security)
    for role in ("client", "scheduler", "worker"):
        assert sec.get_tls_config_for_role(role)["cert"]
    assert sec.require_encryption


@pytest.mark.parametrize(
    "kwargs",
    [
        {"security": Security()},
        {"security": Security(require_encryption=False)},
        {"protocol": "tcp://"},
    ],
)
def test_tls_cannot_be_disabled(kwargs):
    with pytest.raises(ValueError, match="TLS"):
        CoffeaCasaCluster(**kwargs)


FIRST_USE = """
import hashlib, ssl, sys
from coffea_casa_lab import security
d = security.secrets_dir()
context = ssl.create_default_context(cafile=str(d / "ca.pem"))  # what a TLS listener loads now
context.load_cert_chain(str(d / "hostcert.pem"))
print(hashlib.sha256((d / "ca.pem").read_bytes()).hexdigest())
"""


def test_many_processes_at_first_use_agree_on_one_ca(tmp_path):
    """A server and several sidebar hosts may start at once on a fresh account: all must
    end up with the same CA, or their TLS handshakes fail."""
    import hashlib
    import os
    import subprocess
    import sys

    env = dict(os.environ, DASK_COFFEA_CASA__TLS_DIR=str(tmp_path / "tls"))
    procs = [subprocess.Popen([sys.executable, "-c", FIRST_USE], stdout=subprocess.PIPE, text=True, env=env)
             for _ in range(8)]
    seen = {p.communicate(timeout=120)[0].strip() for p in procs}
    assert all(p.returncode == 0 for p in procs)
    assert seen == {hashlib.sha256((tmp_path / "tls" / "ca.pem").read_bytes()).hexdigest()}
