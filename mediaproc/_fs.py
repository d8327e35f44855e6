"""Files: atomic writes, verified copies, locks, and the one guard in front of every removal.

mediaproc works beside the user's own evidence, so it may delete only what it made
itself. Every removal goes through :func:`remove`, which refuses any path that is not
strictly inside a directory registered with :func:`own` (the cache's own folders,
article folders mediaproc wrote, its temporary and staging directories). A bug that
computes the wrong path then fails loudly instead of deleting a user's folder.

Media are *copied* into article folders, never hard-linked: editing one article's file
must not change another article's or the cache's. A copy is a reflink where the
filesystem has them (free), and is hashed as it is made, so a damaged cache blob is
noticed before it is used.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import os
import shutil
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any

import filelock

from .errors import MediaprocError, UnsafePathError
from .schema import dump

_owned: set[Path] = set()
_owned_lock = threading.Lock()
_FICLONE = 0x40049409           # linux/fs.h: share the source's extents (btrfs, xfs, bcachefs)
_CHUNK = 1 << 20


# --- the removal guard ---------------------------------------------------------------------------------------

def own(directory: str | os.PathLike[str]) -> Path:
    """Register ``directory`` as mediaproc's own: :func:`remove` may delete what is inside it."""
    path = Path(os.path.realpath(directory))
    with _owned_lock:
        _owned.add(path)
    return path


def disown(directory: str | os.PathLike[str]) -> None:
    with _owned_lock:
        _owned.discard(Path(os.path.realpath(directory)))


def is_owned(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` lies strictly inside a directory mediaproc registered as its own."""
    # The parent is resolved, the last component is not: removing a symlink removes the link only.
    target = Path(os.path.realpath(Path(path).parent)) / Path(path).name
    with _owned_lock:
        return any(root != target and target.is_relative_to(root) for root in _owned)


def remove(path: str | os.PathLike[str], *, missing_ok: bool = True) -> None:
    """Delete a file, link or directory tree that mediaproc made; refuse anything else.

    Raises :class:`UnsafePathError` for a path outside every owned directory, whatever it is.
    """
    path = Path(path)
    if not is_owned(path):
        raise UnsafePathError(f"refusing to delete {path}: it is not inside a directory mediaproc made")
    try:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)               # fd-based on Linux: never follows a symlink out of the tree
        else:
            path.unlink()
    except FileNotFoundError:
        if not missing_ok:
            raise


_TEMP_MARK = ".mediaproc-temp"      # inside every temporary directory: proof that mediaproc made it


def temp_dir(prefix: str, parent: str | os.PathLike[str] | None = None) -> Path:
    """A new private directory ``.mediaproc-<prefix>-XXXX`` (hidden), owned, so what goes in may be removed."""
    path = Path(tempfile.mkdtemp(prefix=f".mediaproc-{prefix}-", dir=parent))
    (path / _TEMP_MARK).touch()
    return own(path)


def remove_temp_dir(path: str | os.PathLike[str]) -> None:
    """Delete a directory :func:`temp_dir` made (itself, not only its contents); refuse any other."""
    path = Path(path)
    if not path.is_dir():
        return
    if path.is_symlink() or not (path / _TEMP_MARK).is_file():
        raise UnsafePathError(f"refusing to delete {path}: not a mediaproc temporary directory")
    own(path)
    for child in list(path.iterdir()):
        remove(child)
    disown(path)
    path.rmdir()


def adopt(temp: str | os.PathLike[str], dest: str | os.PathLike[str]) -> Path:
    """Turn a finished temporary directory into ``dest`` (a rename; ``dest`` must not exist)."""
    temp, dest = Path(temp), Path(dest)
    (temp / _TEMP_MARK).unlink()
    os.chmod(temp, 0o777 & ~_umask())          # mkdtemp made it 0o700; an output folder is as mkdir would make it
    os.rename(temp, dest)
    disown(temp)
    return dest


def retire(directory: str | os.PathLike[str], prefix: str) -> Path:
    """Rename a directory mediaproc wrote (the caller has checked that) into a temporary one beside it,
    ready for :func:`remove_temp_dir`; the name it had is free at once."""
    directory = Path(directory)
    if directory.is_symlink():
        raise UnsafePathError(f"refusing to replace {directory}: it is a symbolic link")
    target = Path(tempfile.mkdtemp(prefix=f".mediaproc-{prefix}-", dir=directory.parent))
    os.rmdir(target)
    os.rename(directory, target)
    (target / _TEMP_MARK).touch()
    return own(target)


def remove_leftovers(parent: str | os.PathLike[str], prefix: str = "") -> None:
    """Remove temporary directories that a killed run left in ``parent`` (only those mediaproc made)."""
    parent = Path(parent)
    for path in parent.glob(f".mediaproc-{prefix}*") if parent.is_dir() else []:
        if path.is_dir() and not path.is_symlink() and (path / _TEMP_MARK).is_file():
            remove_temp_dir(path)


# --- writing -------------------------------------------------------------------------------------------------

@cache
def _umask() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return umask


def _file_mode() -> int:
    """0o666 less the umask: what ``open()`` would give (``mkstemp`` makes 0o600 files)."""
    return 0o666 & ~_umask()


def describe_os_error(exc: OSError, what: str) -> str:
    """One line for a failed write, with what to do for the usual causes."""
    if exc.errno == errno.ENOSPC:
        return f"{what}: no space left on the device; free some space (or use another -o / --cache-dir) and re-run"
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return f"{what}: not allowed to write there ({exc.strerror}); use another -o / --cache-dir"
    return f"{what}: {exc.strerror or exc}"


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write via a temporary file and rename, so a killed process or a full disk never leaves half a file."""
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
    return atomic_write_text(path, json.dumps(dump(obj), indent=2, ensure_ascii=False) + "\n")


def read_json(path: str | os.PathLike[str]) -> Any:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def sha256_file(path: str | os.PathLike[str]) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(_CHUNK):
            h.update(block)
    return h.hexdigest()


class CopyMismatch(MediaprocError):
    """The source's bytes did not hash to what was expected: it was damaged since it was stored."""


def copy_verified(src: str | os.PathLike[str], dest: str | os.PathLike[str], expected_sha256: str | None = None) -> str:
    """Copy ``src`` to ``dest`` atomically and return its sha256; raise :class:`CopyMismatch` (leaving no
    ``dest``) when it differs from ``expected_sha256``. A reflink where possible, else a hashed copy."""
    src, dest = Path(src), Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, _file_mode())
        h = hashlib.sha256()
        with open(src, "rb") as source, os.fdopen(fd, "wb") as out:
            try:
                fcntl.ioctl(out.fileno(), _FICLONE, source.fileno())
                while block := source.read(_CHUNK):
                    h.update(block)
            except OSError:                 # no reflinks here: copy and hash in one pass
                while block := source.read(_CHUNK):
                    h.update(block)
                    out.write(block)
            out.flush()
            os.fsync(out.fileno())
        digest = h.hexdigest()
        if expected_sha256 is not None and digest != expected_sha256:
            raise CopyMismatch(f"{src} is damaged: sha256 {digest[:12]}… instead of {expected_sha256[:12]}…")
        os.replace(tmp, dest)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return digest


# --- locks ---------------------------------------------------------------------------------------------------

@contextmanager
def locked(path: str | os.PathLike[str]) -> Iterator[None]:
    """An exclusive lock on ``path`` across threads and processes, released even on SIGKILL (flock)."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with filelock.FileLock(os.fspath(path), thread_local=False, is_singleton=False):
        yield


def try_lock(path: str | os.PathLike[str]) -> filelock.BaseFileLock | None:
    """The lock on ``path`` if it is free now, else None (the caller says who holds it)."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    lock = filelock.FileLock(os.fspath(path), timeout=0, thread_local=False, is_singleton=False)
    try:
        lock.acquire()
    except filelock.Timeout:
        return None
    return lock


__all__ = ["own", "disown", "is_owned", "remove", "temp_dir", "remove_temp_dir", "adopt", "retire",
           "remove_leftovers", "atomic_write_bytes",
           "atomic_write_text", "write_json", "read_json", "sha256_file", "copy_verified", "CopyMismatch",
           "describe_os_error", "locked", "try_lock"]
