"""The documented `coffea_casa` import path; the implementation lives in coffea_casa_lab."""

from coffea_casa_lab.cluster import CoffeaCasaCluster, CoffeaCasaJob, PortInUseError
from coffea_casa_lab.environment import report_from_this_process
from coffea_casa_lab.links import use_proxied_dashboard_links
from coffea_casa_lab.xcache import to_xcache

use_proxied_dashboard_links()  # in a notebook: dashboard links that open behind JupyterHub
report_from_this_process()  # its clients tell the cluster's card their packages (an environment check)

__all__ = ["CoffeaCasaCluster", "CoffeaCasaJob", "PortInUseError", "to_xcache"]
