"""Where independent checks run: here, one after another (the default), or on a
Dask cluster (the optional extra ``pip install 'icl-theorems[distributed]'``).

``cluster`` is None or "local" (this process), "local:N" (a Dask
``LocalCluster`` of N single-threaded worker processes on this machine), or a
Dask scheduler's address (``tcp://host:8786``).  There is no home-made pool:
parallelism is Dask's.  Tasks are plain functions of picklable arguments; a
worker imports what it needs itself (the caller's ``sys.path`` travels with the
task, so a theorem of your own imports there too).
"""
from __future__ import annotations

import sys


class ClusterError(RuntimeError):
    """The cluster cannot be reached or Dask is not installed (reported as a usage error)."""


def _with_path(fn, item, paths):
    for p in reversed(paths):
        if p not in sys.path:
            sys.path.insert(0, p)
    return fn(item)


def map_tasks(fn, items, cluster: str | None = None, progress=None, label=str, info: dict | None = None) -> list:
    """``[fn(x) for x in items]``, in order, here or on a Dask cluster; ``progress`` gets a line per finished
    task; ``info`` (a dict) receives where they ran ("workers": how many the cluster had)."""
    info = {} if info is None else info
    items = list(items)
    if cluster in (None, "", "local"):
        info.update(cluster="this process", workers=1)
        out = []
        for i, x in enumerate(items):
            out.append(fn(x))
            if progress:
                progress(f"[{i + 1}/{len(items)}] {label(x)}")
        return out
    try:
        from dask.distributed import Client, LocalCluster, as_completed
    except ImportError:
        raise ClusterError("--dask needs Dask: pip install 'icl-theorems[distributed]' (or dask[distributed])") \
            from None
    local = None
    try:
        if cluster.startswith("local:"):
            try:
                n = int(cluster.split(":", 1)[1])
            except ValueError:
                raise ClusterError(f"local:N needs a number of workers, got {cluster!r}") from None
            if n < 1:
                raise ClusterError(f"local:N needs at least one worker, got {n}")
            local = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None)
            client = Client(local)
        else:
            try:
                client = Client(cluster, timeout=30)
            except (OSError, TimeoutError) as e:
                raise ClusterError(f"cannot reach the Dask scheduler {cluster}: {e}") from None
        try:
            if local is not None:
                client.wait_for_workers(len(local.workers), timeout=120)
            info.update(cluster=cluster, workers=len(client.scheduler_info()["workers"]))
            paths = [p for p in sys.path if p]
            futures = [client.submit(_with_path, fn, x, paths, pure=False, key=f"icl-{i}-{label(x)}"[:200])
                       for i, x in enumerate(items)]
            index = {f.key: i for i, f in enumerate(futures)}
            done = 0
            for f in as_completed(futures):
                done += 1
                if progress:
                    progress(f"[{done}/{len(items)}] {label(items[index[f.key]])} (on the cluster)")
            return client.gather(futures)
        finally:
            client.close()
    finally:
        if local is not None:
            local.close()


def workers_seen(results) -> int:
    """How many distinct worker processes produced ``results`` (each a dict with a "worker" entry)."""
    return len({r.get("worker") for r in results if isinstance(r, dict) and r.get("worker")})


def worker_id() -> str:
    import os
    import socket
    return f"{socket.gethostname()}:{os.getpid()}"
