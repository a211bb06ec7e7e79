"""Entry point of the bin/ wrappers and of the shepherd (run as `python -I _entry.py TOOL ...`).

-I keeps the caller's PYTHONPATH/PYTHONSTARTUP out of the tools, so we put the
directory holding this package (tests/) on sys.path ourselves.
"""

import importlib
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

TOOLS = {"submit": "condor_double.submit", "q": "condor_double.q",
         "rm": "condor_double.rm", "shepherd": "condor_double.shepherd",
         "hold": "condor_double.hold:main_hold", "release": "condor_double.hold:main_release",
         "ssh_to_job": "condor_double.ssh:main", "vacate_job": "condor_double.hold:main_vacate",
         "history": "condor_double.q:main_history", "status": "condor_double.machine:status_main",
         "transfer_data": "condor_double.transfer:main"}

if __name__ == "__main__":
    tool = sys.argv[1]
    sys.argv[0] = "condor_" + tool
    module, _, function = TOOLS[tool].partition(":")
    sys.exit(getattr(importlib.import_module(module), function or "main")(sys.argv[2:]))
