"""The docs' HTCondor workflows, end to end through the product's own code paths, on the
HTCondor test double and on a real personal HTCondor pool (tests/condor_pool): the same
scenarios on both, so the double cannot drift from the real thing unseen."""

import json

import pytest

from htcondor_sites import DoubleSite, PoolSite

RUNNING, HELD, VANILLA = 2, 5, 5


@pytest.fixture(params=["double", "pool"])
def site(request):
    if request.param == "double":
        site = DoubleSite(request.getfixturevalue("condor_double"))
    else:
        site = PoolSite(request.getfixturevalue("condor_pool"))
    yield site
    left = [ad for ad in site.queue() if str(ad.get("DaskSchedulerAddress", "")).startswith("tls://127.0.0.2:")]
    for ad in left:  # leave the next test a clean queue, then fail this one
        site.admin("condor_rm", "-forcex", f"{ad['ClusterId']}.{ad['ProcId']}")
    site.close()
    assert not left, f"worker jobs left in the queue: {left}"


def facts(completed):
    """The JSON lines a scenario script printed, merged; its output on failure."""
    assert completed.returncode == 0, f"exit {completed.returncode}\n{completed.stdout}\n{completed.stderr[-8000:]}"
    out = {}
    for line in completed.stdout.splitlines():
        if line.startswith("{"):
            out.update(json.loads(line))
    return out


CHAPTER_6 = '''
import json, os, subprocess
from distributed import Client
from coffea_casa import CoffeaCasaCluster

def say(**kw):
    print(json.dumps(kw), flush=True)

if __name__ == "__main__":
    cluster = CoffeaCasaCluster()
    cluster.scale(2)
    client = Client(cluster)
    client.wait_for_workers(2, timeout=180)
    say(address=cluster.scheduler_address, backend=cluster.backend,
        workers=sorted(client.scheduler_info()["workers"]),
        total=client.submit(sum, range(100)).result(),
        registry=sorted(os.listdir(os.path.join(os.environ["JUPYTER_RUNTIME_DIR"], "coffea-casa"))))
    client.restart()
    client.wait_for_workers(2, timeout=120)
    say(after_restart=len(client.scheduler_info()["workers"]))
    client.close()
    cluster.close()
    say(registry_after=[f for f in os.listdir(os.path.join(os.environ["JUPYTER_RUNTIME_DIR"], "coffea-casa"))
                        if f.endswith(".json")])
'''


def test_chapter_6_scale_compute_restart_close(site):
    out = facts(site.script(CHAPTER_6))
    assert out["backend"] == "htcondor" and out["total"] == 4950
    assert len(out["workers"]) == 2 and all(w.startswith("tls://") for w in out["workers"])
    assert any(f.endswith(".json") for f in out["registry"])
    assert out["after_restart"] == 2
    assert out["registry_after"] == []
    assert not [ad for ad in site.queue() if ad.get("DaskSchedulerAddress") == out["address"]]
