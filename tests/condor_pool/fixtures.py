"""pytest fixture for the real personal HTCondor pool (see README.md).

Use from tests/conftest.py:  from condor_pool.fixtures import condor_pool
"""

import os

import pytest

from .pool import CondorPool, PoolUnavailable

# `make test` sets this as root: there the pool must run, and a pool that cannot start fails.
REQUIRED = os.environ.get("COFFEA_CASA_POOL") == "required"


@pytest.fixture(scope="session")
def condor_pool():
    """The session's CondorPool, started on first use; the tests that need it skip, saying why,
    where it cannot run (no root, not installed), unless COFFEA_CASA_POOL=required."""
    try:
        pool = CondorPool().start()
    except PoolUnavailable as e:
        if REQUIRED:
            pytest.fail(f"the real HTCondor pool is required here and cannot start: {e}")
        pytest.skip(f"real HTCondor pool not available: {e}")
    try:
        yield pool
    finally:
        pool.stop()
