"""Install a personal HTCondor pool for the integration tests: `python tests/condor_pool/install.py`.

Debian 13 (trixie) packages HTCondor as `minicondor`, a one-node pool (condor 23.9);
Debian 12 has no HTCondor package and PyPI's `htcondor` wheels hold only the bindings.
So on both, the pool lives in a debootstrapped trixie chroot (`.condor-pool/root` in the
checkout, or $CONDOR_POOL_ROOT): one code path, nothing installed into the machine
itself, and `make clean` removes it. The pool is started per test session by
tests/condor_pool/pool.py, in namespaces of its own.

It needs root (debootstrap, chroot, mounts) and the Debian registry, so it runs before
the tests' loopback-only network namespace. Without root it says so and does nothing:
the tests that need the pool then skip, saying why.
"""

import os
import platform
import re
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_ROOT = HERE.parent.parent / ".condor-pool" / "root"
SUITE = "trixie"
PACKAGES = [
    "minicondor", "openssh-server", "openssh-client",  # condor_ssh_to_job needs sshd in the job's sandbox
    "python3", "python3-venv",  # the pool's own Python (3.13, OpenSSL 3.5) for the TLS check
    # what the checkout's venv Python (bind-mounted in) links against, beyond minbase
    "libsqlite3-0", "libffi8", "libbz2-1.0", "liblzma5", "zlib1g", "libssl3t64", "libreadline8t64",
    "libncursesw6", "libuuid1", "procps",
]
# Bump when the chroot's contents change, so that an old one is rebuilt.
VERSION = "1 " + " ".join(PACKAGES)
USER = "tester"  # jobs must not be submitted by root
PLATFORMS = [f"{tag}_{platform.machine()}" for tag in ("manylinux_2_28", "manylinux_2_17", "manylinux2014",
                                                       "manylinux_2_12", "manylinux2010", "manylinux_2_5", "manylinux1",
                                                       "linux")] + ["any"]


def root_dir() -> Path:
    return Path(os.environ.get("CONDOR_POOL_ROOT") or DEFAULT_ROOT)


def stamp(root: Path) -> Path:
    return root.parent / ".installed"


def installed(root: Path) -> bool:
    try:
        return stamp(root).read_text() == VERSION
    except OSError:
        return False


def mirror() -> str:
    """The Debian mirror this machine's apt already uses."""
    for source in [Path("/etc/apt/sources.list"), *sorted(Path("/etc/apt/sources.list.d").glob("*"))]:
        try:
            text = source.read_text()
        except OSError:
            continue
        m = re.search(r"^(?:URIs:\s*|deb\s+(?:\[[^]]*\]\s+)?)(https?://\S+/debian)/?\s", text, re.MULTILINE)
        if m:
            return m.group(1)
    return "http://deb.debian.org/debian"


def sh(*argv, **kwargs):
    print("+", " ".join(argv), flush=True)
    subprocess.run(argv, check=True, **kwargs)


def install(root: Path):
    if not shutil.which("debootstrap"):
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        if subprocess.run(["apt-get", "install", "-y", "-q", "debootstrap"], env=env).returncode:
            sh("apt-get", "update", "-q", env=env)
            sh("apt-get", "install", "-y", "-q", "debootstrap", env=env)
    partial = root.with_name(root.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.parent.mkdir(parents=True, exist_ok=True)
    # In a mount namespace of its own: whatever debootstrap and apt mount goes with it.
    sh("unshare", "--mount", "debootstrap", "--variant=minbase", SUITE, str(partial), mirror())
    shutil.copy("/etc/resolv.conf", partial / "etc/resolv.conf")
    script = (
        f"mount -t proc proc {partial}/proc && mount --rbind /dev {partial}/dev && "
        f"chroot {partial} sh -c 'apt-get update -q && DEBIAN_FRONTEND=noninteractive "
        f"apt-get install -y -q --no-install-recommends {' '.join(PACKAGES)}' && "
        f"chroot {partial} useradd --create-home --shell /bin/bash {USER}"
    )
    sh("unshare", "--mount", "sh", "-c", script)
    (partial / "etc/resolv.conf").write_text("")  # the pool runs without a network but loopback
    shutil.rmtree(root, ignore_errors=True)
    partial.rename(root)
    stamp(root).write_text(VERSION)


def pool_python_versions() -> str:
    """The pool's own Python gets the distributed and dask of the checkout's venv."""
    from importlib.metadata import version

    return " ".join(f"{name}=={version(name)}" for name in ("distributed", "dask", "cryptography"))


def install_pool_python(root: Path):
    """A venv of the pool's Python (trixie's 3.13, OpenSSL 3.5) with the checkout's distributed,
    at /opt/py313 in the pool. Its pip cannot reach the registry through some proxies
    (3.13 verifies certificates strictly), so the wheels come through this machine's pip."""
    wheels = root / "opt/wheels"
    shutil.rmtree(wheels, ignore_errors=True)
    requirements = pool_python_versions().split()
    sh(sys.executable, "-m", "pip", "download", "-q", "--dest", str(wheels), "--only-binary=:all:",
       "--python-version", "3.13", "--implementation", "cp", *[f"--platform={p}" for p in PLATFORMS], *requirements)
    sh("chroot", str(root), "sh", "-c", "rm -rf /opt/py313 && python3 -m venv /opt/py313 && /opt/py313/bin/pip "
       f"install -q --no-index --find-links /opt/wheels {' '.join(requirements)}")
    (root.parent / ".python").write_text(pool_python_versions())


def main():
    root = root_dir()
    python_ok = (root.parent / ".python").exists() and (root.parent / ".python").read_text() == pool_python_versions()
    if installed(root) and python_ok:
        return
    if os.geteuid() != 0:
        print("condor_pool: not root, so no personal HTCondor pool is installed; the tests that "
              "need it will skip (see tests/condor_pool/README.md)", file=sys.stderr)
        return
    if not installed(root):
        install(root)
    install_pool_python(root)


if __name__ == "__main__":
    main()
