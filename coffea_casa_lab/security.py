"""TLS material for schedulers, workers and clients.

Facility certificates (the secrets dir, /etc/cmsaf-secrets by default) win when
they exist. Otherwise a per-user CA and one host certificate are generated on
first use, laid out like the facility's secrets dir, so that the rest of the
code (and HTCondor's transfer_input_files) never needs to tell them apart.
"""

import contextlib
import datetime
import fcntl
import ipaddress
import os
import shutil
import socket
import tempfile
from pathlib import Path

from distributed.security import Security

from . import config

CA_FILE = "ca.pem"
CERT_FILE = "hostcert.pem"  # certificate followed by its key, as on the facility
KEY_FILE = "hostkey.pem"  # optional separate key
TOKEN_FILE = "xcache_token"
_VALIDITY = datetime.timedelta(days=365)


def secrets_dir() -> Path:
    """The directory whose files the scheduler, workers and clients use."""
    facility = Path(os.path.expanduser(config.get("secrets-dir")))
    if (facility / CA_FILE).is_file() and (facility / CERT_FILE).is_file():
        return facility
    generated = Path(os.path.expanduser(config.get("tls-dir")))
    if not _still_valid(generated):
        with _generation_lock(generated.parent):
            if not _still_valid(generated):  # another process may have made it meanwhile
                _generate(generated)
    return generated


@contextlib.contextmanager
def _generation_lock(folder: Path):
    """One generator at a time across processes (a server, its sidebar hosts and kernels may all
    start at once): a process holding material from a CA that another one replaced could serve
    certificates nobody else trusts."""
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(folder / ".tls.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def transfer_files(directory: Path) -> list:
    """The secret files a worker job needs, in the order the docs list them."""
    names = (CA_FILE, CERT_FILE, KEY_FILE, TOKEN_FILE)
    return [directory / n for n in names if (directory / n).is_file()]


def make_security(directory: Path = None) -> Security:
    directory = directory or secrets_dir()
    cert = str(directory / CERT_FILE)
    key = str(directory / KEY_FILE) if (directory / KEY_FILE).is_file() else cert
    ca = str(directory / CA_FILE)
    return Security(
        require_encryption=True,
        tls_ca_file=ca,
        tls_client_cert=cert,
        tls_client_key=key,
        tls_scheduler_cert=cert,
        tls_scheduler_key=key,
        tls_worker_cert=cert,
        tls_worker_key=key,
    )


def _still_valid(directory: Path) -> bool:
    from cryptography import x509

    try:
        pem = (directory / CERT_FILE).read_bytes()
        (directory / CA_FILE).stat()
    except OSError:
        return False
    cert = x509.load_pem_x509_certificate(pem)
    remaining = cert.not_valid_after_utc - datetime.datetime.now(datetime.timezone.utc)
    return remaining > datetime.timedelta(days=1)


def _generate(directory: Path):
    """Create CA + host certificate in a private temp dir, then rename it into place (under
    _generation_lock): readers never see half-written material."""
    tmp = Path(tempfile.mkdtemp(prefix=".tls-", dir=directory.parent))  # mode 0700
    try:
        ca_key, ca_cert, key, cert = _new_ca_and_cert()
        _write_private(tmp / CA_FILE, ca_cert)
        _write_private(tmp / "ca.key", ca_key)
        _write_private(tmp / CERT_FILE, cert + key)
        if directory.exists():  # expired material: replace it
            shutil.rmtree(directory)
        os.rename(tmp, directory)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _write_private(path: Path, data: bytes):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def _new_ca_and_cert():
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.timezone.utc)
    user = os.environ.get("USER") or str(os.getuid())

    def pem_key(k):
        return k.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"coffea-casa CA ({user})")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + _VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .sign(ca_key, hashes.SHA256())
    )

    key = ec.generate_private_key(ec.SECP256R1())
    names = [x509.DNSName("localhost"), x509.DNSName(socket.gethostname())]
    names += [x509.IPAddress(ipaddress.ip_address(a)) for a in ("127.0.0.1", "::1")]
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"coffea-casa ({user})")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + _VALIDITY)
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage(
                [x509.ExtendedKeyUsageOID.SERVER_AUTH, x509.ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    return pem_key(ca_key), ca_cert.public_bytes(pem), pem_key(key), cert.public_bytes(pem)
