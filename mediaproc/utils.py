"""Small helpers shared by every stage: cache location, stable ids, atomic writes."""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
import unicodedata
from functools import cache
from dataclasses import asdict, is_dataclass
from pathlib import Path
from typing import Any

import platformdirs


class MediaprocError(Exception):
    """An expected failure with a one-line message meant for the user (no traceback)."""


def cache_dir(override: str | os.PathLike[str] | None = None) -> Path:
    """The user cache directory (``$MEDIAPROC_CACHE`` or the platform default), created on demand."""
    path = Path(override or os.environ.get("MEDIAPROC_CACHE") or platformdirs.user_cache_dir("mediaproc"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def slugify(text: str, max_len: int = 40) -> str:
    """A filesystem-safe lowercase ASCII slug: no separators, control characters or dots at the ends."""
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    text = re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower()
    return text[:max_len].strip("-") or "item"


def stable_id(readable: str, key: str, max_len: int = 40) -> str:
    """``<slug>-<8 hex>``: readable, and the same for the same key on every run and machine."""
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:8]
    return f"{slugify(readable, max_len)}-{digest}"


def clock(seconds: float, decimals: int = 0) -> str:
    """``m:ss`` (``h:mm:ss`` past an hour), with ``decimals`` digits of the second: how people read times."""
    scale = 10 ** decimals
    total = round(seconds * scale)
    hours, rest = divmod(total, 3600 * scale)
    minutes, secs = divmod(rest, 60 * scale)
    width = 2 + (decimals + 1 if decimals else 0)
    sec = f"{secs / scale:0{width}.{decimals}f}"
    return f"{hours}:{minutes:02d}:{sec}" if hours else f"{minutes}:{sec}"


def sha256_file(path: str | os.PathLike[str], chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def to_jsonable(obj: Any) -> Any:
    """Dataclasses, paths and tuples to plain JSON types."""
    if is_dataclass(obj) and not isinstance(obj, type):
        return {k: to_jsonable(v) for k, v in asdict(obj).items()}
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, Path):
        return str(obj)
    return obj


@cache
def _file_mode() -> int:
    """0o666 less the umask: what ``open()`` would give (``mkstemp`` makes 0o600 files)."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write via a temporary file and rename, so a killed process never leaves half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, _file_mode())
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def atomic_write_text(path: str | os.PathLike[str], text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def write_json(path: str | os.PathLike[str], obj: Any) -> Path:
    return atomic_write_text(path, json.dumps(to_jsonable(obj), indent=2, ensure_ascii=False) + "\n")


def read_json(path: str | os.PathLike[str]) -> Any:
    return json.loads(Path(path).read_text(encoding="utf-8"))
