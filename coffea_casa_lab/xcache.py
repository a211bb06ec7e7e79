"""Read CMS data through the facility's XCache (docs chapter 1.7).

XCache holds the facility's credentials (the xcache token) and caches what it reads, so a
file is requested from it instead of from a global redirector:

    root://cmsxrootd.fnal.gov//store/data/Run2018A/DoubleMuon/NANOAOD/.../0555868D.root
 -> root://xcache//store/data/Run2018A/DoubleMuon/NANOAOD/.../0555868D.root

    from coffea_casa.xcache import to_xcache
    fileset = to_xcache({"DoubleMu": ["root://cmsxrootd.fnal.gov//store/data/..."]})

The XCache host is the dask config key ``coffea-casa.xcache-host`` (default ``xcache``;
``DASK_COFFEA_CASA__XCACHE_HOST=...`` in the environment). Only ``root://<host>//store/...``
URLs are rewritten: local paths, http(s), ``roots://``, paths outside ``/store`` and anything
else are returned unchanged.
"""

import re

import dask.config

__all__ = ["to_xcache", "xcache_host"]

# root://[user@]host[:port]//store/...  (the double slash makes /store an absolute path)
_STORE_URL = re.compile(r"^root://[^/?#]+//(store/.*)$", re.DOTALL)


def xcache_host() -> str:
    """The configured XCache host (``coffea-casa.xcache-host``, default ``xcache``)."""
    return str(dask.config.get("coffea-casa.xcache-host", "xcache"))


def to_xcache(files, host=None):
    """Point CMS ``/store`` URLs at the XCache.

    ``files`` is a URL, a list of URLs, or a coffea fileset dict in any of its shapes:
    ``{dataset: [url, ...]}``, ``{dataset: {"files": [url, ...], ...}}`` or
    ``{dataset: {"files": {url: treename}, ...}}``. A new object of the same shape is
    returned (the argument is not modified); keys other than ``files`` (treename, metadata,
    preload) are kept as they are. ``host`` overrides the configured XCache host.
    """
    host = host or xcache_host()
    if not host or any(c in host for c in "/?#") or host != host.strip():
        raise ValueError(f"not a valid XCache host: {host!r}")
    return _rewrite(files, host)


def _rewrite(obj, host):
    if isinstance(obj, str):
        match = _STORE_URL.match(obj)
        return f"root://{host}//{match.group(1)}" if match else obj
    if isinstance(obj, (list, tuple)):
        return type(obj)(_rewrite(item, host) for item in obj)
    if isinstance(obj, dict):
        return {key: _rewrite_dataset(value, host) for key, value in obj.items()}
    raise TypeError(f"expected a URL, a list of URLs or a fileset dict, not {type(obj).__name__}")


def _rewrite_dataset(entry, host):
    if isinstance(entry, dict):  # {"files": ..., "treename": ..., "metadata": ...}
        entry = dict(entry)
        files = entry.get("files")
        if isinstance(files, dict):  # {url: treename}
            entry["files"] = {_rewrite(url, host): tree for url, tree in files.items()}
        elif files is not None:
            entry["files"] = _rewrite(files, host)
        return entry
    return _rewrite(entry, host)
