"""The deploy kit (deploy/): values.yaml has the keys a coffea-casa-lab facility needs, and the
JupyterHub versions of the Dockerfile, values.yaml and the hub the end-to-end test runs share
one major (hub and single-user server across majors fail to spawn: CoffeaTeam/coffea-casa#489).

No Kubernetes and no image build here: deploy/jupyterhub_config.py is run for real by
test_hub.py; these files are checked as files.
"""

import re
from importlib.metadata import version
from pathlib import Path

import pytest
import yaml

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"
PYPROJECT = DEPLOY.parent / "pyproject.toml"


@pytest.fixture(scope="module")
def values():
    return yaml.safe_load((DEPLOY / "values.yaml").read_text())


@pytest.fixture(scope="module")
def dockerfile():
    return (DEPLOY / "Dockerfile").read_text()


def arg(dockerfile, name):
    m = re.search(rf"^ARG {name}=(\S+)$", dockerfile, re.M)
    assert m, f"ARG {name} not pinned in the Dockerfile"
    return m.group(1)


def major(v):
    return int(v.split(".")[0])


def test_singleuser_image_opens_the_lab_and_runs_the_hubs_major(values, dockerfile):
    su = values["singleuser"]
    assert su["defaultUrl"] == "/lab"
    assert su["cmd"] == "jupyterhub-singleuser"
    hub = arg(dockerfile, "JUPYTERHUB_VERSION")
    assert su["image"]["tag"].endswith(f"-hub-{hub}")  # the tag says which hub it is built for
    # the hub of the end-to-end test (pyproject's test extra) is the same major
    assert major(version("jupyterhub")) == major(hub)
    assert re.search(rf'"jupyterhub>={major(hub)}(\.\d+)*,<{major(hub) + 1}"', PYPROJECT.read_text())


def test_every_profile_is_of_the_hubs_major(values, dockerfile):
    hub = arg(dockerfile, "JUPYTERHUB_VERSION")
    profiles = values["singleuser"]["profileList"]
    assert [p["display_name"] for p in profiles] == [
        "Coffea Base Image", "Minimal environment", "Datascience environment", "Spark environment"]
    assert [p.get("default", False) for p in profiles] == [True, False, False, False]
    assert "kubespawner_override" not in profiles[0]  # the default is singleuser.image itself
    for p in profiles[1:]:
        tag = p["kubespawner_override"]["image"].rsplit(":", 1)[1]
        assert re.fullmatch(r"hub-(\d+)\.\d+\.\d+", tag) and major(tag[4:]) == major(hub), p


def test_the_scheduler_is_reached_at_the_pod_ip(values):
    env = values["singleuser"]["extraEnv"]
    assert env["DASK_COFFEA_CASA__EXTERNAL_ADDRESS"] == {"valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}}
    ingress = values["singleuser"]["networkPolicy"]["ingress"]
    assert {"port": 8786, "protocol": "TCP"} in [p for rule in ingress for p in rule["ports"]]
    assert 8787 not in [p["port"] for rule in ingress for p in rule["ports"]]  # the dashboard is proxied


def test_facility_secrets_condor_and_idle_timeouts(values):
    su = values["singleuser"]
    env = su["extraEnv"]
    mounts = {m["name"]: m for m in su["storage"]["extraVolumeMounts"]}
    volumes = {v["name"]: v for v in su["storage"]["extraVolumes"]}
    assert mounts["cmsaf-secrets"]["mountPath"] == "/etc/cmsaf-secrets" == env["DASK_COFFEA_CASA__SECRETS_DIR"]
    assert mounts["cmsaf-secrets"]["readOnly"] is True and "secret" in volumes["cmsaf-secrets"]
    assert mounts["condor-token"]["mountPath"] == env["_CONDOR_SEC_TOKEN_DIRECTORY"]
    assert "secret" in volumes["condor-token"]
    assert env["CONDOR_HOST"] and env["SCHEDD_HOST"] and env["DASK_COFFEA_CASA__BACKEND"] == "htcondor"
    assert env["DASK_COFFEA_CASA__IDLE_TIMEOUT"] == "3600"  # coffea-casa.idle-timeout, seconds
    assert values["cull"]["enabled"] is True and values["cull"]["timeout"] == 3600
    # Z2JH wants strings for plain env values; a bare number or bool fails the chart's schema
    assert all(isinstance(v, (str, dict)) for v in env.values()), env


def test_the_login_example_is_there_and_marked_untested():
    text = (DEPLOY / "values.yaml").read_text()
    assert "UNTESTED" in text
    for name in ("CILogonOAuthenticator", "GenericOAuthenticator", "oauth_callback_url"):
        assert f"# {name}" in text or f"#   {name}" in text, name


def test_dockerfile_installs_the_package_with_its_extras(dockerfile):
    assert re.search(r"coffea_casa_lab-\*\.whl\)\[analysis,htcondor\]", dockerfile)
    assert '"jupyterhub==${JUPYTERHUB_VERSION}"' in dockerfile
    assert '"jupyterlab-git==${JUPYTERLAB_GIT_VERSION}"' in dockerfile
    assert re.search(r'^CMD \["jupyterhub-singleuser"\]$', dockerfile, re.M)
    extras = re.search(r"^\[project.optional-dependencies\]\n(.*?)^\[", PYPROJECT.read_text(), re.M | re.S).group(1)
    assert re.search(r"^htcondor = ", extras, re.M) and re.search(r"^analysis = ", extras, re.M)
