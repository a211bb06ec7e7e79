"""The cluster options a site declares, and its limits on them (dask config `coffea-casa.options`).

Each option is a keyword of the cluster (`cores`, `memory`, `worker_image`, or any of the
job's) with a label, a type (int, float, memory, select, bool, string), a default, and
`min`/`max` or `choices`. The sidebar's form is built from them, and the same check
refuses a value outside the limits wherever it comes from: a request of the sidebar (400)
or a notebook's `CoffeaCasaCluster(...)` (ValueError), with the same message.
No HTTP here.
"""

import math

import dask.config
from dask.utils import format_bytes, parse_bytes

from .errors import ClusterError

KEY = "coffea-casa.options"
TYPES = ("int", "float", "memory", "select", "bool", "string")
MAX_STRING = 1000
# Where a keyword can also arrive: the docs change the image with job_extra={"docker_image": ...}.
ALIASES = {"worker_image": [("job_extra", "docker_image"), ("job_extra_directives", "docker_image")]}


class SiteConfigError(ClusterError):
    """The site's declaration itself is wrong: the admin's to fix, not the user's."""

    def __init__(self, message):
        super().__init__(f"dask config {KEY}: {message}", 500)


def declared():
    """The site's options, checked and in the shape `GET options` answers."""
    raw = dask.config.get(KEY, None) or []
    if not isinstance(raw, (list, tuple)):
        raise SiteConfigError(f"must be a list of options, not {raw!r}")
    options = [_declaration(i, item) for i, item in enumerate(raw)]
    names = [o["name"] for o in options]
    if len(set(names)) != len(names):
        raise SiteConfigError(f"an option is declared twice: {names}")
    return options


def check_request(values):
    """The `options` of a request, each checked against the site's limits: keywords for the cluster.

    Raises ClusterError 400 for a value outside the limits or an option the site does not offer.
    """
    if not isinstance(values, dict):
        raise ClusterError(f"options must be an object of option name to value, not {values!r}")
    offered = {o["name"]: o for o in declared()}
    unknown = sorted(set(values) - set(offered))
    if unknown:
        names = ", ".join(offered) or "none"
        raise ClusterError(f"unknown cluster option(s) {unknown}: this site offers {names} (dask config {KEY})")
    clean = {}
    for name, value in values.items():
        problem = _problem(offered[name], value)
        if problem:
            raise ClusterError(problem)
        clean[name] = value
    return clean


def check_keywords(kwargs):
    """Refuse a cluster's keyword arguments that break the site's limits (ValueError), as check_request would."""
    if not kwargs:
        return
    try:
        options = declared()
    except SiteConfigError as e:
        raise ValueError(str(e)) from None
    for option in options:
        for value in _given(option["name"], kwargs):
            problem = _problem(option, value)
            if problem:
                raise ValueError(problem)


def _given(name, kwargs):
    if kwargs.get(name) is not None:
        yield kwargs[name]
    for keyword, key in ALIASES.get(name, ()):
        extra = kwargs.get(keyword)
        if isinstance(extra, dict) and extra.get(key) is not None:
            yield extra[key]


# --- one option ---------------------------------------------------------------------------

def _declaration(index, item):
    where = f"option {index + 1}"
    if not isinstance(item, dict) or not isinstance(item.get("name"), str) or not item["name"].strip():
        raise SiteConfigError(f"{where} needs a name (a keyword of the cluster), got {item!r}")
    name = item["name"].strip().replace("-", "_")
    where = f"option {name!r}"
    kind = item.get("type")
    if kind not in TYPES:
        raise SiteConfigError(f"{where}: type must be one of {', '.join(TYPES)}, not {kind!r}")
    option = {"name": name, "label": str(item.get("label") or name), "type": kind}
    if item.get("description"):
        option["description"] = str(item["description"])
    if kind == "select":
        choices = item.get("choices")
        if not isinstance(choices, (list, tuple)) or not choices:
            raise SiteConfigError(f"{where}: a select needs a non-empty list of choices")
        option["choices"] = list(choices)
        default = item.get("default", choices[0])
    else:
        for limit in ("min", "max"):
            if item.get(limit) is not None:
                if kind not in ("int", "float", "memory"):
                    raise SiteConfigError(f"{where}: {limit} applies to int, float and memory options, not {kind}")
                option[limit] = _limit(where, kind, limit, item[limit])
        if "min" in option and "max" in option and _magnitude(kind, option["min"]) > _magnitude(kind, option["max"]):
            raise SiteConfigError(f"{where}: min {option['min']} is larger than max {option['max']}")
        default = item.get("default")
    if default is None:
        raise SiteConfigError(f"{where} needs a default")
    option["default"] = _memory_text(default) if kind == "memory" and _is_size(default) else default
    problem = _problem(option, option["default"])
    if problem:
        raise SiteConfigError(f"{where}: its default is outside its own limits: {problem}")
    return option


def _limit(where, kind, limit, value):
    if kind == "memory":
        if not _is_size(value):
            raise SiteConfigError(f"{where}: {limit} must be a size like '2 GiB', not {value!r}")
        return _memory_text(value)
    if not _is_number(value, integer=kind == "int"):
        raise SiteConfigError(f"{where}: {limit} must be a number, not {value!r}")
    return value


def _problem(option, value):
    """Why `value` is not acceptable for `option`, naming the option, the limit and the config key; or None."""
    name, kind = option["name"], option["type"]
    about = f"({option['label']}; the site's limits are in dask config {KEY})"
    if kind == "select":
        if value not in option["choices"]:
            choices = ", ".join(repr(c) for c in option["choices"])
            return f"{name} must be one of {choices}, not {value!r} {about}"
        return None
    if kind == "bool":
        return None if isinstance(value, bool) else f"{name} must be true or false, not {value!r} {about}"
    if kind == "string":
        if not isinstance(value, str) or len(value) > MAX_STRING:
            return f"{name} must be a text of at most {MAX_STRING} characters, not {value!r} {about}"
        return None
    if kind == "memory" and not _is_size(value):
        return f"{name} must be a size like '4 GiB', not {value!r} {about}"
    if kind != "memory" and not _is_number(value, integer=kind == "int"):
        what = "a whole number" if kind == "int" else "a number"
        return f"{name} must be {what}, not {value!r} {about}"
    shown = _memory_text(value) if kind == "memory" else value
    if "min" in option and _magnitude(kind, value) < _magnitude(kind, option["min"]):
        return f"{name} must be at least {option['min']}, not {shown} {about}"
    if "max" in option and _magnitude(kind, value) > _magnitude(kind, option["max"]):
        return f"{name} must be at most {option['max']}, not {shown} {about}"
    return None


def _magnitude(kind, value):
    return parse_bytes(value) if kind == "memory" else value


def _is_number(value, integer):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    return isinstance(value, int) if integer else math.isfinite(value)


def _is_size(value):
    if isinstance(value, bool) or not isinstance(value, (int, str)) or (isinstance(value, str) and len(value) > 50):
        return False
    try:
        return parse_bytes(value) > 0
    except (ValueError, TypeError, OverflowError):
        return False


def _memory_text(value):
    """A size as people write it: '6 GiB' stays, 6442450944 becomes '6.00 GiB'."""
    return " ".join(value.split()) if isinstance(value, str) else format_bytes(value)
