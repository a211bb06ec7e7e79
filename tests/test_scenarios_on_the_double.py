"""The HTCondor scenarios (htcondor_scenarios.py) on the HTCondor test double."""

import pytest

from htcondor_scenarios import *  # noqa: F401,F403 (the scenarios, collected here)
from htcondor_sites import DoubleSite


@pytest.fixture
def make_site(condor_double):
    return lambda: DoubleSite(condor_double)
