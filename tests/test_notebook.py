"""The documented snippets run in a real notebook kernel on the embedded default."""

from pathlib import Path

import nbformat
import psutil
from nbclient import NotebookClient

from conftest import wait_until

EXAMPLE = Path(__file__).parent.parent / "examples" / "getting_started.ipynb"


def text(cell):
    return "".join(o.get("text", "") + o.get("data", {}).get("text/plain", "") for o in cell.outputs)


def test_getting_started_notebook_runs_and_cleans_up(tmp_path, monkeypatch):
    monkeypatch.setenv("DASK_COFFEA_CASA__BACKEND", "local")
    nb = nbformat.read(EXAMPLE, as_version=4)
    client = NotebookClient(nb, timeout=180, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}})
    with client.setup_kernel():
        kernel = psutil.Process(client.km.provisioner.process.pid)
        workers = []
        for index, cell in enumerate(nb.cells):
            client.execute_cell(cell, index)
            if index == 1:
                workers = [p for p in kernel.children(recursive=True) if "resource_tracker" not in " ".join(p.cmdline())]
        assert text(nb.cells[1]).startswith("local tls://127.0.0.2:")
        assert text(nb.cells[2]) == "3"
        assert text(nb.cells[6]) == "1024"
        assert len(workers) >= 2
        # the kernel is still alive: its workers must be gone after cluster.close()
        assert wait_until(lambda: not [p for p in workers if p.is_running() and p.status() != "zombie"])
