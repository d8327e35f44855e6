"""The network and local-file policy: what a link found in some content may make mediaproc read or contact.

Pages are written by strangers. The rules (the README's Security section says the same):

* Content fetched over http(s) may only lead to http(s) URLs: a ``file://`` link or a path in it is
  refused without looking at the file (so the refusal says nothing about whether it exists).
* A saved article (a local ``.html``/``.md``/``.txt``) may reference local media only inside its own
  directory tree.
* A link found in network-fetched content may reach a loopback, private, link-local or reserved address
  only when the article itself came from an address of the same class. The address is checked when
  the socket connects (after DNS, on every redirect and every HLS segment), so neither a redirect nor a
  DNS answer that changes between lookups gets around it. Local article files are the user's own
  material: their links may reach any host.
* What the user names on the command line is theirs to read: any local file, any host.

``--allow-local-files`` and ``--allow-private-hosts`` lift the two restrictions. The connect check is a
Python audit hook (``socket.connect``), so it holds for every HTTP stack in the process (urllib, yt-dlp's
handlers) without patching any of them; ffmpeg is never given a network URL (see :mod:`mediaproc._ffmpeg`).
"""

from __future__ import annotations

import ipaddress
import os
import socket
import sys
import threading
import time
import urllib.parse
import weakref
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from ._text import short_url
from .errors import RefusedError
from .schema import AddressClass, Origin

# Test-only: addresses to class as public, so a loopback page can stand in for a public one.
_TEST_PUBLIC_ENV = "MEDIAPROC_TESTING_PUBLIC_ADDRESSES"

_NON_PUBLIC_HELP = "pass --allow-private-hosts if you trust the page"
_MIN_PROGRESS = 64 * 1024     # bytes per --timeout that count as progress: a trickle of less stalls


@dataclass(frozen=True)
class Policy:
    """The two switches users have; the rules they relax are in the module docstring."""

    allow_local_files: bool = False
    allow_private_hosts: bool = False


def address_class(ip: str) -> AddressClass:
    """The class of an IP address: public, private, loopback, link-local or reserved."""
    addr = ipaddress.ip_address(ip.split("%", 1)[0])
    if ip in _test_public() and addr in ipaddress.ip_network("127.0.0.0/8"):   # loopback only: never a weakening
        return "public"
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    if addr.is_loopback or addr.is_unspecified or (addr.version == 4 and addr in ipaddress.ip_network("0.0.0.0/8")):
        return "loopback"                     # 0.0.0.0 reaches this machine too
    if addr.is_link_local:
        return "link-local"                   # 169.254.169.254: cloud metadata services
    if addr.is_private or (addr.version == 4 and addr in ipaddress.ip_network("100.64.0.0/10")):
        return "private"
    if addr.is_multicast or addr.is_reserved or not addr.is_global:
        return "reserved"
    return "public"


def _test_public() -> set[str]:
    return {a.strip() for a in os.environ.get(_TEST_PUBLIC_ENV, "").split(",") if a.strip()}


def host_class(host: str, port: int | None = None) -> AddressClass:
    """The class of a host name after DNS: the least public class among its addresses."""
    try:
        infos = socket.getaddrinfo(host, port or 443, 0, socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        return "public"                       # it will fail to connect anyway; nothing to protect
    order = ["public", "private", "reserved", "link-local", "loopback"]
    return max((address_class(str(info[4][0])) for info in infos), key=order.index)


def allowed_classes(origin: Origin, policy: Policy) -> frozenset[AddressClass] | None:
    """The address classes links from ``origin`` may reach; None: any."""
    if policy.allow_private_hosts or origin.kind != "network":
        return None
    return frozenset({"public", origin.address_class or "public"})


def allowed_for_url(url: str, policy: Policy) -> frozenset[AddressClass] | None:
    """For a URL the user named: its own host's class, and public hosts, wherever it redirects (None: a local
    file, or --allow-private-hosts)."""
    if local_path(url) is not None:
        return None
    return allowed_classes(Origin("network", address_class=host_class(urllib.parse.urlsplit(url).hostname or "")),
                           policy)


# --- links ---------------------------------------------------------------------------------------------------

def local_path(url: str) -> Path | None:
    """The local path a ``file://`` URL or a bare path names; None for any other URL."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme.lower() == "file":
        return Path(urllib.request.url2pathname(parts.path))
    if parts.scheme == "" and url:
        return Path(url).expanduser()
    return None


def check_link(url: str, origin: Origin, policy: Policy) -> None:
    """Refuse (:class:`RefusedError`, one line) a link that ``origin``'s content may not make us follow."""
    path = local_path(url)
    if path is None:
        scheme = urllib.parse.urlsplit(url).scheme.lower()
        if scheme not in ("http", "https"):
            raise RefusedError(f"{short_url(url)}: refused: not an http(s) link (scheme {scheme!r})")
        return
    if policy.allow_local_files or origin.kind == "user":
        return
    if origin.kind == "network":
        raise RefusedError(f"{short_url(url)}: refused: a page fetched over the network may not point at local "
                           "files; pass --allow-local-files if you trust it")
    root = origin.root
    try:
        inside = root is not None and Path(os.path.realpath(path)).is_relative_to(os.path.realpath(root))
    except ValueError:                        # a NUL byte: not a path at all
        raise RefusedError(f"{short_url(url)}: refused: not a valid file path") from None
    if not inside:
        raise RefusedError(f"{short_url(url)}: refused: a saved article may only use local media inside its own "
                           f"folder ({root}); pass --allow-local-files to allow it")


# --- the connect check ---------------------------------------------------------------------------------------

class Aborted(Exception):
    """A guarded transfer was stopped: stalled, past its deadline, or cancelled (internal signal)."""


@dataclass(eq=False)
class Guard:
    """One guarded transfer in one thread: what its sockets may reach, and how long it may take.

    ``stall``: seconds without progress (:meth:`progress`) after which it is aborted; ``deadline``: the
    monotonic time by which it must be done; ``stop``: aborts it when set (Ctrl-C). A watchdog thread
    enforces them by shutting the transfer's sockets, so a server that trickles a byte a second, which
    keeps every socket timeout happy, is cut off too. ``refused`` / ``aborted`` hold the reason after
    the fact, whatever a library made of the exception on its way up.
    """

    allowed: frozenset[AddressClass] | None
    stall: float | None = None
    deadline: float | None = None
    stop: threading.Event | None = None
    refused: str | None = None
    aborted: str | None = None
    last_progress: float = field(default_factory=time.monotonic)
    sockets: weakref.WeakSet = field(default_factory=weakref.WeakSet)
    _pending: int = 0

    def progress(self, received: int = _MIN_PROGRESS) -> None:
        """``received`` more bytes arrived; raise :class:`Aborted` if the watchdog has given up on the transfer.

        Only every ``_MIN_PROGRESS`` bytes count as progress, so a trickle of a byte a second stalls.
        """
        self._pending += received
        if self._pending >= _MIN_PROGRESS:
            self.last_progress, self._pending = time.monotonic(), 0
        if self.aborted:
            raise Aborted(self.aborted)

    @property
    def reason(self) -> str | None:
        return self.refused or self.aborted

    def _check(self, now: float) -> None:
        if self.aborted:
            return
        if self.stop is not None and self.stop.is_set():
            self.aborted = "interrupted"
        elif self.deadline is not None and now > self.deadline:
            self.aborted = "took longer than the deadline (--deadline)"
        elif self.stall is not None and now - self.last_progress > self.stall:
            self.aborted = f"timed out: the server sent (almost) nothing for {self.stall:g} s (--timeout)"
        if self.aborted:
            for sock in list(self.sockets):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


class _Current(threading.local):
    guard: Guard | None = None


_current = _Current()
_active: weakref.WeakSet[Guard] = weakref.WeakSet()
_lock = threading.Lock()
_installed = False


def _audit(event: str, args: tuple) -> None:
    if event != "socket.connect":
        return
    guard = _current.guard
    if guard is None:
        return
    sock, address = args
    if sock.family not in (socket.AF_INET, socket.AF_INET6):
        return
    if guard.aborted:
        raise Aborted(guard.aborted)
    guard.sockets.add(sock)
    guard.last_progress = time.monotonic()    # each new request of an extraction counts as progress
    if guard.allowed is None:
        return
    host = str(address[0])
    try:
        cls = address_class(host)
    except ValueError:                        # a name, not an address: judge what it resolves to
        cls = host_class(host, address[1])
    if cls not in guard.allowed:
        guard.refused = (f"refused to connect to a {cls} address ({host}): the link comes from a page on a "
                         f"{'/'.join(sorted(guard.allowed - {'public'})) or 'public'} address; {_NON_PUBLIC_HELP}")
        raise RefusedError(guard.refused)


def _watchdog() -> None:
    while True:
        time.sleep(0.2)
        now = time.monotonic()
        with _lock:
            guards = list(_active)
        for guard in guards:
            guard._check(now)


def _install() -> None:
    global _installed
    with _lock:
        if not _installed:
            sys.addaudithook(_audit)
            threading.Thread(target=_watchdog, name="mediaproc-watchdog", daemon=True).start()
            _installed = True


@contextmanager
def guarded(allowed: frozenset[AddressClass] | None, *, stall: float | None = None,
            deadline: float | None = None, stop: threading.Event | None = None) -> Iterator[Guard]:
    """Within the block, this thread's sockets may only connect to addresses of the ``allowed`` classes
    (None: any), and the transfer is cut off when it stalls, passes ``deadline`` seconds or ``stop`` is set."""
    _install()
    guard = Guard(allowed, stall, None if deadline is None else time.monotonic() + deadline, stop)
    previous = _current.guard
    _current.guard = guard
    with _lock:
        _active.add(guard)
    try:
        yield guard
    finally:
        with _lock:
            _active.discard(guard)
        _current.guard = previous


__all__ = ["Policy", "Guard", "Aborted", "address_class", "host_class", "allowed_classes", "allowed_for_url",
           "local_path", "check_link",
           "guarded"]
