"""The installed package: both extensions enabled and OK, dask-labextension switched off."""

import json
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parent.parent
JUPYTER = [sys.executable, "-m", "jupyter"]


def run(*args):
    out = subprocess.run(JUPYTER + list(args), capture_output=True, text=True, timeout=120)
    return re.sub(r"\x1b\[[0-9;]*m", "", out.stdout + out.stderr)  # no colours


def test_server_extension_is_enabled_and_ok():
    listing = run("server", "extension", "list")
    assert re.search(r"coffea_casa_lab\s+enabled", listing), listing
    assert re.search(r"coffea_casa_lab\s+\S*\s*OK", listing), listing


def test_lab_extension_is_enabled_and_ok():
    listing = run("labextension", "list")
    assert re.search(r"coffea-casa-lab v\S+ enabled\s+OK", listing), listing


def test_shipped_config_switches_dask_labextension_off():
    server = json.loads((ROOT / "jupyter-config/server-config/coffea_casa_lab.json").read_text())
    assert server["ServerApp"]["jpserver_extensions"] == {"coffea_casa_lab": True, "dask_labextension": False}
    lab = json.loads((ROOT / "jupyter-config/labconfig/page_config.d/coffea_casa_lab.json").read_text())
    assert lab["disabledExtensions"] == {"dask-labextension": True}
