"""Keeping a sidebar cluster running when its Jupyter server stops. No HTTP here.

A graceful stop of the server closes the sidebar clusters it owns, except the kept ones:
those wait for the next server, which adopts them (same id, name and dashboard). A kept
cluster that no server adopts within its keep time closes itself and removes its jobs
(the host does that: coffea_casa_lab.host). `coffea-casa.keep-for` is both what
`keep: true` means and the longest a user may ask for; `coffea-casa.keep-clusters-on-stop`
makes new clusters kept unless their request says otherwise.
"""

import math

from dask.utils import parse_timedelta

from . import config
from .errors import ClusterError
from .idle import duration

KEY = "coffea-casa.keep-for"
DEFAULT_KEEP_FOR = 24 * 3600


def keep_for():
    """The site's keep time in seconds (its maximum, and what `keep: true` asks for)."""
    value = config.get("keep-for", DEFAULT_KEEP_FOR)
    seconds = _seconds(value)
    if seconds is None or seconds <= 0:
        raise ClusterError(f"dask config {KEY} must be a positive number of seconds or a duration like "
                           f"'24 hours', not {value!r}", 500)
    return seconds


def check(value):
    """Seconds to keep a cluster for (`true`: the site's keep-for), or None (not kept); ClusterError 400."""
    maximum = keep_for()
    if value is None or value is False:
        return None
    if value is True:
        return maximum
    seconds = _seconds(value)
    if seconds is None:
        raise ClusterError(f"keep must be true, false, or a duration (seconds, or like '2 hours') of at most "
                           f"{duration(maximum)} (dask config {KEY}), not {value!r}")
    if seconds <= 0:
        raise ClusterError(f"keep must be more than 0 seconds, or false, not {value!r} (the site's maximum is "
                           f"{duration(maximum)}, dask config {KEY})")
    if seconds > maximum:
        raise ClusterError(f"keep must be at most {duration(maximum)}, the site's maximum (dask config {KEY}), "
                           f"not {duration(seconds)}")
    return seconds


def for_new_cluster(request):
    """The keep of a cluster about to start: what its request asks, else the site's default."""
    if "keep" in request:
        return check(request["keep"])
    return keep_for() if config.get("keep-clusters-on-stop", False) else None


def model(seconds, until=None):
    """The `keep` of a ClusterModel: null, or how long it waits and (once its server is gone) until when."""
    return None if not seconds else {"seconds": seconds, "until": until}


def _seconds(value):
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return None
    if isinstance(value, str):
        try:
            value = parse_timedelta(value, default="s")
        except (ValueError, KeyError, TypeError, IndexError, OverflowError):
            return None
    if value is None or not math.isfinite(value):
        return None
    return int(value) if float(value).is_integer() else value
