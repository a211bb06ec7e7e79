"""The per-user registry of clusters: private files, written when a cluster runs, removed when
it closes (close, garbage collection, interpreter exit), dropped by readers once the process
that wrote them is gone."""

import json
import os
import signal
import subprocess
import sys
import textwrap

import pytest

from coffea_casa_lab import registry
from conftest import wait_until


@pytest.fixture(autouse=True)
def own_registry(tmp_path, monkeypatch):
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path / "runtime"))
    monkeypatch.setenv("DASK_COFFEA_CASA__BACKEND", "local")


def record(**fields):
    return dict(registry.owner_fields(), id=registry.new_id(), name="c", kind="script", control="tls://127.0.0.2:1",
                **fields)


def test_records_are_private_and_written_whole():
    r = record()
    path = registry.write(r)
    assert oct(registry.directory().stat().st_mode & 0o777) == "0o700"
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert path.name == f"cluster-{r['id']}.json" and json.loads(path.read_text()) == r
    assert [p.name for p in registry.directory().iterdir()] == [path.name]  # no temporary file left
    reader = registry.Reader()
    assert reader.records() == [r]
    registry.write(dict(r, status="running"))
    assert reader.records() == [dict(r, status="running")]  # a replaced file is read again
    registry.remove(r["id"])
    assert reader.records() == []


def test_a_record_whose_process_is_gone_is_dropped():
    short = subprocess.Popen([sys.executable, "-c", "pass"])
    short.wait()
    dead = record(pid=short.pid, pid_started=registry.process_started(os.getpid()))
    reused = record(pid=os.getpid(), pid_started=1.0)  # this pid, but another process's start time
    live = record()
    for r in (dead, reused, live):
        registry.write(r)
    assert registry.Reader().records() == [live]
    assert not registry.record_path(dead["id"]).exists() and not registry.record_path(reused["id"]).exists()


def test_junk_in_the_folder_is_ignored():
    folder = registry.directory()
    elsewhere = record(host="another-machine", pid=1)  # a shared home: its pid is not ours to judge
    registry.write(elsewhere)
    (folder / "cluster-broken.json").write_text("{not json")
    (folder / "cluster-other.json").write_text(json.dumps(record()))  # its id is not its name
    (folder / "notes.txt").write_text("hello")
    assert registry.Reader().records() == []
    assert registry.record_path(elsewhere["id"]).exists()


SCRIPT = textwrap.dedent(
    """
    import gc, json, sys
    from coffea_casa import CoffeaCasaCluster
    from coffea_casa_lab import registry

    if __name__ == "__main__":
        cluster = CoffeaCasaCluster(cores=1, memory="1 GiB")
        print(json.dumps(registry.Reader().records()), flush=True)
        mode = sys.argv[1]
        if mode == "close":
            cluster.close()
        elif mode == "gc":
            del cluster
            gc.collect()
        elif mode == "wait":
            sys.stdin.readline()
        print(json.dumps(registry.Reader().records()), flush=True)
        # "exit" and "gc": fall off the end
    """
)


@pytest.mark.parametrize("mode", ["close", "gc", "exit"])
def test_a_script_cluster_registers_itself_and_leaves_no_record(tmp_path, mode):
    script = tmp_path / "analysis.py"
    script.write_text(SCRIPT)
    done = subprocess.run([sys.executable, str(script), mode], capture_output=True, text=True, timeout=120,
                          env=dict(os.environ))
    assert done.returncode == 0, done.stderr[-3000:]
    first, second = (json.loads(line) for line in done.stdout.splitlines()[:2])
    (r,) = first
    assert r["kind"] == "script" and r["where"].endswith(f"analysis.py {mode}")
    assert r["status"] == "running" and r["control"] == r["scheduler_address"]  # control: its own scheduler
    assert r["dashboard"][0] == "127.0.0.2"
    assert second == ([r] if mode == "exit" else [])
    assert registry.Reader().records() == []  # at exit, too


def test_a_killed_script_leaves_a_record_that_readers_drop(tmp_path):
    script = tmp_path / "analysis.py"
    script.write_text(SCRIPT)
    proc = subprocess.Popen([sys.executable, str(script), "wait"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True)
    (r,) = json.loads(proc.stdout.readline())
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    assert registry.record_path(r["id"]).exists()  # nobody could remove it...
    assert wait_until(lambda: registry.Reader().records() == [], timeout=10)  # ...but no reader lists it
    assert not registry.record_path(r["id"]).exists()


PLAIN_SCHEDULER = """
import asyncio
from distributed import Scheduler
from coffea_casa_lab.security import make_security

async def main():
    async with Scheduler(host="127.0.0.2", port=0, protocol="tls", security=make_security(), dashboard=False) as s:
        print(s.address, flush=True)
        await asyncio.sleep(300)

asyncio.run(main())
"""


def test_a_record_that_leads_to_a_dask_server_without_our_handlers_is_no_500(tmp_path, monkeypatch):
    """A stale record (say, another test run's, in a shared runtime folder) whose control address
    is now a plain Dask server's: it answers None to our calls. The card says so; the list works."""
    from test_rest_api import JupyterServer

    server = JupyterServer(tmp_path / "jupyter", {"DASK_LABEXTENSION__FACTORY__MODULE": "factories",
                                                  "DASK_LABEXTENSION__FACTORY__CLASS": "FakeCluster"})
    plain = subprocess.Popen([sys.executable, "-c", PLAIN_SCHEDULER], stdout=subprocess.PIPE, text=True)
    try:
        address = plain.stdout.readline().strip()
        monkeypatch.setenv("JUPYTER_RUNTIME_DIR", server.env["JUPYTER_RUNTIME_DIR"])
        registry.write(dict(record(pid=plain.pid, pid_started=registry.process_started(plain.pid),
                                   scheduler_address=address, backend="local"), control=address))
        r = server.api("GET", "clusters")
        assert r.status_code == 200, r.text
        (model,) = r.json()
        assert model["error"] == f"no coffea-casa cluster answers at {address}", model
    finally:
        plain.kill()
        plain.wait()
        server.stop()
