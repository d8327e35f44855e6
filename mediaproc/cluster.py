"""Run a batch on a Dask cluster: one task per article, the model loaded once per worker.

Dask does the scheduling, work stealing and rescheduling of tasks whose worker died;
this module only submits articles, shares the same resumability and summary as
:mod:`batch`, and gives the pipeline cluster-wide locks so no two workers download the
same URL or transcribe the same bytes at once. Outputs and the media cache must be on
a path every worker sees (``-o`` and ``--cache-dir``).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from tqdm import tqdm

from .batch import BatchOptions, BatchSummary, OutputLock, account, crashed, finalize, pending
from .pipeline import Manifest, RunOptions, article_id, process
from .utils import MediaprocError

try:
    import distributed
except ImportError:  # the [dask] extra is optional
    distributed = None  # type: ignore[assignment]


def _require() -> None:
    if distributed is None:
        raise MediaprocError("the Dask executor needs the [dask] extra: pip install 'mediaproc[dask]'")


def cluster_lock(name: str) -> distributed.Lock:
    """A lock held in the scheduler, visible to every worker (module level so it pickles)."""
    return distributed.Lock(f"mediaproc:{name}")


class PreloadModel(distributed.WorkerPlugin if distributed else object):  # type: ignore[misc]
    """Load the Whisper model when a worker starts, so no task pays for it and it is loaded once."""

    name = "mediaproc-preload-model"

    def __init__(self, options: RunOptions) -> None:
        self.options = options

    def setup(self, worker: object) -> None:
        from .transcribe import preload
        preload(self.options.transcribe)


def _task(source: str, options: RunOptions, cache_dir: str | None) -> Manifest:
    if cache_dir:
        os.environ["MEDIAPROC_CACHE"] = cache_dir
    return process(source, options)


def run_batch_dask(sources: list[str], options: RunOptions, batch: BatchOptions | None = None, *,
                   scheduler: str | None = None, workers: int = 2,
                   on_event: Callable[[str], None] | None = None) -> BatchSummary:
    """Like :func:`batch.run_batch`, with one Dask task per article; ``scheduler=None`` starts a
    LocalCluster of ``workers`` single-threaded processes on this machine."""
    _require()
    batch = batch or BatchOptions()
    out = Path(options.out).resolve()
    options = replace(options, out=out, lock=cluster_lock)
    cache = options.download.cache_dir or os.environ.get("MEDIAPROC_CACHE")
    summary = BatchSummary()
    t0 = time.monotonic()
    emit = on_event or (lambda msg: print(msg, file=sys.stderr))
    with OutputLock(out):
        todo = pending(sources, out, batch.force, summary)
        if scheduler:
            client = distributed.Client(scheduler)
            cluster = None
        else:
            cluster = distributed.LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                               dashboard_address=None)
            client = distributed.Client(cluster)
        try:
            client.register_plugin(PreloadModel(options))
            # One task per article, keyed by its id so it never runs twice at once.
            sources = {client.submit(_task, src, options, str(cache) if cache else None,
                                     key=f"mediaproc-article-{article_id(src)}", pure=False, retries=2): src
                       for src in todo}
            bar = tqdm(total=len(todo), unit="article", disable=not batch.progress, file=sys.stderr)
            try:
                for future in distributed.as_completed(list(sources)):
                    src = sources.pop(future)
                    try:
                        manifest = future.result()
                    except Exception as exc:  # a task that failed on every retry (e.g. killed workers)
                        manifest = crashed(src, exc, emit)
                    # Forget the result now: a result held only by a worker that later dies would
                    # otherwise be recomputed, and that rerun cancelled half way when we close.
                    future.release()
                    account(summary, manifest)
                    bar.update(1)
                    if batch.fail_fast and manifest.status != "ok":
                        emit(f"stopping after the first failure ({manifest.source}) because of --fail-fast")
                        break
            except KeyboardInterrupt:
                summary.interrupted = True
                emit("interrupted: finished articles are kept; re-run to resume the rest")
            finally:
                client.cancel(list(sources))
                bar.close()
        finally:
            client.close()
            if cluster is not None:
                cluster.close()
    return finalize(summary, t0, out, batch)
