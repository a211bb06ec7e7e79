"""The double's "schedd": a directory holding the job queue.

Layout under $CONDOR_DOUBLE_STATE:
  lock              flock()ed by every writer (several condor_submit may run at once)
  next_cluster      next ClusterId, so ids grow monotonically per state dir
  queue/C.P.ad      ads of jobs still in the queue (old ClassAd syntax, like .job.ad)
  history/C.P.ad    ads of jobs that left the queue (completed or removed)
  execute/dir_C.P/  a job's sandbox (scratch dir), kept after the job for inspection
  spool/C.P/        input snapshot (-spool) and, for spooled jobs, their output
  shepherd/C.P.log  the shepherd's own diagnostics
  transaction.lock  flock()ed for each schedd transaction: the schedd serves one at a time
  transactions.log  one line per transaction: "<epoch> <tool> <jobs>"
  transaction_cost  seconds each transaction takes (absent: 0)
  periodic_interval seconds between evaluations of periodic policy expressions (absent: 1)
  slot_cpus, slot_memory, slot_disk  the one partitionable slot's size (absent: machine.py's defaults)
"""

import contextlib
import fcntl
import os
import pwd
import signal
import socket
import sys
import tempfile
import time
from pathlib import Path

import classad2

# JobStatus values (HTCondor's documented numbers)
IDLE, RUNNING, REMOVED, COMPLETED, HELD = 1, 2, 3, 4, 5
STATUS_LETTER = {1: "I", 2: "R", 3: "X", 4: "C", 5: "H", 6: ">", 7: "S"}

SCHEDD_ADDRESS = "<127.0.0.1:9618?addrs=127.0.0.1-9618&alias=localhost>"


def owner():
    return pwd.getpwuid(os.getuid()).pw_name


def acting_user():
    """Who runs a tool, as HTCondor names them in "(by user U)": the job's owner, unless the test
    acts as the pool's administrator (CONDOR_DOUBLE_ACTING_USER; root on a real pool is "condor")."""
    return os.environ.get("CONDOR_DOUBLE_ACTING_USER") or owner()


def hostname():
    return socket.gethostname()  # local name only; never resolved over the network


def fail(message, code=1):
    print(message, file=sys.stderr)
    sys.exit(code)


class State:
    def __init__(self, root):
        self.root = Path(root)
        for sub in ("queue", "history", "execute", "spool", "shepherd"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)

    @classmethod
    def from_env(cls, tool):
        root = os.environ.get("CONDOR_DOUBLE_STATE")
        if not root:
            # the double's equivalent of "no schedd to talk to"
            fail(f"{tool}: CONDOR_DOUBLE_STATE is not set: no (test double) schedd to contact")
        return cls(root)

    @contextlib.contextmanager
    def lock(self, exclusive=True):
        with open(self.root / "lock", "a") as f:
            fcntl.flock(f, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
            yield  # released when the file closes

    @contextlib.contextmanager
    def transaction(self, tool):
        """One schedd transaction: serialized with all others, at the configured cost.
        Yields a dict; set "jobs" in it to record how many jobs the transaction touched."""
        record = {"jobs": 0}
        with open(self.root / "transaction.lock", "a") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            time.sleep(self.setting("transaction_cost", 0.0))
            yield record
            with open(self.root / "transactions.log", "a") as log:
                log.write(f"{time.time():.3f} {tool} {record['jobs']}\n")

    def setting(self, name, default):
        try:
            return float((self.root / name).read_text())
        except (FileNotFoundError, ValueError):
            return default

    # ids -----------------------------------------------------------------
    def peek_cluster_id(self):
        try:
            return int((self.root / "next_cluster").read_text())
        except FileNotFoundError:
            return 1

    def set_next_cluster_id(self, value):
        self._atomic_write(self.root / "next_cluster", str(value))

    def next_slot_name(self):
        """A fresh dynamic slot name, like a partitionable slot hands out."""
        path = self.root / "next_slot"
        n = int(path.read_text()) if path.exists() else 1
        self._atomic_write(path, str(n + 1))
        return f"slot1_{n}@{hostname()}"

    # paths ---------------------------------------------------------------
    def queue_path(self, jid):
        return self.root / "queue" / f"{jid}.ad"

    def history_path(self, jid):
        return self.root / "history" / f"{jid}.ad"

    def sandbox(self, jid):
        return self.root / "execute" / f"dir_{jid}"

    def spool(self, jid):
        return self.root / "spool" / jid

    # ads -----------------------------------------------------------------
    def _atomic_write(self, path, text):
        # readers never see a half-written file: write aside, then rename
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.replace(tmp, path)

    def write_ad(self, ad):
        jid = job_id(ad)
        self._atomic_write(self.queue_path(jid), ad.printOld())

    @staticmethod
    def read_path(path):
        return classad2.parseOne(Path(path).read_text())

    def read(self, jid):
        """The job's ad from the queue, or None once it has left the queue."""
        try:
            return self.read_path(self.queue_path(jid))
        except FileNotFoundError:
            return None

    def read_any(self, jid):
        ad = self.read(jid)
        if ad is None and self.history_path(jid).exists():
            ad = self.read_path(self.history_path(jid))
        return ad

    def queue(self):
        return self._ads("queue")

    def history(self):
        return self._ads("history")

    def history_newest_first(self):
        """Jobs that left the queue, the last to leave first: the order of HTCondor's history file,
        read backwards as condor_history does."""
        stamped = []
        for p in (self.root / "history").glob("*.ad"):
            try:
                stamped.append((p.stat().st_mtime_ns, self.read_path(p)))
            except FileNotFoundError:
                pass
        stamped.sort(key=lambda s: (s[0], s[1]["ClusterId"], s[1]["ProcId"]), reverse=True)
        return [ad for _, ad in stamped]

    def _ads(self, sub):
        ads = []
        for p in (self.root / sub).glob("*.ad"):
            try:
                ads.append(self.read_path(p))
            except FileNotFoundError:  # left the queue while we listed it
                pass
        return sorted(ads, key=lambda a: (a["ClusterId"], a["ProcId"]))

    def update(self, jid, **attrs):
        """Set attributes on a queued job (caller holds the lock); returns the ad or None."""
        ad = self.read(jid)
        if ad is None:
            return None
        for k, v in attrs.items():
            ad[k] = v
        self.write_ad(ad)
        return ad

    def set_status(self, ad, status, **attrs):
        attrs.setdefault("EnteredCurrentStatus", int(time.time()))
        gone = [k for k, v in attrs.items() if v is None]  # e.g. RemoteHost of a stopped job
        ad = self.update(job_id(ad), LastJobStatus=ad["JobStatus"], JobStatus=status,
                         **{k: v for k, v in attrs.items() if v is not None})
        if ad is not None and any(k in ad for k in gone):
            for k in gone:
                ad.pop(k, None)
            self.write_ad(ad)
        return ad

    def leave_queue(self, jid):
        """Move a job to history (caller holds the lock). True if this call moved it."""
        try:
            os.replace(self.queue_path(jid), self.history_path(jid))
        except FileNotFoundError:
            return False
        os.utime(self.history_path(jid))  # when it left the queue: its place in the history file
        return True


def stopped(ad):
    """What a running job's ad gets when it is stopped (vacated, evicted, held, removed)."""
    return {"LastVacateTime": int(time.time()), "LastRemoteHost": ad.get("RemoteHost"), "RemoteHost": None}


def unheld(ad):
    """What a held job's ad gets when it is removed: its hold reason becomes the last one (23.9)."""
    last = {f"Last{k}": ad[k] for k in ("HoldReason", "HoldReasonCode", "HoldReasonSubCode") if k in ad}
    return dict(last, HoldReason=None, HoldReasonCode=None, HoldReasonSubCode=None)


def job_id(ad):
    return f"{ad['ClusterId']}.{ad['ProcId']}"


def is_true(value):
    """ClassAd 'boolean equivalent' truth, as a schedd applies constraints."""
    if isinstance(value, classad2.Value):  # Undefined/Error (an IntEnum: check first)
        return False
    if isinstance(value, bool):
        return value
    return isinstance(value, (int, float)) and value != 0


def matches(ad, constraint):
    return constraint is None or is_true(constraint.eval(ad))


# processes ---------------------------------------------------------------

def processes():
    """(pid, state, pgrp) of every process, from /proc."""
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            fields = stat[stat.rindex(")") + 2:].split()  # state ppid pgrp ...
            yield int(entry), fields[0], int(fields[2])


def proc_file(pid, name):
    try:
        return Path(f"/proc/{pid}/{name}").read_bytes().split(b"\0")
    except OSError:
        return []


def live_pids(pgids=(), pids=(), scratch_dirs=()):
    """Live (not zombie) pids that are in one of `pgids`, are one of `pids`, or carry
    _CONDOR_SCRATCH_DIR of one of `scratch_dirs` in their environment (that also finds
    job processes that left the job's process group)."""
    pgids, pids = set(pgids), set(pids)
    markers = {f"_CONDOR_SCRATCH_DIR={d}".encode() for d in scratch_dirs}
    found = []
    for pid, state, pgrp in processes():
        if state in "ZX":
            continue
        if pgrp in pgids or pid in pids or (markers and markers & set(proc_file(pid, "environ"))):
            found.append(pid)
    return sorted(found)


def signal_group(pgid, sig):
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def parse_signal(name, default=signal.SIGTERM):
    """KillSig values: 'SIGTERM', 'TERM' or a number."""
    if not name:
        return default
    name = str(name).upper()
    if name.isdigit():
        return signal.Signals(int(name))
    return signal.Signals[name if name.startswith("SIG") else "SIG" + name]


# user log ------------------------------------------------------------------

def log_event(ad, code, title, *body):
    """Append an event to the job's user log in HTCondor's text format."""
    path = ad.get("UserLog")
    if not isinstance(path, str) or not path:
        return
    stamp = time.strftime("%Y-%m-%d %H:%M:%S")
    text = f"{code:03d} ({ad['ClusterId']:03d}.{ad['ProcId']:03d}.000) {stamp} {title}\n"
    text += "".join(f"\t{line}\n" for line in body) + "...\n"
    with contextlib.suppress(OSError):
        with open(path, "a") as f:
            f.write(text)


def log_terminated(ad, exit_code=None, signal_number=None):
    if signal_number is None:
        how = [f"(1) Normal termination (return value {exit_code})"]
    else:
        how = [f"(0) Abnormal termination (signal {signal_number})", "(0) No core file"]
    usage = [f"\tUsr 0 00:00:00, Sys 0 00:00:00  -  {w} Usage" for w in
             ("Run Remote", "Run Local", "Total Remote", "Total Local")]
    traffic = [f"0  -  {w} By Job" for w in
               ("Run Bytes Sent", "Run Bytes Received", "Total Bytes Sent", "Total Bytes Received")]
    log_event(ad, 5, "Job terminated.", *how, *usage, *traffic)


def finish_removal(state, jid):
    """Job is gone from the execute side: it leaves the queue (caller holds the lock)."""
    ad = state.read(jid)
    if ad is not None and state.leave_queue(jid):
        log_event(ad, 9, "Job was aborted.", ad.get("RemoveReason", "via condor_rm"))
