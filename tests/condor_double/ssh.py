"""condor_ssh_to_job double: a shell (or a command) in a running job's sandbox, with the
job's environment, as the starter gives it (HTCondor manual, condor_ssh_to_job)."""

import os
import sys
from pathlib import Path

from .state import RUNNING, State

USAGE = "Usage: condor_ssh_to_job [-auto-retry] <cluster.proc> [remote-command]"


def job_environment(pgid):
    """The environment of the job's main process (what the starter set up)."""
    raw = Path(f"/proc/{pgid}/environ").read_bytes()
    return dict(item.split("=", 1) for item in raw.decode(errors="replace").split("\0") if "=" in item)


def main(argv):
    args = [a for a in argv if a not in ("-auto-retry", "-X", "-x")]
    if not args or args[0].startswith("-"):
        print(USAGE, file=sys.stderr)
        return 1
    jid, command = args[0], args[1:]
    if "." not in jid:
        jid += ".0"
    state = State.from_env("condor_ssh_to_job")
    with state.transaction("ssh_to_job"), state.lock(exclusive=False):
        ad = state.read(jid)
    if ad is None or ad["JobStatus"] != RUNNING or "DoublePgid" not in ad:
        print(f"Failed to send CREATE_JOB_OWNER_SEC_SESSION to starter: job {jid} is not running",
              file=sys.stderr)
        return 1
    try:
        env = job_environment(ad["DoublePgid"])
    except OSError:
        print(f"Failed to connect to starter of job {jid}", file=sys.stderr)
        return 1
    sandbox = ad.get("DoubleSandbox") or env.get("_CONDOR_SCRATCH_DIR")
    os.chdir(sandbox)
    if command:
        argv = ["/bin/sh", "-c", " ".join(command)]
    else:
        print(f"Welcome to {ad.get('RemoteHost')}!\nYour condor job is running with pid(s) {ad['DoublePgid']}.",
              flush=True)
        argv = ["/bin/sh", "-i"]
    os.execve(argv[0], argv, env)
