"""Wire the stages for one article: read, find links, download, keyframes, transcribe, align, report.

The work is split in two halves so that :mod:`batch` can overlap them across
articles: :meth:`Pipeline.prepare` does the network- and ffmpeg-bound part (safe to
run in threads), :meth:`Pipeline.finish` the CPU-bound Whisper part (run one at a time
so the model is loaded once and the cores are not oversubscribed).

An article is built in a hidden staging folder beside its output folder and swapped in
whole at the end: an interrupted or failed re-run leaves the earlier outputs exactly as
they were, never half replaced, and never looking current when they are not.
"""

from __future__ import annotations

import logging
import platform
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import cache
from pathlib import Path
from typing import TypeVar

from . import __version__, _ffmpeg, _fs, _net
from ._layout import ARCHIVE_JS, ArticleDir, Cache, article_id, media_id
from .alignment import align_media, article_language, write_alignment, write_corrected_subtitles
from .article import load_document, parse_article
from .downloads import download_all
from .engines import Engine, Engines
from .errors import ArticleError, MediaprocError, NoAudio, UnsafePathError
from .keyframes import extract_keyframes, write_keyframes
from .onscreen import choose_languages, read_onscreen, write_srt
from .links import find_links
from .options import RunOptions
from .report import write_report
from .schema import (Alignment, Article, Document, DownloadResult, KeyframeResult, Manifest, MediaItem, MediaLink,
                     OnScreen, StageRecord, Transcript)
from .transcription import needs_translation, transcribe, translate, write_transcript

log = logging.getLogger("mediaproc")

LockFactory = Callable[[str], AbstractContextManager[object]]
T = TypeVar("T")


class Cancelled(Exception):
    """The run was interrupted: stop before the next stage."""


@dataclass
class Prepared:
    """What :meth:`Pipeline.prepare` hands to :meth:`Pipeline.finish` for one article."""

    manifest: Manifest
    final: ArticleDir                    # where the outputs go when they are whole
    staging: ArticleDir | None = None    # where they are built
    article: Article | None = None
    downloads: dict[str, DownloadResult] = field(default_factory=dict)
    keyframes: dict[str, KeyframeResult] = field(default_factory=dict)
    transcripts: dict[str, Transcript] = field(default_factory=dict)
    translations: dict[str, Transcript] = field(default_factory=dict)
    onscreen: dict[str, OnScreen] = field(default_factory=dict)
    started: float = field(default_factory=time.monotonic)


@cache
def tool_versions() -> dict[str, str]:
    """Versions that change outputs, for the manifest (read once per process)."""
    from importlib.metadata import PackageNotFoundError, version

    versions = {"mediaproc": __version__, "python": platform.python_version()}
    for pkg in ("openai-whisper", "torch", "yt-dlp", "trafilatura", "faster-whisper", "rapidfuzz", "ffmpeg-python"):
        try:
            versions[pkg] = version(pkg)
        except PackageNotFoundError:
            pass
    versions["ffmpeg"] = _ffmpeg.version()
    return versions


class Pipeline:
    """One configured run: options, the cache, the engines, the policy; callable per article.

    ``lock`` names cross-process locks (the Dask executor passes cluster-wide ones) so two workers never
    download the same URL or transcribe the same bytes at once; ``stop`` interrupts between stages and
    mid-download; ``on_event`` receives one line per notable event (a failure is reported once).
    """

    def __init__(self, options: RunOptions, *, engines: Engines | None = None,
                 lock: LockFactory | None = None, on_event: Callable[[str], None] | None = None,
                 stop: threading.Event | None = None) -> None:
        self.options = options
        self.cache = Cache.from_options(options.cache)
        self.engines = engines if engines is not None else Engines(self.cache.models)
        self.policy = _net.Policy(options.security.allow_local_files, options.security.allow_private_hosts)
        self.lock = lock
        self.emit = on_event or log.info
        self.stop = stop or threading.Event()

    def engine(self) -> Engine:
        return self.engines.get(self.options.transcribe)

    # -- the two halves ---------------------------------------------------------------------------------

    def prepare(self, source: str) -> Prepared:
        """Read the article, find its links, download and keyframe the media. Never raises for bad input;
        raises :class:`Cancelled` between stages once ``stop`` is set."""
        aid = article_id(source)
        tr = self.options.transcribe
        manifest = Manifest(article_id=aid, source=source, started=_now(), model=tr.model, engine=tr.engine,
                            versions=dict(tool_versions()))
        prep = Prepared(manifest, ArticleDir(Path(self.options.out) / aid))
        try:
            self._prepare(prep)
        except BaseException:
            self.discard(prep)
            raise
        return prep

    def _prepare(self, prep: Prepared) -> None:
        out, manifest = Path(self.options.out), prep.manifest
        aid, source = manifest.article_id, manifest.source
        try:
            out.mkdir(parents=True, exist_ok=True)
            if prep.final.path.is_symlink() or (prep.final.path.exists() and not prep.final.is_ours()):
                raise UnsafePathError(f"{prep.final.path} exists and was not written by mediaproc; "
                                      "refusing to replace it (move it away or use another -o)")
            _fs.remove_leftovers(out, f"article-{aid}-")      # what a killed run left behind
            _fs.remove_leftovers(out, f"old-{aid}-")
            prep.staging = ArticleDir(_fs.temp_dir(f"article-{aid}", out))
            doc = load_document(source, policy=self.policy, timeout=self.options.download.timeout)
            prep.article, no_text = self._parse(doc)
            if prep.article is not None:
                manifest.title = prep.article.title
                _fs.write_json(prep.staging.article_json, prep.article)
            links = [ln for ln in find_links(doc, prep.article) if ln.in_article or self.options.all_links]
        except (MediaprocError, OSError) as exc:
            manifest.status, manifest.error = "failed", _one_line(exc, "article").removeprefix(f"{source}: ")
            self.emit(f"FAILED {source}: {manifest.error}")
            return
        except Exception as exc:        # a bug, or a parser beaten by a hostile page: this article only
            log.debug("unexpected failure reading %s", source, exc_info=exc)
            manifest.status, manifest.error = "failed", f"unexpected error: {type(exc).__name__}: {exc}"
            self.emit(f"FAILED {source}: {manifest.error}")
            return
        manifest.items = _items(links)
        if not links:
            if prep.article is None:
                manifest.status = "failed"
                manifest.error = f"{no_text}, and no media links found: nothing to do"
                self.emit(f"FAILED {source}: {manifest.error}")
            else:
                self.emit(f"{source}: no media links found")
            return
        if prep.article is None and doc.kind != "media":
            manifest.warnings.append(f"{no_text}: the media are processed but not aligned")
            self.emit(f"{source}: {manifest.warnings[-1]}")
        self._check()
        self._download(prep, doc, links)
        for item in manifest.items:
            if item.id in prep.downloads:
                self._check()
                self._keyframes(prep, item)
                if self.options.ocr.enabled and item.id in prep.keyframes:
                    self._check()
                    self._onscreen(prep, item)

    def finish(self, prep: Prepared) -> Manifest:
        """Transcribe, align and report; write the manifest and the completion marker; swap the outputs in."""
        manifest = prep.manifest
        try:
            if prep.staging is None:
                return manifest
            alignments: dict[str, Alignment] = {}
            for item in manifest.items:
                if item.id not in prep.downloads or item.status == "failed":
                    continue
                self._check()
                transcript = self._transcribe(prep, item)
                if transcript is None:
                    continue
                prep.transcripts[item.id] = transcript
                translation = self._translate(prep, item, transcript)
                if prep.article is not None:
                    with _stage(item, "align", self.emit):
                        media_dir = prep.staging.media(item.id)
                        alignment = align_media(prep.article, transcript, translation, options=self.options.align)
                        write_alignment(alignment, media_dir / "alignment.json")
                        write_corrected_subtitles(alignment, translation if alignment.transcript != "transcript.json"
                                                  else transcript, media_dir)
                        alignments[item.id] = alignment
            _settle(manifest)
            manifest.finished = _now()
            manifest.seconds = round(time.monotonic() - prep.started, 3)
            try:
                write_report(prep.staging.path, prep.article, manifest, alignments, prep.keyframes,
                             prep.transcripts, prep.translations, prep.onscreen,
                             embed_images=self.options.embed_images)
                _fs.write_json(prep.staging.manifest, manifest)
                _fs.write_json(prep.staging.complete, {"status": manifest.status, "finished": manifest.finished,
                                                       "source": manifest.source, "files": _listing(prep.staging.path)})
                if manifest.status != "failed" or not prep.final.path.exists():
                    self._publish(prep)         # a failed re-run never replaces earlier outputs
            except OSError as exc:
                manifest.status, manifest.error = "failed", _one_line(exc, "writing the outputs")
                self.emit(f"FAILED {manifest.source}: {manifest.error}")
            return manifest
        finally:
            self.discard(prep)

    def process(self, source: str) -> Manifest:
        """Run every stage for one article (local file, article URL or media URL)."""
        return self.finish(self.prepare(source))

    def discard(self, prep: Prepared) -> None:
        """Remove the staging folder of an article that was not swapped in (failed or interrupted)."""
        if prep.staging is not None and prep.staging.path.exists():
            _fs.remove_temp_dir(prep.staging.path)
        prep.staging = None

    # -- stages ----------------------------------------------------------------------------------------

    @staticmethod
    def _parse(doc: Document) -> tuple[Article | None, str]:
        """The article, or (None, why) when the page has no readable text: its videos are still worth finding."""
        try:
            return parse_article(doc), ""
        except ArticleError as exc:
            return None, str(exc).removeprefix(f"{doc.source}: ")

    def _download(self, prep: Prepared, doc: Document, links: list[MediaLink]) -> None:
        allowed = _net.allowed_classes(doc.origin, self.policy)
        todo: list[tuple[MediaItem, list[str]]] = []
        for item, link in zip(prep.manifest.items, links):
            urls, refusals = [], []
            for url in [link.url, *link.fallbacks]:
                try:
                    _net.check_link(url, doc.origin, self.policy)
                    urls.append(url)
                except MediaprocError as exc:
                    refusals.append(str(exc))
            if urls:
                todo.append((item, urls))
            else:
                item.stages["download"] = StageRecord("failed", 0.0, refusals[0])
                item.status, item.error = "failed", f"download: {refusals[0]}"
                self.emit(f"FAILED {item.url}: {item.error}")
        assert prep.staging is not None
        t0 = time.monotonic()
        with self._locked([f"url:{urls[0]}" for _, urls in todo]):
            results = download_all([urls[0] for _, urls in todo], self.options.download, cache=self.cache,
                                   fallbacks=[urls[1:] for _, urls in todo],
                                   into=[prep.staging.media(item.id) for item, _ in todo],
                                   allowed=allowed, stop=self.stop)
        seconds = round(time.monotonic() - t0, 3)
        for (item, _), result in zip(todo, results):
            if isinstance(result, MediaprocError):
                item.stages["download"] = StageRecord("failed", seconds, str(result))
                item.status, item.error = "failed", f"download: {result}"
                self.emit(f"FAILED {item.url}: {item.error}")
                continue
            item.stages["download"] = StageRecord("cached" if result.from_cache else "ok", seconds)
            item.path = str(result.path.relative_to(prep.staging.path))
            item.sha256, item.size, item.from_cache = result.sha256, result.size, result.from_cache
            info = result.info
            item.duration, item.has_video, item.has_audio = info.duration, info.has_video, info.has_audio
            prep.downloads[item.id] = result

    def _keyframes(self, prep: Prepared, item: MediaItem) -> None:
        assert prep.staging is not None
        fetched = prep.downloads[item.id]
        with _stage(item, "keyframes", self.emit) as rec:
            kf = extract_keyframes(fetched.path, prep.staging.media(item.id), self.options.keyframes,
                                   info=fetched.info, sha256=fetched.sha256, cache=self.cache)
            prep.keyframes[item.id] = kf
            rec.status, rec.error = ("cached" if kf.cached and kf.status == "ok" else kf.status), kf.reason or kf.error
            if kf.status == "partial":
                item.status, item.error = "partial", f"keyframes: {kf.error}"
                self.emit(f"PARTIAL {item.url}: {item.error}")

    def _onscreen(self, prep: Prepared, item: MediaItem) -> None:
        """On-screen text of the kept keyframes (and burned-in subtitles), in the preparation thread like
        the keyframes, so it overlaps the transcription of the article before."""
        assert prep.staging is not None
        fetched, kf = prep.downloads[item.id], prep.keyframes[item.id]
        if not kf.frames or not fetched.info.has_video:
            return
        with _stage(item, "onscreen", self.emit) as rec:
            lang = prep.article.metadata.get("lang") if prep.article else None
            languages = choose_languages(self.options.ocr, lang)
            info = fetched.info
            sub = self.options.ocr.subtitles and info.width and info.height
            result = read_onscreen(fetched.path, kf, prep.article, languages,
                                   width=info.width if sub else None, height=info.height if sub else None)
            media_dir = prep.staging.media(item.id)
            write_keyframes(kf, media_dir)
            _fs.write_json(media_dir / "onscreen.json", result)
            write_srt(result.cues, media_dir / "onscreen.srt")
            prep.onscreen[item.id] = result
            if result.error:
                rec.status, rec.error = "skipped", result.error
                self.emit(f"SKIPPED on-screen text of {item.url}: {result.error}")

    def _transcribe(self, prep: Prepared, item: MediaItem) -> Transcript | None:
        assert prep.staging is not None
        fetched = prep.downloads[item.id]
        with _stage(item, "transcribe", self.emit) as rec:
            try:
                with self._locked([f"sha256:{item.sha256}"]):
                    transcript = self._stoppable(lambda: transcribe(
                        self.engine(), fetched.path, self.options.transcribe, cache=self.cache, info=fetched.info,
                        sha256=fetched.sha256))
            except NoAudio as exc:
                rec.status, rec.error = "skipped", str(exc)
                item.status, item.error = "partial", f"transcribe: {exc}"
                self.emit(f"SKIPPED transcription of {item.url}: {exc}")
                return None
            if transcript.cached:
                rec.status = "cached"
            item.transcript_cached = transcript.cached
            write_transcript(transcript, prep.staging.media(item.id))
            return transcript
        return None

    def _translate(self, prep: Prepared, item: MediaItem, transcript: Transcript) -> Transcript | None:
        """The English translation, written as ``transcript.en.*``, when an English article's video speaks
        another language (and the model can translate)."""
        assert prep.staging is not None
        if prep.article is None or article_language(prep.article) != "en" or not needs_translation(transcript):
            return None
        fetched = prep.downloads[item.id]
        with _stage(item, "translate", self.emit) as rec:
            engine = self._stoppable(self.engine)
            if not engine.model.multilingual:
                rec.status, rec.error = "skipped", f"{engine.model.name} is English-only: no translation"
                return None
            translation = self._stoppable(lambda: translate(
                engine, fetched.path, transcript, self.options.transcribe, cache=self.cache, info=fetched.info,
                sha256=fetched.sha256))
            rec.status = "cached" if translation.cached else "ok"
            write_transcript(translation, prep.staging.media(item.id), basename="transcript.en")
            prep.translations[item.id] = translation
            return translation
        return None

    def _publish(self, prep: Prepared) -> None:
        """Swap the staged outputs in for the article's folder (whose old contents are then removed)."""
        assert prep.staging is not None
        final = prep.final.path
        old = None
        if final.exists():
            if not prep.final.is_ours():
                raise UnsafePathError(f"{final} was not written by mediaproc; refusing to replace it")
            old = _fs.retire(final, f"old-{prep.manifest.article_id}")
        _fs.adopt(prep.staging.path, final)
        prep.staging = None
        if old is not None:
            _fs.remove_temp_dir(old)

    # -- helpers ---------------------------------------------------------------------------------------

    def _locked(self, names: list[str]) -> ExitStack:
        """Hold the named locks (sorted, so two holders never deadlock); nothing without a lock factory."""
        stack = ExitStack()
        if self.lock is not None:
            for name in sorted(set(names)):
                stack.enter_context(self.lock(name))
        return stack

    def _check(self) -> None:
        if self.stop.is_set():
            raise Cancelled

    def _stoppable(self, work: Callable[[], T]) -> T:
        return stoppable(work, self.stop)


def stoppable(work: Callable[[], T], stop: threading.Event) -> T:
    """``work()`` (loading a model, inference) in a daemon thread that is left behind, still computing, once
    ``stop`` is set (:class:`Cancelled` is raised): a window of inference can take a minute, and Ctrl-C must
    not wait for it (the process then exits)."""
    box: dict[str, object] = {}

    def run() -> None:
        try:
            box["result"] = work()
        except BaseException as exc:   # handed to the caller's thread below
            box["error"] = exc

    thread = threading.Thread(target=run, name="mediaproc-work", daemon=True)
    thread.start()
    while thread.is_alive():
        thread.join(0.1)
        if stop.is_set() and thread.is_alive():
            raise Cancelled
    if "error" in box:
        raise box["error"]  # type: ignore[misc]
    return box["result"]  # type: ignore[return-value]


def check_options(options: RunOptions) -> None:
    """Raise :class:`~mediaproc.errors.OptionsError` now for options that cannot work (an unknown model)."""
    from .transcription import check_options as check_transcribe

    check_transcribe(options.transcribe, Cache.from_options(options.cache).models)


def process(source: str, options: RunOptions, *, engines: Engines | None = None,
            on_event: Callable[[str], None] | None = None) -> Manifest:
    """Run every stage for one article with a fresh :class:`Pipeline`."""
    return Pipeline(options, engines=engines, on_event=on_event).process(source)


@contextmanager
def _stage(item: MediaItem, name: str, emit: Callable[[str], None]) -> Iterator[StageRecord]:
    """Time a stage and turn an expected failure (or a full disk) into a record instead of an exception."""
    rec = StageRecord("ok")
    item.stages[name] = rec
    t0 = time.monotonic()
    try:
        yield rec
    except (MediaprocError, OSError) as exc:
        rec.status, rec.error = "failed", _one_line(exc, name)
        item.status, item.error = "failed", f"{name}: {rec.error}"
        emit(f"FAILED {item.url}: {item.error}")
    finally:
        rec.seconds = round(time.monotonic() - t0, 3)


def _listing(folder: Path) -> dict[str, list[int]]:
    """Every file of an article folder with its size and modification time, for the resume check; not
    ``archive.js``, which the archive index rewrites whenever what it knows of the article changes."""
    listing = {}
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder).as_posix()
        if path.is_file() and not path.name.startswith(".mediaproc-") and rel != ARCHIVE_JS:
            st = path.stat()
            listing[rel] = [st.st_size, st.st_mtime_ns]
    return listing


def _settle(manifest: Manifest) -> None:
    """Item and article statuses from what every stage recorded (see :mod:`mediaproc.schema`)."""
    for item in manifest.items:
        if item.status == "pending":
            item.status = "ok"
    if manifest.status == "failed":
        return
    statuses = [i.status for i in manifest.items]
    if all(s == "ok" for s in statuses):
        manifest.status = "ok"
    elif statuses and all(s == "failed" for s in statuses):
        manifest.status = "failed"
    else:
        manifest.status = "partial"


def _one_line(exc: BaseException, what: str) -> str:
    if isinstance(exc, OSError) and not isinstance(exc, MediaprocError):
        return _fs.describe_os_error(exc, what)
    return str(exc)


def _items(links: list[MediaLink]) -> list[MediaItem]:
    """One item per link, each with its own id (and so its own folder), even if two ids would collide."""
    items: list[MediaItem] = []
    taken: set[str] = set()
    for link in links:
        item_id, n = media_id(link.url), 1
        while item_id in taken:
            n += 1
            item_id = f"{media_id(link.url)}-{n}"
        taken.add(item_id)
        items.append(MediaItem(id=item_id, url=link.url, kind=link.kind, media_type=link.media_type,
                               found_in=link.found_in, paragraph=link.paragraph))
    return items


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


__all__ = ["Pipeline", "Prepared", "Cancelled", "process", "check_options", "stoppable", "tool_versions"]
