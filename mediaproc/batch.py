"""Process many articles: resumable, locked, summarised, on one machine or a Dask cluster.

:func:`run_batch` is the one batch loop. It decides what is left to do (an article is
complete only when its ``.complete`` marker and outputs exist; the marker is written last
and the whole folder is swapped in at once, so a run killed at any point never leaves an
article that looks complete but is not), holds the output lock, counts, reports progress,
stops on Ctrl-C or ``--fail-fast``, and writes the summary. Where the articles run is the
executor's business: :class:`LocalExecutor` (threads here) or
:class:`mediaproc.cluster.DaskExecutor`.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor, TimeoutError
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from tqdm import tqdm

from . import _fs
from .archive import Indexer
from ._layout import COMPLETE, LOCK, MANIFEST, REPORT, SUMMARY, article_id
from .errors import LockedError
from .options import RunOptions
from .pipeline import Cancelled, Pipeline, Prepared
from .schema import BatchSummary, Manifest, dumps

log = logging.getLogger("mediaproc")

ARTICLE_PATTERNS = ("*.txt", "*.md", "*.html", "*.htm")
Emit = Callable[[str], None]


@dataclass(frozen=True)
class BatchOptions:
    jobs: int = 2                 # articles prepared (downloaded, keyframed) ahead of transcription
    force: bool = False           # redo articles that are already complete
    fail_fast: bool = False
    progress: bool = False
    write_summary: bool = True


class Executor(Protocol):
    """Runs articles and yields each (source, manifest) as it finishes; ``in_flight`` after a stop."""

    def run(self, sources: list[str], options: RunOptions, emit: Emit,
            stop: threading.Event) -> Iterator[tuple[str, Manifest]]: ...

    def in_flight(self) -> list[str]: ...


def discover(root: str | Path, patterns: Iterable[str] = ARTICLE_PATTERNS, *, skip: Path | None = None) -> list[str]:
    """Article files under ``root``, recursively, in a stable order. Hidden paths, links that lead out of
    ``root`` (an archive's planted link to a private file) and the output folder ``skip`` are left out."""
    root = Path(root)
    real_root = root.resolve()
    skipped = skip.resolve() if skip is not None else None
    found = set()
    for pat in patterns:
        for p in root.rglob(pat):
            if any(part.startswith(".") for part in p.relative_to(root).parts) or not p.is_file():
                continue
            real = p.resolve()
            if not real.is_relative_to(real_root) or (skipped is not None and real.is_relative_to(skipped)):
                continue
            found.add(p)
    return [str(p) for p in sorted(found)]


def read_url_list(path: str | Path) -> list[str]:
    """One URL per line; blank lines and ``#`` comments ignored."""
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    return [ln.strip() for ln in lines if ln.strip() and not ln.lstrip().startswith("#")]


def is_complete(out_dir: Path, source: str | None = None) -> bool:
    """True when the run was clean, it was of ``source`` (when given), and every file it wrote is there with the
    size and modification time it had: a truncated, edited or substituted output is redone, not trusted."""
    marker, manifest = out_dir / COMPLETE, out_dir / MANIFEST
    if out_dir.is_symlink() or not (marker.is_file() and manifest.is_file() and (out_dir / REPORT).is_file()):
        return False
    try:
        done, data = _fs.read_json(marker), _fs.read_json(manifest)
        files = done["files"]
    except (OSError, ValueError, KeyError, TypeError):
        return False
    if data.get("status") != "ok" or done.get("status") != "ok" or (source is not None and done.get("source") != source):
        return False
    for rel, (size, mtime) in files.items():
        try:
            st = (out_dir / rel).lstat()
        except OSError:
            return False
        if st.st_size != size or st.st_mtime_ns != mtime:
            return False
    return True


class OutputLock:
    """An exclusive lock on ``OUT/.mediaproc.lock`` (flock: the OS drops it when the holder dies, so a
    stale lock from a killed process is simply taken over); ``OUT/.mediaproc.lock.owner`` names the holder."""

    def __init__(self, out: Path) -> None:
        self.path = Path(out) / LOCK
        self.owner = self.path.with_name(LOCK + ".owner")
        self._lock = None

    def __enter__(self) -> OutputLock:
        try:
            self._lock = _fs.try_lock(self.path)
        except OSError as exc:           # e.g. a link planted where the lock file goes
            raise LockedError(_fs.describe_os_error(exc, f"cannot lock {self.path}")) from None
        if self._lock is None:
            try:
                holder = self.owner.read_text(encoding="utf-8").strip() or "another process"
            except OSError:
                holder = "another process"
            raise LockedError(f"{self.path.parent} is in use by {holder}; wait for it or use another -o")
        _fs.atomic_write_text(self.owner, f"pid {os.getpid()} on {socket.gethostname()}\n")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._lock is not None:
            self._lock.release()
            self._lock = None


def account(summary: BatchSummary, manifest: Manifest) -> None:
    """Add one finished article to the summary's counts."""
    summary.articles += 1
    setattr(summary, manifest.status, getattr(summary, manifest.status) + 1)
    summary.articles_detail.append({"id": manifest.article_id, "source": manifest.source, "status": manifest.status})
    if manifest.error:
        summary.failures.append({"source": manifest.source, "error": manifest.error})
    for item in manifest.items:
        download = item.stages.get("download")
        if download is not None and download.status == "failed":
            summary.media_failed += 1
        elif item.from_cache:
            summary.media_cached += 1
        elif download is not None:
            summary.media_downloaded += 1
        transcribed = item.stages.get("transcribe")
        if item.transcript_cached:
            summary.transcripts_cached += 1
        elif transcribed is not None and transcribed.status == "ok":
            summary.audio_seconds += item.duration or 0.0
        if item.status != "ok":
            summary.failures.append({"source": manifest.source, "url": item.url, "error": item.error or item.status})


def crashed(source: str, exc: BaseException, emit: Emit) -> Manifest:
    """The manifest of an article that failed in an unexpected way (the traceback goes to the debug log)."""
    log.debug("unexpected failure on %s", source, exc_info=exc)
    manifest = Manifest(article_id=article_id(source), source=source, status="failed",
                        error=f"unexpected error: {type(exc).__name__}: {exc}")
    emit(f"FAILED {source}: {manifest.error}")
    return manifest


def pending(sources: list[str], out: Path, force: bool, summary: BatchSummary) -> list[str]:
    """The sources still to do, each once (two spellings of one file are one article); complete ones
    are counted as resumed (with ``force``: none)."""
    todo, seen = [], set()
    for src in sources:
        aid = article_id(src)
        if aid in seen:
            continue
        seen.add(aid)
        if not force and is_complete(out / aid, src):
            summary.resumed += 1
            summary.articles_detail.append({"id": aid, "source": src, "status": "ok (resumed)"})
        else:
            todo.append(src)
    return todo


class LocalExecutor:
    """Downloads and keyframes of upcoming articles run in ``jobs`` threads while this thread transcribes,
    so Whisper (loaded once) never waits for the network when work is queued."""

    def __init__(self, jobs: int = 2, engines: object | None = None) -> None:
        self.jobs = max(1, jobs)
        self.engines = engines
        self._window: deque[tuple[str, Future[Prepared]]] = deque()
        self._current: tuple[str, Future[Prepared]] | None = None

    def run(self, sources: list[str], options: RunOptions, emit: Emit,
            stop: threading.Event) -> Iterator[tuple[str, Manifest]]:
        pipeline = Pipeline(options, engines=self.engines, on_event=emit, stop=stop)  # type: ignore[arg-type]
        pool = ThreadPoolExecutor(max_workers=self.jobs, thread_name_prefix="prepare")
        queue = iter(sources)

        def top_up() -> None:
            while len(self._window) < self.jobs + 1 and not stop.is_set():
                src = next(queue, None)
                if src is None:
                    return
                self._window.append((src, pool.submit(pipeline.prepare, src)))

        preload: threading.Thread | None = None
        try:
            top_up()
            if sources:   # load Whisper while the first articles download, not after
                preload = threading.Thread(target=_quietly, args=(pipeline.engine,), name="mediaproc-preload",
                                           daemon=True)
                preload.start()
            while self._window:
                src, future = self._current = self._window.popleft()
                top_up()
                try:
                    manifest = pipeline.finish(_result(future, stop))
                except (KeyboardInterrupt, Cancelled):
                    raise
                except Exception as exc:  # a bug or a full disk in one article must not end the batch
                    manifest = crashed(src, exc, emit)
                self._current = None
                yield src, manifest
        finally:
            stop.set()
            pool.shutdown(wait=False, cancel_futures=True)
            # Threads still in a stage see the stop within a moment (downloads are cut off); each removes
            # its staging folder on the way out. A thread stuck in a parser is not waited for beyond this.
            deadline = time.monotonic() + 1.0
            for _, future in ([self._current] if self._current else []) + list(self._window):
                if not future.cancelled():
                    try:
                        prep = future.result(timeout=max(0.0, deadline - time.monotonic()))
                        pipeline.discard(prep)
                    except Exception:    # cancelled, timed out or failed: nothing more to tidy here
                        pass
            # An interpreter that exits while CTranslate2 or torch is still loading on another thread
            # aborts in C++ ("terminate called without an active exception", status -6), so a batch
            # that ends before it needed the model still waits for the load to finish.
            if preload is not None:
                preload.join()

    def in_flight(self) -> list[str]:
        return [src for src, _ in ([self._current] if self._current else []) + list(self._window)]


def _quietly(work: Callable[[], object]) -> None:
    """Run ``work`` ahead of time; a failure is seen again, and reported, when the result is needed."""
    try:
        work()
    except Exception:
        pass


def _result(future: Future[Prepared], stop: threading.Event) -> Prepared:
    """The future's result, or :class:`Cancelled` as soon as ``stop`` is set (a parser stuck in C is left)."""
    while True:
        try:
            return future.result(timeout=0.1)
        except TimeoutError:
            if stop.is_set():
                raise Cancelled from None


def run_batch(sources: list[str], options: RunOptions, batch: BatchOptions | None = None, *,
              executor: Executor | None = None, on_event: Emit | None = None) -> BatchSummary:
    """Process ``sources`` into ``options.out``; one failure never stops the rest (unless ``fail_fast``).

    The first Ctrl-C stops within seconds (downloads are cut off, no new stage starts) and the summary
    marks the articles in flight ``interrupted``; a second Ctrl-C exits at once.
    """
    batch = batch or BatchOptions()
    executor = executor or LocalExecutor(batch.jobs)
    out = Path(options.out)
    summary = BatchSummary()
    dumps(summary)     # build the serialiser now: after Ctrl-C it must not compete with a busy parser thread
    t0 = time.monotonic()
    stop = threading.Event()
    with OutputLock(out), interruptible(stop), contextlib.ExitStack() as stack:
        todo = pending(sources, out, batch.force, summary)
        bar = tqdm(total=len(todo), unit="article", disable=not batch.progress, file=sys.stderr, dynamic_ncols=True)
        emit = on_event or (lambda msg: bar.write(msg, file=sys.stderr))
        index = Indexer(out, emit) if options.index else None
        try:
            if index:
                stack.enter_context(index)
            for _, manifest in executor.run(todo, options, emit, stop):
                if stop.is_set():
                    raise Cancelled
                account(summary, manifest)
                if index:
                    index.add(out / manifest.article_id)
                bar.update(1)
                bar.set_postfix(audio=f"{summary.audio_seconds / 60:.1f}min", failed=summary.failed)
                if batch.fail_fast and manifest.status != "ok":
                    emit(f"stopping after the first failure ({manifest.source}) because of --fail-fast")
                    break
        except (KeyboardInterrupt, Cancelled):
            summary.interrupted = True
            for src in executor.in_flight():
                summary.articles_detail.append({"id": article_id(src), "source": src, "status": "interrupted"})
            emit("interrupted: finished articles are kept, the others left as they were; re-run to resume")
        finally:
            stop.set()
            bar.close()
            stack.close()        # the index: synced with what was written, and the overview page
    return finalize(summary, t0, out, batch)


class interruptible:
    """Ctrl-C handling for the batch: the first sets ``stop``, which every stage and wait checks within a
    fraction of a second (raising KeyboardInterrupt at a random point can abort a C extension mid-call);
    the second exits at once (status 130)."""

    def __init__(self, stop: threading.Event) -> None:
        self.stop = stop
        self.previous = None

    def _handler(self, signum: int, frame: object) -> None:
        if self.stop.is_set():
            os.write(2, b"\ninterrupted again: exiting now\n")
            os._exit(130)
        self.stop.set()
        # A thread still busy in a parser would otherwise hand the GIL back only every 5 ms, and the few
        # hundred system calls of stopping (locks, summary, staging) would take seconds.
        sys.setswitchinterval(1e-4)

    def __enter__(self) -> interruptible:
        if threading.current_thread() is threading.main_thread():
            self.previous = signal.signal(signal.SIGINT, self._handler)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)


def finalize(summary: BatchSummary, started: float, out: Path, batch: BatchOptions) -> BatchSummary:
    """Round the figures and write OUT/batch-summary.json."""
    summary.wall_seconds = round(time.monotonic() - started, 3)
    summary.audio_seconds = round(summary.audio_seconds, 3)
    if batch.write_summary:
        try:
            _fs.write_json(out / SUMMARY, summary)
        except OSError as exc:
            log.error("%s", _fs.describe_os_error(exc, f"cannot write {out / SUMMARY}"))
    return summary


def format_summary(summary: BatchSummary) -> str:
    """The end-of-run table, with each failure once."""
    rows = [
        ("articles", f"{summary.articles + summary.resumed} ({summary.ok} ok, {summary.partial} partial, "
                     f"{summary.failed} failed, {summary.resumed} already complete)"),
        ("media", f"{summary.media_downloaded} downloaded, {summary.media_cached} from cache, "
                  f"{summary.media_failed} failed"),
        ("transcribed", f"{summary.audio_seconds / 3600:.2f} h of audio ({summary.transcripts_cached} from cache)"),
        ("wall time", f"{summary.wall_seconds:.1f} s" + (" (interrupted)" if summary.interrupted else "")),
    ]
    width = max(len(k) for k, _ in rows)
    lines = [f"{k:<{width}}  {v}" for k, v in rows]
    lines += [f"  FAILED {f.get('url') or f['source']}: {f['error']}" for f in summary.failures]
    lines += [f"  INTERRUPTED {a['source']}" for a in summary.articles_detail if a["status"] == "interrupted"]
    return "\n".join(lines)


def summary_json(summary: BatchSummary) -> str:
    return dumps(summary)


__all__ = ["BatchOptions", "Executor", "LocalExecutor", "OutputLock", "interruptible", "run_batch", "discover", "read_url_list",
           "is_complete", "pending", "format_summary", "summary_json", "ARTICLE_PATTERNS"]
