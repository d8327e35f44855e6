"""Read an article (txt, md, html file or URL) into title, metadata, paragraphs and sentences.

HTML goes through trafilatura (main-text extraction is a solved problem there); plain text and
Markdown are split on blank lines with Markdown markup reduced to its text. Paragraphs that are
boilerplate (share buttons, donation appeals, disclaimers, nav labels) are kept aside in
``Article.boilerplate`` so the report can show them, but never reach the sentence aligner.
Sentences come from pysbd, a rule-based splitter ported from Ruby's pragmatic_segmenter: it
handles abbreviations, decimals, "17 – killed" style numbers and quotes, needs no model data
and is deterministic, which a hand-written regex is not on real news prose.
"""

from __future__ import annotations

import codecs
import http.client
import re
import urllib.error
import urllib.parse
import urllib.request
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from . import _net
from ._fs import read_json
from .errors import ArticleError, RefusedError
from .quotes import find_quotes
from ._urls import is_media_content_type, media_kind
from .schema import Article, Document, Origin, Paragraph, Sentence, load

__all__ = ["load_document", "parse_article", "read_article", "load_article", "split_sentences",
           "markdown_to_text", "MAX_ARTICLE_BYTES", "MAX_SENTENCES"]

_USER_AGENT = "Mozilla/5.0 (X11; Linux x86_64) mediaproc/0.2 (+article reader)"
# No proxy from the environment: the network policy judges the address connected to, which must be the host's.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))
_HTML_SUFFIXES = {".html", ".htm", ".xhtml", ".shtml"}
_MARKDOWN_SUFFIXES = {".md", ".markdown", ".mdown"}
_DEEP_DATE_BYTES = 2_000_000
_MIN_WORDS = 4        # less body text than this is a menu or an error page, not an article
MAX_ARTICLE_BYTES = 20_000_000   # a larger "article" is refused with one line (documented in the README)
_SPLIT_CHUNK = 4000   # characters pysbd sees at once: it is quadratic in the length of what it is given
MAX_SENTENCES = 50_000   # an "article" with more is refused with one line (pysbd splits ~5,000 a second)
# Leading bytes of containers we hand to the media stages instead of reading as text.
_MEDIA_MAGIC = (b"\x1aE\xdf\xa3", b"ID3", b"OggS", b"fLaC", b"RIFF", b"#EXTM3U", b"\xff\xfb", b"\xff\xf3")


# --------------------------------------------------------------------------- loading


def load_document(source: str, *, timeout: float = 30, deadline: float = 120, max_bytes: int = MAX_ARTICLE_BYTES,
                  policy: _net.Policy | None = None) -> Document:
    """Read a local file or fetch an http(s) URL; media (by extension, magic or Content-Type) is not read.

    The document's :class:`~mediaproc.schema.Origin` says what its links may reach (see :mod:`mediaproc._net`).
    A page must keep arriving (1 KiB per ``timeout`` seconds) and be whole within ``deadline`` seconds.
    """
    policy = policy or _net.Policy()
    if re.match(r"(?i)https?://", source):
        return _fetch(source, timeout=timeout, deadline=deadline, max_bytes=max_bytes, policy=policy)
    if re.match(r"(?i)[a-z][a-z0-9+.-]+://", source) and not source.lower().startswith("file://"):
        raise ArticleError(f"{source}: unsupported URL scheme (use http, https or a local file)")
    path = Path(urllib.parse.unquote(source[7:]) if source.lower().startswith("file://") else source).expanduser()
    if not path.exists():
        raise ArticleError(f"{source}: no such file")
    if not path.is_file():
        raise ArticleError(f"{source}: not a regular file")
    if media_kind(path.name):
        return Document(source, None, "media", "", path.resolve())
    size = path.stat().st_size
    if size > max_bytes:
        raise ArticleError(f"{source}: {size / 1e6:.1f} MB is larger than the {max_bytes / 1e6:g} MB limit "
                           "for an article")
    data = path.read_bytes()
    if data.startswith(_MEDIA_MAGIC) or data[4:8] == b"ftyp":
        return Document(source, None, "media", "", path.resolve())
    suffix = path.suffix.lower()
    kind = "html" if suffix in _HTML_SUFFIXES else "markdown" if suffix in _MARKDOWN_SUFFIXES else \
        "text" if suffix == ".txt" else None
    text = _decode(source, data, None, html=kind == "html" or (kind is None and _looks_like_html(data)))
    kind = kind or ("html" if _looks_like_html(data) else "text")
    return Document(source, None, kind, text, path.resolve(), Origin("local", root=path.resolve().parent))


def _fetch(url: str, *, timeout: float, deadline: float, max_bytes: int, policy: _net.Policy) -> Document:
    """GET the page under the network policy, the stall detector and the deadline (a trickle is cut off)."""
    host = urllib.parse.urlsplit(url).hostname or ""
    origin = Origin("network", address_class=_net.host_class(host))
    if media_kind(url):      # the user named this host; what it redirects to is judged like the page's links
        return Document(url, url, "media", "", origin=origin)
    request = urllib.request.Request(url, headers={"User-Agent": _USER_AGENT, "Accept": "text/html,*/*;q=0.8"})
    length, received = None, 0
    try:
        # The user named this host; a redirect may not take the fetch to another class of address.
        with _net.guarded(_net.allowed_classes(origin, policy), stall=timeout, deadline=deadline) as guard, \
                _OPENER.open(request, timeout=timeout) as response:
            final = response.geturl()
            ctype = response.headers.get("Content-Type", "")
            if is_media_content_type(ctype):
                return Document(url, final, "media", "", origin=origin)
            length = response.headers.get("Content-Length")
            if length and length.isdigit() and int(length) > max_bytes:
                raise ArticleError(f"{url}: {int(length) / 1e6:.1f} MB is larger than the "
                                   f"{max_bytes / 1e6:g} MB limit for an article")
            chunks: list[bytes] = []
            while block := response.read1(64 * 1024):
                received += len(block)
                if received > max_bytes:
                    raise ArticleError(f"{url}: more than the {max_bytes / 1e6:g} MB limit for an article")
                guard.progress(len(block))
                chunks.append(block)
            if guard.reason or (length and length.isdigit() and received < int(length)):
                raise TimeoutError            # cut off by the watchdog, or the server closed early
    except RefusedError as exc:
        raise ArticleError(f"{url}: {exc}") from None
    except urllib.error.HTTPError as exc:
        raise ArticleError(f"{url}: HTTP {exc.code} {exc.reason}") from None
    except (TimeoutError, OSError, _net.Aborted, http.client.HTTPException) as exc:  # URLError is an OSError
        if guard.reason:
            raise ArticleError(f"{url}: {guard.reason}") from None
        if isinstance(exc, TimeoutError) and length and length.isdigit() and received < int(length):
            raise ArticleError(f"{url}: the page ended after {received} of its {length} bytes") from None
        reason = getattr(exc, "reason", exc)
        if isinstance(exc, TimeoutError) or isinstance(reason, TimeoutError):
            raise ArticleError(f"{url}: no complete answer within {timeout:g} s (timed out)") from None
        raise ArticleError(f"{url}: cannot fetch ({' '.join(str(reason).split())})") from None
    data = b"".join(chunks)
    if data.startswith(_MEDIA_MAGIC) or data[4:8] == b"ftyp":
        return Document(url, final, "media", "", origin=origin)
    html = "html" in ctype.lower() or "xml" in ctype.lower() or (not ctype and _looks_like_html(data))
    kind = "html" if html or _looks_like_html(data) else \
        "markdown" if "markdown" in ctype.lower() or media_kind(final) is None and final.lower().endswith(".md") \
        else "text"
    charset = re.search(r"charset=([\w.:-]+)", ctype, re.I)
    text = _decode(url, data, charset.group(1) if charset else None, html=kind == "html")
    return Document(url, final, kind, text, origin=origin)


def _looks_like_html(data: bytes) -> bool:
    head = data[:4096].lstrip().lower()
    return head.startswith((b"<!doctype html", b"<html", b"<?xml")) or b"<body" in head or b"<head" in head


def _decode(source: str, data: bytes, declared: str | None, *, html: bool) -> str:
    """UTF-8 (with or without BOM) or, for HTML, the charset the server or page declares; else refuse."""
    if not data.strip():
        raise ArticleError(f"{source}: the file is empty")
    for bom, codec in ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16")):
        if data.startswith(bom):
            return data.decode(codec, errors="replace")
    if b"\x00" in data[:8192]:
        raise ArticleError(f"{source}: binary data, not a text or HTML article")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        meta = re.search(rb"""<meta[^>]+charset=["']?([\w.:-]+)""", data[:8192], re.I) if html else None
        charset = declared or (meta.group(1).decode("ascii") if meta else None)
        if charset and charset.lower().replace("_", "-") not in ("utf-8", "utf8"):
            try:
                return data.decode(charset, errors="replace")
            except LookupError:
                pass
        raise ArticleError(f"{source}: not UTF-8 text (invalid byte 0x{data[exc.start]:02x} at offset "
                           f"{exc.start}); save it as UTF-8") from None
    controls = sum(1 for ch in text[:8192] if ord(ch) < 32 and ch not in "\t\n\r\f")
    if controls > 0.01 * min(len(text), 8192) + 2:
        raise ArticleError(f"{source}: binary data, not a text or HTML article")
    return text


# --------------------------------------------------------------------------- parsing


def read_article(source: str, **kw: Any) -> Article:
    """``parse_article(load_document(source, **kw))``."""
    return parse_article(load_document(source, **kw))


def load_article(source: str, **kw: Any) -> Article:
    """An ``article.json`` written by mediaproc, or any article source :func:`read_article` takes."""
    if source.lower().endswith(".json") and Path(source).is_file():
        try:
            return load(Article, read_json(source))
        except (ValueError, OSError) as exc:
            raise ArticleError(f"{source}: not an article.json written by mediaproc ({exc})") from None
    return read_article(source, **kw)


def parse_article(doc: Document) -> Article:
    """Title, metadata, body paragraphs with sentences, and the boilerplate set aside."""
    if doc.kind == "media":
        name = doc.path.name if doc.path else urllib.parse.urlsplit(doc.url or doc.source).path.rsplit("/", 1)[-1]
        return Article(source=doc.source, title=name, metadata={"url": doc.url} if doc.url else {})
    if doc.kind == "html":
        title, metadata, blocks = _html_blocks(doc)
    else:
        title, metadata, blocks = _text_blocks(doc.text)
    # The extractor repeats the headline as the first block; it is the title, not a body sentence.
    if blocks and title and _squash(blocks[0][0]) == _squash(title):
        blocks = blocks[1:]
    if not blocks:
        raise ArticleError(f"{doc.source}: no article text found")
    article = Article(source=doc.source, title=title, metadata=metadata)
    not_prose = _not_prose(doc) if doc.kind == "html" else frozenset()
    labels = ["navigation" if links_only else _boilerplate_label(text, not_prose) for text, _, links_only in blocks]
    # In saved text, a standfirst between the title and the byline is header material, not body.
    byline = next((i for i, label in enumerate(labels[:4]) if label == "byline"), 0)
    for i in range(byline):
        labels[i] = labels[i] or "header"
        metadata.setdefault("description", blocks[i][0])
    for (text, span, _), label in zip(blocks, labels):
        if label == "byline" and "author" not in metadata:
            metadata["author"] = re.sub(r"(?i)^by\s+", "", text).strip()
        if label == "dateline" and "date" not in metadata:
            metadata["date"] = _iso_date(text) or text
        if label:
            kind = label if label in ("link", "caption") else "boilerplate"
            article.boilerplate.append(Paragraph(len(article.boilerplate), text, kind=kind, span=span))
        else:
            article.paragraphs.append(Paragraph(len(article.paragraphs), text, span=span))
    if sum(len(p.text.split()) for p in article.paragraphs) < _MIN_WORDS:
        raise ArticleError(f"{doc.source}: no article text found (fewer than {_MIN_WORDS} words of prose "
                           "outside navigation and boilerplate)")
    estimate = sum(len(_SENTENCE_END.findall(p.text)) + 1 for p in article.paragraphs)
    if estimate > MAX_SENTENCES:
        raise ArticleError(f"{doc.source}: about {estimate:,} sentences, more than the {MAX_SENTENCES:,} an article "
                           "may have (split the file)")
    for para in article.paragraphs:
        para.sentences = split_sentences(para.text, metadata.get("lang", "en"), para.index)
    article.quotes = find_quotes(article)
    return article


def _not_prose(doc: Document) -> frozenset[str]:
    """Texts the page's markup marks as captions or as the whole text of a link (not the article's prose)."""
    from lxml import html as lxml_html

    try:
        tree = lxml_html.document_fromstring(doc.text.encode("utf-8"))
    except Exception:     # lxml raises assorted errors on broken markup: then markup says nothing
        return frozenset()
    texts = [el.text_content() for el in tree.iter("figcaption", "caption")]
    texts += [a.text_content() for a in tree.iter("a") if 2 <= len(a.text_content().split()) <= 8]
    return frozenset(t for t in map(_squash, texts) if len(t) >= 8)


def _squash(text: str) -> str:
    return re.sub(r"\W+", " ", text).strip().casefold()


def _html_blocks(doc: Document) -> tuple[str, dict[str, str], list[tuple[str, None, bool]]]:
    import trafilatura
    from lxml import html as lxml_html

    try:
        # htmldate's exhaustive search of the text for dates runs regexes over the whole page while holding
        # the GIL (6 s on 10 MB); beyond _DEEP_DATE_BYTES the date comes from the markup only.
        result = trafilatura.bare_extraction(doc.text, url=doc.url, with_metadata=True, include_comments=False,
                                             include_tables=False, favor_precision=False, date_extraction_params={
                                                 "original_date": True,
                                                 "extensive_search": len(doc.text) <= _DEEP_DATE_BYTES})
    except Exception as exc:  # trafilatura raises assorted lxml/parser errors on broken markup
        raise ArticleError(f"{doc.source}: cannot parse the HTML ({type(exc).__name__})") from None
    if result is None or not (result.text or "").strip():
        raise ArticleError(f"{doc.source}: no article text found in the HTML")
    metadata: dict[str, str] = {}
    try:
        tree = lxml_html.document_fromstring(doc.text.encode("utf-8"))
    except Exception:
        tree = None
    if tree is not None:
        canonical = tree.xpath('//link[translate(@rel,"CANONICAL","canonical")="canonical"]/@href')
        lang = tree.get("lang") or next(iter(tree.xpath('//meta[@http-equiv="content-language"]/@content')), None)
        if canonical:
            metadata["canonical"] = urllib.parse.urljoin(doc.url or "", canonical[0].strip())
        if lang:
            metadata["lang"] = lang.strip().split("-")[0].lower()
    for key, value in (("author", result.author), ("date", result.date), ("sitename", result.sitename),
                       ("url", doc.url or result.url), ("lang", result.language)):
        if value and key not in metadata:
            metadata[key] = str(value)
    lines = [re.sub(r"\s+", " ", line).strip() for line in result.text.splitlines()]
    return (result.title or "").strip(), metadata, [(line, None, False) for line in lines if _has_words(line)]


# Markdown reduced to text: images and links to their text, autolinks to their URL, emphasis and
# code markers dropped. The inputs are articles saved as text, so this beats a full Markdown
# parser, which would turn "1." lines into lists and indented lines into code.
# Every repetition is bounded (and none crosses a line), so a page of unclosed "[" or "*" costs linear time.
_MD_IMAGE = re.compile(r"!\[([^\]\n]{0,500})\]\([^)\n]{0,2000}\)")
_MD_LINK = re.compile(r"\[([^\]\n]{0,500})\]\((?:[^()\s]|\([^()\s]{0,200}\)){0,2000}(?:\s+\"[^\"\n]{0,300}\")?\)")
_MD_AUTOLINK = re.compile(r"<((?:https?|ftp)://[^>\s]{1,2000})>")
_MD_EMPHASIS = re.compile(r"(?<![\w*])(\*{1,3}|_{1,3})(?=\S)([^\n]{1,300}?)(?<=\S)\1(?![\w*])")
_MD_CODE = re.compile(r"`([^`\n]{0,500})`")
_MD_LINE_PREFIX = re.compile(r"^\s{0,3}(?:#{1,6}\s+|>\s?|[-+*]\s+(?=\S)|\d{1,3}[.)]\s+(?=\S))")
_BARE_URL = re.compile(r"^(?:https?://|www\.)\S+$", re.I)


def markdown_to_text(text: str) -> str:
    """Markdown inline markup reduced to what a reader sees (link text, not link targets)."""
    text = _MD_IMAGE.sub(r"\1", text)
    text = _MD_LINK.sub(r"\1", text)
    text = _MD_AUTOLINK.sub(r"\1", text)
    text = _MD_CODE.sub(r"\1", text)
    for _ in range(2):   # nested emphasis (***bold italic***, *a **b***)
        text = _MD_EMPHASIS.sub(r"\2", text)
    return re.sub(r"[ \t]+", " ", text).strip()


def _text_blocks(text: str) -> tuple[str, dict[str, str], list[tuple[str, tuple[int, int], bool]]]:
    """Blank-line separated blocks (headings and list items on their own): (text, span in ``text``,
    whether the block was nothing but Markdown links, i.e. a navigation line)."""
    blocks: list[tuple[str, tuple[int, int], bool]] = []
    current: list[tuple[str, int, int]] = []

    def flush() -> None:
        if current:
            raw = " ".join(line for line, _, _ in current)
            # A line of nothing but links is navigation, unless a link is to media: "[Watch](clip.mp4)".
            links_only = (not _has_words(_MD_LINK.sub("", raw)) and bool(_MD_LINK.search(raw))
                          and not any(media_kind(u) for u in re.findall(r"\]\(\s*<?([^)\s>]+)", raw)))
            blocks.append((markdown_to_text(raw), (current[0][1], current[-1][2]), links_only))
            current.clear()

    pos = 0
    for raw in text.splitlines(keepends=True):
        start, end = pos, pos + len(raw.rstrip("\r\n"))
        pos += len(raw)
        line = raw.strip()
        if not line or re.fullmatch(r"[-*_=\s]{3,}|[*#~]+", line):
            flush()
            continue
        prefix = _MD_LINE_PREFIX.match(raw)
        if prefix and not raw.lstrip().startswith(">"):
            flush()   # a heading or list item starts its own paragraph
        current.append((raw[prefix.end():].strip() if prefix else line, start, end))
        if prefix and raw.lstrip().startswith("#"):
            flush()
    flush()
    # A paragraph that is only a URL is a link, not prose: links.find_links reports it.
    # The first block is the title, however short ("# A"); the others need words to be prose.
    title = blocks[0][0] if blocks and re.search(r"\w", blocks[0][0]) and not _BARE_URL.match(blocks[0][0]) else ""
    body = [block for block in blocks[1 if title else 0:] if _has_words(block[0]) and not _BARE_URL.match(block[0])]
    if not title and body:
        title, body = body[0][0], body[1:]
    return title, {}, body


def _has_words(text: str) -> bool:
    return bool(re.search(r"\w{2,}", text))


# --------------------------------------------------------------------------- boilerplate

_MONTHS = "january|february|march|april|may|june|july|august|september|october|november|december"
_DATE = re.compile(rf"(?i)\b(?:(\d{{1,2}})\s+({_MONTHS})\s+(\d{{4}})|({_MONTHS})\s+(\d{{1,2}}),?\s+(\d{{4}})|(\d{{4}})-(\d\d)-(\d\d))\b")
_BOILERPLATE_START = re.compile(
    r"(?i)^\W*(?:note to readers|disclaimer|copyright|©|\(c\)\s|all rights reserved|share (?:this|on)\b|"
    r"click (?:here|to share)|follow us|subscribe\b|sign up for|support (?:us\b|\S.{0,60}? in its)|donate\b|"
    r"become a (?:member|patron|subscriber)|articles by\s*:|comment on .{0,80}\b(?:facebook|articles)|"
    r"the original source of this article|for media inquiries|(?:region|theme|tags?|topics?|filed under|"
    r"in-depth report|related(?: articles| posts| videos| coverage)?|read more|see also|more on this|"
    r"categories|keywords)\s*:|advertisement\b|this article (?:was|is) (?:originally )?published|"
    r"(?:photo|image|video) credit\s*:)")
_BOILERPLATE_ANYWHERE = re.compile(r"(?i)all rights reserved|\bpatreon\.com\b|\bpaypal\b|please (?:donate|support us)")


# What is not prose, however it is marked up: calls to action next to a player, captions and credits.
_LINK_TEXT = re.compile(r"(?i)^\W*(?:watch|click|tap|play|see|view|listen|hear|open|download)\b[\w\s'’,:-]{0,40}"
                        r"(?:video|clip|footage|report|interview|here|now|live|stream|audio|podcast|below|above|"
                        r"gallery|photos?)?\W*$")
_CAPTION = re.compile(r"(?i)^\W*(?:video|photo|image|picture|graphic|footage|file photo|caption|credits?|source|"
                      r"illustration|screenshot|screengrab)\s*[:|/]|(?:\(|\b)(?:AP|AFP|Reuters|Getty Images|EPA|"
                      r"Anadolu|Shutterstock|ANSA|dpa)(?:\s*Photo)?\s*(?:/[^)]{0,60})?\)?\s*$|"
                      r"^\W*\((?:photo|image|video|picture)s?\b[^)]{0,80}\)\W*$")


def _boilerplate_label(text: str, not_prose: frozenset[str] = frozenset()) -> str | None:
    """Why a paragraph is not a candidate for alignment ("byline", "dateline", "boilerplate", "link" text,
    "caption"), or None for body text. ``not_prose``: texts the markup says are link texts or captions."""
    words = len(text.split())
    if words <= 8 and re.match(r"(?i)^by\s+\w", text):
        return "byline"
    if words <= 8 and _DATE.search(text):
        return "dateline"
    if _BOILERPLATE_START.match(text) or (len(text) < 600 and _BOILERPLATE_ANYWHERE.search(text)):
        return "boilerplate"
    if _squash(text) in not_prose:
        return "caption"
    if words <= 8 and _LINK_TEXT.match(text):
        return "link"
    if words <= 40 and _CAPTION.search(text):
        return "caption"
    return None


def _iso_date(text: str) -> str | None:
    m = _DATE.search(text)
    if not m:
        return None
    if m.group(7):
        return f"{m.group(7)}-{m.group(8)}-{m.group(9)}"
    day, month, year = (m.group(1), m.group(2), m.group(3)) if m.group(1) else (m.group(5), m.group(4), m.group(6))
    try:
        return datetime.strptime(f"{day} {month} {year}", "%d %B %Y").date().isoformat()
    except ValueError:  # "31 February 2024": keep the text as it is
        return None


# --------------------------------------------------------------------------- sentences


@lru_cache(maxsize=8)
def _segmenter(lang: str) -> Any:
    import pysbd
    return pysbd.Segmenter(language=lang if lang in pysbd.languages.LANGUAGE_CODES else "en", clean=False)


def split_sentences(text: str, lang: str = "en", paragraph: int = 0) -> list[Sentence]:
    """Sentences of one paragraph with character offsets into ``text`` (whitespace trimmed).

    pysbd's cost grows with the square of its input, so a long paragraph is cut into pieces of
    about ``_SPLIT_CHUNK`` characters at a sentence end (or, failing one, a space) first: a text
    file of a million lines then splits in seconds, not hours.
    """
    sentences: list[Sentence] = []
    for base, chunk in _chunks(text):
        pos = 0
        for piece in _segmenter(lang).segment(chunk):
            piece = piece.strip()
            if not piece:
                continue
            start = chunk.find(piece, pos)
            if start < 0:           # pysbd never rewrites with clean=False, but stay safe
                start = pos
            end = start + len(piece)
            sentences.append(Sentence(paragraph, len(sentences), chunk[start:end], base + start, base + end))
            pos = end
    return sentences


_SENTENCE_END = re.compile(r"[.!?…][\"'”’»)\]]*\s+")


def _chunks(text: str) -> list[tuple[int, str]]:
    """(offset, piece) of ``text`` in pieces of at most about ``_SPLIT_CHUNK`` characters."""
    out, start = [], 0
    while len(text) - start > _SPLIT_CHUNK:
        window = text[start:start + _SPLIT_CHUNK]
        ends = [m.end() for m in _SENTENCE_END.finditer(window, _SPLIT_CHUNK // 2)]
        cut = ends[-1] if ends else (window.rfind(" ") + 1 or _SPLIT_CHUNK)
        out.append((start, text[start:start + cut]))
        start += cut
    out.append((start, text[start:]))
    return out
