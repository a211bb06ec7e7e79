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


# --- through the sidebar's REST API ------------------------------------------------------
from conftest import wait_until  # noqa: E402
from test_rest_api import wait_cluster  # noqa: E402

# distributed forgets a worker job whose worker has been gone this long: 2 s, not 15, so that
# a held job removed behind the user's back would show within the scenario.
QUICK_LOSS = {"DASK_DISTRIBUTED__DEPLOY__LOST_WORKER_TIMEOUT": "2s",
              "DASK_COFFEA_CASA__LOST_WORKERS__CHECK_INTERVAL": "1",
              "DASK_COFFEA_CASA__LOST_WORKERS__GRACE": "10"}


def start(server, workers=2, **body):
    id = server.api("PUT", "clusters", dict(body, workers=workers)).json()["id"]
    model = wait_cluster(server, id, lambda m: m["status"] == "failed" or m["workers"] == workers, timeout=180)
    assert model["status"] == "running" and model["workers"] == workers, model
    return model


def jobs(server, id):
    r = server.api("GET", f"clusters/{id}/jobs")
    assert r.status_code == 200, r.text
    return {j["id"]: j for j in r.json()}


def wait_jobs_where(server, id, predicate, timeout=120):
    return wait_until(lambda: predicate(jobs(server, id)) and jobs(server, id), timeout=timeout, interval=0.3)


def stop(server):
    """A graceful stop: the sidebar's clusters close with it."""
    server.stop()


def test_held_jobs_stay_held_until_the_user_releases_or_removes_them(site):
    server = site.server(QUICK_LOSS)
    try:
        model = start(server, 2)
        id = model["id"]
        first, second = sorted(jobs(server, id))
        assert site.admin("condor_hold", "-reason", "test hold reason", first).returncode == 0
        model = wait_cluster(server, id, lambda m: (m["queue"] or {}).get("held") == 1)
        # HTCondor says who held it: "test hold reason (by user condor)"
        assert [r.split(" (by user")[0] for r in model["queue"]["hold_reasons"]] == ["test hold reason"], model
        assert jobs(server, id)[first]["hold_reason"].startswith("test hold reason (by user ")
        # Left to the user: still held well past distributed's lost-worker timeout
        assert not wait_until(lambda: jobs(server, id).get(first, {}).get("status") != "held", timeout=8)
        r = server.api("POST", f"clusters/{id}/jobs/{first}/release")
        assert r.status_code == 200, r.text
        model = wait_cluster(server, id, lambda m: m["workers"] == 2 and (m["queue"] or {}).get("held") == 0)
        assert model["workers"] == 2 and first in jobs(server, id), (model, jobs(server, id))

        # Remove a held job from the jobs pane: the real job goes
        assert site.admin("condor_hold", second).returncode == 0
        wait_cluster(server, id, lambda m: (m["queue"] or {}).get("held") == 1)
        r = server.api("DELETE", f"clusters/{id}/jobs/{second}")
        assert r.status_code == 200, r.text
        assert wait_until(lambda: second not in {f"{a['ClusterId']}.{a['ProcId']}" for a in site.queue()}, timeout=60)
    finally:
        stop(server)


def test_a_worker_job_removed_by_an_admin_is_replaced(site):
    server = site.server(QUICK_LOSS)
    try:
        model = start(server, 2)
        id = model["id"]
        victim = sorted(jobs(server, id))[0]
        # at once, within one check interval of its worker joining
        assert site.admin("condor_rm", victim).returncode == 0
        assert wait_jobs_where(server, id, lambda js: len(js) == 2 and victim not in js, timeout=120), jobs(server, id)
        model = wait_cluster(server, id, lambda m: m["workers"] == 2)
        assert model["workers"] == 2 and not model.get("error"), model
    finally:
        stop(server)


def test_a_vacated_worker_job_comes_back(site):
    server = site.server(QUICK_LOSS)
    try:
        model = start(server, 2)
        id = model["id"]
        victim = sorted(jobs(server, id))[0]
        assert site.admin("condor_vacate_job", victim).returncode == 0
        model = wait_cluster(server, id, lambda m: m["workers"] < 2, timeout=30)
        model = wait_cluster(server, id, lambda m: m["workers"] == 2, timeout=120)
        assert model["workers"] == 2 and not model.get("error"), model
        assert len(jobs(server, id)) == 2
    finally:
        stop(server)
