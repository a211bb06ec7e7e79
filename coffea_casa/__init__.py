"""The documented `coffea_casa` import path; the implementation lives in coffea_casa_lab."""

from coffea_casa_lab.cluster import CoffeaCasaCluster, CoffeaCasaJob, PortInUseError

__all__ = ["CoffeaCasaCluster", "CoffeaCasaJob", "PortInUseError"]
