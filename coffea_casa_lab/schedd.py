"""The schedd: through the htcondor2 bindings where they work, else the condor_* commands.
No HTTP here.

The bindings save a process per call. But they can find a schedd they cannot talk to:
a 25.x wheel against an older schedd that only offers FS authentication fails every
call ("FS:1004:Directory name doesn't match server's network address"), where the
site's own commands work. So every call that the bindings fail goes to the command;
and once the command did what the bindings could not, this process uses the commands
for good, and says so once in its log.
"""

import asyncio
import logging
import shlex

logger = logging.getLogger("coffea_casa")
_broken = None  # why the bindings do not work in this process


def bindings(command=None):
    """An htcondor2.Schedd, where a schedd answers and the bindings may be used; else None.
    A command with site options (`condor_submit -name other`) is the site's choice: not the bindings."""
    if _broken is not None or (command and len(shlex.split(command)) > 1):
        return None
    try:
        import htcondor2

        return htcondor2.Schedd()  # raises when no schedd can be located
    except Exception:
        return None


async def call(with_bindings, with_command, command=None):
    """`with_bindings(schedd)` in a thread where the bindings work, else (or when it fails)
    `await with_command()`, whose error, if it fails too, is the one raised."""
    schedd = bindings(command)
    failure = None
    if schedd is not None:
        try:
            return await asyncio.to_thread(with_bindings, schedd)
        except Exception as e:
            failure = e
    result = await with_command()
    if failure is not None:
        _give_up_on_bindings(failure)
    return result


def _give_up_on_bindings(error):
    global _broken
    if _broken is None:
        logger.warning("the htcondor2 bindings cannot do here what the condor_* commands can (%s); "
                       "using the commands from now on", str(error).strip().splitlines()[-1][:500])
    _broken = str(error)
