"""Fetch the media an article links to, validate it, and keep it in a content-addressed cache.

yt-dlp does the fetching: its HTTP downloader streams to a ``.part`` file, resumes with a
Range request, retries dropped connections, 5xx answers and stalls with backoff, and its
extractors handle HLS/DASH and platform pages. Direct file links (``.mp4``, ``.mp3``, ...)
skip extraction and go straight to that downloader after one HEAD request (content type,
size, redirects, a definite 4xx), so a file is fetched exactly once.

Every transfer runs under the network policy (:mod:`mediaproc._net`: which addresses it may
reach, checked on every connect), a stall detector and a total deadline; yt-dlp's own ffmpeg
runs (merges, fixups) go through a shim that opens nothing but local plain media files
(:func:`mediaproc._ffmpeg.shim_dir`).

Nothing is accepted until ffprobe finds an audio or video stream and the file decodes to
its end; a rejected or partial file never enters the cache. The cache keeps each distinct
content once (``blobs/<sha256>``) with an index from URL to blob, so the same video linked
from many articles, or the same bytes under several URLs, are stored and fetched once. A
blob is verified against its sha256 each time it is used, and replaced when it is damaged.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import re
import socket
import sys
import threading
import time
import urllib.parse
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

from tqdm import tqdm

from . import _ffmpeg, _fs, _net
from ._layout import Cache, safe_ext, safe_file_name
from ._text import megabytes, short_url
from .errors import DownloadError, MediaError, MediaprocError, RefusedError
from .options import DownloadOptions
from .schema import DownloadResult, MediaInfo, load

log = logging.getLogger(__name__)

# URL path endings that are media files themselves: no extractor needed.
_DIRECT_EXTS = {"mp4", "m4v", "m4a", "mov", "webm", "mkv", "mka", "mp3", "aac", "flac", "wav", "ogg",
                "oga", "ogv", "opus", "ts", "mts", "mpg", "mpeg", "avi", "3gp", "flv", "wma", "wmv"}
_BACKOFF = 0.5          # first retry waits this long, then doubles, capped at _BACKOFF_CAP
_BACKOFF_CAP = 10.0
# Only formats fetched over http(s) by yt-dlp itself (HLS and DASH natively): an rtmp/rtsp/mms format would run
# rtmpdump, ffmpeg or mpv on a URL, outside the network policy's connect check.
_HTTP = "[protocol~='^(https?|m3u8(_native)?|http_dash_segments(_generator)?)$']"
_FORMAT = f"bv*{_HTTP}[height<=?1080]+ba{_HTTP}/b{_HTTP}[height<=?1080]/bv*{_HTTP}+ba{_HTTP}/b{_HTTP}"
_STALE_PARTIAL = 7 * 86400   # .part files untouched this long are given up on
_SNIFFED = {"html": "content looks like HTML", "hls": "content is an HLS playlist", "json": "content looks like JSON",
            "xml": "content is XML", "concat": "content is an ffmpeg concat script"}


# -- public API ------------------------------------------------------------------------------

def download(url: str, options: DownloadOptions | None = None, *, cache: Cache | None = None,
             fallbacks: Sequence[str] = (), into: str | os.PathLike[str] | None = None,
             allowed: frozenset[str] | None = None, stop: threading.Event | None = None) -> DownloadResult:
    """Fetch and validate ``url`` (or the first of ``fallbacks`` that works); cached when ``cache`` allows.

    With ``into``, the verified file is copied into that directory under a safe name and the result points
    at the copy; otherwise at the cache blob, a local file itself, or a private temporary file whose
    directory is ``result.cleanup`` (remove it with :func:`mediaproc._fs.remove_temp_dir` when done).
    ``allowed`` are the address classes the transfer may reach (None: any, for links the user gave).
    Shows no progress (use :func:`download_all` for bars); raises :class:`DownloadError` (or
    :class:`RefusedError`).
    """
    cache = cache if cache is not None else Cache.at()
    job = _Job(options or DownloadOptions(), cache, allowed, stop, _Progress())
    return job.first_that_works(url, fallbacks, Path(into) if into is not None else None)


def download_all(urls: list[str], options: DownloadOptions | None = None, *, cache: Cache | None = None,
                 fallbacks: Sequence[Sequence[str]] | None = None,
                 into: Sequence[str | os.PathLike[str] | None] | None = None,
                 allowed: frozenset[str] | None = None,
                 stop: threading.Event | None = None) -> list[DownloadResult | MediaprocError]:
    """Download several links concurrently (each with its own fallbacks and destination); one item's
    failure is returned in its place, never raised."""
    options = options or DownloadOptions()
    cache = cache if cache is not None else Cache.at()
    alternatives = list(fallbacks) if fallbacks is not None else [()] * len(urls)
    targets = list(into) if into is not None else [None] * len(urls)
    bars = _Bars(len(urls), options.progress)

    def one(index: int, url: str) -> DownloadResult | MediaprocError:
        progress = bars.item(url)
        dest = targets[index]
        try:
            result: DownloadResult | MediaprocError = _Job(options, cache, allowed, stop, progress).first_that_works(
                url, alternatives[index], Path(dest) if dest is not None else None)
        except MediaprocError as exc:
            result = exc
        except Exception as exc:  # a bug here or in yt-dlp fails this item only, in one line
            log.debug("unexpected failure downloading %s", url, exc_info=exc)
            result = DownloadError(f"{short_url(url)}: unexpected error: {type(exc).__name__}: {exc}")
        bars.done(progress, result)
        return result

    try:
        with ThreadPoolExecutor(max_workers=max(1, options.jobs), thread_name_prefix="download") as pool:
            return list(pool.map(one, range(len(urls)), urls))
    finally:
        bars.close()


# -- one job ---------------------------------------------------------------------------------

class _Job:
    """One link with its fallbacks, under one set of options, cache, policy and progress display."""

    def __init__(self, options: DownloadOptions, cache: Cache, allowed: frozenset[str] | None,
                 stop: threading.Event | None, progress: _Progress) -> None:
        self.options, self.cache, self.allowed, self.stop, self.progress = options, cache, allowed, stop, progress
        self.received = 0          # bytes of the file in flight, for the stall detector

    def first_that_works(self, url: str, fallbacks: Sequence[str], into: Path | None) -> DownloadResult:
        errors: list[MediaprocError] = []
        for candidate in [url, *fallbacks]:
            try:
                return self.one(candidate.strip(), into)
            except (DownloadError, RefusedError) as exc:
                errors.append(exc)
                if self.stop is not None and self.stop.is_set():
                    break
        if len(errors) == 1:
            raise errors[0]
        raise DownloadError(f"all {len(errors)} sources failed: " + " | ".join(map(str, errors)))

    def one(self, url: str, into: Path | None) -> DownloadResult:
        if (path := _net.local_path(url)) is not None:
            return _local(url, path, into)
        scheme = urllib.parse.urlsplit(url).scheme.lower()
        if scheme not in ("http", "https"):
            raise RefusedError(f"{short_url(url)}: refused: not an http(s) link (scheme {scheme!r})")
        cache = self.cache
        if cache.read and (hit := self.lookup(url, into)) is not None:
            return hit
        if not cache.write:
            return self.uncached(url, into)
        with _fs.locked(cache.url_lock(url)):
            # Another thread or process may have finished the same URL while we waited.
            if cache.read and (hit := self.lookup(url, into)) is not None:
                return hit
            _prune_stale_partials(cache)
            workdir = cache.partial_dir(url)
            if workdir.is_symlink():                                 # planted: never download through it
                _fs.remove(workdir)
            try:
                path, ctype = self.fetch(url, workdir)              # a transient failure keeps .part to resume
                info, digest = _validate(url, path, ctype, self.options)
            except _Permanent as exc:
                _fs.remove(workdir)                                  # never resumable: do not keep it
                raise exc.error from None
            try:
                result = _store(cache, url, path, digest, ctype, info)
            finally:
                _fs.remove(workdir)
        return _deliver(result, into)

    def lookup(self, url: str, into: Path | None) -> DownloadResult | None:
        """The cached result for ``url``, verified (copied into ``into`` as it is hashed); a damaged blob is
        dropped so the caller fetches it again."""
        entry = _lookup(self.cache, url)
        if entry is None:
            return None
        try:
            return _deliver(entry, into)
        except _fs.CopyMismatch as exc:
            log.warning("%s; fetching it again", exc)
            _fs.remove(entry.path)
            _fs.remove(self.cache.url_entry(url))
            return None

    def uncached(self, url: str, into: Path | None) -> DownloadResult:
        """``--no-cache``: fetch into a private directory; deliver, and remove what is not delivered."""
        workdir = _fs.temp_dir("download")        # not in the cache: the user asked it to stay out of it
        try:
            path, ctype = self.fetch(url, workdir)
            info, digest = _validate(url, path, ctype, self.options)
        except _Permanent as exc:
            _fs.remove_temp_dir(workdir)
            raise exc.error from None
        except BaseException:
            _fs.remove_temp_dir(workdir)
            raise
        result = DownloadResult(url, path, digest, info.size, ctype, False, info,
                                safe_file_name(url, safe_ext(path.name)), cleanup=workdir)
        if into is None:
            return result
        try:
            return _deliver(result, into)
        finally:
            _fs.remove_temp_dir(workdir)

    def fetch(self, url: str, workdir: Path) -> tuple[Path, str]:
        """Download ``url`` into ``workdir`` with yt-dlp; returns the file and the server's content type."""
        import yt_dlp  # imported here: 0.4 s that cache hits and the CLI's start should not pay

        workdir.mkdir(parents=True, exist_ok=True)
        options, logger = self.options, _YdlLogger()
        sleep = {k: _backoff for k in ("http", "fragment", "extractor")}
        params: dict[str, Any] = {
            "outtmpl": {"default": str(workdir / "media.%(ext)s")},
            "paths": {"home": str(workdir), "temp": str(workdir)},
            "format": _FORMAT,
            "merge_output_format": "mp4",
            "noplaylist": True,
            "playlist_items": "1",
            "restrictfilenames": True,
            "continuedl": True,
            "nopart": False,
            "overwrites": False,
            "retries": options.retries,
            "fragment_retries": options.retries,
            "extractor_retries": options.retries,
            "retry_sleep_functions": sleep,
            "socket_timeout": options.timeout,
            "hls_prefer_native": True,            # fragments over our guarded HTTP, never ffmpeg's
            "proxy": "",                          # no proxy from the environment: the connect check needs the host
            "concurrent_fragment_downloads": 1,   # in this thread, where the guard is
            "ffmpeg_location": str(_ffmpeg.shim_dir(self.cache.root)),
            "cachedir": False,
            "quiet": True,
            "no_warnings": True,
            "noprogress": True,
            "logger": logger,
            "progress_hooks": [lambda d: self.on_progress(d, guard)],
        }
        started, self.received = time.monotonic(), 0
        ext = _url_ext(url)
        direct = ext in _DIRECT_EXTS
        with _net.guarded(self.allowed, stall=options.timeout, deadline=options.deadline, stop=self.stop) as guard:
            try:
                # A direct file needs no extractors: not loading them saves 0.2 s per file.
                with yt_dlp.YoutubeDL(params, auto_init=not direct) as ydl:
                    if direct:
                        ctype = _head(ydl, url, options)
                        ie_result: dict[str, Any] = {"id": "media", "title": "media", "url": url, "ext": ext,
                                                     "extractor": "generic", "extractor_key": "Generic",
                                                     "webpage_url": url}
                    else:
                        ie_result = ydl.extract_info(url, download=False, process=False)
                        ctype = ""
                    ydl.process_ie_result(ie_result, download=True)
            except _TooLarge as exc:
                raise _Permanent(DownloadError(f"{short_url(url)}: rejected: {exc}")) from None
            except (RefusedError, _net.Aborted):
                pass                                   # guard.reason says why, below
            except (yt_dlp.utils.YoutubeDLError, yt_dlp.networking.exceptions.RequestError) as exc:
                if guard.reason is None:
                    if "No space left" in str(exc) or "[Errno 28]" in str(exc):
                        raise _Permanent(DownloadError(_fs.describe_os_error(
                            OSError(errno.ENOSPC, "No space left on device"), f"{short_url(url)}: download failed")))
                    message = _clean_ytdlp(str(exc))
                    error = DownloadError(f"{short_url(url)}: download failed after "
                                          f"{time.monotonic() - started:.1f} s: {message}")
                    raise (_Permanent(error) if _is_permanent(message) else error) from None
            except OSError as exc:    # a full disk: the partial file would only keep it full
                raise _Permanent(DownloadError(_fs.describe_os_error(exc, f"{short_url(url)}: download failed"))) \
                    from None
        if guard.refused:
            raise _Permanent(RefusedError(f"{short_url(url)}: {guard.refused}"))
        if guard.aborted:
            raise DownloadError(f"{short_url(url)}: {guard.aborted} after {time.monotonic() - started:.1f} s")
        files = [p for p in workdir.iterdir() if p.name.startswith("media.") and not p.is_symlink() and p.is_file()
                 and not p.name.endswith((".part", ".ytdl"))]
        if not files:
            said = logger.last or "no file was produced"
            raise DownloadError(f"{short_url(url)}: download failed: {_clean_ytdlp(said)}")
        path = max(files, key=lambda p: p.stat().st_size)
        return path, ctype or _guess_type(path.name)

    def on_progress(self, d: dict[str, Any], guard: _net.Guard) -> None:
        done = d.get("downloaded_bytes") or 0
        guard.progress(max(0, done - self.received))
        self.received = done
        total = d.get("total_bytes") or d.get("total_bytes_estimate")
        limit = self.options.max_filesize
        if total and total > limit and d.get("total_bytes"):
            raise _TooLarge(f"{megabytes(int(total))} announced, over max_filesize {megabytes(limit)}")
        if done > limit:
            raise _TooLarge(f"received more than max_filesize {megabytes(limit)}; stopped")
        self.progress.update(done, total)


class _Permanent(Exception):
    """Wraps an error that retrying or resuming cannot fix: the partial download is dropped."""

    def __init__(self, error: MediaprocError) -> None:
        self.error = error


class _TooLarge(Exception):
    pass


def _is_permanent(message: str) -> bool:
    status = re.search(r"HTTP Error (\d{3})", message)
    return bool(status and 400 <= int(status.group(1)) < 500 and status.group(1) not in ("408", "429"))


def _local(url: str, path: Path, into: Path | None) -> DownloadResult:
    """A local file: probed where it is, never moved or changed; copied into ``into`` when given."""
    if not path.is_file():
        raise DownloadError(f"{url}: no such local file")
    try:
        info = _ffmpeg.probe(path)
    except MediaError as exc:
        raise DownloadError(f"{url}: rejected local file ({path.stat().st_size} bytes): {exc}") from None
    name = safe_file_name(str(path), safe_ext(path.name))
    if into is not None:
        dest = into / name
        digest = _copy(path, dest, None, url)
        return DownloadResult(url, dest, digest, info.size, _guess_type(path.name), False,
                              replace(info, path=str(dest)), name)
    return DownloadResult(url, path.resolve(), _fs.sha256_file(path), info.size, _guess_type(path.name), False,
                          info, name)


def _deliver(result: DownloadResult, into: Path | None) -> DownloadResult:
    """``result`` verified against its sha256: copied into ``into``, or hashed where it is."""
    if into is None:
        if _fs.sha256_file(result.path) != result.sha256:
            raise _fs.CopyMismatch(f"{result.path} is damaged: its sha256 no longer matches")
        return result
    dest = into / (result.name or result.path.name)
    _copy(result.path, dest, result.sha256, result.url)
    return replace(result, path=dest, info=replace(result.info, path=str(dest)), cleanup=None)


def _copy(src: Path, dest: Path, sha256: str | None, url: str) -> str:
    try:
        return _fs.copy_verified(src, dest, sha256)
    except OSError as exc:
        raise DownloadError(_fs.describe_os_error(exc, f"{short_url(url)}: cannot copy it into the output")) \
            from None


def _head(ydl: Any, url: str, options: DownloadOptions) -> str:
    """Content type and size before downloading: a definite no (DNS, 4xx, redirect loop, too large) ends here.

    Other HEAD failures (5xx, timeouts, servers without HEAD) are left to the GET, which retries.
    """
    from yt_dlp.networking import Request
    from yt_dlp.networking.exceptions import HTTPError, RequestError

    host = urllib.parse.urlsplit(url).hostname or ""
    try:
        socket.getaddrinfo(host, None)
    except (socket.gaierror, UnicodeError) as exc:
        raise _Permanent(DownloadError(f"{short_url(url)}: the host name {host!r} does not resolve "
                                       f"(DNS: {getattr(exc, 'strerror', exc)}); not retried")) from None
    try:
        with contextlib.closing(ydl.urlopen(Request(url, method="HEAD"))) as response:
            ctype = response.headers.get("Content-Type", "")
            length = response.headers.get("Content-Length")
    except HTTPError as exc:
        if exc.redirect_loop:
            raise _Permanent(DownloadError(
                f"{short_url(url)}: redirect loop (more than 30 redirects, last {exc.status} to "
                f"{short_url(exc.response.headers.get('Location', '?'))})")) from None
        if 400 <= exc.status < 500 and exc.status not in (405, 408, 429):
            raise _Permanent(DownloadError(f"{short_url(url)}: HTTP {exc.status} {exc.reason}")) from None
        return ""
    except RequestError:
        return ""
    if length and length.isdigit() and int(length) > options.max_filesize:
        raise _Permanent(DownloadError(f"{short_url(url)}: rejected before downloading: {megabytes(int(length))} "
                                       f"(Content-Length) is over max_filesize {megabytes(options.max_filesize)}"))
    return ctype.split(";")[0].strip()


def _backoff(n: int) -> float:
    return min(_BACKOFF * 2 ** n, _BACKOFF_CAP)


class _YdlLogger:
    """Keeps yt-dlp quiet (its messages go to our debug log) and remembers the last one."""

    last = ""

    def debug(self, msg: str) -> None:
        log.debug("yt-dlp: %s", msg)
        if msg.startswith("[download]") or "ERROR" in msg:
            self.last = msg

    info = debug

    def warning(self, msg: str) -> None:
        log.debug("yt-dlp warning: %s", msg)

    def error(self, msg: str) -> None:
        self.last = msg
        log.debug("yt-dlp error: %s", msg)


def _clean_ytdlp(msg: str) -> str:
    """yt-dlp's message on one line without its ERROR:/[extractor] id: prefixes and 'caused by' tail."""
    msg = " ".join(msg.split())
    msg = re.sub(r"^(ERROR:\s*)?(\[[\w:]+\]\s*)?(media:\s*|[\w-]+:\s*(?=Unable))?", "", msg)
    msg = re.sub(r"\s*\(caused by .*\)\s*$", "", msg)
    msg = re.sub(r"\w+ConnectionPool\([^)]*\):\s*", "", msg).replace("..", ".")
    msg = msg.replace("Read timed out.", "read timed out (server stalled).")
    return msg.replace("; please report this issue on", "").split(" Confirm you are on the latest")[0]


# -- validation ------------------------------------------------------------------------------

def _validate(url: str, path: Path, ctype: str, options: DownloadOptions) -> tuple[MediaInfo, str]:
    """Accept only a complete plain media file; the message says what was received when not.

    MPEG-TS (what HLS fragments concatenate to) is remuxed into MP4, which browsers play.
    """
    size = path.stat().st_size
    sniffed = _ffmpeg.sniff(path)
    received = f"received {megabytes(size)} of {ctype or 'unknown type'}" + (f" ({_SNIFFED[sniffed]})" if sniffed else "")
    if size > options.max_filesize:
        raise _Permanent(DownloadError(f"{short_url(url)}: rejected: {received}, over max_filesize "
                                       f"{megabytes(options.max_filesize)}"))
    if sniffed is not None:        # never handed to ffprobe: a playlist or script would make it open other files
        raise _Permanent(DownloadError(f"{short_url(url)}: rejected: {received}; not a media file" + (
            " (playlists are only read from HLS links)" if sniffed == "hls" else "")))
    try:
        info = _ffmpeg.probe(path)
    except MediaError as exc:
        raise _Permanent(DownloadError(f"{short_url(url)}: rejected: {received}; {exc}")) from None
    if "mpegts" in info.format_name.split(","):
        remuxed = path.with_name(path.stem + ".remux.mp4")
        try:
            _ffmpeg.remux_to_mp4(path, remuxed, input_format="mpegts")
            os.replace(remuxed, path.with_suffix(".mp4"))
            if path.suffix != ".mp4":
                _fs.remove(path)
            path = path.with_suffix(".mp4")
            info = _ffmpeg.probe(path)
        except MediaError:
            _fs.remove(remuxed)                    # keep the TS: it plays in every player but a browser
    with ThreadPoolExecutor(max_workers=1) as pool:
        digest = pool.submit(_fs.sha256_file, path)          # hashing overlaps the tail decode
        if (problem := _ffmpeg.tail_problem(path, info.duration)) is not None:
            raise _Permanent(DownloadError(f"{short_url(url)}: rejected: {received}; truncated: "
                                           f"ffmpeg: {problem}"))
        return replace(info, path=str(path)), digest.result()


# -- the cache -------------------------------------------------------------------------------

_BLOB = re.compile(r"media/blobs/([0-9a-f]{2})/(\1[0-9a-f]{62})(\.[a-z0-9]{1,5})?")


def _lookup(cache: Cache, url: str) -> DownloadResult | None:
    """The URL's entry, if it names a blob of the cache's own layout whose name is its sha256 (an edited entry
    cannot point anywhere else), with the recorded size."""
    entry = cache.url_entry(url)
    try:
        data = _fs.read_json(entry)
        name = _BLOB.fullmatch(str(data["blob"]))
        if data.get("url") != url or name is None or name.group(2) != data["sha256"]:
            return None
        blob = cache.root / data["blob"]
        if blob.is_symlink() or not blob.is_file() or blob.stat().st_size != data["size"]:
            return None
        info = load(MediaInfo, {**data["info"], "path": str(blob)})
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return DownloadResult(url, blob, data["sha256"], data["size"], data["content_type"], True, info, data["name"])


def _store(cache: Cache, url: str, path: Path, digest: str, ctype: str, info: MediaInfo) -> DownloadResult:
    """Move a validated file into its blob (kept once per content) and index the URL.

    An existing blob with the same name is kept only if it still hashes to its name (a damaged one is
    replaced: this is how ``--refresh`` repairs the cache).
    """
    blob = cache.blob(digest, safe_ext(path.name))
    blob.parent.mkdir(parents=True, exist_ok=True)
    try:
        if blob.is_file() and _fs.sha256_file(blob) == digest:
            _fs.remove(path)
        else:
            os.replace(path, blob)
        info = replace(info, path=str(blob))
        name = safe_file_name(url, safe_ext(blob.name))
        _fs.write_json(cache.url_entry(url), {
            "url": url, "blob": blob.relative_to(cache.root).as_posix(), "sha256": digest, "size": info.size,
            "content_type": ctype, "name": name, "info": info,
            "fetched": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())})
    except OSError as exc:
        raise DownloadError(_fs.describe_os_error(exc, f"{short_url(url)}: cannot store it in the cache"))
    return DownloadResult(url, blob, digest, info.size, ctype, False, info, name)


def _prune_stale_partials(cache: Cache) -> None:
    """Give up on interrupted downloads nobody resumed for a week, so ``.part`` files stay bounded."""
    root = cache.media / "partial"
    now = time.time()
    for entry in root.iterdir() if root.is_dir() else []:
        try:
            newest = max((p.stat().st_mtime for p in entry.rglob("*")), default=entry.stat().st_mtime)
        except OSError:
            continue
        if now - newest > _STALE_PARTIAL:
            with contextlib.suppress(OSError):
                _fs.remove(entry)


# -- names -----------------------------------------------------------------------------------

def _url_ext(url: str) -> str:
    path = urllib.parse.unquote(urllib.parse.urlsplit(url).path)
    return path.rsplit(".", 1)[-1].lower() if "." in path.rsplit("/", 1)[-1] else ""


def _guess_type(name: str) -> str:
    import mimetypes
    return mimetypes.guess_type(name)[0] or "application/octet-stream"


# -- progress --------------------------------------------------------------------------------

class _Progress:
    """Progress of one file: a tqdm bar, or nothing."""

    def __init__(self, bar: tqdm | None = None, row: int = 0) -> None:
        self.bar = bar
        self.row = row
        self.started = time.monotonic()

    def update(self, done: int, total: float | None) -> None:
        if self.bar is not None:
            if total and self.bar.total != int(total):
                self.bar.total = int(total)
            self.bar.n = done
            self.bar.refresh()


class _Bars:
    """An overall bar and one bar per file on a terminal; one log line per file otherwise.

    Failures are not printed here: the caller reports each one once.
    """

    def __init__(self, count: int, enabled: bool) -> None:
        self.count = count
        self.enabled = enabled
        self.tty = enabled and sys.stderr.isatty()
        self.finished = 0
        self.lock = threading.Lock()
        self.free_rows: set[int] = set(range(1, count + 1))      # terminal rows below the overall bar
        self.overall = tqdm(total=count, desc="downloads", unit="file", position=0) if self.tty else None

    def item(self, url: str) -> _Progress:
        if not self.tty:
            return _Progress()
        name = short_url(urllib.parse.urlsplit(url).path.rsplit("/", 1)[-1] or url, 30)
        with self.lock:
            row = min(self.free_rows)
            self.free_rows.discard(row)
        return _Progress(tqdm(desc=name, unit="B", unit_scale=True, position=row, leave=False), row)

    def done(self, progress: _Progress, result: DownloadResult | MediaprocError) -> None:
        with self.lock:
            self.finished += 1
            if progress.bar is not None:
                self.free_rows.add(progress.row)
                progress.bar.close()
            if self.overall is not None:
                self.overall.update(1)
            if isinstance(result, MediaprocError):
                log.info("download [%d/%d] failed: %s", self.finished, self.count, result)
                return
            how = "cached" if result.from_cache else f"{time.monotonic() - progress.started:.1f} s"
            line = f"download [{self.finished}/{self.count}] {result.name}: {megabytes(result.size)} ({how})"
            if self.tty:
                tqdm.write(line, file=sys.stderr)
            elif self.enabled:
                print(line, file=sys.stderr, flush=True)
            log.info(line)

    def close(self) -> None:
        if self.overall is not None:
            self.overall.close()


__all__ = ["download", "download_all"]
