"""Fetch the media an article links to, validate it, and keep it in a content-addressed cache.

yt-dlp does the fetching: its HTTP downloader streams to a ``.part`` file, resumes with a
Range request, retries dropped connections, 5xx answers and stalls with backoff, and its
extractors handle HLS/DASH (merged with ffmpeg) and platform pages. Direct file links
(``.mp4``, ``.mp3``, ...) skip extraction and go straight to that downloader after one HEAD
request (content type, size, redirects), so a file is fetched exactly once.

Nothing is accepted until ffprobe finds an audio or video stream and the file decodes to
its end; a rejected or partial file never enters the cache. The cache keeps each distinct
content once (``blobs/<sha256>``) with an index from URL to blob, so the same video linked
from many articles, or the same bytes under several URLs, are stored and fetched once.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from tqdm import tqdm

from .media import MediaError, MediaInfo, probe
from .utils import MediaprocError, cache_dir, read_json, sha256_file, stable_id, write_json

log = logging.getLogger(__name__)

# URL path endings that are media files themselves: no extractor needed.
_DIRECT_EXTS = {"mp4", "m4v", "m4a", "mov", "webm", "mkv", "mka", "mp3", "aac", "flac", "wav", "ogg",
                "oga", "ogv", "opus", "ts", "mts", "mpg", "mpeg", "avi", "3gp", "flv", "wma", "wmv"}
_BACKOFF = 0.5          # first retry waits this long, then doubles, capped at _BACKOFF_CAP
_BACKOFF_CAP = 10.0
_FORMAT = "bv*[height<=?1080]+ba/b[height<=?1080]/bv*+ba/b"


class DownloadError(MediaprocError):
    """A link could not be turned into a valid media file (one line: URL, what was received, why)."""


@dataclass
class DownloadOptions:
    cache_dir: str | os.PathLike[str] | None = None   # default: utils.cache_dir()/media
    max_filesize: int = 2 * 1024**3
    timeout: float = 30.0            # seconds without data before an attempt is abandoned (a stalled
                                     # server fails after about (retries + 1) * timeout + backoff)
    retries: int = 5                 # per file (and per HLS fragment), with exponential backoff
    use_cache: bool = True           # False: neither reuse nor record; download to a temp dir
    refresh: bool = False            # download again even if the URL is cached
    jobs: int = 4                    # concurrent downloads in download_all
    progress: bool = False           # tqdm bars on a terminal, one line per file otherwise


@dataclass
class DownloadResult:
    url: str
    path: Path                       # the cached blob (or the local file itself)
    sha256: str
    size: int
    content_type: str
    from_cache: bool
    info: MediaInfo
    name: str = ""                   # a safe file name for the per-article link


# -- public API ------------------------------------------------------------------------------

def download(url: str, options: DownloadOptions | None = None, *,
             fallbacks: Sequence[str] = ()) -> DownloadResult:
    """Fetch and validate ``url`` (or the first of ``fallbacks`` that works); cached when possible.

    Shows no progress (use :func:`download_all` for bars); raises :class:`DownloadError`.
    """
    return _first_that_works(url, fallbacks, options or DownloadOptions(), _Progress())


def download_all(urls: list[str], options: DownloadOptions | None = None, *,
                 fallbacks: Sequence[Sequence[str]] | None = None) -> list[DownloadResult | DownloadError]:
    """Download several links concurrently (each with its own fallbacks); one item's failure is
    returned in its place, never raised."""
    options = options or DownloadOptions()
    alternatives = list(fallbacks) if fallbacks is not None else [()] * len(urls)
    bars = _Bars(len(urls), options.progress)

    def one(index: int, url: str) -> DownloadResult | DownloadError:
        progress = bars.item(url)
        try:
            result: DownloadResult | DownloadError = _first_that_works(url, alternatives[index], options, progress)
        except DownloadError as exc:
            result = exc
        bars.done(progress, result)
        return result

    try:
        with ThreadPoolExecutor(max_workers=max(1, options.jobs), thread_name_prefix="download") as pool:
            return list(pool.map(one, range(len(urls)), urls))
    finally:
        bars.close()


def _first_that_works(url: str, fallbacks: Sequence[str], options: DownloadOptions,
                      progress: _Progress) -> DownloadResult:
    errors: list[DownloadError] = []
    for candidate in [url, *fallbacks]:
        try:
            return _download_one(candidate, options, progress)
        except DownloadError as exc:
            errors.append(exc)
    if len(errors) == 1:
        raise errors[0]
    raise DownloadError(f"all {len(errors)} sources failed: " + " | ".join(map(str, errors)))


def link_into(result: DownloadResult, dest_dir: str | os.PathLike[str]) -> Path:
    """Put ``result`` into ``dest_dir`` under its safe name: a hard link, a copy only across filesystems."""
    dest_dir = Path(dest_dir)
    dest_dir.mkdir(parents=True, exist_ok=True)
    dest = dest_dir / (result.name or result.path.name)
    if dest.exists() and dest.samefile(result.path):
        return dest
    tmp = dest_dir / f".{dest.name}.{os.getpid()}.{threading.get_ident()}.tmp"
    tmp.unlink(missing_ok=True)
    try:
        os.link(result.path, tmp)
    except OSError:                              # another filesystem (or no hard links there)
        shutil.copyfile(result.path, tmp)
    os.replace(tmp, dest)
    return dest


# -- one URL ---------------------------------------------------------------------------------

def _download_one(url: str, options: DownloadOptions, progress: _Progress) -> DownloadResult:
    url = url.strip()
    scheme = urllib.parse.urlsplit(url).scheme.lower()
    if scheme == "file" or (scheme == "" and url):
        return _local(url)
    if scheme not in ("http", "https"):
        raise DownloadError(f"{_short(url)}: not an http(s) link (scheme {scheme!r}); refusing to fetch it")
    if not options.use_cache:
        workdir = Path(tempfile.mkdtemp(prefix="mediaproc-dl-"))
        try:
            path, ctype = _fetch(url, workdir, options, progress)
            info, digest = _validate(url, path, ctype, options)
        except DownloadError:
            shutil.rmtree(workdir, ignore_errors=True)
            raise
        return DownloadResult(url, path, digest, info.size, ctype, False, info, _safe_name(url, path))
    cache = _Cache(Path(options.cache_dir) if options.cache_dir else cache_dir() / "media")
    if not options.refresh and (hit := cache.lookup(url)) is not None:
        return hit
    with cache.locked(url):
        # Another thread or process may have finished the same URL while we waited.
        if not options.refresh and (hit := cache.lookup(url)) is not None:
            return hit
        workdir = cache.partial_dir(url)
        path, ctype = _fetch(url, workdir, options, progress)     # a failure keeps .part for resume
        try:
            info, digest = _validate(url, path, ctype, options)
        except DownloadError:
            shutil.rmtree(workdir, ignore_errors=True)               # rejected bytes are never resumed
            raise
        result = cache.store(url, path, digest, ctype, info)
        shutil.rmtree(workdir, ignore_errors=True)
        return result


def _local(url: str) -> DownloadResult:
    """A file:// link or a path: probed and hashed where it is, never copied."""
    if url.lower().startswith("file:"):
        path = Path(urllib.request.url2pathname(urllib.parse.urlsplit(url).path))
    else:
        path = Path(url).expanduser()
    if not path.is_file():
        raise DownloadError(f"{url}: no such local file")
    try:
        info = probe(path)
    except MediaError as exc:
        raise DownloadError(f"{url}: rejected local file ({path.stat().st_size} bytes): {exc}") from None
    ctype = _guess_type(path.name)
    return DownloadResult(url, path.resolve(), sha256_file(path), info.size, ctype, False, info,
                          _safe_name(str(path), path))


# -- fetching with yt-dlp --------------------------------------------------------------------

def _fetch(url: str, workdir: Path, options: DownloadOptions, progress: _Progress) -> tuple[Path, str]:
    """Download ``url`` into ``workdir`` with yt-dlp; returns the file and the server's content type."""
    import yt_dlp  # imported here: 0.4 s that cache hits and the CLI's start should not pay

    workdir.mkdir(parents=True, exist_ok=True)
    logger = _YdlLogger()
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
        "cachedir": False,
        "quiet": True,
        "no_warnings": True,
        "noprogress": True,
        "logger": logger,
        "progress_hooks": [lambda d: _on_progress(d, options.max_filesize, progress)],
    }
    started = time.monotonic()
    ext = _url_ext(url)
    direct = ext in _DIRECT_EXTS
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
        shutil.rmtree(workdir, ignore_errors=True)
        raise DownloadError(f"{_short(url)}: rejected: {exc}") from None
    except yt_dlp.utils.DownloadError as exc:
        raise DownloadError(f"{_short(url)}: download failed after {time.monotonic() - started:.1f} s: "
                            f"{_clean_ytdlp(str(exc))}") from None
    files = [p for p in workdir.iterdir() if p.is_file() and not p.name.endswith((".part", ".ytdl"))
             and not p.name.startswith(".")]
    if not files:
        said = logger.last or "no file was produced"
        raise DownloadError(f"{_short(url)}: download failed: {_clean_ytdlp(said)}")
    path = max(files, key=lambda p: p.stat().st_size)
    return path, ctype or _guess_type(path.name)


def _head(ydl: Any, url: str, options: DownloadOptions) -> str:
    """Content type and size before downloading: a definite no (4xx, redirect loop, too large) ends here.

    Other HEAD failures (5xx, timeouts, servers without HEAD) are left to the GET, which retries.
    """
    from yt_dlp.networking import Request
    from yt_dlp.networking.exceptions import HTTPError, RequestError

    try:
        with contextlib.closing(ydl.urlopen(Request(url, method="HEAD"))) as response:
            ctype = response.headers.get("Content-Type", "")
            length = response.headers.get("Content-Length")
    except HTTPError as exc:
        if exc.redirect_loop:
            raise DownloadError(f"{_short(url)}: redirect loop (more than 30 redirects, last "
                                f"{exc.status} to {_short(exc.response.headers.get('Location', '?'))})") from None
        if 400 <= exc.status < 500 and exc.status not in (405, 429):
            raise DownloadError(f"{_short(url)}: HTTP {exc.status} {exc.reason}") from None
        return ""
    except RequestError:
        return ""
    if length and length.isdigit() and int(length) > options.max_filesize:
        raise DownloadError(f"{_short(url)}: rejected before downloading: {_mb(int(length))} "
                            f"(Content-Length) is over max_filesize {_mb(options.max_filesize)}")
    return ctype.split(";")[0].strip()


class _TooLarge(Exception):
    pass


def _on_progress(d: dict[str, Any], max_filesize: int, progress: _Progress) -> None:
    done = d.get("downloaded_bytes") or 0
    total = d.get("total_bytes") or d.get("total_bytes_estimate")
    if total and total > max_filesize and d.get("total_bytes"):
        raise _TooLarge(f"{_mb(int(total))} announced, over max_filesize {_mb(max_filesize)}")
    if done > max_filesize:
        raise _TooLarge(f"received more than max_filesize {_mb(max_filesize)}; stopped")
    progress.update(done, total)


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
    """Accept only a complete media file; the message says what was received when not."""
    size = path.stat().st_size
    received = f"received {_mb(size)} of {ctype or 'unknown type'}{_sniff(path)}"
    if size > options.max_filesize:
        raise DownloadError(f"{_short(url)}: rejected: {received}, over max_filesize {_mb(options.max_filesize)}")
    with ThreadPoolExecutor(max_workers=1) as pool:
        digest = pool.submit(sha256_file, path)          # hashing overlaps ffprobe and ffmpeg
        try:
            info = probe(path)
        except MediaError as exc:
            said = str(exc).replace(f"{path}: ", "")
            raise DownloadError(f"{_short(url)}: rejected: {received}; {said}") from None
        if (problem := _tail_problem(path, info)) is not None:
            raise DownloadError(f"{_short(url)}: rejected: {received}; truncated: ffmpeg: {problem}")
        return info, digest.result()


def _tail_problem(path: Path, info: MediaInfo) -> str | None:
    """Decode the last second: a file cut short probes fine but fails here ("partial file")."""
    args = ["ffmpeg", "-nostdin", "-v", "error"]
    if info.duration and info.duration > 1.0:
        args += ["-sseof", "-1"]
    try:
        proc = subprocess.run([*args, "-i", str(path), "-f", "null", "-"], capture_output=True, text=True,
                              errors="replace", timeout=120)
    except subprocess.TimeoutExpired:
        return "decoding the last second took over 120 s"
    lines = [ln.strip() for ln in proc.stderr.splitlines() if ln.strip()]
    bad = [ln for ln in lines if "partial file" in ln or "Invalid data" in ln or "truncat" in ln.lower()]
    if proc.returncode != 0 or bad:
        return re.sub(r"^\[[^]]*\]\s*", "", (bad or lines or ["exit status %d" % proc.returncode])[0])
    return None


def _sniff(path: Path) -> str:
    """What the first bytes look like, when that explains a rejection."""
    with open(path, "rb") as f:
        head = f.read(512).lstrip().lower()
    if head.startswith((b"<!doctype html", b"<html", b"<head", b"<body")) or b"<html" in head:
        return " (content looks like HTML)"
    if head.startswith(b"#extm3u"):
        return " (content is an HLS playlist)"
    if head.startswith((b"{", b"[")):
        return " (content looks like JSON)"
    if head.startswith(b"<?xml"):
        return " (content is XML)"
    return ""


# -- the cache -------------------------------------------------------------------------------

@dataclass
class _Cache:
    """``blobs/<aa>/<sha256>.<ext>``, ``urls/<key>.json`` (URL -> blob), ``partial/<key>/``, ``locks/``."""

    root: Path

    @staticmethod
    def key(url: str) -> str:
        return hashlib.sha256(url.encode("utf-8")).hexdigest()[:32]

    def lookup(self, url: str) -> DownloadResult | None:
        index = self.root / "urls" / f"{self.key(url)}.json"
        try:
            entry = read_json(index)
            blob = self.root / entry["blob"]
            if entry["url"] != url or blob.stat().st_size != entry["size"]:
                return None
            info = MediaInfo(**{**entry["info"], "path": str(blob)})
        except (OSError, ValueError, KeyError, TypeError):
            return None
        return DownloadResult(url, blob, entry["sha256"], entry["size"], entry["content_type"], True, info,
                              entry["name"])

    @contextlib.contextmanager
    def locked(self, url: str) -> Iterator[None]:
        """Serialise work on one URL across threads and processes (released even on SIGKILL)."""
        path = self.root / "locks" / f"{self.key(url)}.lock"
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def partial_dir(self, url: str) -> Path:
        return self.root / "partial" / self.key(url)

    def store(self, url: str, path: Path, digest: str, ctype: str, info: MediaInfo) -> DownloadResult:
        """Move a validated file into its blob (kept once per content) and index the URL."""
        ext = _safe_ext(path.name)
        rel = Path("blobs") / digest[:2] / f"{digest}{ext}"
        blob = self.root / rel
        blob.parent.mkdir(parents=True, exist_ok=True)
        if blob.exists() and blob.stat().st_size == path.stat().st_size:
            path.unlink()                                   # same bytes already stored
        else:
            os.replace(path, blob)
        info = MediaInfo(**{**asdict(info), "path": str(blob)})
        name = _safe_name(url, blob)
        write_json(self.root / "urls" / f"{self.key(url)}.json", {
            "url": url, "blob": rel.as_posix(), "sha256": digest, "size": info.size, "content_type": ctype,
            "name": name, "info": info, "fetched": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        })
        return DownloadResult(url, blob, digest, info.size, ctype, False, info, name)


# -- names -----------------------------------------------------------------------------------

def _url_ext(url: str) -> str:
    path = urllib.parse.unquote(urllib.parse.urlsplit(url).path)
    return path.rsplit(".", 1)[-1].lower() if "." in path.rsplit("/", 1)[-1] else ""


def _safe_ext(name: str) -> str:
    ext = os.path.splitext(name)[1].lower()
    return ext if re.fullmatch(r"\.[a-z0-9]{1,5}", ext) else ""


def _safe_name(url: str, path: Path) -> str:
    """``<slug of the URL's file name>-<8 hex of the URL>.<ext>``: no separators, control chars or dots."""
    stem = urllib.parse.unquote(urllib.parse.urlsplit(url).path).rsplit("/", 1)[-1]
    stem = stem.rsplit(".", 1)[0] if "." in stem else stem
    return stable_id(stem or "media", url) + (_safe_ext(path.name) or ".bin")


def _guess_type(name: str) -> str:
    import mimetypes
    return mimetypes.guess_type(name)[0] or "application/octet-stream"


def _short(url: str, limit: int = 120) -> str:
    url = "".join(ch if ch.isprintable() else "?" for ch in url)
    return url if len(url) <= limit else url[: limit - 3] + "..."


def _mb(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 100_000 else f"{n} bytes"


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
    """An overall bar and one bar per file on a terminal; one log line per file otherwise."""

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
        name = _short(urllib.parse.urlsplit(url).path.rsplit("/", 1)[-1] or url, 30)
        with self.lock:
            row = min(self.free_rows)
            self.free_rows.discard(row)
        return _Progress(tqdm(desc=name, unit="B", unit_scale=True, position=row, leave=False), row)

    def done(self, progress: _Progress, result: DownloadResult | DownloadError) -> None:
        with self.lock:
            self.finished += 1
            if progress.bar is not None:
                self.free_rows.add(progress.row)
                progress.bar.close()
            if self.overall is not None:
                self.overall.update(1)
            if isinstance(result, DownloadError):
                line = f"download [{self.finished}/{self.count}] failed: {result}"
            else:
                how = "cached" if result.from_cache else f"{time.monotonic() - progress.started:.1f} s"
                line = f"download [{self.finished}/{self.count}] {result.name}: {_mb(result.size)} ({how})"
            if self.tty:
                tqdm.write(line, file=sys.stderr)
            elif self.enabled:
                print(line, file=sys.stderr, flush=True)
            log.info(line)

    def close(self) -> None:
        if self.overall is not None:
            self.overall.close()


__all__ = ["DownloadError", "DownloadOptions", "DownloadResult", "download", "download_all", "link_into"]
