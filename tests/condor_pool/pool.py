"""A real personal HTCondor pool for the tests, started and stopped per test session.

The pool (master, collector, negotiator, schedd, startd: Debian trixie's minicondor)
runs in the chroot that install.py made, inside a PID and a mount namespace of its own
that share the caller's network namespace (`make test` runs everything on loopback):

- nothing it starts outlives it: when the namespace's first process ends, the kernel
  ends every process in it (daemons, jobs, and whatever the tests ran as the user
  there), and its mounts go with the namespace;
- the checkout, /tmp and the venv's base Python are bind-mounted at the same paths, so
  the checkout's own venv (the package built from main) runs inside, as the user
  `tester`: the notebook server, kernels, scripts and the worker jobs alike;
- a fresh queue at every start; fast negotiation (a job runs 1-2 s after submit);
  `tester` holds an IDTOKEN, as a facility user does, so the htcondor2 bindings work.

`python tests/condor_pool/pool.py -- CMD ...` starts a pool, runs CMD as `tester`
inside, and stops the pool (the galata tests use it to serve a lab on the pool);
meanwhile `python tests/condor_pool/pool.py --admin CMD ...` runs CMD in it as root.
"""

import fcntl
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

try:
    from .install import USER, installed, root_dir
except ImportError:  # run as a script
    from install import USER, installed, root_dir

HERE = Path(__file__).resolve().parent
CHECKOUT = HERE.parent.parent
SLOT_CPUS, SLOT_MEMORY_MB = 16, 32768  # one partitionable slot; jobs ask for 1-4 cores, 1-6 GiB
CONFIG = f"""\
# coffea-casa-lab tests: a one-node pool on loopback that runs jobs at once
NETWORK_INTERFACE = 127.0.0.1
# A chroot cannot unshare the mount namespace for /tmp and /var/tmp per job.
MOUNT_UNDER_SCRATCH =
NEGOTIATOR_INTERVAL = 1
NEGOTIATOR_CYCLE_DELAY = 1
NEGOTIATOR_MIN_INTERVAL = 1
SCHEDD_INTERVAL = 1
UPDATE_INTERVAL = 1
STARTER_UPDATE_INTERVAL = 1
SHADOW_QUEUE_UPDATE_INTERVAL = 1
PERIODIC_EXPR_INTERVAL = 1
NUM_CPUS = {SLOT_CPUS}
MEMORY = {SLOT_MEMORY_MB}
use FEATURE : PartitionableSlot
"""


class PoolUnavailable(RuntimeError):
    pass


def user_ids(root):
    for line in (root / "etc/passwd").read_text().splitlines():
        fields = line.split(":")
        if fields[0] == USER:
            return int(fields[2]), int(fields[3]), fields[5]
    raise PoolUnavailable(f"no user {USER} in {root}")


def shared_paths():
    """Host paths the pool sees at the same place: the checkout, /tmp, the venv's base Python."""
    paths = [Path(tempfile.gettempdir()).resolve(), CHECKOUT, Path(sys.base_prefix).resolve()]
    out = []
    for path in paths:
        if path in out:
            continue
        if path == Path("/usr") or Path("/usr") in path.parents:
            raise PoolUnavailable(
                f"the venv's Python lives in {path}, which the pool's own /usr would hide: "
                "use a Python outside /usr (pyenv, /opt, /usr/local) for the venv")
        out.append(path)
    return out


class CondorPool:
    """The test's side of the pool: start, stop, and run things in it as the user or as root."""

    def __init__(self, root=None):
        self.root = Path(root or root_dir())
        if os.geteuid() != 0:
            raise PoolUnavailable("the personal HTCondor pool needs root (chroot, mounts, namespaces)")
        if not installed(self.root):
            raise PoolUnavailable(f"no pool installed in {self.root}: run `python tests/condor_pool/install.py` as root")
        self.uid, self.gid, self.home = user_ids(self.root)
        self.init = self._pid = None
        self.pid_file = self.root.parent / "pool.pid"  # while `pool.py -- CMD` serves it: for `--admin`

    # --- life ----------------------------------------------------------------------------
    def start(self, timeout=60):
        # One pool per chroot at a time: a second would wipe the first one's queue.
        self._lock = open(self.root.parent / "pool.lock", "w")
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._lock.close()
            raise PoolUnavailable(f"the pool in {self.root} is in use by another test session") from None
        argv = ["setpriv", "--pdeathsig", "KILL",  # the pool dies with the test process, however it ends
                "unshare", "--fork", "--pid", "--mount", "--mount-proc", "--kill-child",
                sys.executable, str(Path(__file__).resolve()), "--init", str(self.root)]
        # A clean environment: the htcondor2 wheel, once imported, points CONDOR_CONFIG at its own.
        env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8"}
        self.init = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True, cwd=HERE, env=env)
        lines, deadline = [], time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = self.init.stdout.readline()
            if not line:
                break
            if line.strip() == "ready":
                return self
            lines.append(line)
        self.stop()
        raise PoolUnavailable("the HTCondor pool did not start:\n" + "".join(lines[-40:]))

    def stop(self):
        if self.init is None:
            return
        if self.init.poll() is None:
            try:
                self.init.stdin.close()  # the init process stops the daemons, then exits
                self.init.wait(30)
            except (OSError, subprocess.TimeoutExpired):
                self.init.kill()
                self.init.wait(10)
        self.init = self._pid = None
        self._lock.close()

    @property
    def pid(self):
        """The namespace's first process (the init), as this side sees it."""
        if self._pid is None:
            import psutil

            (child,) = psutil.Process(self.init.pid).children()
            self._pid = child.pid
        return self._pid

    # --- running things in it ----------------------------------------------------------
    def user_env(self, **extra):
        env = {"HOME": self.home, "USER": USER, "LOGNAME": USER, "LANG": "C.UTF-8",
               "PATH": f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin",
               "TMPDIR": tempfile.gettempdir()}
        env.update({k: str(v) for k, v in extra.items()})
        return env

    def argv(self, argv, env=None, cwd=None, user=True):
        """The command line that runs `argv` in the pool: in its namespaces and chroot, as the user
        (or root), with exactly `env`, in `cwd`."""
        spec = [f"--userspec={self.uid}:{self.gid}", f"--groups={self.gid}"] if user else []
        env = env if env is not None else (self.user_env() if user else {"PATH": "/usr/bin:/bin:/usr/sbin:/sbin"})
        return ["nsenter", f"--target={self.pid}", "--mount", "--pid", "--", "chroot", *spec, str(self.root),
                "env", "-i", *(f"{k}={v}" for k, v in env.items()),
                "sh", "-c", 'cd "$0" && exec "$@"', str(cwd or (self.home if user else "/")), *map(str, argv)]

    def popen(self, argv, env=None, cwd=None, user=True, **kwargs):
        return PoolProcess(self.argv(argv, env, cwd, user), **kwargs)

    def run(self, argv, env=None, cwd=None, user=True, timeout=120, check=False, **kwargs):
        kwargs.setdefault("capture_output", True)
        return subprocess.run(self.argv(argv, env, cwd, user), text=True, timeout=timeout, check=check, **kwargs)

    def admin(self, *argv, timeout=60):
        """A condor command as the pool's administrator (root): condor_hold, condor_rm, ..."""
        return self.run(list(argv), user=False, timeout=timeout)

    def give(self, path):
        """Make `path` (a directory or file the test made) the user's, recursively."""
        path = Path(path)
        for p in [path, *path.rglob("*")] if path.is_dir() else [path]:
            os.chown(p, self.uid, self.gid)
        return path

    # --- what the schedd knows ---------------------------------------------------------
    def queue(self):
        """Every job in the queue, of every user, as dicts (condor_q -json)."""
        return self._ads("condor_q", "-allusers")

    def history(self):
        return self._ads("condor_history")

    def _ads(self, tool, *args):
        attrs = "ClusterId,ProcId,JobStatus,Owner,JobBatchName,HoldReason,RemoteHost,RequestCpus,RequestMemory,JobUniverse"
        out = self.admin(tool, *args, "-json", "-attributes", attrs)
        if out.returncode:
            raise RuntimeError(f"{tool} failed: {out.stderr.strip()}")
        return json.loads(out.stdout) if out.stdout.strip() else []


class PoolProcess(subprocess.Popen):
    """nsenter, which does not pass signals on: here they go to the process it runs in the pool."""

    def send_signal(self, sig):
        import psutil

        try:
            children = psutil.Process(self.pid).children()
        except psutil.NoSuchProcess:
            return
        for child in children:
            try:
                os.kill(child.pid, sig)
            except ProcessLookupError:
                pass


# --- the init process: pid 1 of the pool's namespaces ------------------------------------
def _sh(*argv):
    subprocess.run(argv, check=True)


def _mount_all(root):
    _sh("mount", "-t", "proc", "proc", f"{root}/proc")
    _sh("mount", "--rbind", "/dev", f"{root}/dev")
    # A bind of /dev does not carry /dev/shm: without it every Nanny dies in SemLock.
    _sh("mount", "-t", "tmpfs", "-o", "mode=1777", "shm", f"{root}/dev/shm")
    # Terminals of its own, owned by group tty as on an execute node: a job's sshd
    # (condor_ssh_to_job) gives its pty to group tty, which fails on this machine's devpts.
    _sh("mount", "-t", "devpts", "-o", "newinstance,gid=5,mode=620,ptmxmode=0666", "devpts", f"{root}/dev/pts")
    _sh("mount", "--bind", f"{root}/dev/pts/ptmx", f"{root}/dev/ptmx")
    _sh("mount", "--rbind", "/sys", f"{root}/sys")
    shared = []
    for path in shared_paths():
        _open_the_way(root, path, shared)
        target = root / path.relative_to("/")
        target.mkdir(exist_ok=True)
        _sh("mount", "--rbind", str(path), str(target))
        shared.append(path)


def _open_the_way(root, path, shared):
    """Let the pool's user reach `path`: every folder above it traversable. The pool's own
    folders are made so; a host folder already shared that is not (a checkout in `mktemp -d`,
    mode 0700) gets a tmpfs over it in the pool, which hides the rest of it."""
    for folder in reversed(path.parents[:-1]):  # from the top, without "/"
        inside = root / folder.relative_to("/")
        if not any(folder == p or p in folder.parents for p in shared):
            inside.mkdir(exist_ok=True)
            inside.chmod(inside.stat().st_mode | 0o011)
        elif not folder.stat().st_mode & 0o001 and not os.path.ismount(inside):
            _sh("mount", "-t", "tmpfs", "-o", "mode=0755", "way", str(inside))


def _configure(root):
    hostname = os.uname().nodename
    (root / "etc/hosts").write_text(f"127.0.0.1\tlocalhost {hostname}\n::1\tlocalhost ip6-localhost\n")
    (root / "etc/condor/config.d/99-coffea-casa-tests").write_text(CONFIG)
    for d in ("var/spool/condor", "var/log/condor", "var/lib/condor/execute"):  # a fresh queue
        for child in (root / d).glob("*"):
            shutil.rmtree(child) if child.is_dir() and not child.is_symlink() else child.unlink()


def _in_chroot(root, *argv, **kwargs):
    return subprocess.run(["chroot", str(root), *argv], capture_output=True, text=True, **kwargs)


def _token(root):
    """An IDTOKEN for the user, as a facility hands one out, where the bindings look for it."""
    uid, gid, home = user_ids(root)
    domain = _in_chroot(root, "condor_config_val", "UID_DOMAIN").stdout.strip()
    token = _in_chroot(root, "condor_token_create", "-identity", f"{USER}@{domain}", check=True).stdout
    tokens = root / home.lstrip("/") / ".condor/tokens.d"
    tokens.mkdir(parents=True, exist_ok=True)
    (tokens / "pool").write_text(token)
    for p, mode in ((tokens.parent, 0o700), (tokens, 0o700), (tokens / "pool", 0o600)):
        os.chown(p, uid, gid)
        os.chmod(p, mode)


def _ready(root):
    status = _in_chroot(root, "condor_status", "-af", "Name", timeout=10)
    return _in_chroot(root, "condor_q", timeout=10).returncode == 0 and "slot" in status.stdout


def init(root):
    root = Path(root)
    _mount_all(root)
    _configure(root)
    master = subprocess.Popen(["chroot", str(root), "condor_master", "-f"], stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + 45
    while not _ready(root):
        if master.poll() is not None or time.monotonic() > deadline:
            print(f"condor_master exited with {master.returncode}" if master.poll() is not None
                  else "the pool did not come up in 45 s", flush=True)
            log = root / "var/log/condor/MasterLog"
            print(log.read_text()[-4000:] if log.exists() else "(no MasterLog)", flush=True)
            return 1
        time.sleep(0.2)
    _token(root)
    print("ready", flush=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        sys.stdin.read()  # until the test side closes our stdin, or dies
    finally:
        master.terminate()  # graceful: the daemons stop their jobs
        try:
            master.wait(20)
        except subprocess.TimeoutExpired:
            master.kill()
    return 0


def main(argv):
    if argv[:1] == ["--init"]:
        return init(argv[1])
    if argv[:1] == ["--admin"] and len(argv) > 1:
        pool = CondorPool()
        pool._pid = int(pool.pid_file.read_text())
        return pool.run(argv[1:], user=False, capture_output=False).returncode
    if argv[:1] != ["--"] or len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    pool = CondorPool().start()
    try:
        pool.pid_file.write_text(str(pool.pid))
        proc = pool.popen(argv[1:], env=pool.user_env(**{k: v for k, v in os.environ.items() if k.startswith(
            ("DASK_", "JUPYTER_", "COFFEA_", "PYTHONPATH", "CONDOR_"))}), cwd=os.getcwd())
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: proc.terminate())
        return proc.wait()
    finally:
        pool.pid_file.unlink(missing_ok=True)
        pool.stop()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
