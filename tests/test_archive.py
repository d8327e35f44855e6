"""The archive: index.sqlite from the JSON files, search, reused footage, the overview page."""

from __future__ import annotations

import json
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

import pytest

from mediaproc import archive
from mediaproc.testing import synth
from mediaproc.testing.archive import fake_article
from mediaproc.testing.server import FileServer

CHROMIUM = shutil.which("chromium")


def mediaproc(*args: str, timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mediaproc", *args], capture_output=True, text=True, timeout=timeout)


def _rows(out: Path) -> dict[str, object]:
    """What the index holds, in a form two indexes of the same JSON compare equal in."""
    with closing(sqlite3.connect(out / "index.sqlite")) as conn:
        return {
            "articles": conn.execute("SELECT id, title, status, media_count, languages, coverage, complete "
                                     "FROM articles ORDER BY id").fetchall(),
            "segments": conn.execute("SELECT article_id, media_id, start, text FROM segments "
                                     "ORDER BY article_id, media_id, start").fetchall(),
            "frames": conn.execute("SELECT article_id, media_id, time, phash FROM keyframes "
                                   "ORDER BY article_id, media_id, time").fetchall(),
            "reuse": conn.execute("SELECT ka.article_id, ka.time, kb.article_id, kb.time, r.distance FROM reuse r "
                                  "JOIN keyframes ka ON ka.id = r.a JOIN keyframes kb ON kb.id = r.b "
                                  "ORDER BY 1, 2, 3, 4").fetchall(),
            "fts": conn.execute("SELECT count(*) FROM segments_fts WHERE segments_fts MATCH 'army OR bridge'").fetchone(),
        }


@pytest.fixture()
def small(tmp_path: Path) -> Path:
    rng = random.Random(3)
    for n in range(5):
        fake_article(tmp_path, n, rng)
    return tmp_path


def test_rebuild_search_phrase_prefix_language_and_where(small: Path) -> None:
    assert archive.rebuild_index(small) == 5
    with closing(sqlite3.connect(small / "index.sqlite")) as conn:
        (version,) = conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        segment = conn.execute("SELECT article_id, media_id, start, text, language FROM segments "
                               "ORDER BY id LIMIT 1 OFFSET 17").fetchone()
    assert int(version) == archive.SCHEMA_VERSION
    aid, mid, start, text, language = segment
    phrase = " ".join(text.rstrip(".").split()[1:4])
    hits = archive.search(small, f'"{phrase}"', within="transcripts")
    mine = [h for h in hits if (h.article_id, h.media_id, h.start) == (aid, mid, start)]
    assert mine and "[" in mine[0].snippet and mine[0].report == f"{aid}/report.html#t={start:.2f}&m={mid}"
    assert all(phrase.lower() in h.snippet.replace("[", "").replace("]", "").lower() for h in hits)
    prefix = text.split()[2][:3].lower()
    assert archive.search(small, f"{prefix}*", within="transcripts")
    other = "ru" if language != "ru" else "en"
    assert all(h.language == other for h in archive.search(small, f"{prefix}*", language=other))
    assert {h.within for h in archive.search(small, "army OR bridge OR convoy", limit=200)} == {"transcript", "article"}
    assert all(h.within == "article" for h in archive.search(small, "army OR convoy", within="articles"))
    assert archive.search(small, "zebra") == []


def test_a_changed_or_removed_article_is_synced_and_an_older_schema_refused(small: Path) -> None:
    archive.rebuild_index(small)
    before = _rows(small)
    shutil.rmtree(small / "article-000001")
    fake_article(small, 2, random.Random(99))               # rewritten with other words
    with closing(archive.connect(small)) as conn:
        assert archive.sync(small, conn) == 2
    after = _rows(small)
    archive.rebuild_index(small)
    assert after == _rows(small) != before
    with closing(sqlite3.connect(small / "index.sqlite")) as conn:
        conn.execute("UPDATE meta SET value='0' WHERE key='schema_version'")
        conn.commit()
    with pytest.raises(ValueError, match="schema version 0"):
        archive.connect(small)


def test_near_identical_frames_of_different_media_are_linked(tmp_path: Path) -> None:
    shot = 0x9F3A_55C2_0E71_B4D8
    close = shot ^ 0b1011                                    # 3 bits apart: the same shot re-encoded
    far = shot ^ ((1 << 40) - 1)                             # 40 bits apart: another shot
    rng = random.Random(1)
    fake_article(tmp_path, 0, rng, phashes=[f"{shot:016x}", f"{rng.getrandbits(64):016x}", f"{shot:016x}"])
    fake_article(tmp_path, 1, rng, phashes=[f"{rng.getrandbits(64):016x}", f"{close:016x}"])
    fake_article(tmp_path, 2, rng, phashes=[f"{far:016x}"])
    archive.rebuild_index(tmp_path)
    with closing(archive.connect(tmp_path)) as conn:
        seen = archive.also_seen(conn, "article-000000")
        assert [(h["article"], h["distance"]) for h in seen] == [("article-000001", 3)]
        assert seen[0]["time"] == 0.0 and seen[0]["other_time"] == 10.0
        assert seen[0]["report"] == "../article-000001/report.html#t=10.00&m=clip-000001-0"
        assert archive.also_seen(conn, "article-000002") == []   # and a shot that returns in one video is no reuse
    js = (tmp_path / "article-000001" / "archive.js").read_text()
    data = json.loads(js.removeprefix("window.mediaprocArchive = ").rstrip().rstrip(";"))
    assert data["overview"] == "../index.html" and data["also_seen"][0]["article"] == "article-000000"


def test_index_and_search_commands(small: Path) -> None:
    proc = mediaproc("index", str(small), "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["articles"] == 5 and (small / "index.html").is_file()
    found = mediaproc("search", "army OR bridge", str(small), "--json", "--limit", "3")
    assert found.returncode == 0 and len(json.loads(found.stdout)) == 3
    assert mediaproc("search", "zebra", str(small)).returncode == 1
    missing = mediaproc("search", "army", str(small / "nowhere"))
    assert missing.returncode == 2 and "mediaproc index" in missing.stderr
    assert "Traceback" not in mediaproc("search", '"unclosed AND (', str(small)).stderr


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (scripts/test.sh installs it)")
def test_overview_page_filters_and_sorts_in_chromium(tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    rng = random.Random(5)
    for n in range(6):
        fake_article(tmp_path, n, rng)
    manifest = tmp_path / "article-000004" / "manifest.json"
    data = json.loads(manifest.read_text())
    data["status"], data["error"] = "failed", "download failed: HTTP 404 for https://cdn.example/x.mp4"
    manifest.write_text(json.dumps(data))
    archive.rebuild_index(tmp_path)
    errors: list[str] = []
    with FileServer(tmp_path) as srv, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page()
        page.on("console", lambda msg: msg.type == "error" and errors.append(msg.text))
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(srv.url("index.html"))
        visible = "() => [...document.querySelectorAll('#articles tbody tr')].filter(r => !r.hidden).length"
        assert page.evaluate(visible) == 6
        page.select_option("#status", "failed")
        assert page.evaluate(visible) == 1 and "HTTP 404" in page.inner_text("#articles tbody tr:not([hidden])")
        page.select_option("#status", "")
        page.fill("#q", "report 3:")
        assert page.evaluate(visible) == 1
        page.fill("#q", "")
        page.click("th[data-key=title]")
        page.click("th[data-key=title]")
        titles = page.eval_on_selector_all("#articles tbody tr", "rs => rs.map(r => r.dataset.title)")
        assert titles == sorted(titles, reverse=True)
        hrefs = page.eval_on_selector_all("#articles tbody tr a", "as => as.map(a => a.getAttribute('href'))")
        assert sorted(hrefs) == [f"article-{n:06d}/report.html" for n in range(6)]
        browser.close()
    assert errors == []


@pytest.mark.slow
def test_a_real_batch_finds_reused_footage_and_survives_a_kill(tmp_path: Path) -> None:
    media = tmp_path / "media"
    media.mkdir()
    synth.scenes_video(media / "original.mp4", ["testsrc2", "mandelbrot", "smptebars"], size="640x360",
                       bitrate="900k")
    # The mandelbrot shot again, re-encoded smaller and at a third of the bitrate, between other shots.
    synth.scenes_video(media / "reupload.mp4", ["rgbtestsrc", "mandelbrot", "yuvtestsrc"], size="426x240",
                       bitrate="300k")
    synth.scenes_video(media / "unrelated.mp4", ["life", "cellauto"], size="640x360")
    articles = tmp_path / "articles"
    articles.mkdir()
    with FileServer(media) as srv:
        for name, clip in (("a-original", "original.mp4"), ("b-reupload", "reupload.mp4"),
                           ("c-unrelated", "unrelated.mp4")):
            (articles / f"{name}.md").write_text(f"# {name}\n\nThe council met on Tuesday about the {name} clip.\n\n"
                                                 f"{srv.url(clip)}\n")
        out = tmp_path / "out"
        args = [sys.executable, "-m", "mediaproc", "batch", str(articles), "-o", str(out), "--jobs", "1",
                "--keyframes", "scenes"]
        proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 300
        while not list(out.glob("*/.complete")) and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)          # killed between articles or in the middle of one
        proc.wait()
        resumed = subprocess.run(args, capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr
    incremental = _rows(out)
    assert len(incremental["articles"]) == 3
    archive.rebuild_index(out)
    assert _rows(out) == incremental               # the index matches the JSON after the kill and the resume
    pairs = {frozenset((a.split("-")[1], b.split("-")[1])) for a, _, b, _, _ in incremental["reuse"]}
    assert pairs == {frozenset(("original", "reupload"))}, incremental["reuse"]
    original = next(p for p in out.iterdir() if p.name.startswith("a-original"))
    data = json.loads((original / "archive.js").read_text().removeprefix("window.mediaprocArchive = ").rstrip()[:-1])
    assert any(h["article"].startswith("b-reupload") for h in data["also_seen"])
    assert (out / "index.html").is_file()
    assert "b-reupload" in (out / "index.html").read_text()


def test_a_planted_manifest_is_neither_indexed_nor_written_into(small: Path) -> None:
    planted = small / "evidence"
    planted.mkdir()
    (planted / "manifest.json").write_text(json.dumps({"article_id": "someone-else", "source": "x", "items": []}))
    (planted / "notes.txt").write_text("mine")
    stale = small / ".mediaproc-index-killed"        # a rebuild killed half way, with its mark
    stale.mkdir()
    (stale / ".mediaproc-temp").touch()
    (stale / "index.sqlite").write_text("half")
    assert archive.rebuild_index(small) == 5
    assert sorted(p.name for p in planted.iterdir()) == ["manifest.json", "notes.txt"]
    assert not stale.exists() and not list(small.glob(".mediaproc-index-*"))
    with closing(sqlite3.connect(small / "index.sqlite")) as conn:
        assert conn.execute("SELECT count(*) FROM articles WHERE id='evidence'").fetchone() == (0,)
