"""condor_transfer_data double: a spooled job's output, from the spool to where it was asked for.

As HTCondor 23 does it: a completed job submitted with -spool keeps its output in the
spool (its Iwd there, `SUBMIT_Iwd` the submitter's); `Out`/`Err` that were absolute paths
are `_condor_stdout`/`_condor_stderr`, remapped in `SUBMIT_TransferOutputRemaps`. The files
go to those paths (relative ones under SUBMIT_Iwd), the job gets StageOutStart/Finish and
stays in the queue until it is removed. Jobs that are not spooled are left alone.
"""

import os
import shutil
import sys
import time
from pathlib import Path

from . import rm
from .hold import select
from .state import COMPLETED, State


def remaps(ad):
    pairs = (p.split("=", 1) for p in str(ad.get("SUBMIT_TransferOutputRemaps", "")).split(";") if "=" in p)
    return {k.strip(): v.strip() for k, v in pairs}


def fetch(state, ad):
    spool, to = Path(ad["DoubleSpool"]), remaps(ad)
    for name in (ad.get("Out"), ad.get("Err")):
        if name and name != "/dev/null" and (spool / os.path.basename(name)).exists():
            target = Path(ad["SUBMIT_Iwd"], to.get(name, name))
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(spool / os.path.basename(name), target)


def main(argv):
    r = rm.parse_args(argv)
    state = State.from_env("condor_transfer_data")
    jids = select(state, r)
    with state.transaction("transfer_data") as transaction, state.lock():
        transaction["jobs"] = len(jids)
        for jid in jids:
            ad = state.read(jid)
            if ad is None or "DoubleSpool" not in ad or ad["JobStatus"] != COMPLETED:
                continue
            start = int(time.time())
            fetch(state, ad)
            state.update(jid, StageOutStart=start, StageOutFinish=int(time.time()))
    print("Fetching data files...")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
