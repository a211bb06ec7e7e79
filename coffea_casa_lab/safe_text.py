"""Strings that cross a process boundary, checked in one place. No HTTP here.

A cluster's name, a package, a file path or an HTCondor submit command ends up in a
command line, an environment, a submit description or a file (a registry record, the
requirements file pip reads on the workers). Each check lets through only what all of
those hold unchanged and whole, and raises ValueError with a message that says what is
wrong (the REST API answers it as a 400):
- no control characters: NUL ends a C string (argv, environ, htcondor2.Submit), and a
  newline or carriage return would start a submit command of its own (`queue 100`,
  `+Attr = 1`) or a pip option; nor Unicode's line and paragraph separators;
- valid Unicode: a lone surrogate has no UTF-8 encoding, so no argv, path or file takes it;
- a bounded length;
- for a line of a file (check_line), no backslash at its end, which joins the next line.
"""

import re

NAME_MAX_LENGTH = 200
PACKAGE_MAX_LENGTH = 1000
PATH_MAX_LENGTH = 4096  # Linux's PATH_MAX
SUBMIT_VALUE_MAX_LENGTH = 65536

# Unicode's control characters (category Cc, fixed by its stability policy), its line and
# paragraph separators (Zl, Zp) and the surrogates (Cs), which no valid string holds alone.
_REFUSED = re.compile(r"(?P<control>[\x00-\x1f\x7f-\x9f])|(?P<separator>[\u2028\u2029])|(?P<surrogate>[\ud800-\udfff])")
_KINDS = {"control": "a control character", "separator": "a line separator",
          "surrogate": "invalid Unicode, a lone surrogate"}

# A submit command's name as HTCondor spells it: `request_memory`, `+Attr`, `MY.Attr`; not one
# of its statements, which would end the description (`queue = 1` queues) or break it (`if`).
_SUBMIT_COMMAND = re.compile(r"(?:\+|MY\.)?[A-Z_][A-Z0-9_]*", re.IGNORECASE | re.ASCII)
_SUBMIT_STATEMENTS = {"queue", "if", "elif", "else", "endif"}


def check_text(value, what, max_length):
    """`value` if it is a string that any process boundary holds, else ValueError naming `what`."""
    if not isinstance(value, str):
        raise ValueError(f"{what} must be a string, not {type(value).__name__}")
    if len(value) > max_length:
        raise ValueError(f"{what} must be at most {max_length} characters (got {len(value)})")
    bad = _REFUSED.search(value)
    if bad:
        raise ValueError(f"{what} must not contain {_KINDS[bad.lastgroup]} ({bad.group()!r} at position {bad.start()})")
    return value


def check_line(value, what, max_length):
    """`value` as check_text takes it, and whole as one line of a file that continues a line ending
    with a backslash onto the next: an HTCondor submit description, a pip requirements file."""
    if check_text(value, what, max_length).rstrip().endswith("\\"):
        raise ValueError(f"{what} must not end with a backslash")
    return value


def check_name(name):
    """A cluster's name: the REST API, the sidebar's factory and CoffeaCasaCluster(name=...)."""
    return check_text(name, "name", NAME_MAX_LENGTH)


def check_submit_commands(commands):
    """{command: value} that each render as exactly one `command = value` line of a submit
    description: nothing a value holds can add, end or swallow a command."""
    for command, value in commands.items():
        if (not isinstance(command, str) or not _SUBMIT_COMMAND.fullmatch(command)
                or command.lower() in _SUBMIT_STATEMENTS):
            raise ValueError(
                f"{command!r} is not an HTCondor submit command: letters, digits and '_', after an optional "
                f"'+' or 'MY.', and not one of {', '.join(sorted(_SUBMIT_STATEMENTS))}"
            )
        check_line(str(value), f"the value of submit command {command!r}", SUBMIT_VALUE_MAX_LENGTH)
    return commands
