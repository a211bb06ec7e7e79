"""The execute side of one job: what condor_starter (with the shadow) does.

Started detached by condor_submit. It prepares the sandbox, runs the job as
its own session/process group, and records the job's life in its ad and in
the user log.
"""

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import classad2

from . import syntax
from .state import (COMPLETED, HELD, IDLE, REMOVED, RUNNING, SCHEDD_ADDRESS, State,
                    finish_removal, hostname, is_true, live_pids, log_event,
                    log_terminated, signal_group)
from .submit import input_files

# files the starter itself puts in the sandbox: never "output" of the job
INTERNAL_FILES = {"_condor_stdout", "_condor_stderr", ".job.ad", ".machine.ad",
                  "condor_exec.exe", ".chirp.config", ".update.ad"}
# STARTER_NUM_THREADS_ENV_VARS: set to the slot's cpus so libraries don't oversubscribe
THREAD_VARS = ("CUBACORES", "GOMAXPROCS", "JULIA_NUM_THREADS", "MKL_NUM_THREADS",
               "NUMEXPR_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS",
               "ROOT_MAX_THREADS", "TF_LOOP_PARALLEL_ITERATIONS", "TF_NUM_THREADS")


class JobFailure(Exception):
    """Something that puts the job on hold: (HoldReasonCode, message)."""


def main(argv):
    root, jid = argv
    Shepherd(State(root), jid).run()
    return 0


class Shepherd:
    def __init__(self, state, jid):
        self.state, self.jid = state, jid
        self.slot = None

    # -- helpers -------------------------------------------------------------
    def locked_status(self):
        with self.state.lock():
            ad = self.state.read(self.jid)
            if ad is not None and ad["JobStatus"] == REMOVED:
                finish_removal(self.state, self.jid)
                return None, REMOVED
            return ad, (ad["JobStatus"] if ad is not None else None)

    def hold(self, code, reason, subcode=0):
        with self.state.lock():
            ad = self.state.read(self.jid)
            if ad is None or ad["JobStatus"] == REMOVED:
                return finish_removal(self.state, self.jid)
            ad = self.state.set_status(ad, HELD, HoldReason=reason, HoldReasonCode=code,
                                       HoldReasonSubCode=subcode)
            log_event(ad, 12, "Job was held.", reason, f"Code {code} Subcode {subcode}")

    def output_dir(self, ad):
        # spooled jobs keep their output in the spool (condor_transfer_data fetches it)
        return Path(ad["DoubleSpool"]) if "DoubleSpool" in ad else Path(ad["Iwd"])

    def final_path(self, ad, name):
        if "DoubleSpool" in ad:
            return self.output_dir(ad) / os.path.basename(name)
        return Path(ad["Iwd"], name)

    def matched(self, ad):
        """Whether the slot meets the job's Requirements; if not, it stays idle as on a real pool
        (each condor_q, the double's negotiator, tries it again)."""
        from .machine import machine_ad, matches

        if matches(ad, machine_ad(self.state)):
            return True
        with self.state.lock():
            if self.state.read(self.jid) is not None:
                self.state.update(self.jid, DoubleUnmatched=True, LastRejMatchReason="no match found ",
                                  LastRejMatchTime=int(time.time()))
        return False

    # -- the job's life ---------------------------------------------------------
    def run(self):
        ad, status = self.locked_status()
        if status != IDLE or not self.matched(ad):
            return
        with self.state.lock():
            self.slot = self.state.next_slot_name()
        scratch = self.state.sandbox(self.jid)
        scratch.mkdir(parents=True, exist_ok=True)
        # vanilla/docker jobs get a sandbox with file transfer unless told not to;
        # local/scheduler universe and should_transfer_files=NO run in Iwd
        sandboxed = ad["JobUniverse"] == 5 and ad.get("ShouldTransferFiles") != "NO"
        cwd = scratch if sandboxed else Path(ad["Iwd"])
        try:
            exe, argv0 = self.prepare(ad, scratch, sandboxed)
            before = snapshot(scratch)
            stdio = self.open_stdio(ad, scratch, sandboxed)
        except JobFailure as e:
            return self.hold(*e.args)
        env = job_environment(ad, scratch, cwd, self.slot)
        argv = [argv0] + syntax.args_from_ad(ad)

        with self.state.lock():
            ad = self.state.read(self.jid)
            if ad is None or ad["JobStatus"] != IDLE:  # removed while we prepared
                if ad is not None and ad["JobStatus"] == REMOVED:
                    finish_removal(self.state, self.jid)
                return
            now = int(time.time())
            start = {"JobStartDate": ad.get("JobStartDate", now), "JobCurrentStartDate": now,
                     "RemoteHost": self.slot, "NumJobStarts": ad["NumJobStarts"] + 1,
                     "DoubleShepherdPid": os.getpid(), "DoubleSandbox": str(scratch)}
            write_job_ad(ad, start, scratch, self.slot)
            try:
                proc = subprocess.Popen(argv, executable=exe, cwd=cwd, env=env,
                                        start_new_session=True, close_fds=True, **stdio)
            except OSError as e:
                failure = (6, f"Error from {self.slot}: Failed to execute '{exe}': "
                              f"(errno={e.errno}: '{e.strerror}')", e.errno)
                proc = None
            else:
                ad = self.state.set_status(ad, RUNNING, DoublePgid=proc.pid, **start)
        for f in stdio.values():
            if hasattr(f, "close"):
                f.close()
        if proc is None:
            return self.hold(*failure)
        log_event(ad, 1, f"Job executing on host: {SCHEDD_ADDRESS}", f"SlotName: {self.slot}")

        returncode = self.watch(proc)
        # like the starter: once the job's main process is gone, its whole family goes
        signal_group(proc.pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while live_pids(pgids=[proc.pid]) and time.monotonic() < deadline:
            time.sleep(0.05)

        ad, status = self.locked_status()
        if status != RUNNING:
            return
        try:
            if sandboxed:
                self.transfer_output(ad, scratch, before)
        except (JobFailure, OSError) as e:
            args = e.args if isinstance(e, JobFailure) else (
                12, f"Error from {self.slot}: Transfer output files failure: {e}", 0)
            return self.hold(*args)
        self.complete(returncode)

    def watch(self, proc):
        """Wait for the job, evaluating its periodic policy as the schedd does every
        PERIODIC_EXPR_INTERVAL (here `periodic_interval`, 1 s): PeriodicHold, then PeriodicRemove."""
        interval = self.state.setting("periodic_interval", 1.0)
        while True:
            try:
                return proc.wait(timeout=interval)
            except subprocess.TimeoutExpired:
                pass
            ad = self.apply_policy()
            if ad is not None:
                from .rm import stop_processes

                stop_processes([ad])
                return proc.wait()

    def apply_policy(self):
        """Hold or remove the running job if its policy says so; returns its ad then."""
        with self.state.lock():
            ad = self.state.read(self.jid)
            if ad is None or ad["JobStatus"] != RUNNING:
                return None
            if "PeriodicHold" in ad and is_true(ad.eval("PeriodicHold")):
                reason = ad.eval("PeriodicHoldReason") if "PeriodicHoldReason" in ad else None
                if not isinstance(reason, str) or not reason:
                    reason = f"The job attribute PeriodicHold expression '{ad.lookup('PeriodicHold')}' evaluated to TRUE"
                sub = ad.eval("PeriodicHoldSubCode") if "PeriodicHoldSubCode" in ad else 0
                sub = sub if type(sub) is int else 0
                ad = self.state.set_status(ad, HELD, HoldReason=reason, HoldReasonCode=3, HoldReasonSubCode=sub)
                log_event(ad, 12, "Job was held.", reason, f"Code 3 Subcode {sub}")
                return ad
            if "PeriodicRemove" in ad and is_true(ad.eval("PeriodicRemove")):
                reason = f"The job attribute PeriodicRemove expression '{ad.lookup('PeriodicRemove')}' evaluated to TRUE"
                return self.state.set_status(ad, REMOVED, RemoveReason=reason)
        return None

    def prepare(self, ad, scratch, sandboxed):
        """Input file transfer; returns (path to exec, argv[0])."""
        source = self.output_dir(ad) if "DoubleSpool" in ad else None
        try:
            if sandboxed:
                for name in input_files(ad.get("TransferInput", "")):
                    if "://" in name:
                        raise JobFailure(13, f"Error from {self.slot}: Transfer input files failure: "
                                             f"URL {name} (the condor_double transfers local files only)", 0)
                    src = (source / os.path.basename(name.rstrip("/")) if source
                           else Path(ad["Iwd"], name.rstrip("/")))
                    if src.is_dir() and name.endswith("/"):
                        shutil.copytree(src, scratch, dirs_exist_ok=True)  # "dir/": its contents
                    elif src.is_dir():
                        shutil.copytree(src, scratch / src.name, dirs_exist_ok=True)
                    else:
                        shutil.copy2(src, scratch / src.name)
            if sandboxed and ad.get("TransferExecutable", True):
                # HTCondor transfers the executable and runs it as condor_exec.exe
                src = source / os.path.basename(ad["Cmd"]) if source else Path(ad["Cmd"])
                exe = scratch / "condor_exec.exe"
                shutil.copy2(src, exe)
                exe.chmod(0o755)
                return str(exe), "condor_exec.exe"
        except OSError as e:
            raise JobFailure(13, f"Error from {self.slot}: Transfer input files failure: {e}", e.errno or 0)
        return ad["Cmd"], ad["Cmd"]

    def open_stdio(self, ad, scratch, sandboxed):
        files = {}
        try:
            files["stdin"] = (open(Path(ad["Iwd"], ad["In"]), "rb") if ad["In"] != "/dev/null"
                              else subprocess.DEVNULL)
            for key, attr, stream in (("stdout", "Out", "StreamOut"), ("stderr", "Err", "StreamErr")):
                if ad[attr] == "/dev/null":
                    files[key] = subprocess.DEVNULL
                elif ad[stream] or not sandboxed:
                    # streamed: written live where the submitter wants it
                    self.output_dir(ad).mkdir(parents=True, exist_ok=True)
                    files[key] = open(self.final_path(ad, ad[attr]), "wb")
                else:
                    # transferred back when the job exits
                    files[key] = open(scratch / f"_condor_{key}", "wb")
        except OSError as e:
            raise JobFailure(13, f"Error from {self.slot}: cannot open job standard file: {e}", e.errno or 0)
        return files

    def transfer_output(self, ad, scratch, before):
        if ad.get("WhenToTransferOutput", "ON_EXIT") not in ("ON_EXIT", "ON_EXIT_OR_EVICT"):
            return
        out_dir = self.output_dir(ad)
        out_dir.mkdir(parents=True, exist_ok=True)
        for key, attr, stream in (("stdout", "Out", "StreamOut"), ("stderr", "Err", "StreamErr")):
            if not ad[stream] and ad[attr] != "/dev/null":
                shutil.copyfile(scratch / f"_condor_{key}", self.final_path(ad, ad[attr]))
        if "TransferOutput" in ad:
            for name in input_files(ad["TransferOutput"]):
                src = scratch / name
                if not src.exists():
                    raise JobFailure(12, f"Error from {self.slot}: Transfer output files failure: "
                                         f"{name}: (errno 2) No such file or directory", 2)
                if src.is_dir():
                    shutil.copytree(src, out_dir / src.name, dirs_exist_ok=True)
                else:
                    shutil.copy2(src, out_dir / src.name)
            return
        # default: new or modified files at the top of the sandbox (not directories)
        for name, mtime in snapshot(scratch).items():
            if name not in INTERNAL_FILES and before.get(name) != mtime and (scratch / name).is_file():
                shutil.copy2(scratch / name, out_dir / name)

    def complete(self, returncode):
        with self.state.lock():
            ad = self.state.read(self.jid)
            if ad is None or ad["JobStatus"] == REMOVED:
                return finish_removal(self.state, self.jid)
            now = int(time.time())
            attrs = {"CompletionDate": now,
                     "RemoteWallClockTime": float(now - ad["JobCurrentStartDate"]),
                     "ExitBySignal": returncode < 0}
            if returncode < 0:
                attrs["ExitSignal"] = -returncode
            else:
                attrs["ExitCode"] = returncode
            ad = self.state.set_status(ad, COMPLETED, **attrs)
            log_terminated(ad, exit_code=returncode if returncode >= 0 else None,
                           signal_number=-returncode if returncode < 0 else None)
            if not is_true(ad.eval("LeaveJobInQueue")):
                self.state.leave_queue(self.jid)


def snapshot(directory):
    return {p.name: p.stat().st_mtime_ns for p in directory.iterdir()}


def job_environment(ad, scratch, cwd, slot):
    env = syntax.env_from_ad(ad)
    env.setdefault("PATH", "/usr/local/bin:/usr/bin:/bin")  # the job gets no PATH of ours
    env.setdefault("HOME", str(scratch))
    for name in THREAD_VARS:
        env.setdefault(name, str(slot_cpus(ad)))
    env.update({"_CONDOR_SCRATCH_DIR": str(scratch), "_CONDOR_JOB_IWD": str(cwd),
                "_CONDOR_JOB_AD": str(scratch / ".job.ad"),
                "_CONDOR_MACHINE_AD": str(scratch / ".machine.ad"),
                "_CONDOR_SLOT": slot.split("@")[0], "BATCH_SYSTEM": "HTCondor",
                "TMPDIR": str(scratch), "TMP": str(scratch), "TEMP": str(scratch)})
    return env


def slot_cpus(ad):
    cpus = ad.eval("RequestCpus")
    return cpus if type(cpus) is int else 1  # excludes bools and Undefined/Error


def write_job_ad(ad, start, scratch, slot):
    job = classad2.parseOne(ad.printOld())
    job.update(start)
    job.update({"JobStatus": RUNNING})
    (scratch / ".job.ad").write_text(job.printOld())
    machine = classad2.ClassAd()
    machine.update({"MyType": "Machine", "Name": slot, "Machine": hostname(), "OpSys": "LINUX",
                    "Arch": "X86_64", "Cpus": slot_cpus(job),
                    "StartdIpAddr": SCHEDD_ADDRESS})
    (scratch / ".machine.ad").write_text(machine.printOld())
