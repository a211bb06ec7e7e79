"""Shipped defaults apply on import; a user's jobqueue-coffea-casa.yaml overrides them."""

import json
import subprocess
import sys
import textwrap

# Chapter 7 of the facility docs, verbatim (with the example image tag filled in).
DOCS_YAML = textwrap.dedent(
    """
    jobqueue:
      coffea-casa:

        # Dask worker options, taken from https://github.com/dask/dask-jobqueue/tree/master/dask_jobqueue
        cores: 2                # Total number of cores per job
        memory: "3 GiB"         # Total amount of memory per job
        processes: null         # Number of Python processes per jobs
        worker-image: "coffeateam/coffea-casa-analysis:0.2.23"

        # Communication settings
        interface: null         # Network interface to use like eth0 or ib0
        death-timeout: 60       # Number of seconds to wait if a worker can not find a scheduler
        local-directory: null   # Location of fast local storage like /scratch or $TMPDIR
        extra: []

        # HTCondor Resource Manager options
        disk: "5 GiB"          # Amount of disk per worker job
        env-extra: []
        job-extra: {}          # Extra submit attributes
        log-directory: null
        shebang: "#!/usr/bin/env condor_submit -spool"

        # Scheduler options
        scheduler-options: {}
        name: dask-worker
    """
)

PROBE = textwrap.dedent(
    """
    import json, warnings
    warnings.simplefilter("error")  # the docs' old key names must not warn
    from coffea_casa import CoffeaCasaCluster
    import dask
    if __name__ == "__main__":
        cluster = CoffeaCasaCluster(backend="local")
        print(json.dumps({"script": cluster.job_script(),
                          "factory": dask.config.get("labextension.factory")}))
        cluster.close()
    """
)


def run_probe(tmp_path, config_dir=None):
    env = None
    if config_dir is not None:
        import os

        env = dict(os.environ, DASK_CONFIG=str(config_dir))
    script = tmp_path / "probe.py"
    script.write_text(PROBE)
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_shipped_defaults_work_with_no_config_at_all(tmp_path):
    result = run_probe(tmp_path, config_dir=tmp_path / "empty")
    assert "--nthreads 4" in result["script"] and "--memory-limit 6.00GiB" in result["script"]
    assert "universe = docker" in result["script"]
    assert result["factory"] == {"module": "coffea_casa", "class": "CoffeaCasaCluster", "args": [], "kwargs": {}}


def test_the_docs_yaml_in_the_users_config_overrides_the_defaults(tmp_path):
    config_dir = tmp_path / "dask"
    config_dir.mkdir()
    (config_dir / "jobqueue-coffea-casa.yaml").write_text(DOCS_YAML)
    script = run_probe(tmp_path, config_dir)["script"]
    assert "--nthreads 2" in script and "--memory-limit 3.00GiB" in script  # one worker per job
    assert "--nworkers" not in script
    assert "docker_image = coffeateam/coffea-casa-analysis:0.2.23" in script
