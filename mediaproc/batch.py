"""Process many articles in one process: resumable, locked, overlapped, summarised.

Downloads and keyframes of upcoming articles run in a bounded thread pool while the
main thread transcribes, so Whisper (loaded once) never waits for the network when
work is queued. An article is complete only when its ``.complete`` marker exists;
the marker is written last and atomically by :func:`pipeline.finish`, so a run
killed at any point never leaves an article that looks complete but is not.
"""

from __future__ import annotations

import fcntl
import json
import os
import logging
import socket
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from .pipeline import COMPLETE, MANIFEST, Cancelled, Manifest, Prepared, RunOptions, article_id, finish, prepare
from .transcribe import preload
from .utils import MediaprocError, read_json, to_jsonable, write_json

log = logging.getLogger("mediaproc")

ARTICLE_PATTERNS = ("*.txt", "*.md", "*.html", "*.htm")
LOCK = ".mediaproc.lock"
SUMMARY = "batch-summary.json"


class LockedError(MediaprocError):
    """Another mediaproc process is writing the same output directory."""


@dataclass
class BatchOptions:
    jobs: int = 2                 # articles prepared (downloaded, keyframed) ahead of transcription
    force: bool = False           # redo articles that are already complete
    fail_fast: bool = False
    progress: bool = False
    write_summary: bool = True


@dataclass
class BatchSummary:
    articles: int = 0
    ok: int = 0
    partial: int = 0
    failed: int = 0
    resumed: int = 0              # complete from an earlier run, not redone
    media_downloaded: int = 0
    media_cached: int = 0
    media_failed: int = 0
    transcripts_cached: int = 0
    audio_seconds: float = 0.0    # audio transcribed in this run (cache hits excluded)
    wall_seconds: float = 0.0
    interrupted: bool = False
    failures: list[dict[str, str]] = field(default_factory=list)
    articles_detail: list[dict[str, str]] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        return 1 if (self.failed or self.partial or self.interrupted) else 0


def discover(root: str | Path, patterns: Iterable[str] = ARTICLE_PATTERNS) -> list[str]:
    """Article files under ``root``, recursively, in a stable order; hidden paths skipped."""
    root = Path(root)
    found = {p for pat in patterns for p in root.rglob(pat)
             if p.is_file() and not any(part.startswith(".") for part in p.relative_to(root).parts)}
    return [str(p) for p in sorted(found)]


def read_url_list(path: str | Path) -> list[str]:
    """One URL per line; blank lines and ``#`` comments ignored."""
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    return [ln.strip() for ln in lines if ln.strip() and not ln.lstrip().startswith("#")]


def is_complete(out_dir: Path) -> bool:
    """True when the marker exists, the run was clean and the outputs it lists are all there."""
    marker, manifest = out_dir / COMPLETE, out_dir / MANIFEST
    if not (marker.exists() and manifest.exists() and (out_dir / "report.html").exists()):
        return False
    try:
        data = read_json(manifest)
    except (OSError, ValueError):
        return False
    if data.get("status") != "ok":
        return False
    for item in data.get("items", []):
        media = out_dir / "media" / item["id"]
        done = {name for name, rec in item.get("stages", {}).items() if rec.get("status") in ("ok", "partial")}
        needed = [media / _STAGE_OUTPUT[name] for name in done if name in _STAGE_OUTPUT]
        if not all(p.exists() for p in needed):
            return False
    return True


_STAGE_OUTPUT = {"keyframes": "keyframes.json", "transcribe": "transcript.json", "align": "alignment.json"}


class OutputLock:
    """An exclusive ``flock`` on ``OUT/.mediaproc.lock``; the OS drops it when the holder dies,
    so a stale lock from a killed process is simply taken over."""

    def __init__(self, out: Path) -> None:
        self.path = Path(out) / LOCK
        self._fd: int | None = None

    def __enter__(self) -> OutputLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 200).decode("utf-8", "replace").strip() or "another process"
            os.close(fd)
            raise LockedError(f"{self.path.parent} is in use by {holder}; wait for it or use another -o") from None
        os.ftruncate(fd, 0)
        os.write(fd, f"pid {os.getpid()} on {socket.gethostname()}\n".encode())
        self._fd = fd
        return self

    def __exit__(self, *exc: object) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def account(summary: BatchSummary, manifest: Manifest) -> None:
    """Add one finished article to the summary's counts."""
    summary.articles += 1
    setattr(summary, manifest.status, getattr(summary, manifest.status) + 1)
    summary.articles_detail.append({"id": manifest.article_id, "source": manifest.source,
                                    "status": manifest.status})
    if manifest.error:
        summary.failures.append({"source": manifest.source, "error": manifest.error})
    for item in manifest.items:
        download = item.stages.get("download")
        if item.stages.get("download") and download.status == "failed":
            summary.media_failed += 1
        elif item.from_cache:
            summary.media_cached += 1
        elif download is not None:
            summary.media_downloaded += 1
        if item.transcript_cached:
            summary.transcripts_cached += 1
        elif item.stages.get("transcribe") and item.stages["transcribe"].status == "ok":
            summary.audio_seconds += item.duration or 0.0
        if item.status != "ok":
            summary.failures.append({"source": manifest.source, "url": item.url,
                                     "error": item.error or item.status})


def run_batch(sources: list[str], options: RunOptions, batch: BatchOptions | None = None,
              *, on_event: Callable[[str], None] | None = None) -> BatchSummary:
    """Process ``sources`` into ``options.out``; one failure never stops the rest (unless fail_fast)."""
    batch = batch or BatchOptions()
    out = Path(options.out)
    summary = BatchSummary()
    t0 = time.monotonic()
    with OutputLock(out):
        todo = pending(sources, out, batch.force, summary)
        bar = tqdm(total=len(todo), unit="article", disable=not batch.progress, file=sys.stderr,
                   dynamic_ncols=True)
        emit = on_event or (lambda msg: bar.write(msg, file=sys.stderr))
        pool = ThreadPoolExecutor(max_workers=max(1, batch.jobs), thread_name_prefix="prepare")
        window: deque[tuple[str, Future[Prepared]]] = deque()
        queue = iter(todo)
        stop = threading.Event()

        def top_up() -> None:
            while len(window) < max(1, batch.jobs) + 1:
                src = next(queue, None)
                if src is None:
                    return
                window.append((src, pool.submit(prepare, src, options, on_event=emit, stop=stop)))

        try:
            top_up()
            if todo:   # load Whisper while the first articles download, not after
                preload(options.transcribe)
            while window:
                src, future = window.popleft()
                top_up()
                try:
                    manifest = finish(future.result(), options, on_event=emit)
                except (KeyboardInterrupt, Cancelled):
                    raise
                except Exception as exc:  # a bug or a full disk in one article must not end the batch
                    manifest = crashed(src, exc, emit)
                account(summary, manifest)
                bar.update(1)
                bar.set_postfix(audio=f"{summary.audio_seconds / 60:.1f}min", failed=summary.failed)
                if batch.fail_fast and manifest.status != "ok":
                    emit(f"stopping after the first failure ({manifest.source}) because of --fail-fast")
                    break
        except (KeyboardInterrupt, Cancelled):
            summary.interrupted = True
            emit("interrupted: finished articles are kept; waiting for downloads in flight, then re-run to resume")
        finally:
            stop.set()
            pool.shutdown(wait=True, cancel_futures=True)   # inside the lock: no thread writes OUT after it
            bar.close()
    return finalize(summary, t0, out, batch)


def crashed(source: str, exc: BaseException, emit: Callable[[str], None]) -> Manifest:
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
        if not force and is_complete(out / aid):
            summary.resumed += 1
            summary.articles_detail.append({"id": aid, "source": src, "status": "ok (resumed)"})
        else:
            todo.append(src)
    return todo


def finalize(summary: BatchSummary, started: float, out: Path, batch: BatchOptions) -> BatchSummary:
    """Round the figures and write OUT/batch-summary.json."""
    summary.wall_seconds = round(time.monotonic() - started, 3)
    summary.audio_seconds = round(summary.audio_seconds, 3)
    if batch.write_summary:
        write_json(out / SUMMARY, summary)
    return summary


def format_summary(summary: BatchSummary) -> str:
    """The end-of-run table."""
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
    return "\n".join(lines)


def summary_json(summary: BatchSummary) -> str:
    return json.dumps(to_jsonable(summary), indent=2)
