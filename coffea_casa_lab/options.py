"""The `labextension` factory settings and the checks on what a request asks for. No HTTP here."""

import dask.config

from .control import MAX_WORKERS
from .errors import ClusterError
from .safe_text import PACKAGE_MAX_LENGTH, PATH_MAX_LENGTH, check_line, check_name, check_text


def labextension_config():
    """`labextension` settings, accepting the shapes found in the wild.

    - The docs' YAML nests `default` (and images nest `initial`) under `factory`.
    - coffea-casa images ship `default` as a list of one-key dicts:
      `default: [{workers: 1}, {adapt: {minimum: 1, maximum: 10}}]`.
    """
    cfg = dask.config.get("labextension", {}) or {}
    factory = dict(cfg.get("factory") or {})
    default = factory.pop("default", None)
    initial = factory.pop("initial", None)
    default = _as_options(default if default is not None else cfg.get("default"))
    initial = initial if initial is not None else cfg.get("initial")
    initial = [_as_options(i) for i in (initial or [])]
    kwargs = {str(k).replace("-", "_"): v for k, v in (factory.get("kwargs") or {}).items()}
    return {
        "module": factory.get("module") or "coffea_casa",
        "class": factory.get("class") or "CoffeaCasaCluster",
        "args": list(factory.get("args") or []),
        "kwargs": kwargs,
        "default": default,
        "initial": initial,
    }


def _as_options(value):
    """{workers, adapt, name} from a dict or a list of one-key dicts."""
    if value is None:
        return {}
    if isinstance(value, dict):
        return dict(value)
    if isinstance(value, (list, tuple)):
        merged = {}
        for item in value:
            if isinstance(item, dict):
                merged.update(item)
        return merged
    raise ClusterError(f"labextension default must be a mapping or a list of mappings, not {value!r}")


def check_workers(value, what="workers"):
    if isinstance(value, bool) or not isinstance(value, int):
        raise ClusterError(f"{what} must be an integer, not {value!r}")
    if value < 0:
        raise ClusterError(f"{what} must not be negative (got {value})")
    if value > MAX_WORKERS:
        raise ClusterError(f"{what} must be at most {MAX_WORKERS} (got {value})")
    return value


def check_adapt(value):
    """{minimum, maximum} (plus Adaptive's interval/wait_count/target_duration) or an error."""
    if not isinstance(value, dict):
        raise ClusterError(f"adapt must be an object with minimum and maximum, not {value!r}")
    unknown = set(value) - {"minimum", "maximum", "interval", "wait_count", "target_duration"}
    if unknown:
        raise ClusterError(f"adapt takes minimum and maximum; unknown keys: {sorted(unknown)}")
    minimum = check_workers(value.get("minimum", 0), "adapt.minimum")
    maximum = check_workers(value.get("maximum", minimum), "adapt.maximum")
    if minimum > maximum:
        raise ClusterError(f"adapt.minimum ({minimum}) must not be larger than adapt.maximum ({maximum})")
    return dict(value, minimum=minimum, maximum=maximum)


def check_options(options):
    """Validate {name?, workers?, adapt?}; returns a clean dict."""
    if not isinstance(options, dict):
        raise ClusterError("expected a JSON object")
    unknown = set(options) - {"name", "workers", "adapt"}
    if unknown:
        raise ClusterError(f"unknown fields: {sorted(unknown)}")
    clean = {}
    if options.get("name") is not None:
        clean["name"] = _refused(check_name, options["name"])
    if options.get("workers") is not None:
        clean["workers"] = check_workers(options["workers"])
    if options.get("adapt") is not None:
        clean["adapt"] = check_adapt(options["adapt"])
    return clean


def with_default_size(options, default):
    """`options`, sized by the factory's `default` when the request named no size."""
    options = dict(options)
    if "workers" not in options and "adapt" not in options:
        if default.get("adapt"):
            options["adapt"] = check_adapt(default["adapt"])
        elif default.get("workers") is not None:
            options["workers"] = check_workers(default["workers"])
    return options


MAX_PACKAGES = 100
UPLOADABLE = (".py", ".egg", ".zip")  # what distributed's upload_file puts on the workers' sys.path


def check_packages(packages):
    """A non-empty list of pip requirement strings (no pip options)."""
    if (not isinstance(packages, list) or not 0 < len(packages) <= MAX_PACKAGES
            or not all(isinstance(p, str) and p.strip() for p in packages)):
        raise ClusterError(f"packages must be a list of 1 to {MAX_PACKAGES} requirement strings")
    # distributed's PipInstall writes them to a requirements file, one a line
    packages = [_refused(check_line, p, "a package", PACKAGE_MAX_LENGTH).strip() for p in packages]
    if any(p.startswith("-") for p in packages):
        raise ClusterError("packages are requirements, not pip options")
    return packages


def check_upload_path(path):
    """A file path as a request names it (relative to the server's root folder)."""
    if not isinstance(path, str) or not path:
        raise ClusterError("path must be a file path relative to the server's root folder")
    return _refused(check_text, path, "path", PATH_MAX_LENGTH)


def _refused(check, *args):
    """A safe_text check, its ValueError as the request's refusal (a 400)."""
    try:
        return check(*args)
    except ValueError as e:
        raise ClusterError(str(e)) from None
