"""On-screen text: real Tesseract on generated frames (lower third, date, Arabic, subtitles, no text) and on
real frames from tests/data/video."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mediaproc.onscreen import _cues, choose_languages, dates, installed, match_article, read_image, read_onscreen
from mediaproc.options import KeyframeOptions, OcrOptions
from mediaproc.testing import synth
from mediaproc.schema import Article, Paragraph

VIDEO = Path(__file__).parent / "data" / "video"
needs_tesseract = pytest.mark.skipif(not {"eng", "ara"} <= installed(),
                                     reason="tesseract-ocr with eng and ara is not installed (scripts/setup.sh)")

ARTICLE = Article("story.md", "Convoy", {"lang": "en"}, [
    Paragraph(0, "Ahmed Hassan, a teacher from Idlib, said the convoy arrived on 15 March 2024."),
    Paragraph(1, "The trucks waited at the Bab al-Hawa crossing for two days."),
])


@pytest.fixture(scope="module")
def news_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return synth.news_clip(tmp_path_factory.mktemp("onscreen"))


def test_dates_in_numeric_and_written_forms() -> None:
    assert [d for _, d in dates("Filmed 12.03.2024, aired 2024-03-15 and on March 16, 2024 or 17 mars 2024")] == [
        (2024, 3, 15), (2024, 3, 12), (2024, 3, 17), (2024, 3, 16)]
    assert dates("score 3.14.2 and 45/99/2024") == []


def test_article_matching_is_modest() -> None:
    from mediaproc.onscreen import _Read

    found = match_article(ARTICLE, [_Read("Ahmed Hassan", 1.0), _Read("12.03.2024", 4.0), _Read("Bab al-Hawa", 5.0),
                                    _Read("15 March 2024", 6.0), _Read("BREAKING", 7.0)])
    got = {(m.kind, m.verdict, m.on_screen) for m in found}
    assert ("name", "agrees", "Ahmed Hassan") in got and ("date", "differs", "12.03.2024") in got
    assert ("date", "agrees", "15 March 2024") in got and ("name", "agrees", "Bab") not in got
    assert not any(m.on_screen == "BREAKING" for m in found)        # not in the article: nothing claimed
    differs = next(m for m in found if m.verdict == "differs")
    assert differs.article == ["15 March 2024"]


def test_subtitle_readings_merge_into_cues() -> None:
    readings = [(0.0, "", 0), (1.0, "The convoy reached", 90), (2.0, "The convoy reachcd", 80), (3.0, "at dawn", 91),
                (4.0, "", 0), (5.0, "at dawn", 90)]
    assert [(c.start, c.end, c.text) for c in _cues(readings, 1.0)] == [
        (1.0, 3.0, "The convoy reached"), (3.0, 4.0, "at dawn"), (5.0, 6.0, "at dawn")]


def test_languages_follow_the_article_and_the_option() -> None:
    assert choose_languages(OcrOptions(languages="eng+tur")) == ["eng", "tur"]
    if {"eng", "ara"} <= installed():
        assert choose_languages(OcrOptions(), "ar", "en-GB") == ["eng", "ara"]


@needs_tesseract
def test_generated_frames_are_read_with_their_times(news_clip: Path, tmp_path: Path) -> None:
    from mediaproc._ffmpeg import probe
    from mediaproc.keyframes import extract_keyframes

    kf = extract_keyframes(news_clip, tmp_path / "kf", KeyframeOptions(mode="scenes", min_gap=0.5))
    info = probe(news_clip)
    result = read_onscreen(news_clip, kf, ARTICLE, ["eng", "ara"], width=info.width, height=info.height)
    assert result.error is None
    text_at = {round(f.time): " ".join(t.text for t in f.text) for f in kf.frames}
    first = text_at[min(text_at)]
    assert "Ahmed Hassan" in first and "Idlib" in first, text_at
    assert any("12.03.2024" in t for s, t in text_at.items() if 3 <= s < 6), text_at
    assert any("حلب" in t for s, t in text_at.items() if 6 <= s < 9), text_at
    assert all(t == "" for s, t in text_at.items() if s >= 19), text_at       # the shot without text
    cues = [(c.start, c.end, c.text) for c in result.cues]
    for line, start in (("The convoy reached the border", 9.0), ("at dawn on Tuesday", 11.5),
                        ("Aid trucks waited for hours", 14.0), ("before the crossing opened", 16.5)):
        cue = next((c for c in cues if c[2] == line), None)
        assert cue is not None and abs(cue[0] - start) <= 1.0 and cue[1] - cue[0] >= 1.5, (line, cues)
    verdicts = {(m.kind, m.verdict, m.on_screen) for m in result.matches}
    assert ("name", "agrees", "Ahmed Hassan") in verdicts and ("date", "differs", "12.03.2024") in verdicts


@needs_tesseract
@pytest.mark.parametrize(("clip", "time", "expected"), [
    ("moviepy_example_video_only.mp4", 0.5, "fps Photo JPEG 75%"),   # the caption of a real test card
    ("moviepy_big_buck_bunny_0_30.webm", 10.0, None),                # grass, trees and sky: no text
    ("ffmpeg-python_in1.mp4", 2.3, None),                            # a film-leader numeral: one glyph, dropped
])
def test_real_frames(clip: str, time: float, expected: str | None) -> None:
    from mediaproc._ffmpeg import grab_frame

    lines = read_image(grab_frame(VIDEO / clip, time), ["eng"])
    if expected:
        assert any(expected in line.text for line in lines), lines
    else:
        assert lines == []


@needs_tesseract
@pytest.mark.slow
def test_run_writes_onscreen_outputs_and_the_report_shows_them(news_clip: Path, tmp_path: Path) -> None:
    clip = shutil.copy(news_clip, tmp_path / "news.mp4")     # local media must sit beside the article
    article = tmp_path / "story.md"
    article.write_text("# Convoy\n\n" + "\n\n".join(p.text for p in ARTICLE.paragraphs)
                       + f"\n\n[the clip]({Path(clip).as_uri()})\n")
    proc = subprocess.run([sys.executable, "-m", "mediaproc", "run", str(article), "-o", str(tmp_path / "out"),
                           "--keyframes", "scenes", "--ocr-languages", "eng+ara"],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode in (0, 1), proc.stderr
    media_dir = next((tmp_path / "out").glob("*/media/*"))
    frames = json.loads((media_dir / "keyframes.json").read_text())["frames"]
    assert any("Ahmed Hassan" in " ".join(t["text"] for t in f["text"]) for f in frames)
    assert "at dawn on Tuesday" in (media_dir / "onscreen.srt").read_text()
    onscreen = json.loads((media_dir / "onscreen.json").read_text())
    assert {"kind": "date", "verdict": "differs"}.items() <= next(m for m in onscreen["matches"]
                                                                  if m["kind"] == "date").items()
    report = next((tmp_path / "out").glob("*/report.html")).read_text()
    assert "On screen" in report and "12.03.2024" in report and "check which is right" in report
    found = subprocess.run([sys.executable, "-m", "mediaproc", "search", "Hassan", str(tmp_path / "out"), "--in",
                            "screen", "--json"], capture_output=True, text=True, timeout=120)
    hits = json.loads(found.stdout)
    assert hits and all(h["within"] == "on screen" for h in hits) and hits[0]["start"] < 3.0, found.stderr
