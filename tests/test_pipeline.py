"""The pipeline's handling of awkward inputs: fallbacks, pages without prose, duplicates, bad dates."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from mediaproc.article import read_article
from mediaproc._layout import article_id
from mediaproc.batch import is_complete, pending
from mediaproc.options import CacheOptions, RunOptions
from mediaproc.pipeline import process
from mediaproc.schema import BatchSummary


def test_fallback_source_is_used_when_the_first_is_gone(server, tmp_path: Path) -> None:
    page = tmp_path / "page.html"
    page.write_text("<html><head><title>Clip</title></head><body><article><h1>Clip</h1>"
                    "<p>The council met on Tuesday to discuss the new bridge and its cost to the town.</p>"
                    f'<video controls><source src="{server.url("missing.mp4")}" type="video/mp4">'
                    f'<source src="{server.url("silent.mp4")}" type="video/mp4"></video></article></body></html>')
    manifest = process(str(page), RunOptions(out=tmp_path / "out"))
    (item,) = manifest.items
    assert item.stages["download"].status == "ok" and item.has_video and not item.has_audio
    assert server.full_gets("silent.mp4") == 1 and server.log("missing.mp4")
    assert item.status == "partial" and "no audio" in item.error


@pytest.mark.slow
def test_page_without_prose_keeps_its_video_and_is_complete(server, tmp_path: Path) -> None:
    page = tmp_path / "bare.html"
    page.write_text(f'<html><body><video src="{server.url("report.mp4")}"></video></body></html>')
    out = tmp_path / "out"
    manifest = process(str(page), RunOptions(out=out))
    assert manifest.status == "ok", manifest
    (item,) = manifest.items
    assert item.stages["transcribe"].status in ("ok", "cached") and "align" not in item.stages
    assert is_complete(out / article_id(str(page)))     # so a re-run resumes instead of redoing it


def test_one_article_under_two_spellings_is_done_once(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a.txt").write_text("x")
    assert pending(["a.txt", "./a.txt", str(tmp_path / "a.txt")], tmp_path / "out", False, BatchSummary()) \
        == ["a.txt"]


def test_impossible_date_in_a_byline_is_kept_as_text(tmp_path: Path) -> None:
    path = tmp_path / "a.md"
    path.write_text("# Title\n\nBy Jane Doe\n\n31 February 2024\n\n"
                    "The council met on Tuesday to discuss the new bridge and what it will cost the town.\n")
    article = read_article(str(path))
    assert article.paragraphs and article.metadata.get("date") == "31 February 2024"


def test_keyframes_command_goes_on_after_a_bad_file(media, tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "mediaproc", "keyframes", str(media.html_as_mp4),
                           str(media.silent), "-o", str(tmp_path), "--json"], capture_output=True, text=True)
    assert proc.returncode == 1
    assert "FAILED" in proc.stderr and "Traceback" not in proc.stderr
    (result,) = json.loads(proc.stdout)
    assert result["media"] == str(media.silent) and result["status"] == "ok" and result["frames"]


def test_keyframes_of_a_clip_shared_by_two_articles_are_extracted_once(server, tmp_path: Path) -> None:
    outs, manifests = [], []
    for name in ("one", "two"):
        page = tmp_path / f"{name}.md"
        page.write_text(f"# {name}\n\nThe council met on Tuesday to discuss the new bridge and its cost.\n\n"
                        f"{server.url('silent.mp4')}\n")
        options = RunOptions(out=tmp_path / "out", cache=CacheOptions(cache_dir=tmp_path / "cache"))  # cold cache
        manifest = process(str(page), options)
        (item,) = manifest.items
        manifests.append(manifest)
        outs.append(tmp_path / "out" / manifest.article_id / "media" / item.id)
    assert [m.items[0].stages["keyframes"].status for m in manifests] == ["ok", "cached"]   # extracted once
    first, second = (sorted(p.relative_to(d) for p in d.rglob("*.jpg")) for d in outs)
    assert first and first == second
    for p in first:     # each article has its own copy: editing one never changes the other
        assert (outs[0] / p).read_bytes() == (outs[1] / p).read_bytes()
        assert (outs[0] / p).stat().st_ino != (outs[1] / p).stat().st_ino
    assert json.loads((outs[0] / "keyframes.json").read_text()) == json.loads((outs[1] / "keyframes.json").read_text())


class FakeEngine:
    """Hears exactly ``text`` at one word per 0.4 s: the pipeline, minus inference."""

    name = "fake"

    def __init__(self, text: str) -> None:
        from types import SimpleNamespace
        self.text = text
        self.model = SimpleNamespace(name="fake-model", key="fake-model-1", multilingual=False)
        self.calls = 0

    def transcribe(self, audio, options, *, language, prompt):
        from mediaproc.schema import Segment, Word
        self.calls += 1
        words = [Word(" " + w, 0.4 * i, 0.4 * i + 0.3) for i, w in enumerate(self.text.split())]
        return "en", [Segment(0, 0.0, words[-1].end, " " + self.text, words, -0.2, 0.01)]

    def get(self, options):          # the engine pool interface: always this engine
        return self


def test_the_pipeline_runs_on_an_injected_engine(server, tmp_path: Path) -> None:
    spoken = "The council met on Tuesday to discuss the new bridge and what it will cost the town."
    page = tmp_path / "a.md"
    page.write_text(f"# Bridge\n\n{spoken} Nobody said this in the video at all.\n\n{server.url('report.mp4')}\n")
    fake = FakeEngine(spoken + " And here is something only the video says about the weather.")
    options = RunOptions(out=tmp_path / "out", cache=CacheOptions(cache_dir=tmp_path / "cache"))
    manifest = process(str(page), options, engines=fake)
    assert manifest.status == "ok" and fake.calls == 1
    (item,) = manifest.items
    media_dir = tmp_path / "out" / manifest.article_id / "media" / item.id
    alignment = json.loads((media_dir / "alignment.json").read_text())
    assert [s["status"] for s in alignment["sentences"]] == ["spoken", "not_spoken"]
    assert "weather" in alignment["video_only"][0]["text"]
    transcript = json.loads((media_dir / "transcript.json").read_text())
    assert transcript["engine"] == "fake" and transcript["model"] == "fake-model"
    again = process(str(page), options, engines=fake)             # cached by the engine's model key
    assert fake.calls == 1 and again.items[0].stages["transcribe"].status == "cached"
