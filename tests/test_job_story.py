"""The words of a job's story and of an idle reason, from what a real HTCondor 23.9 pool said
(tests/condor_pool; the texts and ads in tests/data were recorded there)."""

import json
from pathlib import Path

from coffea_casa_lab.idle_analysis import parse, summarize
from coffea_casa_lab.job_story import of_ad

DATA = Path(__file__).parent / "data"
POOL_SLOTS = [{"memory": 32768, "cpus": 16, "disk": 70486004}]  # the pool's one partitionable slot


def analyses(name):
    return parse((DATA / name).read_text())


def test_an_idle_job_asking_for_too_much_memory():
    found = analyses("better-analyze-23.9-memory-and-running.txt")
    assert sorted(found) == ["1.0", "2.0"]
    idle = found["1.0"]
    assert [c for c in idle["conditions"] if c["matched"] == 0] == [
        {"matched": 0, "condition": "TARGET.Memory >= RequestMemory"}]
    assert (idle["machines"], idle["rejected"], idle["available"]) == (1, 1, 0)
    assert idle["text"].startswith("-- Schedd: localhost") and "Job 1.000 defines" in idle["text"]
    assert "job 2.000" not in idle["text"]
    # the request as the analysis prints it ("RequestMemory = 65536 (mb)"), the slot as the collector does
    assert summarize(idle, {}, POOL_SLOTS) == "no machine matches: request_memory 64 GiB, largest slot 32 GiB"
    assert summarize(idle, {}, []) == "no machine matches: request_memory 64 GiB"
    assert summarize(found["2.0"], {}, POOL_SLOTS) == (
        "1 of 1 machine can run it: waiting for the negotiator (or for your user priority)")


def test_cpus_and_disk_and_a_dask_jobs_own_sizes():
    found = analyses("better-analyze-23.9-cpus-and-disk.txt")
    assert summarize(found["3.0"], {}, POOL_SLOTS) == "no machine matches: request_cpus 32, largest slot 16 cores"
    assert summarize(found["4.0"], {}, POOL_SLOTS) == "no machine matches: request_disk 900 GiB, largest slot 67.2 GiB"
    # a Dask worker job's RequestMemory is an expression of its DaskWorkerMemory (bytes)
    job = {"RequestMemory": "floor(MY.DaskWorkerMemory / 1048576)", "DaskWorkerMemory": 64 * 2**30}
    memory = dict(found["3.0"], conditions=[{"matched": 0, "condition": "TARGET.Memory >= RequestMemory"}], attributes={})
    assert summarize(memory, job, POOL_SLOTS) == "no machine matches: request_memory 64 GiB, largest slot 32 GiB"


def test_busy_machines_and_their_own_policy():
    base = {"conditions": [], "attributes": {}, "complete": True, "machines": 4, "rejected": 1, "refusing": 0,
            "running_yours": 0, "serving_others": 3, "available": 0}
    assert summarize(base) == "3 of 4 machines busy (running other users), 1 do not match"
    assert summarize(dict(base, rejected=0, running_yours=1, serving_others=3)) == (
        "4 of 4 machines busy (running you and other users)")
    assert summarize(dict(base, rejected=0, serving_others=0, refusing=4)) == "4 of 4 machines refuse it by their own policy"
    assert summarize(dict(base, complete=False)) is None and summarize(None) is None


def story(cluster, note=None):
    (ad,) = [a for a in json.loads((DATA / "history-23.9.json").read_text()) if a["ClusterId"] == cluster]
    return of_ad(dict(ad, ProcId=0, Owner="tester", QDate=ad["QDate"]), note, in_queue=False)


def test_how_jobs_that_left_the_queue_ended():
    assert story(1)["end"] == {"kind": "removed", "by": "condor", "reason": "via condor_rm (by user condor)",
                               "text": "removed by condor"}
    assert story(2)["end"]["text"] == "removed by you (condor_rm)"
    assert story(2, "scaled down")["end"]["text"] == "removed by the cluster: scaled down"
    assert story(1, "scaled down")["end"]["text"] == "removed by condor"  # the pool's word over ours
    assert story(5)["end"]["by"] == "policy" and story(5)["end"]["text"].startswith("removed by the pool's policy: ")
    assert story(3)["end"] == {"kind": "exited", "code": 3, "text": "exited with code 3"}
    assert story(4)["end"] == {"kind": "signal", "signal": 9, "text": "killed by signal 9"}
    # removed while held: a 23.9 schedd keeps the reason as LastHoldReason
    held = of_ad(dict(ClusterId=7, ProcId=0, JobStatus=3, LastJobStatus=5, Owner="tester",
                      RemoveReason="via condor_rm (by user tester)", LastHoldReason="over the policy (by user condor)"),
                 "killed from the jobs pane", in_queue=False)
    assert held["end"]["text"] == "removed by the cluster: killed from the jobs pane, while held: over the policy (by user condor)"
    # spooled: it exited, waited in the queue for its output, then was removed
    assert story(6)["end"]["text"] == "exited with code 3" and story(6)["status"] == "removed"
    removed = story(1)
    assert removed["ended"] == removed["evicted"] or removed["evicted"] is None
    assert removed["host"] == "slot1_1@localhost" and removed["submitted"] <= removed["ended"]
    assert not removed["in_queue"] and removed["running_since"] is None and removed["idle_since"] is None
