"""HTCondor's submit-file syntaxes for arguments, environment and sizes.

Ported from HTCondor's src/condor_utils/condor_arglist.cpp and env.cpp so that
the double accepts and rejects exactly what condor_submit does.

- "V2 quoted": the whole value is in double quotes; a doubled double quote is a
  literal one; inside, whitespace separates items, single quotes group, and a
  doubled single quote is a literal one.
- "V1": no surrounding double quotes; arguments split on whitespace (no
  grouping), a literal double quote must be written \\" ; environment entries
  are separated by ';'.
"""

import math
import re


class SyntaxErr(ValueError):
    """A value condor_submit would refuse."""


def is_v2_quoted(value):
    return value.lstrip().startswith('"')


def v2_quoted_to_raw(value):
    """Strip the outer double quotes, un-double the inner ones."""
    s = value.lstrip()[1:]
    out, i = [], 0
    while i < len(s):
        if s[i] == '"':
            if s[i + 1:i + 2] == '"':
                out.append('"')
                i += 2
                continue
            rest = s[i + 1:]
            if rest.strip():
                raise SyntaxErr(
                    "Unexpected characters following double-quote.  Did you forget "
                    "to escape the double-quote by repeating it?  Here is the quote "
                    "and trailing characters: " + s[i:])
            return "".join(out)
        out.append(s[i])
        i += 1
    raise SyntaxErr("Unterminated double-quote.")


def split_v2_raw(raw):
    """split_args(): whitespace separates, '...' groups, '' is a literal '."""
    args, buf, have_token, i = [], [], False, 0
    while i < len(raw):
        c = raw[i]
        if c == "'":
            start = i
            i += 1
            have_token = True
            while True:
                if i >= len(raw):
                    raise SyntaxErr("Unbalanced quote starting here: " + raw[start:])
                if raw[i] == "'":
                    if raw[i + 1:i + 2] == "'":
                        buf.append("'")
                        i += 2
                        continue
                    i += 1
                    break
                buf.append(raw[i])
                i += 1
        elif c in " \t\n\r":
            i += 1
            if have_token:
                args.append("".join(buf))
                buf, have_token = [], False
        else:
            buf.append(c)
            have_token = True
            i += 1
    if have_token:
        args.append("".join(buf))
    return args


def join_v2_raw(args):
    """join_args()/append_arg(): the V2 raw form stored in the job ad."""
    result = ""
    for arg in args:
        if result:
            result += " "
        if not arg:
            result += "''"
        for c in arg:
            if c in " \t\n\r'":
                # merge with a quoted section just closed, as HTCondor does
                if result.endswith("'"):
                    result = result[:-1]
                else:
                    result += "'"
                if c == "'":
                    result += "'"
                result += c + "'"
            else:
                result += c
    return result


def v1_wacked_to_raw(value):
    out, i = [], 0
    while i < len(value):
        if value[i] == '"':
            raise SyntaxErr("Found illegal unescaped double-quote: " + value[i:])
        if value[i] == "\\" and value[i + 1:i + 2] == '"':
            out.append('"')
            i += 2
            continue
        out.append(value[i])
        i += 1
    return "".join(out)


def parse_arguments(value):
    """Return (argv, ad_attribute, ad_value) for a submit 'arguments' value.

    V2 input is stored as Arguments (V2 raw), V1 input as Args (V1 raw),
    as condor_submit does.
    """
    if is_v2_quoted(value):
        argv = split_v2_raw(v2_quoted_to_raw(value))
        return argv, "Arguments", join_v2_raw(argv)
    raw = v1_wacked_to_raw(value)
    return raw.split(), "Args", raw


def parse_environment(value):
    """Return (dict, was_v1) for a submit 'environment' value (V1 raw or V2 quoted)."""
    if is_v2_quoted(value):
        return _env_dict(split_v2_raw(v2_quoted_to_raw(value))), False
    entries = [e.lstrip(" \t\r") for e in re.split(r"[;\n]", value)]
    return _env_dict([e for e in entries if e]), True


def _env_dict(entries):
    env = {}
    for entry in entries:
        name, eq, val = entry.partition("=")
        if not eq:
            raise SyntaxErr(f"Missing '=' after environment variable '{entry}'.")
        if not name:
            raise SyntaxErr(f"missing variable in '{entry}'.")
        env[name] = val
    return env


def env_v2_raw(env):
    return join_v2_raw([f"{k}={v}" for k, v in env.items()])


def env_from_ad(ad):
    """The job's environment as the starter reads it: Environment (V2) wins over Env (V1)."""
    if isinstance(ad.get("Environment"), str):
        return _env_dict(split_v2_raw(ad["Environment"]))
    if isinstance(ad.get("Env"), str):
        return parse_environment(ad["Env"])[0]
    return {}


def args_from_ad(ad):
    if isinstance(ad.get("Arguments"), str):
        return split_v2_raw(ad["Arguments"])
    if isinstance(ad.get("Args"), str):
        return ad["Args"].split()
    return []


_UNITS = {"": None, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40, "P": 1 << 50}


def size_to_units(value, base):
    """'2GB'/'2 G'/'512' -> integer in `base` bytes (MiB for memory, KiB for disk),
    rounding up as condor_submit does; None if the value is an expression."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d*)?)\s*([KMGTP]?)(?:I?B)?\s*", value, re.IGNORECASE)
    if not m:
        return None
    number, unit = float(m.group(1)), m.group(2).upper()
    if not unit:
        return math.ceil(number)  # a bare number is already in the base unit
    return math.ceil(number * _UNITS[unit] / base)
