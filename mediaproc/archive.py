"""The archive: one SQLite index over everything in an output directory, full-text search, reused footage.

The JSON files each article leaves in ``OUT/<article-id>/`` stay the source of truth; ``OUT/index.sqlite``
is derived from them and can be rebuilt at any time (:func:`rebuild_index`, ``mediaproc index OUT``). A batch
adds each article as it completes (:func:`add_article`), from the one process that collects results, so
the output may sit on a shared filesystem. Text is searched with FTS5 (``unicode61`` tokens, diacritics
folded, so Arabic, Cyrillic and Latin scripts all work); keyframes carry a 64-bit perceptual hash
(:data:`REUSE_DISTANCE`), and near-identical frames of *different* media are linked as reused footage.

Schema (version :data:`SCHEMA_VERSION`; ``meta`` holds it): see :data:`SCHEMA`. It opens as it is in the
``sqlite3`` shell and in Datasette.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Callable, Iterable
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import _fs
from ._text import fold
from ._layout import ARCHIVE_JS, ArticleDir, ARTICLE_JSON, COMPLETE, INDEX, MANIFEST, OVERVIEW, REPORT

SCHEMA_VERSION = 1
# Two keyframes show the same shot when their 64-bit pHashes differ in at most this many bits. Measured with
# imagehash.phash on generated scenes: a re-encode at another size and a third of the bitrate moved 0 bits,
# unrelated scenes differed by 30-34. Candidates are found through an index, not by comparing every pair:
# the hash is cut into four 16-bit bands and two frames are compared when one band is equal. Two hashes
# within 3 bits always share a band (pigeonhole); at 4 to 6 bits most pairs do (all but about 9% at 4
# bits and 38% at 6, for bits flipped at random), which is the price of a search that stays fast at
# 100,000 frames (8-bit bands would compare every frame with thousands).
REUSE_DISTANCE = 6
RANK_CAP = 5000            # matches ranked per query at most (see _top)
_BANDS = 4
_BAND_BITS = 16

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS articles (
    id TEXT PRIMARY KEY,          -- the article directory's name under OUT
    source TEXT, title TEXT, published TEXT, language TEXT,
    status TEXT,                  -- ok | partial | failed | pending (manifest status)
    error TEXT, media_count INTEGER, media_failed INTEGER,
    languages TEXT,               -- languages heard, most speech first, comma-separated
    coverage REAL,                -- share of article sentences spoken in its best-aligned media
    complete INTEGER,             -- 1 when the article's outputs are whole (.complete exists)
    finished TEXT, mtime REAL);
CREATE TABLE IF NOT EXISTS media (
    article_id TEXT REFERENCES articles(id) ON DELETE CASCADE, id TEXT,
    url TEXT, kind TEXT, media_type TEXT, status TEXT, error TEXT, duration REAL,
    language TEXT, sha256 TEXT, PRIMARY KEY (article_id, id));
CREATE TABLE IF NOT EXISTS segments (
    id INTEGER PRIMARY KEY, article_id TEXT, media_id TEXT, start REAL, "end" REAL,
    language TEXT, suspect INTEGER, text TEXT,
    source TEXT);                 -- speech (the transcript) | screen (on-screen text: keyframes, subtitles)
CREATE INDEX IF NOT EXISTS segments_article ON segments(article_id);
CREATE VIRTUAL TABLE IF NOT EXISTS segments_fts USING fts5(
    text, content='segments', content_rowid='id', tokenize='unicode61 remove_diacritics 2', prefix='2 3 4');
CREATE TABLE IF NOT EXISTS paragraphs (id INTEGER PRIMARY KEY, article_id TEXT, idx INTEGER, text TEXT);
CREATE INDEX IF NOT EXISTS paragraphs_article ON paragraphs(article_id);
CREATE VIRTUAL TABLE IF NOT EXISTS paragraphs_fts USING fts5(
    text, content='paragraphs', content_rowid='id', tokenize='unicode61 remove_diacritics 2', prefix='2 3 4');
CREATE TABLE IF NOT EXISTS sentences (
    article_id TEXT, media_id TEXT, paragraph INTEGER, idx INTEGER, status TEXT, start REAL, "end" REAL,
    score REAL);
CREATE INDEX IF NOT EXISTS sentences_article ON sentences(article_id);
CREATE TABLE IF NOT EXISTS keyframes (
    id INTEGER PRIMARY KEY, article_id TEXT, media_id TEXT, time REAL, path TEXT, phash TEXT);
CREATE INDEX IF NOT EXISTS keyframes_article ON keyframes(article_id);
CREATE TABLE IF NOT EXISTS keyframe_bands (band INTEGER, value INTEGER, keyframe INTEGER);
CREATE INDEX IF NOT EXISTS keyframe_bands_value ON keyframe_bands(band, value);
CREATE TABLE IF NOT EXISTS reuse (a INTEGER, b INTEGER, distance INTEGER, PRIMARY KEY (a, b)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS reuse_b ON reuse(b);
"""


@dataclass
class Hit:
    """One search result: where the words are, and the link that opens the report at that moment."""

    article_id: str
    title: str
    within: str               # "transcript", "on screen" or "article"
    snippet: str              # the hit marked with [ ]
    media_id: str | None = None
    media_url: str | None = None
    start: float | None = None
    language: str | None = None
    report: str = ""          # path of report.html, with #t=<seconds>&m=<media> for a transcript hit
    rank: float = 0.0


def connect(out: str | Path) -> sqlite3.Connection:
    """The index of ``out``, created (empty) if it does not exist; refuses another schema version."""
    conn = sqlite3.connect(Path(out) / INDEX, timeout=30)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.executescript(SCHEMA)
    found = conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
    if found is None:
        conn.execute("INSERT INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
        conn.commit()
    elif int(found[0]) != SCHEMA_VERSION:
        conn.close()
        raise ValueError(f"{Path(out) / INDEX} has schema version {found[0]}, this mediaproc writes "
                         f"{SCHEMA_VERSION}: run `mediaproc index {out}`")
    return conn


def article_dirs(out: Path) -> list[Path]:
    """The article folders of ``out`` that mediaproc wrote (its manifest names the folder; not a link):
    a folder of someone else's that happens to hold a manifest.json is neither read nor written."""
    return sorted(p.parent for p in out.glob(f"*/{MANIFEST}") if ArticleDir(p.parent).is_ours())


def rebuild_index(out: str | Path) -> int:
    """Build ``OUT/index.sqlite`` afresh from the JSON files (built in a private temporary folder and moved
    over the old index at the end, so a reader never sees half of it), then the overview page; the number
    of articles indexed."""
    out = Path(out)
    _fs.remove_leftovers(out, "index-")              # what a killed rebuild left
    staging_dir = _fs.temp_dir("index", out)
    try:
        staging = staging_dir / INDEX
        conn = sqlite3.connect(staging)
        conn.executescript(SCHEMA)
        conn.execute("INSERT INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
        dirs = article_dirs(out)
        with conn:
            for art_dir in dirs:
                _insert_article(conn, art_dir)
            _link_all_reuse(conn)
        conn.close()
        if (out / INDEX).exists():
            # Let SQLite fold the old index's write-ahead log back and delete it: a -wal file left beside
            # the new database would be replayed into it.
            with closing(sqlite3.connect(out / INDEX)) as old:
                old.execute("PRAGMA journal_mode=DELETE")
        staging.replace(out / INDEX)
    finally:
        _fs.remove_temp_dir(staging_dir)
    with closing(connect(out)) as conn:
        write_archive_js(out, conn, [d.name for d in dirs])
        write_overview(out, conn)
    return len(dirs)


def add_article(out: str | Path, art_dir: str | Path, conn: sqlite3.Connection) -> None:
    """Index one article (replacing what the index had for it), link its reused footage, and rewrite the
    ``archive.js`` of the articles that changed. The overview is left to :func:`write_overview` (a batch
    writes it once at the end, not once per article)."""
    out, art_dir = Path(out), Path(art_dir)
    with conn:
        _delete_article(conn, art_dir.name)
        _insert_article(conn, art_dir)
        touched = _link_reuse(conn, art_dir.name)
    write_archive_js(out, conn, sorted({art_dir.name, *touched}))


def sync(out: str | Path, conn: sqlite3.Connection) -> int:
    """Bring the index in line with the JSON files: articles whose manifest changed since they were indexed
    (or that were never indexed: a batch killed between writing and indexing) are added again, those whose
    folder is gone are dropped. The number of articles that changed."""
    out = Path(out)
    known = dict(conn.execute("SELECT id, mtime FROM articles").fetchall())
    changed = 0
    for art_dir in article_dirs(out):
        if known.pop(art_dir.name, None) != (art_dir / MANIFEST).stat().st_mtime:
            add_article(out, art_dir, conn)
            changed += 1
    for gone in known:
        with conn:
            _delete_article(conn, gone)
        changed += 1
    return changed


class Indexer:
    """The batch's one writer of the index: brought in line with the JSON on entry, fed each article as it
    completes, and on exit synced again (what a killed run left) and the overview written. A broken index
    never fails the batch: the first error is reported once through ``warn`` and indexing stops; the JSON
    is whole and ``mediaproc index OUT`` rebuilds it."""

    def __init__(self, out: str | Path, warn: Callable[[str], None]) -> None:
        self.out, self.warn = Path(out), warn
        self.conn: sqlite3.Connection | None = None

    def _guard(self, work: Callable[[sqlite3.Connection], object]) -> None:
        if self.conn is None:
            return
        try:
            work(self.conn)
        except (sqlite3.Error, OSError, ValueError) as exc:
            self.warn(f"archive index {self.out / INDEX}: {exc}; the outputs are whole, "
                      f"rebuild the index with `mediaproc index {self.out}`")
            self.conn.close()
            self.conn = None

    def __enter__(self) -> Indexer:
        try:
            self.conn = connect(self.out)
        except (sqlite3.Error, OSError, ValueError) as exc:
            self.warn(f"archive index {self.out / INDEX} not updated: {exc}")
        self._guard(lambda conn: sync(self.out, conn))
        return self

    def add(self, art_dir: Path) -> None:
        self._guard(lambda conn: add_article(self.out, art_dir, conn))

    def __exit__(self, *exc: object) -> None:
        self._guard(lambda conn: (sync(self.out, conn), write_overview(self.out, conn)))
        if self.conn is not None:
            self.conn.close()


# --- reading an article's JSON -------------------------------------------------------------------------------

def _read(path: Path) -> Any:
    try:
        return _fs.read_json(path)
    except (OSError, ValueError):
        return None


def _delete_article(conn: sqlite3.Connection, article_id: str) -> None:
    conn.execute("INSERT INTO segments_fts(segments_fts, rowid, text) SELECT 'delete', id, text FROM segments "
                 "WHERE article_id=?", (article_id,))
    conn.execute("INSERT INTO paragraphs_fts(paragraphs_fts, rowid, text) SELECT 'delete', id, text FROM paragraphs "
                 "WHERE article_id=?", (article_id,))
    frames = "SELECT id FROM keyframes WHERE article_id=?"
    conn.execute(f"DELETE FROM reuse WHERE a IN ({frames}) OR b IN ({frames})", (article_id, article_id))
    conn.execute(f"DELETE FROM keyframe_bands WHERE keyframe IN ({frames})", (article_id,))
    for table in ("segments", "paragraphs", "sentences", "keyframes", "media", "articles"):
        conn.execute(f"DELETE FROM {table} WHERE {'id' if table == 'articles' else 'article_id'}=?", (article_id,))


def _insert_article(conn: sqlite3.Connection, art_dir: Path) -> None:
    manifest = _read(art_dir / MANIFEST)
    if not isinstance(manifest, dict):
        return
    aid = art_dir.name
    article = _read(art_dir / ARTICLE_JSON) or {}
    meta = article.get("metadata") or {}
    languages: dict[str, float] = {}
    coverage = None
    items = manifest.get("items") or []
    failed = sum(1 for i in items if i.get("status") == "failed")
    conn.execute("INSERT INTO articles VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)", (
        aid, manifest.get("source"), article.get("title") or manifest.get("title") or "", meta.get("date"),
        meta.get("lang"), manifest.get("status"), manifest.get("error"), len(items), failed, "", None,
        int((art_dir / COMPLETE).exists()), manifest.get("finished"), (art_dir / MANIFEST).stat().st_mtime))
    for item in items:
        media_dir = art_dir / "media" / str(item.get("id"))
        transcript = _read(media_dir / "transcript.json") or {}
        for region in transcript.get("regions") or []:
            seconds = sum(e - s for s, e in region.get("speech") or [])
            languages[region["language"]] = languages.get(region["language"], 0.0) + seconds
        if transcript.get("language") and not transcript.get("regions") and transcript.get("segments"):
            languages.setdefault(transcript["language"], 0.0)
        conn.execute("INSERT INTO media VALUES (?,?,?,?,?,?,?,?,?,?)", (
            aid, item.get("id"), item.get("url"), item.get("kind"), item.get("media_type"), item.get("status"),
            item.get("error"), item.get("duration"), transcript.get("language"), item.get("sha256")))
        rows = [(aid, item.get("id"), s.get("start"), s.get("end"), s.get("language") or transcript.get("language"),
                 int(bool(s.get("suspect"))), (s.get("text") or "").strip(), "speech")
                for s in transcript.get("segments") or []]
        onscreen = _read(media_dir / "onscreen.json") or {}
        rows += [(aid, item.get("id"), c.get("start"), c.get("end"), None, 0, c.get("text") or "", "screen")
                 for c in onscreen.get("cues") or []]
        keyframe_data = _read(media_dir / "keyframes.json") or {}
        rows += [(aid, item.get("id"), f.get("time"), f.get("time"), None, 0, line.get("text") or "", "screen")
                 for f in keyframe_data.get("frames") or [] for line in f.get("text") or []]
        conn.executemany("INSERT INTO segments(article_id, media_id, start, \"end\", language, suspect, text, source) "
                         "VALUES (?,?,?,?,?,?,?,?)", rows)
        alignment = _read(media_dir / "alignment.json")
        if isinstance(alignment, dict):
            summary = alignment.get("summary") or {}
            if summary.get("coverage") is not None:
                coverage = max(coverage or 0.0, summary["coverage"])
            conn.executemany("INSERT INTO sentences VALUES (?,?,?,?,?,?,?,?)", [
                (aid, item.get("id"), s.get("paragraph"), s.get("index"), s.get("status"), s.get("start"),
                 s.get("end"), s.get("score")) for s in alignment.get("sentences") or []])
        for frame in keyframe_data.get("frames") or []:
            phash = frame.get("phash")
            cur = conn.execute("INSERT INTO keyframes(article_id, media_id, time, path, phash) VALUES (?,?,?,?,?)",
                               (aid, item.get("id"), frame.get("time"),
                                f"media/{item.get('id')}/{frame.get('path')}", phash))
            if phash:
                value = int(phash, 16)
                conn.executemany("INSERT INTO keyframe_bands VALUES (?,?,?)",
                                 [(b, v, cur.lastrowid) for b, v in enumerate(_bands(value))])
    conn.executemany("INSERT INTO paragraphs(article_id, idx, text) VALUES (?,?,?)",
                     [(aid, p.get("index"), p.get("text")) for p in article.get("paragraphs") or []])
    conn.execute("INSERT INTO segments_fts(rowid, text) SELECT id, text FROM segments WHERE article_id=?", (aid,))
    conn.execute("INSERT INTO paragraphs_fts(rowid, text) SELECT id, text FROM paragraphs WHERE article_id=?", (aid,))
    conn.execute("UPDATE articles SET languages=?, coverage=? WHERE id=?",
                 (",".join(sorted(languages, key=lambda k: -languages[k])), coverage, aid))


# --- reused footage --------------------------------------------------------------------------------------------

def _link_reuse(conn: sqlite3.Connection, article_id: str) -> set[str]:
    """Link the article's keyframes with near-identical ones of other media; the other articles touched."""
    mine = conn.execute("SELECT id, media_id, phash FROM keyframes WHERE article_id=? AND phash IS NOT NULL",
                        (article_id,)).fetchall()
    touched: set[str] = set()
    for kid, media_id, phash in mine:
        value = int(phash, 16)
        clauses = " OR ".join("(kb.band=? AND kb.value=?)" for _ in range(_BANDS))
        params = [x for b, v in enumerate(_bands(value)) for x in (b, v)]
        rows = conn.execute(
            f"SELECT DISTINCT k.id, k.article_id, k.media_id, k.phash FROM keyframe_bands kb "
            f"JOIN keyframes k ON k.id = kb.keyframe WHERE ({clauses}) AND k.id != ?", [*params, kid]).fetchall()
        for other, other_article, other_media, other_hash in rows:
            if (other_article, other_media) == (article_id, media_id):
                continue        # a shot that returns within one video is not reuse
            distance = (value ^ int(other_hash, 16)).bit_count()
            if distance <= REUSE_DISTANCE:
                a, b = sorted((kid, other))
                conn.execute("INSERT OR REPLACE INTO reuse VALUES (?,?,?)", (a, b, distance))
                touched.add(other_article)
    return touched


def _bands(value: int) -> list[int]:
    mask = (1 << _BAND_BITS) - 1
    return [(value >> (_BAND_BITS * b)) & mask for b in range(_BANDS)]


def _link_all_reuse(conn: sqlite3.Connection) -> None:
    """Every pair of near-identical frames of different media, from one self-join on the bands."""
    rows = conn.execute("""
        SELECT DISTINCT x.keyframe, y.keyframe, kx.phash, ky.phash FROM keyframe_bands x
        JOIN keyframe_bands y ON y.band = x.band AND y.value = x.value AND y.keyframe > x.keyframe
        JOIN keyframes kx ON kx.id = x.keyframe JOIN keyframes ky ON ky.id = y.keyframe
        WHERE kx.article_id != ky.article_id OR kx.media_id != ky.media_id""")
    conn.executemany("INSERT OR REPLACE INTO reuse VALUES (?,?,?)", [
        (a, b, d) for a, b, ha, hb in rows if (d := (int(ha, 16) ^ int(hb, 16)).bit_count()) <= REUSE_DISTANCE])


def also_seen(conn: sqlite3.Connection, article_id: str) -> list[dict[str, Any]]:
    """The article's keyframes that also appear in other media of the archive, best match per pair of media."""
    rows = conn.execute("""
        SELECT mine.media_id, mine.time, other.article_id, other.media_id, other.time, r.distance,
               a.title, a.published, m.url
        FROM reuse r
        JOIN keyframes mine ON mine.id IN (r.a, r.b) AND mine.article_id = ?
        JOIN keyframes other ON other.id IN (r.a, r.b) AND other.id != mine.id
        JOIN articles a ON a.id = other.article_id
        LEFT JOIN media m ON m.article_id = other.article_id AND m.id = other.media_id
        ORDER BY r.distance, mine.time""", (article_id,)).fetchall()
    best: dict[tuple[str, str, str], dict[str, Any]] = {}
    for media, time, o_article, o_media, o_time, distance, title, date, url in rows:
        best.setdefault((media, o_article, o_media), {
            "media": media, "time": time, "article": o_article, "other_media": o_media, "other_time": o_time,
            "distance": distance, "title": title or o_article, "date": date, "url": url,
            "report": f"../{o_article}/{REPORT}#t={o_time:.2f}&m={o_media}"})
    return sorted(best.values(), key=lambda h: (h["media"], h["time"]))


# --- archive files: the overview page and each report's archive.js -------------------------------------------

def write_archive_js(out: Path, conn: sqlite3.Connection, article_ids: Iterable[str]) -> None:
    """``OUT/<id>/archive.js`` for each of ``article_ids``: what its report shows under "Also seen in this
    archive", and the way back to the overview."""
    for aid in article_ids:
        if (out / aid).is_dir():
            data = {"overview": f"../{OVERVIEW}", "also_seen": also_seen(conn, aid)}
            _fs.atomic_write_text(out / aid / ARCHIVE_JS, "window.mediaprocArchive = "
                                  + json.dumps(data, ensure_ascii=False).replace("</", "<\\/") + ";\n")


def overview_rows(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    cols = ["id", "title", "source", "published", "status", "error", "media_count", "media_failed", "languages",
            "coverage", "complete", "finished"]
    rows = [dict(zip(cols, r)) for r in conn.execute(f"SELECT {', '.join(cols)} FROM articles ORDER BY id")]
    failures: dict[str, list[str]] = {}
    for aid, url, error in conn.execute("SELECT article_id, url, error FROM media WHERE status IN ('failed', 'partial') "
                                        "AND error IS NOT NULL"):
        failures.setdefault(aid, []).append(f"{url}: {error}")
    for row in rows:
        row["failures"] = ([row["error"]] if row["error"] else []) + failures.get(row["id"], [])
        row["report"] = f"{row['id']}/{REPORT}"
    return rows


def write_overview(out: Path, conn: sqlite3.Connection) -> Path:
    from .report import render_overview

    return _fs.atomic_write_text(out / OVERVIEW, render_overview(overview_rows(conn)))


# --- search ------------------------------------------------------------------------------------------------

def fts_query(text: str) -> str:
    """A user's query as FTS5 syntax: quoted phrases kept, a trailing ``*`` a prefix, other words ANDed;
    FTS5 operators typed in capitals (AND, OR, NOT, NEAR) pass through."""
    parts = re.findall(r'"[^"]*"|\S+', text)
    out = []
    for part in parts:
        if part.startswith('"'):
            out.append(part if part.endswith('"') and len(part) > 1 else part + '"')
        elif part in ("AND", "OR", "NOT"):
            out.append(part)
        else:
            word = part.rstrip("*")
            word = re.sub(r'["()^:]', " ", word).strip()
            if word:
                out.append(f'"{word}"' + ("*" if part.endswith("*") else ""))
    return " ".join(out)


def search(out: str | Path, query: str, *, within: str = "all", language: str | None = None,
           limit: int = 20) -> list[Hit]:
    """Ranked (bm25) hits for ``query`` in transcripts, on-screen text and article text (``within``: all,
    transcripts, screen, articles); ``language`` keeps transcript segments in that language and articles
    written in it."""
    out = Path(out)
    if not (out / INDEX).is_file():
        raise FileNotFoundError(f"{out / INDEX} does not exist: run `mediaproc index {out}` first")
    match = fts_query(query)
    if not match:
        return []
    hits: list[Hit] = []
    conn = sqlite3.connect(f"file:{out / INDEX}?mode=ro", uri=True)
    try:
        if within in ("all", "transcripts", "screen"):
            source = {"transcripts": "speech", "screen": "screen"}.get(within)
            hits += _segment_hits(conn, match, language, source, limit)
        if within in ("all", "articles"):
            hits += _paragraph_hits(conn, match, language, limit)
    except sqlite3.OperationalError as exc:
        raise ValueError(f"search {query!r}: {exc}") from None
    finally:
        conn.close()
    return sorted(hits, key=lambda h: h.rank)[:limit]


def _top(conn: sqlite3.Connection, table: str, join: str, where: str, params: tuple[Any, ...], match: str,
         limit: int) -> list[tuple[int, float]]:
    """(rowid, rank) of the best ``limit`` matches, ranked and cut by FTS5 (bm25) before anything else is
    joined; ``join``/``where`` narrow them (language, source). bm25 costs about 3 µs a match, so a query
    matching more than ``RANK_CAP`` rows ranks the ``RANK_CAP`` indexed last (the newest) rather than all."""
    floor = conn.execute(f"SELECT rowid FROM {table} WHERE {table} MATCH ? ORDER BY rowid DESC LIMIT 1 OFFSET ?",
                         (match, RANK_CAP - 1)).fetchone()
    since = floor[0] if floor else 0
    return conn.execute(f"SELECT f.rowid, f.rank FROM {table} f {join} WHERE {table} MATCH ? AND f.rowid >= ? "
                        f"{where} ORDER BY f.rank LIMIT ?", (match, since, *params, limit)).fetchall()


def snippet(text: str, match: str, width: int = 12) -> str:
    """About ``width`` words of ``text`` around the first hit of the FTS5 query ``match``, hits in [ ]
    (words compared as FTS5's unicode61 tokenizer does: case and diacritics folded, ``*`` a prefix).
    Made here, not by FTS5's snippet(), which re-reads every matching row to make a handful."""
    terms = [(t.rstrip("*"), t.endswith("*")) for t in re.findall(r"[^\s()]+", fold(match).replace('"', ""))
             if t not in ("and", "or", "not", "near")]
    words = text.split()

    def hit(word: str) -> bool:
        w = re.sub(r"\W+", "", fold(word))
        return any(w.startswith(t) if prefix else w == t for t, prefix in terms if t)

    marks = [hit(w) for w in words]
    first = marks.index(True) if True in marks else 0
    lo = max(0, first - width // 3)
    shown = [f"[{w}]" if m else w for w, m in zip(words[lo:lo + width], marks[lo:lo + width])]
    return ("… " if lo else "") + " ".join(shown) + (" …" if lo + width < len(words) else "")


def _segment_hits(conn: sqlite3.Connection, match: str, language: str | None, source: str | None,
                  limit: int) -> list[Hit]:
    hits = []
    where, params = "", ()
    if language:
        where, params = " AND s.language = ?", (language,)
    if source:
        where, params = where + " AND s.source = ?", (*params, source)
    join = "JOIN segments s ON s.id = f.rowid" if where else ""
    for rowid, rank in _top(conn, "segments_fts", join, where, params, match, limit):
        aid, mid, start, lang, title, url, text, source = conn.execute(
            "SELECT s.article_id, s.media_id, s.start, s.language, a.title, m.url, s.text, s.source FROM segments s "
            "JOIN articles a ON a.id = s.article_id LEFT JOIN media m ON m.article_id = s.article_id "
            "AND m.id = s.media_id WHERE s.id = ?", (rowid,)).fetchone()
        hits.append(Hit(aid, title, "on screen" if source == "screen" else "transcript", snippet(text, match), mid,
                        url, start, lang,
                        f"{aid}/{REPORT}#t={start:.2f}&m={mid}", rank))
    return hits


def _paragraph_hits(conn: sqlite3.Connection, match: str, language: str | None, limit: int) -> list[Hit]:
    hits = []
    join = "JOIN paragraphs p ON p.id = f.rowid JOIN articles a ON a.id = p.article_id" if language else ""
    where, params = (" AND a.language = ?", (language,)) if language else ("", ())
    for rowid, rank in _top(conn, "paragraphs_fts", join, where, params, match, limit):
        aid, title, lang, text = conn.execute("SELECT p.article_id, a.title, a.language, p.text FROM paragraphs p "
                                              "JOIN articles a ON a.id = p.article_id WHERE p.id = ?",
                                              (rowid,)).fetchone()
        hits.append(Hit(aid, title, "article", snippet(text, match), language=lang, report=f"{aid}/{REPORT}",
                        rank=rank))
    return hits


__all__ = ["SCHEMA", "SCHEMA_VERSION", "REUSE_DISTANCE", "Hit", "Indexer", "connect", "rebuild_index", "add_article", "sync",
           "write_overview", "search", "also_seen", "fts_query"]
