"""Where things go: stable ids, the output layout, and the cache layout with its keys.

One module knows every path mediaproc writes, so that the stages, the batch's resume
check, the report and the index agree on them. The cache is one explicit directory
handed down from the options (``--cache-dir``, else ``$MEDIAPROC_CACHE``, else the
platform's user cache): nothing here reads or writes the environment after that.

Output::

    OUT/index.sqlite, OUT/index.html   the archive index and overview (mediaproc.archive)
    OUT/<article-id>/            article.json, manifest.json, report.html, archive.js, .complete
        media/<media-id>/        media.<ext>, keyframes/, keyframes.json, contact_sheet.jpg,
                                 transcript.*, alignment.json, transcript.corrected.*

Cache::

    <cache>/CACHEDIR.TAG         marks the directory as a cache (and as mediaproc's own)
    <cache>/media/blobs/<aa>/<sha256>.<ext>, media/urls/<key>.json, media/partial/<key>/, media/locks/
    <cache>/keyframes/<key>/     <cache>/transcripts/<key>.json     <cache>/models/
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import unicodedata
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import platformdirs

from . import _fs
from .errors import OptionsError, UnsafePathError
from .options import CacheOptions
from .schema import dump

ARTICLE_JSON = "article.json"
MANIFEST = "manifest.json"
REPORT = "report.html"
COMPLETE = ".complete"        # written last and atomically: its presence means the outputs are whole
SUMMARY = "batch-summary.json"
INDEX = "index.sqlite"        # OUT/index.sqlite: the archive index (mediaproc.archive)
OVERVIEW = "index.html"       # OUT/index.html: every article in one table
ARCHIVE_JS = "archive.js"     # OUT/<article>/archive.js: what the index knows about the article, for its report
LOCK = ".mediaproc.lock"
_CACHEDIR_TAG = ("Signature: 8a477f597d28d172789f06886806bc55\n"
                 "# This file marks mediaproc's cache (https://bford.info/cachedir/).\n")


# --- names ---------------------------------------------------------------------------------------------------

def slugify(text: str, max_len: int = 40) -> str:
    """A filesystem-safe lowercase ASCII slug: no separators, control characters or dots at the ends."""
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    text = re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower()
    return text[:max_len].strip("-") or "item"


def stable_id(readable: str, key: str, max_len: int = 40) -> str:
    """``<slug>-<16 hex>``: readable, the same for the same key on every run and machine, and 64 bits, so
    a page cannot be crafted to take another's id (32 bits take an afternoon to collide)."""
    return f"{slugify(readable, max_len)}-{hashlib.sha256(key.encode('utf-8')).hexdigest()[:16]}"


def key_hash(*parts: Any, length: int = 64) -> str:
    """The cache key of anything JSON-able (options dataclasses included): sha256 of its canonical JSON."""
    text = json.dumps(dump(list(parts)), sort_keys=True, ensure_ascii=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:length]


def _url_stem(url: str) -> str:
    parsed = urllib.parse.urlsplit(url)
    return Path(urllib.parse.unquote(parsed.path)).stem or parsed.netloc


def article_id(source: str) -> str:
    """Stable per input: a readable slug of the file name or URL path plus a hash of the source."""
    if urllib.parse.urlsplit(source).scheme in ("http", "https"):
        return stable_id(_url_stem(source), source)
    return stable_id(Path(source).stem, str(Path(source).resolve()))


def media_id(url: str) -> str:
    return stable_id(_url_stem(url) or "media", url)


def safe_ext(name: str) -> str:
    ext = os.path.splitext(name)[1].lower()
    return ext if re.fullmatch(r"\.[a-z0-9]{1,5}", ext) else ""


def safe_file_name(url: str, ext: str) -> str:
    """``<slug of the URL's file name>-<8 hex of the URL><ext>``: no separators, control chars or dots."""
    stem = urllib.parse.unquote(urllib.parse.urlsplit(url).path).rsplit("/", 1)[-1]
    stem = stem.rsplit(".", 1)[0] if "." in stem else stem
    return stable_id(stem or "media", url) + (ext or ".bin")


# --- the cache -----------------------------------------------------------------------------------------------

def default_cache_root() -> Path:
    return Path(os.environ.get("MEDIAPROC_CACHE") or platformdirs.user_cache_dir("mediaproc"))


@dataclass(frozen=True)
class Cache:
    """The cache directory and how it may be used: ``read`` reuses entries, ``write`` stores new ones.

    ``--no-cache`` is neither, ``--refresh`` is write only (entries are redone and replaced).
    """

    root: Path
    read: bool = True
    write: bool = True

    @classmethod
    def at(cls, root: str | os.PathLike[str] | None = None, *, read: bool = True, write: bool = True) -> Cache:
        """The cache at ``root`` (default: ``$MEDIAPROC_CACHE`` or the user cache), created and marked.

        A non-empty directory that is not already a mediaproc cache is refused: mediaproc deletes
        inside its cache and must never do so among the user's own files.
        """
        path = Path(root).expanduser().resolve() if root else default_cache_root().resolve()
        tag = path / "CACHEDIR.TAG"
        ours = tag.is_file() and not tag.is_symlink() and "mediaproc" in tag.read_text(errors="replace")
        if path.is_dir() and not ours and any(p.name not in ("models", "CACHEDIR.TAG") for p in path.iterdir()):
            raise OptionsError(f"--cache-dir {path} is not empty and is not a mediaproc cache; "
                               "give a new or empty directory")
        try:
            path.mkdir(parents=True, exist_ok=True)
            if not ours:
                _fs.atomic_write_text(tag, _CACHEDIR_TAG)
        except OSError as exc:
            raise OptionsError(_fs.describe_os_error(exc, f"cache directory {path}")) from None
        for sub in ("media", "keyframes", "transcripts", "tmp"):
            _fs.own(path / sub)
        return cls(path, read, write)

    @classmethod
    def from_options(cls, options: CacheOptions) -> Cache:
        """``--no-cache``: neither read nor write; ``--refresh``: write only."""
        return cls.at(options.cache_dir, read=not (options.no_cache or options.refresh), write=not options.no_cache)

    @property
    def models(self) -> Path:
        """Models belong to the installation, not to a run: they stay in the user cache whatever
        ``--cache-dir`` says (so a cache on a shared disk does not get 200 MB of weights per machine)."""
        return default_cache_root() / "models"

    @property
    def media(self) -> Path:
        return self.root / "media"

    def blob(self, sha256: str, ext: str) -> Path:
        return self.media / "blobs" / sha256[:2] / f"{sha256}{ext}"

    def url_entry(self, url: str) -> Path:
        return self.media / "urls" / f"{key_hash(url, length=32)}.json"

    def partial_dir(self, url: str) -> Path:
        return self.media / "partial" / key_hash(url, length=32)

    def url_lock(self, url: str) -> Path:
        return self.media / "locks" / f"{key_hash(url, length=32)}.lock"

    def keyframes_entry(self, sha256: str, options: Any) -> Path:
        return self.root / "keyframes" / key_hash({"media": sha256, "options": options}, length=32)

    def transcript_entry(self, sha256: str, settings: Any) -> Path:
        return self.root / "transcripts" / f"{key_hash({'media': sha256, **dump(settings)})}.json"

    def temp_dir(self, prefix: str) -> Path:
        """A private directory on the cache's filesystem (so finished files move into place by rename)."""
        (self.root / "tmp").mkdir(parents=True, exist_ok=True)
        return _fs.temp_dir(prefix, self.root / "tmp")


# --- the output ----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ArticleDir:
    """The files of one article's output folder."""

    path: Path

    @property
    def article_json(self) -> Path:
        return self.path / ARTICLE_JSON

    @property
    def manifest(self) -> Path:
        return self.path / MANIFEST

    @property
    def report(self) -> Path:
        return self.path / REPORT

    @property
    def complete(self) -> Path:
        return self.path / COMPLETE

    def media(self, item_id: str) -> Path:
        return self.path / "media" / item_id

    def is_ours(self) -> bool:
        """Written by mediaproc: its manifest names this folder (so replacing it deletes nothing of the user's),
        and it is a folder, not a link to one elsewhere."""
        if self.path.is_symlink():
            return False
        try:
            return _fs.read_json(self.manifest).get("article_id") == self.path.name
        except (OSError, ValueError, AttributeError):
            return False


_OUR_FILES = {ARTICLE_JSON, MANIFEST, REPORT, COMPLETE, ARCHIVE_JS, "keyframes.json", "keyframes", "contact_sheet.jpg",
              "transcript.json", "alignment.json"}


def claim(directory: str | os.PathLike[str]) -> Path:
    """Make ``directory`` an output folder mediaproc may replace files in: new, empty, or one that holds
    mediaproc's outputs. A folder of the user's own files is refused (one line), never written over."""
    path = Path(directory)
    if path.is_dir() and not _fs.is_owned(path / "x"):
        names = {p.name for p in path.iterdir()}
        if names and not names & _OUR_FILES:
            raise UnsafePathError(f"{path} already holds files mediaproc did not write; choose another -o")
    path.mkdir(parents=True, exist_ok=True)
    return _fs.own(path)


__all__ = ["claim", "ARTICLE_JSON", "MANIFEST", "REPORT", "COMPLETE", "SUMMARY", "LOCK", "slugify",
           "stable_id", "key_hash", "article_id", "media_id", "safe_ext", "safe_file_name", "Cache",
           "ArticleDir", "default_cache_root"]
