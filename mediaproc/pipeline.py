"""Wire the stages for one article: read, find links, download, keyframes, transcribe, align, report.

The work is split in two halves so that :mod:`batch` can overlap them across
articles: :func:`prepare` does the network- and ffmpeg-bound part (safe to run in
threads), :func:`finish` the CPU-bound Whisper part (run one at a time so the model
is loaded once and the cores are not oversubscribed).
"""

from __future__ import annotations

import logging
import os
import platform
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from functools import cache
from pathlib import Path
from urllib.parse import urlparse

from . import __version__
from .align import align, write_alignment, write_corrected_subtitles
from .article import Article, ArticleError, Document, load_document, parse_article
from .download import DownloadError, DownloadOptions, DownloadResult, download_all, link_into
from .keyframes import KeyframeOptions, extract_keyframes
from .links import MediaLink, find_links
from .report import write_report
from .transcribe import NoAudio, TranscribeOptions, transcribe, write_transcript
from .utils import MediaprocError, stable_id, write_json

log = logging.getLogger("mediaproc")


class Cancelled(Exception):
    """The batch was interrupted: stop before the next stage."""

MANIFEST = "manifest.json"
COMPLETE = ".complete"   # written last and atomically: its presence means the outputs are whole


@dataclass
class RunOptions:
    out: Path = Path("mediaproc-out")
    all_links: bool = False
    embed_images: bool = False
    download: DownloadOptions = field(default_factory=DownloadOptions)
    keyframes: KeyframeOptions = field(default_factory=KeyframeOptions)
    transcribe: TranscribeOptions = field(default_factory=TranscribeOptions)
    refresh: bool = False
    # Cross-process lock by name (the Dask executor passes a cluster-wide one) so two workers
    # never download the same URL or transcribe the same bytes at once. None: in-process only.
    lock: Callable[[str], AbstractContextManager[object]] | None = None


@dataclass
class StageRecord:
    status: str                  # ok, skipped, failed
    seconds: float = 0.0
    error: str | None = None


@dataclass
class MediaItem:
    id: str
    url: str
    kind: str
    media_type: str | None
    found_in: str
    paragraph: int | None
    status: str = "pending"      # ok, partial (a stage was impossible, e.g. no audio), failed
    error: str | None = None
    sha256: str | None = None
    size: int | None = None
    from_cache: bool = False
    duration: float | None = None
    has_video: bool | None = None
    has_audio: bool | None = None
    path: str | None = None      # relative to the article directory
    transcript_cached: bool = False
    stages: dict[str, StageRecord] = field(default_factory=dict)


@dataclass
class Manifest:
    article_id: str
    source: str
    title: str = ""
    status: str = "pending"      # ok, partial, failed
    error: str | None = None
    started: str = ""
    finished: str = ""
    seconds: float = 0.0
    model: str = ""
    engine: str = ""
    versions: dict[str, str] = field(default_factory=dict)
    items: list[MediaItem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.status == "ok"


@dataclass
class Prepared:
    """What :func:`prepare` hands to :func:`finish` for one article."""

    manifest: Manifest
    out_dir: Path
    article: Article | None = None
    downloads: dict[str, DownloadResult] = field(default_factory=dict)
    started: float = field(default_factory=time.monotonic)


def article_id(source: str) -> str:
    """Stable per input: a readable slug of the file name or URL path plus a hash of the source."""
    parsed = urlparse(source)
    if parsed.scheme in ("http", "https"):
        readable = Path(parsed.path).stem or parsed.netloc
        key = source
    else:
        readable = Path(source).stem
        key = str(Path(source).resolve())
    return stable_id(readable, key)


def media_id(url: str) -> str:
    parsed = urlparse(url)
    return stable_id(Path(parsed.path).stem or parsed.netloc or "media", url)


@contextmanager
def _stage(item: MediaItem | None, name: str, records: dict[str, StageRecord]) -> Iterator[StageRecord]:
    """Time a stage and turn an expected failure into a record instead of an exception."""
    rec = StageRecord("ok")
    records[name] = rec
    t0 = time.monotonic()
    try:
        yield rec
    except MediaprocError as exc:
        rec.status, rec.error = "failed", str(exc)
        if item is not None:
            item.status, item.error = "failed", f"{name}: {exc}"
    finally:
        rec.seconds = round(time.monotonic() - t0, 3)


@cache
def tool_versions() -> dict[str, str]:
    """Versions that change outputs, for the manifest (read once per process)."""
    import subprocess
    from importlib.metadata import PackageNotFoundError, version

    versions = {"mediaproc": __version__, "python": platform.python_version()}
    for pkg in ("openai-whisper", "torch", "yt-dlp", "trafilatura", "faster-whisper", "rapidfuzz", "ffmpeg-python"):
        try:
            versions[pkg] = version(pkg)
        except PackageNotFoundError:
            pass
    exe = shutil.which("ffmpeg")
    if exe:
        first = subprocess.run([exe, "-version"], capture_output=True, text=True).stdout.splitlines()[:1]
        versions["ffmpeg"] = first[0].split(" ")[2] if first else "?"
    return versions


def parse_or_none(doc: Document, *, on_event: Callable[[str], None] | None = None) -> Article | None:
    """The article, or None when the page has no readable text: its videos are still worth finding."""
    try:
        return parse_article(doc)
    except ArticleError as exc:
        (on_event or log.info)(f"{doc.source}: no article text ({exc}); looking for media anyway")
        return None


def prepare(source: str, options: RunOptions, *, on_event: Callable[[str], None] | None = None,
            stop: threading.Event | None = None) -> Prepared:
    """Read the article, find its links, download and keyframe the media. Never raises for bad input;
    raises :class:`Cancelled` between stages once ``stop`` is set."""
    emit = on_event or log.info
    aid = article_id(source)
    out_dir = Path(options.out) / aid
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / COMPLETE).unlink(missing_ok=True)
    for leftover in out_dir.rglob(".*.tmp"):      # half-written files and staging dirs of a killed run
        shutil.rmtree(leftover) if leftover.is_dir() else leftover.unlink(missing_ok=True)
    manifest = Manifest(article_id=aid, source=source, started=_now(), model=options.transcribe.model,
                        engine=options.transcribe.engine, versions=dict(tool_versions()))
    prep = Prepared(manifest, out_dir)
    try:
        doc = load_document(source)
        prep.article = parse_or_none(doc, on_event=emit)
        if prep.article is not None:
            manifest.title = prep.article.title
            write_json(out_dir / "article.json", prep.article)
        links = [ln for ln in find_links(doc, prep.article) if ln.in_article or options.all_links]
    except MediaprocError as exc:
        manifest.status, manifest.error = "failed", str(exc)
        emit(f"FAILED {source}: {exc}")
        return prep

    manifest.items = [_item(ln) for ln in links]
    if not links:
        emit(f"{source}: no media links found")
    _check(stop)
    with _locked(options, [f"url:{ln.url}" for ln in links]):
        results = download_all([ln.url for ln in links], options.download, fallbacks=[ln.fallbacks for ln in links])
    for item, result in zip(manifest.items, results):
        with _stage(item, "download", item.stages) as rec:
            if isinstance(result, DownloadError):
                raise result
            media_dir = out_dir / "media" / item.id
            local = link_into(result, media_dir)
            if not options.download.use_cache:         # the download's private temp dir: the link is the copy
                shutil.rmtree(result.path.parent, ignore_errors=True)
            item.path = os.path.relpath(local, out_dir)
            item.sha256, item.size, item.from_cache = result.sha256, result.size, result.from_cache
            info = result.info
            item.duration, item.has_video, item.has_audio = info.duration, info.has_video, info.has_audio
            prep.downloads[item.id] = replace(result, path=local)
            if result.from_cache:
                rec.status = "cached"
        if item.status == "failed":
            emit(f"FAILED {item.url}: {item.error}")
            continue
        _check(stop)
        with _stage(item, "keyframes", item.stages) as rec:
            fetched = prep.downloads[item.id]
            kf = extract_keyframes(fetched.path, out_dir / "media" / item.id, options.keyframes,
                                   info=fetched.info, sha256=fetched.sha256)
            rec.status = kf.status
            rec.error = kf.reason or kf.error
    return prep


def finish(prep: Prepared, options: RunOptions, *, on_event: Callable[[str], None] | None = None) -> Manifest:
    """Transcribe, align and report; write the manifest and, last, the completion marker."""
    emit = on_event or log.info
    manifest, out_dir = prep.manifest, prep.out_dir
    alignments = {}
    for item in manifest.items:
        if item.id not in prep.downloads:
            continue
        media_dir = out_dir / "media" / item.id
        transcript = None
        with _stage(item, "transcribe", item.stages) as rec:
            try:
                with _locked(options, [f"sha256:{item.sha256}"]):
                    fetched = prep.downloads[item.id]
                    transcript = transcribe(fetched.path, options.transcribe, refresh=options.refresh,
                                            info=fetched.info, sha256=fetched.sha256)
            except NoAudio as exc:
                rec.status, rec.error = "skipped", str(exc)
                item.status, item.error = "partial", f"transcribe: {exc}"
                emit(f"SKIPPED transcription of {item.url}: {exc}")
            else:
                item.transcript_cached = transcript.cached
                write_transcript(transcript, media_dir)
        if transcript is None or prep.article is None:
            continue
        with _stage(item, "align", item.stages):
            alignment = align(prep.article, transcript)
            write_alignment(alignment, media_dir / "alignment.json")
            write_corrected_subtitles(alignment, transcript, media_dir)
            alignments[item.id] = alignment
    for item in manifest.items:
        if item.status == "pending":
            item.status = "ok"
        if item.status == "failed":
            emit(f"FAILED {item.url}: {item.error}")
    if manifest.status != "failed":
        manifest.status = "ok" if all(i.status == "ok" for i in manifest.items) else (
            "failed" if manifest.items and all(i.status == "failed" for i in manifest.items) else "partial")
    manifest.finished = _now()
    manifest.seconds = round(time.monotonic() - prep.started, 3)
    try:
        write_report(out_dir, prep.article, manifest, alignments, embed_images=options.embed_images)
    except OSError as exc:  # e.g. a keyframe gone missing under --embed-images: the JSON outputs still stand
        manifest.status, manifest.error = "partial", f"report: {exc}"
        emit(f"report of {manifest.source} failed: {exc}")
    write_json(out_dir / MANIFEST, manifest)
    write_json(out_dir / COMPLETE, {"status": manifest.status, "finished": manifest.finished})
    return manifest


def process(source: str, options: RunOptions, *, on_event: Callable[[str], None] | None = None) -> Manifest:
    """Run every stage for one article (local file, article URL or media URL)."""
    return finish(prepare(source, options, on_event=on_event), options, on_event=on_event)


def _locked(options: RunOptions, names: list[str]) -> ExitStack:
    """Hold the named locks (sorted, so two holders never deadlock); nothing without a lock factory."""
    stack = ExitStack()
    if options.lock is not None:
        for name in sorted(set(names)):
            stack.enter_context(options.lock(name))
    return stack


def _check(stop: threading.Event | None) -> None:
    if stop is not None and stop.is_set():
        raise Cancelled


def _item(link: MediaLink) -> MediaItem:
    return MediaItem(id=media_id(link.url), url=link.url, kind=link.kind, media_type=link.media_type,
                     found_in=link.found_in, paragraph=link.paragraph)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
