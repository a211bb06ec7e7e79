"""The documented `coffea_casa` import path; the implementation lives in coffea_casa_lab."""

from coffea_casa_lab.cluster import CoffeaCasaCluster, CoffeaCasaJob, PortInUseError
from coffea_casa_lab.links import use_proxied_dashboard_links
from coffea_casa_lab.xcache import to_xcache

use_proxied_dashboard_links()  # in a notebook: dashboard links that open behind JupyterHub

__all__ = ["CoffeaCasaCluster", "CoffeaCasaJob", "PortInUseError", "to_xcache"]
