"""condor_submit double: parse with HTCondor's own parser, queue ads, start shepherds."""

import fnmatch
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import classad2
import htcondor2

from . import syntax
from .state import (HELD, IDLE, SCHEDD_ADDRESS, State, fail, hostname, job_id,
                    log_event, owner)

USAGE = "Usage: condor_submit [options] [cmdfile]\n    (see tests/condor_double/README.md for what the double supports)"
QUEUE_LINE = re.compile(r"^\s*queue(\s.*)?$", re.IGNORECASE | re.MULTILINE)
DEFAULT_REQUIREMENTS = ("(TARGET.Arch == \"X86_64\") && (TARGET.OpSys == \"LINUX\") && "
                        "(TARGET.Disk >= RequestDisk) && (TARGET.Memory >= RequestMemory) && "
                        "{cpus}(TARGET.HasFileTransfer)")
CPUS_REQUIREMENT = "(TARGET.Cpus >= RequestCpus) && "  # added unless the job asks for one core
# what condor_submit -spool sets so the output can be fetched later (submit_utils.cpp)
SPOOL_LEAVE_IN_QUEUE = ("JobStatus == 4 && (CompletionDate =?= UNDEFINED || CompletionDate == 0 || "
                        "((time() - CompletionDate) < 864000))")


class SubmitError(Exception):
    pass


def as_bool(value, default=False):
    if value is None or value == "":
        return default
    v = value.strip().lower()
    if v in ("true", "t", "yes", "y", "1"):
        return True
    if v in ("false", "f", "no", "n", "0"):
        return False
    raise SubmitError(f"{value!r} is not a boolean")


def parse_expr(text, what):
    """A ClassAd value as condor_submit parses it (old ClassAd syntax)."""
    ad = classad2.parseOne(f"X = {text}") if text.strip() else None
    if ad is None or "X" not in ad:
        raise SubmitError(f"Parse error in expression: \n\t{what} = {text}")
    return ad["X"]  # a Python literal, or an ExprTree for real expressions


def check_open(path, flags):
    try:
        os.close(os.open(path, flags, 0o664))
    except OSError as e:
        raise SubmitError(f"Can't open \"{path}\"  with flags 0{flags:o} ({e.strerror})") from None


def parse_args(argv):
    opts = {"spool": False, "append": [], "macros": [], "file": None, "terse": False,
            "batch_name": None, "queue": None}
    i = 0
    while i < len(argv):
        arg = argv[i]
        takes_value = arg in ("-remote", "-r", "-name", "-n", "-pool", "-append", "-a",
                              "-batch-name", "-queue")
        if takes_value and i + 1 >= len(argv):
            fail(f"ERROR: {arg} requires another argument\n{USAGE}")
        value = argv[i + 1] if takes_value else None
        if arg in ("-spool", "-s"):
            opts["spool"] = True
        elif arg in ("-remote", "-r"):
            opts["spool"] = True  # -remote implies -spool
        elif arg in ("-append", "-a"):
            opts["append"].append(value)
        elif arg == "-batch-name":
            opts["batch_name"] = value
        elif arg == "-queue":
            opts["queue"] = value
        elif arg == "-terse":
            opts["terse"] = True
        elif arg in ("-name", "-n", "-pool", "-disable", "-d", "-verbose", "-v"):
            pass  # only one schedd here, and no extra output
        elif arg.startswith("-") and arg != "-":
            fail(f"ERROR: unknown option {arg}\n{USAGE}")
        elif "=" in arg and not os.path.exists(arg):
            opts["macros"].append(arg)  # name=value on the command line
        elif opts["file"] is None:
            opts["file"] = arg
        else:
            fail(USAGE)
        i += 2 if takes_value else 1
    return opts


def submit_text(opts):
    if opts["file"] in (None, "-"):
        text, name = sys.stdin.read(), "(stdin)"
    else:
        try:
            text, name = Path(opts["file"]).read_text(), opts["file"]
        except OSError as e:
            fail(f"\nERROR: Failed to open command file ({e.strerror})")
    lines = text.splitlines()
    queue_lines = [n for n, line in enumerate(lines) if QUEUE_LINE.match(line)]
    if len(queue_lines) > 1:
        fail("\nERROR: the condor_submit test double supports a single queue statement")
    if opts["queue"] is not None:
        if queue_lines:
            fail("\nERROR: -queue argument conflicts with queue statement in submit file")
        lines.append("queue " + opts["queue"])
        queue_lines = [len(lines) - 1]
    if not queue_lines:
        fail(f"\nERROR: \"{name}\" doesn't contain any \"queue\" commands -- no jobs queued")
    # -append and -batch-name act as lines just before the queue statement;
    # name=value arguments are parsed before the file.
    extra = list(opts["append"])
    if opts["batch_name"] is not None:
        extra.append(f"batch_name = {opts['batch_name']}")
    lines[queue_lines[0]:queue_lines[0]] = extra
    return "\n".join(opts["macros"] + lines) + "\n"


class JobBuilder:
    """Turns one expanded proc of a submit description into a job ad."""

    def __init__(self, sub, keys, spool):
        self.sub, self.spool = sub, spool
        self.keys = {k.lower(): k for k in keys}
        self.cwd = os.getcwd()

    def get(self, *names):
        for name in names:
            key = self.keys.get(name.lower())
            if key is not None:
                try:
                    value = self.sub.expand(key).strip()
                except KeyError:  # `key =` with no value: HTCondor treats it as unset
                    continue
                if value != "":
                    return value
        return None

    def build(self, cluster, proc, qdate):
        get, ad = self.get, classad2.ClassAd()
        ad.update({"MyType": "Job", "TargetType": "Machine", "ClusterId": cluster, "ProcId": proc,
                   "Owner": owner(), "User": f"{owner()}@{hostname()}", "QDate": qdate,
                   "EnteredCurrentStatus": qdate, "JobStatus": IDLE, "NumJobStarts": 0,
                   "GlobalJobId": f"{hostname()}#{cluster}.{proc}#{qdate}",
                   "CompletionDate": 0, "RemoteWallClockTime": 0.0})

        iwd = get("initialdir", "iwd", "initial_dir", "job_iwd")
        iwd = os.path.normpath(os.path.join(self.cwd, iwd)) if iwd else self.cwd
        if not os.path.isdir(iwd):
            raise SubmitError(f"No such directory: {iwd}")
        ad["Iwd"] = iwd

        universe = (get("universe") or "vanilla").lower()
        # docker/container jobs are vanilla universe jobs that want a container
        numbers = {"vanilla": 5, "docker": 5, "container": 5, "scheduler": 7, "local": 12}
        if universe not in numbers:
            raise SubmitError(f"I don't know about the '{universe}' universe.")
        ad["JobUniverse"] = numbers[universe]
        if universe == "docker":
            image = get("docker_image")
            if not image:
                raise SubmitError("docker jobs require a docker_image")
            ad.update({"WantDocker": True, "DockerImage": image})
        elif universe == "container":
            image = get("container_image")
            if not image:
                raise SubmitError("container jobs require a container_image")
            ad.update({"WantContainer": True, "ContainerImage": image})

        self.set_executable(ad)
        self.set_arguments_and_environment(ad)
        self.set_files(ad, iwd)
        self.set_requests(ad)
        self.set_simple(ad)

        # +Attr and MY.Attr: custom attributes with their ClassAd value
        for low, key in self.keys.items():
            if low.startswith("my."):
                ad[key[3:]] = parse_expr(self.sub.expand(key), key[3:])  # HTCondor names the attribute without MY.

        if as_bool(get("hold")):
            if self.spool:
                raise SubmitError("Cannot set hold to 'true' when using -remote or -spool")
            ad.update({"JobStatus": HELD, "HoldReasonCode": 15,
                       "HoldReason": "submitted on hold at user's request"})
        return ad

    def set_executable(self, ad):
        exe = self.get("executable")
        if not exe:
            raise SubmitError("No 'executable' parameter was provided")
        # the executable is relative to condor_submit's cwd, not initialdir (manual)
        cmd = os.path.normpath(os.path.join(self.cwd, exe))
        ad["Cmd"] = cmd
        if as_bool(self.get("transfer_executable"), True):
            check_open(cmd, os.O_RDONLY)
            ad["ImageSize"] = max(1, os.path.getsize(cmd) // 1024)
        else:
            ad["TransferExecutable"] = False
            ad["ImageSize"] = 1

    def set_arguments_and_environment(self, ad):
        get = self.get
        args2, args1 = get("arguments2"), get("arguments", "args")
        try:
            if args2:
                if not syntax.is_v2_quoted(args2):
                    raise syntax.SyntaxErr("Expecting double-quoted input string (V2 format).")
                args1 = args2
            if args1:
                _, attr, raw = syntax.parse_arguments(args1)
                ad[attr] = raw
        except syntax.SyntaxErr as e:
            raise SubmitError(f"failed to parse arguments: {e}\n"
                              f"The full arguments you specified were: {args2 or args1}") from None

        env2, env1 = get("environment2"), get("environment", "env")
        try:
            env, was_v1 = syntax.parse_environment(env2 or env1 or '""')
        except syntax.SyntaxErr as e:
            raise SubmitError(f"{e}\nThe environment you specified was: '{env2 or env1}'") from None
        self.import_getenv(env, v1_safe=bool(env1 and not env2 and was_v1))
        # the 'env' keyword with V1 syntax keeps V1 in the ad; anything else is stored as V2
        prefers_v1 = bool(env1 and not env2 and was_v1 and "env" in self.keys
                          and "environment" not in self.keys)
        if prefers_v1:
            ad.update({"Env": ";".join(f"{k}={v}" for k, v in env.items()), "EnvDelim": ";"})
        else:
            ad["Environment"] = syntax.env_v2_raw(env)

    def import_getenv(self, env, v1_safe):
        value = self.get("getenv", "get_env")
        if value is None:
            return
        try:
            patterns = ["*"] if as_bool(value) else []
        except SubmitError:  # not a boolean: a list of names, '!' excludes
            patterns = re.split(r"[\s,]+", value.strip())
        include = [p for p in patterns if not p.startswith("!")] or (["*"] if patterns else [])
        exclude = [p[1:] for p in patterns if p.startswith("!")]
        for name, val in os.environ.items():
            if name in env or "\n" in val or (v1_safe and ";" in val):
                continue  # the submit file wins; unrepresentable values are dropped
            if any(fnmatch.fnmatchcase(name, p) for p in include) and \
                    not any(fnmatch.fnmatchcase(name, p) for p in exclude):
                env[name] = val

    def set_files(self, ad, iwd):
        get = self.get
        ad["In"] = get("input", "stdin") or "/dev/null"
        ad["Out"] = get("output", "stdout") or "/dev/null"
        ad["Err"] = get("error", "stderr") or "/dev/null"
        ad["StreamOut"] = as_bool(get("stream_output"))
        ad["StreamErr"] = as_bool(get("stream_error"))
        if ad["In"] != "/dev/null":
            check_open(os.path.join(iwd, ad["In"]), os.O_RDONLY)
        # condor_submit creates the output files only where the job writes them in place: not for
        # a spooled job, nor for one whose output is transferred back (HTCondor 23.9)
        transferred = (get("should_transfer_files", "ShouldTransferFiles") or "").strip().upper() == "YES"
        if not self.spool and not transferred:
            for name in ("Out", "Err"):
                if ad[name] != "/dev/null":
                    check_open(os.path.join(iwd, ad[name]), os.O_WRONLY | os.O_CREAT | os.O_TRUNC)

        log = get("log")
        if log:
            path = os.path.normpath(os.path.join(iwd, log))
            try:
                open(path, "a").close()
            except OSError as e:
                raise SubmitError(f"Invalid log file: \"{path}\" ({e.strerror})") from None
            ad["UserLog"] = path

        inputs = get("transfer_input_files", "TransferInput")
        if inputs:
            ad["TransferInput"] = inputs
            for name in input_files(inputs):
                if "://" not in name:
                    check_open(os.path.join(iwd, name.rstrip("/")), os.O_RDONLY)
        for key, attr in (("transfer_output_files", "TransferOutput"),
                          ("should_transfer_files", "ShouldTransferFiles"),
                          ("when_to_transfer_output", "WhenToTransferOutput"),
                          ("encrypt_input_files", "EncryptInputFiles")):
            value = get(key, attr)
            if value is not None:
                ad[attr] = value.upper() if attr in ("ShouldTransferFiles", "WhenToTransferOutput") else value

    def set_requests(self, ad):
        get = self.get
        cpus = get("request_cpus", "RequestCpus")
        ad["RequestCpus"] = parse_expr(cpus, "RequestCpus") if cpus else 1
        for keys, attr, base, default in (
                (("request_memory", "RequestMemory"), "RequestMemory", 1 << 20,
                 "ifthenelse(MemoryUsage =!= undefined,MemoryUsage,(ImageSize + 1023) / 1024)"),
                (("request_disk", "RequestDisk"), "RequestDisk", 1 << 10, "DiskUsage")):
            value = get(*keys) or default
            size = syntax.size_to_units(value, base)
            ad[attr] = size if size is not None else parse_expr(value, attr)
        ad["DiskUsage"] = ad["ImageSize"]
        gpus = get("request_gpus", "RequestGPUs")
        if gpus:
            ad["RequestGPUs"] = parse_expr(gpus, "RequestGPUs")

    def set_simple(self, ad):
        get = self.get
        if get("batch_name"):
            ad["JobBatchName"] = get("batch_name")
        for keys, attr, default in (
                (("requirements",), "Requirements",
                 DEFAULT_REQUIREMENTS.format(cpus="" if ad["RequestCpus"] == 1 else CPUS_REQUIREMENT)),
                (("rank", "preferences"), "Rank", "0.0"),
                (("priority", "prio"), "JobPrio", "0"),
                (("leave_in_queue",), "LeaveJobInQueue", SPOOL_LEAVE_IN_QUEUE if self.spool else "false"),
                (("job_max_vacate_time",), "JobMaxVacateTime", None),
                (("on_exit_remove",), "OnExitRemove", None),
                (("periodic_remove",), "PeriodicRemove", None),
                (("periodic_hold",), "PeriodicHold", None),
                (("periodic_hold_reason",), "PeriodicHoldReason", None),
                (("periodic_hold_subcode",), "PeriodicHoldSubCode", None)):
            value = get(*keys, attr) or default
            if value is not None:
                ad[attr] = parse_expr(value, attr)
        for keys, attr in ((("kill_sig",), "KillSig"), (("accounting_group",), "AcctGroup"),
                           (("container_service_names",), "ContainerServiceNames")):
            value = get(*keys, attr)
            if value is not None:
                ad[attr] = value
        # docker services: <name>_container_port becomes <name>_ContainerPort
        for service in re.split(r"[\s,]+", ad.get("ContainerServiceNames", "").strip()):
            port = service and get(f"{service}_container_port")
            if port:
                ad[f"{service}_ContainerPort"] = parse_expr(port, f"{service}_container_port")


def input_files(value):
    return [f.strip() for f in value.split(",") if f.strip()]


def snapshot_inputs(ad, dest):
    """-spool: copy the executable and input files now, by basename, as the schedd spools them."""
    dest.mkdir(parents=True, exist_ok=True)
    if ad.get("TransferExecutable", True):
        shutil.copy2(ad["Cmd"], dest / os.path.basename(ad["Cmd"]))
    for name in input_files(ad.get("TransferInput", "")):
        if "://" in name:
            continue
        src = os.path.join(ad["Iwd"], name.rstrip("/"))
        if os.path.isdir(src):
            shutil.copytree(src, dest / os.path.basename(src), dirs_exist_ok=True)
        else:
            shutil.copy2(src, dest / os.path.basename(src))


def spool_job(ad, spool):
    """-spool as the schedd keeps it: inputs snapshot now, the job's Iwd in the spool (the
    submitter's is SUBMIT_Iwd), absolute Out/Err as _condor_stdout/_condor_stderr remapped
    to their paths for condor_transfer_data (HTCondor 23.9)."""
    snapshot_inputs(ad, spool)
    ad["DoubleSpool"] = str(spool)
    ad["SUBMIT_Iwd"], ad["Iwd"] = ad["Iwd"], str(spool)
    remaps = []
    for attr, internal in (("Out", "_condor_stdout"), ("Err", "_condor_stderr")):
        if os.path.isabs(ad[attr]) and ad[attr] != "/dev/null":
            remaps.append(f"{internal}={ad[attr]}")
            ad[attr] = internal
    if remaps:
        ad["SUBMIT_TransferOutputRemaps"] = ";".join(remaps)


def start_shepherd(state, jid):
    """Detach: new session, no inherited stdio, so condor_submit returns at once."""
    entry = Path(__file__).with_name("_entry.py")
    with open(state.root / "shepherd" / f"{jid}.log", "ab") as log:
        subprocess.Popen([sys.executable, "-I", str(entry), "shepherd", str(state.root), jid],
                         stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                         cwd=state.root, start_new_session=True, close_fds=True)


def main(argv):
    opts = parse_args(argv)
    text = submit_text(opts)
    state = State.from_env("condor_submit")
    try:
        sub = htcondor2.Submit(text)
    except Exception as e:  # HTCondor's parser refused the description
        fail(f"\nERROR: {e}")
    keys = list(sub.keys())  # before we inject ClusterId/ProcId & co.
    qargs = sub.getQArgs()
    count = int(m.group(1)) if (m := re.match(r"\s*(\d+)", qargs)) else 1
    rows = list(sub.itemdata() or [None])
    builder = JobBuilder(sub, keys, opts["spool"])

    with state.transaction("submit") as transaction:
        with state.lock():
            cluster, qdate, ads = state.peek_cluster_id(), int(time.time()), []
            try:
                for row, item in enumerate(rows):
                    for step in range(count):
                        proc = len(ads)
                        for name, value in (item or {}).items():
                            sub[name] = value
                        for name, value in (("Row", row), ("ItemIndex", row), ("Step", step),
                                            ("ClusterId", cluster), ("Cluster", cluster),
                                            ("ProcId", proc), ("Process", proc)):
                            sub[name] = str(value)
                        ads.append(builder.build(cluster, proc, qdate))
                for ad in ads:
                    if opts["spool"]:
                        spool_job(ad, state.spool(job_id(ad)))
            except (SubmitError, OSError) as e:
                fail(f"\nERROR: {e}")
            for ad in ads:
                state.write_ad(ad)
                log_event(ad, 0, f"Job submitted from host: {SCHEDD_ADDRESS}")
                if ad["JobStatus"] == HELD:
                    log_event(ad, 12, "Job was held.", ad["HoldReason"], "Code 15 Subcode 0")
            state.set_next_cluster_id(cluster + 1)
        transaction["jobs"] = len(ads)

    if opts["terse"]:
        print(f"{cluster}.0 - {cluster}.{len(ads) - 1}")
    else:
        print("Submitting job(s)" + "." * len(ads))
        print(f"{len(ads)} job(s) submitted to cluster {cluster}.")
    sys.stdout.flush()
    for ad in ads:
        if ad["JobStatus"] == IDLE:
            start_shepherd(state, job_id(ad))
    return 0
