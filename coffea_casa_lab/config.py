"""Shipped dask-config defaults, merged under the user's own config on import.

dask.config.update_defaults keeps whatever the user set in ~/.config/dask or
/etc/dask (or DASK_* environment variables) and fills in the rest, so
CoffeaCasaCluster() works anywhere, not only inside the facility image.
"""

from pathlib import Path

import dask.config
import yaml

_HERE = Path(__file__).parent
_FILES = ("jobqueue-coffea-casa.yaml", "coffea-casa.yaml", "labextension.yaml")


def load_defaults():
    for name in _FILES:
        with open(_HERE / name) as f:
            dask.config.update_defaults(yaml.safe_load(f))


def get(key, default=None):
    """A `coffea-casa.*` setting."""
    return dask.config.get(f"coffea-casa.{key}", default)


load_defaults()
