"""The Dask executor for :func:`mediaproc.batch.run_batch`: one task per article, the model loaded once per worker.

Dask does the scheduling, work stealing and rescheduling of tasks whose worker died;
this module only submits articles and gives the pipeline cluster-wide locks so no two
workers download the same URL or transcribe the same bytes at once. Outputs and the
media cache must be on a path every worker sees (``-o`` and ``--cache-dir``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

from ._layout import article_id, default_cache_root
from .batch import Emit, crashed
from .errors import MediaprocError
from .options import RunOptions
from .pipeline import Cancelled, Pipeline
from .schema import Manifest

try:
    import distributed
except ImportError:  # the [dask] extra is optional
    distributed = None  # type: ignore[assignment]


def cluster_lock(name: str) -> Any:
    """A lock held in the scheduler, visible to every worker (module level so it pickles)."""
    return distributed.Lock(f"mediaproc:{name}")


class _PreloadModel(distributed.WorkerPlugin if distributed else object):  # type: ignore[misc]
    """Load the Whisper model when a worker starts, so no task pays for it and it is loaded once."""

    name = "mediaproc-preload-model"

    def __init__(self, options: RunOptions) -> None:
        self.options = options

    def setup(self, worker: Any) -> None:
        _worker_pipeline(self.options).engine()


_pipelines: dict[RunOptions, Pipeline] = {}
_pipelines_lock = threading.Lock()


def _worker_pipeline(options: RunOptions) -> Pipeline:
    """One pipeline (and so one loaded engine) per worker process and set of options."""
    with _pipelines_lock:
        if options not in _pipelines:
            _pipelines[options] = Pipeline(options, lock=cluster_lock)
        return _pipelines[options]


def _task(source: str, options: RunOptions) -> Manifest:
    return _worker_pipeline(options).process(source)


class DaskExecutor:
    """Runs each article as a Dask task; ``scheduler=None`` starts a LocalCluster of ``workers``
    single-threaded processes on this machine."""

    def __init__(self, scheduler: str | None = None, workers: int = 2) -> None:
        if distributed is None:
            raise MediaprocError("the Dask executor needs the [dask] extra: pip install 'mediaproc[dask]'")
        self.scheduler, self.workers = scheduler, workers
        self._pending: dict[Any, str] = {}

    def run(self, sources: list[str], options: RunOptions, emit: Emit,
            stop: threading.Event) -> Iterator[tuple[str, Manifest]]:
        # Every worker must see the same folders: absolute paths, and the cache named explicitly.
        cache = options.cache.cache_dir or default_cache_root()
        options = replace(options, out=Path(options.out).resolve(),
                          cache=replace(options.cache, cache_dir=Path(cache).resolve()))
        if self.scheduler:
            cluster, client = None, distributed.Client(self.scheduler)
        else:
            cluster = distributed.LocalCluster(n_workers=self.workers, threads_per_worker=1, processes=True,
                                               dashboard_address=None)
            client = distributed.Client(cluster)
        try:
            client.register_plugin(_PreloadModel(options))
            # One task per article, keyed by its id so it never runs twice at once.
            self._pending = {client.submit(_task, src, options, key=f"mediaproc-article-{article_id(src)}",
                                           pure=False, retries=2): src for src in sources}
            done = distributed.as_completed(list(self._pending))
            while not done.is_empty():
                if not done.has_ready():
                    if stop.is_set():
                        raise Cancelled
                    time.sleep(0.1)
                    continue
                future = next(done)
                src = self._pending.pop(future)
                try:
                    manifest = future.result()
                except Exception as exc:  # a task that failed on every retry (e.g. killed workers)
                    manifest = crashed(src, exc, emit)
                # Forget the result now: a result held only by a worker that later dies would
                # otherwise be recomputed, and that rerun cancelled half way when we close.
                future.release()
                yield src, manifest
        finally:
            client.cancel(list(self._pending))
            client.close()
            if cluster is not None:
                cluster.close()

    def in_flight(self) -> list[str]:
        return list(self._pending.values())


__all__ = ["DaskExecutor", "cluster_lock"]
