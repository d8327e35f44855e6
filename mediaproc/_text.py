"""How times, sizes and URLs are shown to people (in messages, reports and contact sheets)."""

from __future__ import annotations

import unicodedata


def clock(seconds: float, decimals: int = 0) -> str:
    """``m:ss`` (``h:mm:ss`` past an hour), with ``decimals`` digits of the second: how people read times."""
    scale = 10 ** decimals
    total = round(seconds * scale)
    hours, rest = divmod(total, 3600 * scale)
    minutes, secs = divmod(rest, 60 * scale)
    width = 2 + (decimals + 1 if decimals else 0)
    sec = f"{secs / scale:0{width}.{decimals}f}"
    return f"{hours}:{minutes:02d}:{sec}" if hours else f"{minutes}:{sec}"


def short_url(url: str, limit: int = 120) -> str:
    """``url`` on one printable line of at most ``limit`` characters."""
    url = "".join(ch if ch.isprintable() else "?" for ch in url)
    return url if len(url) <= limit else url[: limit - 3] + "..."


def fold(text: str) -> str:
    """``text`` casefolded without diacritics, as FTS5's unicode61 tokenizer compares words ("Straße" and
    "STRASSE", "Şam" and "sam" fold alike)."""
    return "".join(ch for ch in unicodedata.normalize("NFKD", text.casefold()) if not unicodedata.combining(ch))


def printable(text: str) -> str:
    """``text`` safe to print on a terminal: control characters (escape sequences that could retitle the
    window or write the clipboard) shown as ``\\xNN``."""
    return "".join(ch if ch.isprintable() or ch in "\t\n" else f"\\x{ord(ch):02x}" for ch in text)


def megabytes(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 100_000 else f"{n} bytes"


__all__ = ["clock", "fold", "short_url", "printable", "megabytes"]
