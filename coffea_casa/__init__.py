"""The documented `coffea_casa` import path; the implementation lives in coffea_casa_lab."""

from coffea_casa_lab.cluster import CoffeaCasaCluster, CoffeaCasaJob, PortInUseError
from coffea_casa_lab.xcache import to_xcache

__all__ = ["CoffeaCasaCluster", "CoffeaCasaJob", "PortInUseError", "to_xcache"]
