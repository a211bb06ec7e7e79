"""A cluster's worker shape for its card: cores, memory and image of one worker job. No HTTP here.

A dask-jobqueue cluster (CoffeaCasaCluster on either backend) says what each job gets
before any worker runs; another kind of cluster shows what its first worker has.
"""

import weakref

_SHAPES = weakref.WeakKeyDictionary()  # a cluster's shape never changes: worked out once


def worker_shape(cluster):
    """{cores, memory_bytes, image} of one worker job, or None when the cluster does not say."""
    try:
        return _SHAPES[cluster]
    except (KeyError, TypeError):
        pass
    shape = _of_jobs(cluster)
    if shape is not None:
        try:
            _SHAPES[cluster] = shape
        except TypeError:  # not weakly referenceable: worked out each time
            pass
        return shape
    return _of_workers(cluster)


def _of_jobs(cluster):
    if not hasattr(cluster, "_job_kwargs"):
        return None
    try:
        job = cluster._dummy_job  # dask-jobqueue's own template of the jobs it submits
    except Exception:
        return None
    extra = cluster._job_kwargs.get("job_extra_directives") or {}
    return {"cores": int(job.worker_cores or 0), "memory_bytes": int(job.worker_memory or 0),
            "image": extra.get("docker_image")}


def _of_workers(cluster):
    workers = list(((getattr(cluster, "scheduler_info", None) or {}).get("workers") or {}).values())
    if not workers:
        return None
    first = workers[0]
    return {"cores": first.get("nthreads", 0), "memory_bytes": first.get("memory_limit") or 0, "image": None}
