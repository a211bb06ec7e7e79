"""The documented import path of the XCache helper: ``from coffea_casa.xcache import to_xcache``."""

from coffea_casa_lab.xcache import to_xcache, xcache_host

__all__ = ["to_xcache", "xcache_host"]
