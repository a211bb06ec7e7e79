"""pytest fixture for the HTCondor test double.

Use from tests/conftest.py:  from condor_double.fixtures import condor_double
"""

import pytest

from . import CondorDouble


@pytest.fixture
def condor_double(tmp_path, monkeypatch):
    """A fresh CondorDouble whose tools are first on PATH for this test and its subprocesses.

    Teardown is strict: any job process still alive is killed and the test errors,
    naming the pids. A test that leaves jobs running on purpose calls
    condor_double.kill_all() itself (it returns the pids it had to kill).
    """
    double = CondorDouble(tmp_path / "condor")
    for name, value in double.env().items():
        monkeypatch.setenv(name, value)
    yield double
    leftover = double.kill_all()
    assert not leftover, f"HTCondor double: job processes still running at teardown (now killed): {leftover}"
