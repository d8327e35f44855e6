"""A loopback HTTP file server with per-path fault injection, for tests and ``mediaproc demo``.

It serves files from a root directory and in-memory bodies with a correct Content-Type,
Content-Length, HEAD and single byte ranges (206), and can misbehave on purpose so the
download stage can be tested against the failures real servers produce::

    with FileServer(root) as srv:
        srv.fault("clip.mp4", "drop", at=0.4)          # cut the connection at 40 %, once
        url = srv.url("clip.mp4")
        ...
        assert srv.log("clip.mp4")[-1].range_start > 0

Fault kinds (``times`` = how many requests it affects; None = every request):

* ``status``: answer ``code`` (default 500) with a small HTML body.
* ``drop``: send the headers and the first ``at`` fraction of the body, then close (default once).
* ``content_type``: lie about the type (``type="text/html"``).
* ``stall``: after the ``at`` fraction of the body, stop sending for ``seconds``.
* ``trickle``: send at most ``rate`` bytes per second.
* ``redirect``: answer ``code`` (default 302) to ``to`` (a path on this server or a URL);
  chains and loops are made of several redirects.
* ``no_range``: ignore Range requests and always send the whole body (200).
* ``no_length``: omit Content-Length (the body ends when the connection closes).

HEAD requests count against ``times`` except for the body faults (drop, stall, trickle).

Every request is logged (:class:`Logged`: method, path, Range, status, bytes sent). The server
binds 127.0.0.1 on an ephemeral port, handlers run on daemon threads, stalls wake on close,
so shutdown is prompt even while a client is stuck.
"""

from __future__ import annotations

import io
import mimetypes
import os
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, BinaryIO

_CHUNK = 256 * 1024
_TYPES = {
    ".m3u8": "application/vnd.apple.mpegurl",
    ".mpd": "application/dash+xml",
    ".ts": "video/mp2t",
    ".m4s": "video/iso.segment",
    ".mp4": "video/mp4",
    ".m4a": "audio/mp4",
    ".webm": "video/webm",
    ".mkv": "video/x-matroska",
    ".mp3": "audio/mpeg",
    ".flac": "audio/flac",
    ".wav": "audio/wav",
    ".ogg": "audio/ogg",
    ".html": "text/html; charset=utf-8",
    ".htm": "text/html; charset=utf-8",
    ".md": "text/markdown; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
    ".json": "application/json",
}
_BODY_KINDS = {"drop", "stall", "trickle"}
_KINDS = {"status", "drop", "content_type", "stall", "trickle", "redirect", "no_range", "no_length"}


@dataclass
class Logged:
    """One request as the server saw it."""

    method: str
    path: str
    range: str | None
    status: int = 0
    bytes_sent: int = 0
    length: int | None = None          # size of the whole resource, when it has one
    done: bool = False

    @property
    def range_start(self) -> int | None:
        start, _ = _parse_range(self.range, self.length or 0) if self.range else (None, None)
        return start

    @property
    def full(self) -> bool:
        """A GET that sent the whole resource."""
        return self.method == "GET" and self.status == 200 and self.bytes_sent == self.length


@dataclass
class _Fault:
    kind: str
    times: int | None
    params: dict[str, Any] = field(default_factory=dict)


def _parse_range(header: str | None, size: int) -> tuple[int | None, int | None]:
    """``bytes=a-b`` / ``bytes=a-`` / ``bytes=-n`` to an inclusive (start, end); (None, None) if unusable."""
    if not header or not header.startswith("bytes=") or "," in header:
        return None, None
    first, _, last = header[6:].strip().partition("-")
    try:
        if first:
            start = int(first)
            end = int(last) if last else size - 1
        else:
            start, end = max(size - int(last), 0), size - 1
    except ValueError:
        return None, None
    return start, min(end, size - 1)


def content_type(path: str) -> str:
    """The Content-Type a well-behaved server sends for ``path``."""
    ext = os.path.splitext(path)[1].lower()
    return _TYPES.get(ext) or mimetypes.guess_type(path)[0] or "application/octet-stream"


class FileServer:
    """Serve ``root`` (and bodies added with :meth:`add`) on ``host`` (a loopback address) until closed."""

    def __init__(self, root: str | os.PathLike[str] | None = None, *, chunk: int = _CHUNK,
                 host: str = "127.0.0.1") -> None:
        self.root = Path(root).resolve() if root is not None else None
        self.host = host
        self.chunk = chunk
        self._memory: dict[str, tuple[bytes, str]] = {}
        self._faults: dict[str, list[_Fault]] = {}
        self._log: list[Logged] = []
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> FileServer:
        handler = type("_BoundHandler", (_Handler,), {"server_state": self})
        httpd = ThreadingHTTPServer((self.host, 0), handler)
        httpd.daemon_threads = True
        httpd.block_on_close = False       # never wait for a stalled handler on close
        self._httpd = httpd
        self._thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="mediaproc-fileserver", daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        self._closing.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> FileServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- content -----------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        if self._httpd is None:
            raise RuntimeError("server not started")
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}/"

    def url(self, path: str = "") -> str:
        return self.base_url + urllib.parse.quote(path.lstrip("/"), safe="/%?=&")

    def add(self, path: str, data: bytes | str, ctype: str | None = None) -> str:
        """Serve ``data`` at ``path`` (in memory, before any file of that name); returns its URL."""
        body = data.encode("utf-8") if isinstance(data, str) else data
        key = path.lstrip("/")
        with self._lock:
            self._memory[key] = (body, ctype or content_type(key))
        return self.url(key)

    def fault(self, path: str, kind: str, *, times: int | None = None, **params: Any) -> None:
        """Make requests for ``path`` misbehave (see the module docstring for kinds)."""
        if kind not in _KINDS:
            raise ValueError(f"unknown fault {kind!r}; known: {', '.join(sorted(_KINDS))}")
        if kind == "drop" and times is None:
            times = 1
        with self._lock:
            self._faults.setdefault(path.lstrip("/"), []).append(_Fault(kind, times, params))

    def clear_faults(self, path: str | None = None) -> None:
        with self._lock:
            if path is None:
                self._faults.clear()
            else:
                self._faults.pop(path.lstrip("/"), None)

    # -- request log -------------------------------------------------------------------------
    @property
    def requests(self) -> list[Logged]:
        """All requests so far; waits (at most 2 s) for the ones still being answered."""
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline:
            with self._lock:
                if all(r.done for r in self._log):
                    break
            time.sleep(0.01)
        with self._lock:
            return list(self._log)

    def log(self, path: str, method: str | None = None) -> list[Logged]:
        key = "/" + path.lstrip("/")
        return [r for r in self.requests if r.path == key and (method is None or r.method == method)]

    def full_gets(self, path: str) -> int:
        return sum(r.full for r in self.log(path))

    def clear_log(self) -> None:
        with self._lock:
            self._log.clear()

    # -- used by the handler -----------------------------------------------------------------
    def _take_faults(self, key: str, head: bool) -> dict[str, _Fault]:
        """The faults that apply to this request, consuming one use of each (HEAD has no body to spoil)."""
        active: dict[str, _Fault] = {}
        with self._lock:
            for f in self._faults.get(key, []):
                if head and f.kind in _BODY_KINDS:
                    continue
                if f.times is None or f.times > 0:
                    active.setdefault(f.kind, f)
            for f in active.values():
                if f.times is not None:
                    f.times -= 1
        return active

    def _record(self, entry: Logged) -> None:
        with self._lock:
            self._log.append(entry)

    def _open(self, key: str) -> tuple[BinaryIO, int, str] | None:
        with self._lock:
            mem = self._memory.get(key)
        if mem is not None:
            return io.BytesIO(mem[0]), len(mem[0]), mem[1]
        if self.root is None or any(part in ("..", "") for part in key.split("/")):
            return None
        path = (self.root / key).resolve()
        if not path.is_file() or not path.is_relative_to(self.root):
            return None
        return open(path, "rb"), path.stat().st_size, content_type(key)

    def _sleep(self, seconds: float) -> bool:
        """Sleep unless the server is closing; False if it is."""
        return not self._closing.wait(seconds)


class _Handler(BaseHTTPRequestHandler):
    server_state: FileServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet by design
        pass

    def do_HEAD(self) -> None:
        self._serve(head=True)

    def do_GET(self) -> None:
        self._serve(head=False)

    def _serve(self, head: bool) -> None:
        state = self.server_state
        raw_path = urllib.parse.urlsplit(self.path).path
        key = urllib.parse.unquote(raw_path).lstrip("/")
        entry = Logged(self.command, "/" + key, self.headers.get("Range"))
        state._record(entry)
        try:
            self._respond(state, key, entry, head)
        except (ConnectionError, TimeoutError, OSError):
            pass                                            # the client went away
        finally:
            self.close_connection = True
            entry.done = True

    def _respond(self, state: FileServer, key: str, entry: Logged, head: bool) -> None:
        faults = state._take_faults(key, head)
        if (f := faults.get("redirect")) is not None:
            target = f.params["to"]
            location = target if "://" in target else state.url(target)
            self._simple(entry, int(f.params.get("code", 302)), {"Location": location}, head)
            return
        if (f := faults.get("status")) is not None:
            self._simple(entry, int(f.params.get("code", 500)), {}, head)
            return
        opened = state._open(key)
        if opened is None:
            self._simple(entry, 404, {}, head)
            return
        body, size, ctype = opened
        with body:
            entry.length = size
            if (f := faults.get("content_type")) is not None:
                ctype = f.params.get("type", "text/html")
            start, end = 0, size - 1
            status = 200
            if entry.range and "no_range" not in faults:
                start, end = _parse_range(entry.range, size)
                if start is None or end is None or start > end or start >= size:
                    self._simple(entry, 416, {"Content-Range": f"bytes */{size}"}, head)
                    return
                status = 206
            count = end - start + 1
            self.send_response(status)
            entry.status = status
            self.send_header("Content-Type", ctype)
            self.send_header("Accept-Ranges", "bytes")
            if "no_length" not in faults:
                self.send_header("Content-Length", str(count))
            if status == 206:
                self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
            self.send_header("Connection", "close")
            self.end_headers()
            if not head:
                body.seek(start)
                self._send_body(state, body, count, faults, entry)

    def _send_body(self, state: FileServer, body: BinaryIO, count: int,
                   faults: dict[str, _Fault], entry: Logged) -> None:
        total = entry.length or 0
        drop = faults.get("drop")
        stall = faults.get("stall")
        trickle = faults.get("trickle")
        # Absolute offsets (in the whole resource) where the body is cut or paused.
        base = body.tell()
        cut = int(total * float(drop.params.get("at", 0.5))) if drop else None
        pause = int(total * float(stall.params.get("at", 0.0))) if stall else None
        chunk = self.server_state.chunk
        if trickle:
            chunk = max(1, min(chunk, int(trickle.params.get("rate", 16384)) // 10))
        sent = 0
        while sent < count:
            pos = base + sent
            n = min(chunk, count - sent)
            for limit in (cut, pause):
                if limit is not None and pos < limit:
                    n = min(n, limit - pos)
            if cut is not None and pos >= cut:
                return                                   # drop: close mid-body
            if pause is not None and pos >= pause:
                pause = None
                if not state._sleep(float(stall.params.get("seconds", 60.0))):  # type: ignore[union-attr]
                    return
            data = body.read(n)
            if not data:
                return
            self.wfile.write(data)
            sent += len(data)
            entry.bytes_sent = sent
            if trickle and not state._sleep(len(data) / float(trickle.params.get("rate", 16384))):
                return

    def _simple(self, entry: Logged, status: int, headers: dict[str, str], head: bool) -> None:
        """A short HTML answer (errors, redirects), as real servers send."""
        body = f"<html><body><h1>{status} {self.responses.get(status, ('',))[0]}</h1></body></html>\n".encode()
        self.send_response(status)
        entry.status = status
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        if not head:
            self.wfile.write(body)
            entry.bytes_sent = len(body)
