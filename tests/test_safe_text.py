"""Strings that cross a process boundary (coffea_casa_lab/safe_text.py), wherever they enter:
CoffeaCasaCluster(name=...), a sidebar host's --name, and every command of an HTCondor submit
description (job_extra as a keyword or in the site's config, worker_image, python, the
prologue, the log folder, a job's name), and a name in a report's file name. The REST API's
side: test_rest_api.py (names, the factory's `initial`) and test_worker_tools.py (packages,
files, a name in a report's HTML).
"""

import dask
import htcondor2
import pytest
from dask_jobqueue.htcondor import quote_arguments
from hypothesis import HealthCheck, example, given, settings, strategies as st

from coffea_casa import CoffeaCasaCluster
from coffea_casa_lab import host, registry
from coffea_casa_lab.cluster import CoffeaCasaJob
from coffea_casa_lab.safe_text import check_name

BAD_NAMES = [
    ("a\x00b", "control character ('\\x00' at position 1)"),
    ("a\n+Evil = 1", "control character ('\\n' at position 1)"),
    ("a\rqueue 100", "control character ('\\r' at position 1)"),
    ("next\x85line", "control character ('\\x85' at position 4)"),
    ("a\u2028b", "line separator ('\\u2028' at position 1)"),
    ("x\ud800y", "invalid Unicode, a lone surrogate ('\\ud800' at position 1)"),
    ("n" * 201, "at most 200 characters (got 201)"),
    (42, "must be a string, not int"),
]


@pytest.mark.parametrize("name", ["Cluster 1", "MET study (2018)", "ünïcødé ✓ 🧪", "n" * 200, "$(x) 'q' \"q\" \\"])
def test_a_name_of_any_printable_text_is_taken(name):
    assert check_name(name) == name


@pytest.mark.parametrize("name, message", BAD_NAMES)
def test_a_bad_name_is_refused_with_what_is_wrong(name, message):
    with pytest.raises(ValueError) as refused:
        check_name(name)
    assert str(refused.value).startswith("name ") and str(refused.value).endswith(message)


@pytest.mark.parametrize("name, message", BAD_NAMES)
def test_coffea_casa_cluster_refuses_a_bad_name_before_it_starts(local_backend, name, message):
    with pytest.raises(ValueError) as refused:
        CoffeaCasaCluster(name=name)
    with pytest.raises(ValueError) as same:
        check_name(name)
    assert str(refused.value) == str(same.value)  # the REST API's 400 says the same


def test_a_sidebar_host_refuses_a_bad_name(monkeypatch, capsys):
    monkeypatch.setattr(registry, "HOST_PROCESS", False)  # main() sets it once past its checks
    monkeypatch.setattr(host, "Host", None)  # never reached
    with pytest.raises(SystemExit) as exit:
        host.main(["--id", "x", "--name", "a\n+Evil = 1", "--server-pid", "1"])
    assert exit.value.code == 2 and "control character" in capsys.readouterr().err


# Each would add, end or swallow a line of the worker jobs' submit description.
INJECTIONS = [
    (dict(job_extra={"docker_image": "img\nqueue 100"}), "'docker_image' must not contain a control character"),
    (dict(job_extra={"+Evil": "1\r\n+Other = 2"}), "'+Evil' must not contain a control character"),
    (dict(job_extra_directives={"requirements": "true \\ "}), "'requirements' must not end with a backslash"),
    (dict(job_extra={"queue": "100"}), "'queue' is not an HTCondor submit command"),
    (dict(job_extra={"request_memory = 1\n+Evil": "1"}), "is not an HTCondor submit command"),
    (dict(job_extra={"+Evil": "x\x00y"}), "'+Evil' must not contain a control character"),
    (dict(worker_image="img\n+Evil = 1"), "'docker_image' must not contain a control character"),
    (dict(python="python3\nqueue 5"), "the worker's command"),
    (dict(job_script_prologue=["echo hi\nqueue 100"]), "the worker's command"),
    (dict(log_directory="/tmp/logs\n+Evil = 1"), "log_directory must not contain a control character"),
    (dict(shebang="#!/usr/bin/env condor_submit\nqueue 100"), "shebang must not contain a control character"),
    (dict(submit_command_extra=["-name", "a\x00b"]), "submit_command_extra must not contain a control"),
]


@pytest.mark.parametrize("kwargs, message", INJECTIONS)
def test_nothing_injects_a_line_into_a_submit_description(kwargs, message):
    with pytest.raises(ValueError, match=message.replace("+", r"\+")):
        CoffeaCasaCluster(backend="htcondor", **kwargs)


def test_the_sites_job_extra_is_checked_too():
    with dask.config.set({"jobqueue.coffea-casa.job-extra": {"+Evil": "1\nqueue 100"}}):
        with pytest.raises(ValueError, match="control character"):
            CoffeaCasaCluster(backend="htcondor")


def _job(name, command, value, prologue):
    # the command between two others, as a job_extra that replaces one of the defaults is
    extra = {"universe": "docker", command: value, "+DaskSchedulerAddress": '"tls://127.0.0.2:8786"'}
    return CoffeaCasaJob("tls://127.0.0.2:8786", name=name, cores=1, memory="1 GiB", disk="1 GiB",
                         job_extra_directives=extra, job_script_prologue=[prologue])


def _attribute(command):
    """How HTCondor names a submit command: case-insensitive, `+X` is `MY.X`."""
    return ("MY." + command[1:] if command.startswith("+") else command).lower()


_TRICKY = st.sampled_from(["\n", "\r", "\\", " ", "queue", "+Evil = 1", "=", "#", '"', "'", "$(x)", "\x00", "\u2028"])
_TEXT = st.lists(st.one_of(_TRICKY, st.characters(exclude_categories=())), max_size=12).map("".join)
_COMMAND = st.one_of(st.sampled_from(["docker_image", "+Evil", "MY.Evil", "requirements", "queue", "Queue"]),
                     st.from_regex(r"\+?[A-Za-z_][A-Za-z0-9_.]{0,8}", fullmatch=True), _TEXT)


@settings(derandomize=True, max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(name=_TEXT, command=_COMMAND, value=_TEXT, prologue=_TEXT)
@example(name="w", command="docker_image", value="img\\", prologue="")  # would swallow the next command
@example(name="w", command="docker_image", value="img \\ ", prologue="")
@example(name="w", command="docker_image", value="img\nqueue 100", prologue="")
@example(name="w", command="Queue", value="100", prologue="")
@example(name="w\n+Evil = 1", command="docker_image", value="img", prologue="")
@example(name="w", command="docker_image", value="img", prologue="echo\nqueue 100")
def test_a_job_is_refused_or_its_description_is_exactly_its_commands(name, command, value, prologue):
    """HTCondor's own parser reads back exactly the commands the job holds, and one queue."""
    try:
        job = _job(name, command, value, prologue)
    except ValueError:
        return
    submit = htcondor2.Submit(job.job_script())
    # HTCondor strips a value's blanks (C's isspace: the space, and control characters, refused)
    expected = {_attribute(k): str(v).strip(" ") for k, v in job.job_header_dict.items()}
    expected.update(arguments=f'"{quote_arguments(["-c", job._command_template])}"', executable="/bin/sh")
    assert {k.lower(): v for k, v in dict(submit).items()} == expected
    assert submit.getQArgs() == ""


def test_a_long_name_still_makes_a_report_file_name():
    """A performance report's file is named after the cluster; a file name is at most 255 bytes."""
    from coffea_casa_lab.manager import ClusterManager

    registry.write(dict(registry.owner_fields(), id="longname", name="名" * 200, kind=registry.SCRIPT))
    try:
        name = ClusterManager().report_name("longname")
    finally:
        registry.remove("longname")
    assert name.startswith("名名") and len(f"dask-report-{name}-20260101-000000.html".encode()) <= 255
