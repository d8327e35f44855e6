"""Article reading: text/Markdown/HTML parsing, boilerplate, sentences, loading and bad input."""

from __future__ import annotations

import json
import os
import re
import threading
import time
from datetime import date, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from lxml import html as lxml_html

from mediaproc._fs import read_json, write_json
from mediaproc.article import load_document, parse_article, read_article, split_sentences
from mediaproc.errors import ArticleError, MediaprocError
from mediaproc.schema import Article, Document, dump, load

DATA = Path(__file__).parent / "data"
EXAMPLE = DATA / "examples" / "article-with-mp4-report.txt"
# The pages whose extractor test suites give their expected text (the link corpus has many more).
PAGES = [DATA / "html" / name for name in (
    "newspaper4k-cnn_002", "newspaper4k-video_article_02", "readability-breitbart", "readability-cnet",
    "readability-cnn", "readability-embedded-videos", "readability-schema-org-context-object", "readability-videos-2",
    "trafilatura-chip.de.beef", "trafilatura-dw.com.colonial", "trafilatura-gofeminin.de.abnehmen",
    "trafilatura-ndr.de.podcastcoronavirus140", "trafilatura-reuters.com.parasite",
    "trafilatura-theguardian.com.academics")]


def _norm(text: str) -> str:
    return re.sub(r"\W+", "", text).lower()


# --------------------------------------------------------------------------- the user's example


@pytest.fixture(scope="module")
def example() -> Article:
    return read_article(str(EXAMPLE))


def test_example_title_metadata_and_body(example: Article) -> None:
    assert example.title == "Video: Battle for Idlib: Syrian Army Aims for M5 Highway"
    assert example.metadata["author"] == "South Front"
    assert example.metadata["date"] == "2019-12-24"
    assert example.paragraphs[0].text.startswith("The Syrian Army and its allies delivered")
    assert example.paragraphs[-1].text.startswith("The increase of ISIS activity")
    assert len(example.paragraphs) == 9
    assert all(p.kind == "body" for p in example.paragraphs)


def test_example_boilerplate_set_aside_not_lost(example: Article) -> None:
    body = " ".join(s.text for s in example.sentences())
    aside = " ".join(p.text for p in example.boilerplate)
    for marker in ("Note to readers", "Support South Front", "Disclaimer", "Copyright ©", "Comment on Global Research",
                   "Become a Member", "Articles by", "Region:", "Theme:", "PayPal", "For media inquiries"):
        assert marker not in body, marker
        assert marker in aside, marker
    assert all(p.kind == "boilerplate" for p in example.boilerplate)


def test_example_markdown_reduced_and_url_paragraph_is_not_prose(example: Article) -> None:
    texts = [p.text for p in example.paragraphs + example.boilerplate]
    assert not any("](" in t or "[" in t for t in texts)
    assert "Region: Middle East & North Africa" in texts
    assert not any("IMR_23_12_2019.mp4" in t for t in texts)


def test_example_sentences_and_offsets(example: Article) -> None:
    casualties = next(p for p in example.paragraphs if "17 – killed" in p.text)
    sentences = [s.text for s in casualties.sentences]
    assert "The number of the Syrian Army casualties, according to Russia: 17 – killed, 42 – injured." in sentences
    assert len(sentences) == 4
    for para in example.paragraphs:
        assert para.sentences, para.text
        for i, s in enumerate(para.sentences):
            assert (s.paragraph, s.index) == (para.index, i)
            assert para.text[s.start:s.end] == s.text


def test_article_json_round_trip(example: Article, tmp_path: Path) -> None:
    write_json(tmp_path / "article.json", example)
    data = read_json(tmp_path / "article.json")
    assert {"title", "metadata", "paragraphs", "boilerplate"} <= data.keys()
    assert data["boilerplate"][0]["kind"] == "boilerplate"
    assert {"index", "text", "start", "end"} <= data["paragraphs"][0]["sentences"][0].keys()
    assert load(Article, data) == example
    assert load(Article, json.loads(json.dumps(dump(example)))) == example


# --------------------------------------------------------------------------- sentences and Markdown


@pytest.mark.parametrize("text, expected", [
    ("Dr. Smith met Mr. J. R. Jones at 3 p.m. on Jan. 5. He left.",
     ["Dr. Smith met Mr. J. R. Jones at 3 p.m. on Jan. 5.", "He left."]),
    ("The U.S. economy grew 2.5% in 2019. Was it? Yes!", ["The U.S. economy grew 2.5% in 2019.", "Was it?", "Yes!"]),
    ('He said, "It is done." She nodded.', ['He said, "It is done."', "She nodded."]),
    ("Casualties: 17 – killed, 42 – injured. Others fled.", ["Casualties: 17 – killed, 42 – injured.", "Others fled."]),
])
def test_split_sentences(text: str, expected: list[str]) -> None:
    got = split_sentences(text)
    assert [s.text for s in got] == expected
    assert all(text[s.start:s.end] == s.text for s in got)


def test_markdown_file(tmp_path: Path) -> None:
    md = tmp_path / "a.md"
    md.write_text("# My **Title**\n\nBy Jane Doe\n\nFirst line with a [link](http://x.org/a) and `code`.\n"
                  "It continues *here*.\n\n- item one is a sentence.\n- item two.\n\n"
                  "<https://example.org/clip.mp4>\n\n![a chart](c.png) shows it.\n\n---\n\n"
                  "Share this article on Facebook\n", encoding="utf-8")
    art = read_article(str(md))
    assert art.title == "My Title"
    assert art.metadata["author"] == "Jane Doe"
    assert [p.text for p in art.paragraphs] == [
        "First line with a link and code. It continues here.", "item one is a sentence.", "item two.",
        "a chart shows it."]
    assert [p.text for p in art.boilerplate] == ["By Jane Doe", "Share this article on Facebook"]


# --------------------------------------------------------------------------- real HTML pages


def _expected_paragraphs(page: Path) -> list[str]:
    if (page / "expected.html").exists():
        root = lxml_html.fromstring((page / "expected.html").read_text(encoding="utf-8"))
        paras = [e.text_content() for e in root.iter("p", "li", "h2", "h3")]
    elif (page / "expected.txt").exists():
        paras = re.split(r"\n\s*\n", (page / "expected.txt").read_text(encoding="utf-8"))
    else:
        return json.loads((page / "expected-evaldata.json").read_text(encoding="utf-8"))["with"]
    return [p for p in paras if len(_norm(p)) >= 20]


@pytest.fixture(scope="module")
def corpus_articles() -> dict[str, Article]:
    return {page.name: read_article(str(page / "source.html")) for page in PAGES}


def test_html_text_matches_expected(corpus_articles: dict[str, Article]) -> None:
    """Expected paragraphs must be in the extracted text (body, or set aside as boilerplate)."""
    total = hits = 0
    for page in PAGES:
        art = corpus_articles[page.name]
        text = _norm(" ".join(p.text for p in art.paragraphs + art.boilerplate))
        expected = _expected_paragraphs(page)
        found = sum(_norm(p) in text for p in expected)
        print(f"{page.name:45s} expected paragraphs found {found}/{len(expected)}")
        assert found >= 0.7 * len(expected), page.name
        total, hits = total + len(expected), hits + found
    assert hits >= 0.9 * total, f"{hits}/{total}"


def test_html_boilerplate_snippets_mostly_excluded(corpus_articles: dict[str, Article]) -> None:
    """trafilatura's evaldata 'without' snippets (nav, teasers, footers) must rarely reach the body."""
    total = leaked = 0
    for page in PAGES:
        evaldata = page / "expected-evaldata.json"
        if evaldata.exists():
            body = _norm(" ".join(p.text for p in corpus_articles[page.name].paragraphs))
            without = json.loads(evaldata.read_text(encoding="utf-8"))["without"]
            total += len(without)
            leaked += sum(_norm(w) in body for w in without)
    assert total >= 10 and leaked <= 0.25 * total, f"{leaked}/{total} leaked"


def test_html_metadata(corpus_articles: dict[str, Article]) -> None:
    for page in PAGES:
        evaldata = page / "expected-evaldata.json"
        meta = json.loads(evaldata.read_text(encoding="utf-8")) if evaldata.exists() else \
            json.loads((page / "expected-metadata.json").read_text(encoding="utf-8"))
        art = corpus_articles[page.name]
        if meta.get("title") and page.name.startswith(("trafilatura", "newspaper4k")):
            assert _norm(meta["title"]) in _norm(art.title), page.name
        if meta.get("date"):   # within a day: pages give local time, extractors may give UTC
            got = date.fromisoformat(art.metadata["date"][:10])
            assert abs(got - date.fromisoformat(meta["date"][:10])) <= timedelta(days=1), page.name
        if meta.get("author"):
            assert _norm(meta["author"]) in _norm(art.metadata.get("author", "")), page.name
    reuters = corpus_articles["trafilatura-reuters.com.parasite"]
    assert reuters.metadata["canonical"].startswith("https://www.reuters.com/article/")
    assert corpus_articles["readability-videos-2"].metadata["lang"] == "fr"


# --------------------------------------------------------------------------- loading and bad input


def _error(source: str, **kw: object) -> str:
    with pytest.raises(ArticleError) as info:
        read_article(source, **kw)
    message = str(info.value)
    assert "\n" not in message and source in message
    assert isinstance(info.value, MediaprocError)
    return message


def test_bad_files(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.txt"
    garbage.write_bytes(os.urandom(4096))
    assert "binary" in _error(str(garbage)) or "UTF-8" in _error(str(garbage))
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    assert "empty" in _error(str(empty))
    blank = tmp_path / "blank.md"
    blank.write_text("\n  \n\t\n")
    assert "empty" in _error(str(blank))
    latin = tmp_path / "latin.txt"
    latin.write_bytes("Größe und Übermaß, ein Artikel.".encode("latin-1"))
    assert "not UTF-8" in _error(str(latin))
    assert "no such file" in _error(str(tmp_path / "missing.txt"))
    assert "not a regular file" in _error(str(tmp_path))
    big = tmp_path / "big.txt"
    with big.open("wb") as f:
        line = b"A sentence that repeats to make a very large article file. " * 16 + b"\n"
        for _ in range(50_000_000 // len(line) + 1):
            f.write(line)
    assert "MB limit" in _error(str(big))


def test_html_without_article_and_malformed_html(tmp_path: Path) -> None:
    empty_page = tmp_path / "nav.html"
    empty_page.write_text("<html><body><nav><a href='/'>Home</a> <a href='/x'>News</a></nav></body></html>")
    assert "no article text" in _error(str(empty_page))
    broken = tmp_path / "broken.html"
    broken.write_text("<html><body><div><p>The mayor said on Monday that the bridge will reopen in May "
                      "after repairs.<p>Engineers found cracks <b>in two <i>pillars</div> last year, "
                      "which closed the bridge.</span></tr><p>Traffic", encoding="utf-8")
    art = read_article(str(broken))
    assert "bridge will reopen in May" in " ".join(s.text for s in art.sentences())


def test_media_files_are_not_read(tmp_path: Path) -> None:
    clip = tmp_path / "clip.MP4"
    clip.write_bytes(b"\x00\x00\x00\x18ftypmp42" + os.urandom(100))
    doc = load_document(str(clip))
    assert (doc.kind, doc.text, doc.path) == ("media", "", clip.resolve())
    noext = tmp_path / "clip"
    noext.write_bytes(b"\x00\x00\x00\x18ftypisom" + os.urandom(100))
    assert load_document(str(noext)).kind == "media"
    assert parse_article(doc).title == "clip.MP4"


class _Handler(BaseHTTPRequestHandler):
    pages: dict[str, tuple[str, bytes]] = {}

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        if self.path == "/stall":
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(b"<html><body><p>Slow")
            self.wfile.flush()
            time.sleep(3)
            return
        ctype, body = self.pages.get(self.path, ("text/plain", b""))
        if not body:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture(scope="module")
def server() -> str:
    page = (DATA / "html" / "readability-cnn" / "source.html").read_bytes()
    _Handler.pages = {"/story/index.html": ("text/html; charset=utf-8", page),
                      "/watch": ("video/mp4", b"\x00\x00\x00\x18ftypmp42"),
                      "/article.txt": ("text/plain; charset=utf-8", EXAMPLE.read_bytes())}
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_fetch_html_text_and_media_urls(server: str) -> None:
    doc = load_document(f"{server}/story/index.html")
    assert (doc.kind, doc.url, doc.path) == ("html", f"{server}/story/index.html", None)
    assert "birth lottery" in parse_article(doc).title
    text = load_document(f"{server}/article.txt")
    assert text.kind == "text" and parse_article(text).title.startswith("Video: Battle for Idlib")
    media = load_document(f"{server}/watch")
    assert (media.kind, media.text) == ("media", "")
    assert load_document(f"{server}/x/clip.m3u8?t=1").kind == "media"   # by extension, not fetched


def test_fetch_errors(server: str) -> None:
    assert "HTTP 404" in _error(f"{server}/missing")
    assert "timed out" in _error(f"{server}/stall", timeout=1)
    assert "MB limit" in _error(f"{server}/story/index.html", max_bytes=10_000)
    assert "unsupported URL scheme" in _error("ftp://example.org/a.txt")


def test_document_dataclass_fields() -> None:
    doc = Document("a.txt", None, "text", "Title\n\nOne short sentence is here.", None)
    art = parse_article(doc)
    assert art.title == "Title" and art.paragraphs[0].sentences[0].text == "One short sentence is here."
