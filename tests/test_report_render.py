"""render_report on hand-built inputs: escaping, failures, embedded images (no inference)."""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from mediaproc.report import render_report
from mediaproc.schema import (Alignment, AlignmentSummary, Article, Keyframe, KeyframeResult, Manifest, MediaItem,
                              Paragraph, Sentence, SentenceAlignment, StageRecord, VideoOnlySpan)

HOSTILE = '<script>alert("x")</script>'


def _article() -> Article:
    text = f"Spoken {HOSTILE} sentence. Not spoken one."
    return Article(source="a.txt", title=f"Title {HOSTILE}", paragraphs=[Paragraph(0, text, [
        Sentence(0, 0, f"Spoken {HOSTILE} sentence.", 0, 43), Sentence(0, 1, "Not spoken one.", 44, 59)])])


def _manifest() -> Manifest:
    ok = MediaItem(id="clip-1", url="http://127.0.0.1/clip.mp4", kind="file", media_type="video",
                   found_in="video", paragraph=0, status="ok", duration=10.0, has_video=True, has_audio=True,
                   path="media/clip-1/clip.mp4", stages={"download": StageRecord("ok")})
    bad = MediaItem(id="gone-2", url=f"http://127.0.0.1/{HOSTILE}.mp4", kind="file", media_type="video",
                    found_in="a", paragraph=0, status="failed", error="download: HTTP 404 Not Found")
    return Manifest(article_id="a-1", source="a.txt", status="partial", items=[ok, bad])


def _alignment() -> Alignment:
    return Alignment("a.txt", "test", [
        SentenceAlignment(0, 0, "Spoken", "spoken", 2.5, 4.0, 0.9),
        SentenceAlignment(0, 1, "Not", "not_spoken", None, None, 0.1)],
        [VideoOnlySpan(6.0, 8.0, f"remark {HOSTILE}")],
        AlignmentSummary(2, 1, 0, 1, 0.5, 10, 5, 0.5, 1))


def _keyframe(out: Path) -> dict[str, KeyframeResult]:
    frames = out / "media" / "clip-1" / "keyframes"
    frames.mkdir(parents=True)
    Image.new("RGB", (32, 18), "red").save(frames / "0001_0.000.jpg")
    return {"clip-1": KeyframeResult("ok", "keyframes", [Keyframe(1, 0.0, Path("keyframes/0001_0.000.jpg"), 32, 18,
                                                                  "0" * 22)])}


def test_report_escapes_and_lists_failures(tmp_path: Path) -> None:
    frames = _keyframe(tmp_path)
    page = render_report(tmp_path, _article(), _manifest(), {"clip-1": _alignment()}, frames)
    assert HOSTILE not in page and "&lt;script&gt;" in page
    assert page.count('data-status="spoken"') == 1 and page.count('class="s s-spoken"') == 1
    assert page.count('class="s"') == 1                        # the sentence the video does not speak
    assert 'data-seek="2.50"' in page and 'id="player-clip-1"' in page
    assert "HTTP 404 Not Found" in page and "Problems" in page
    assert 'src="media/clip-1/keyframes/0001_0.000.jpg"' in page


def test_embed_images_makes_the_page_self_contained(tmp_path: Path) -> None:
    frames = _keyframe(tmp_path)
    page = render_report(tmp_path, _article(), _manifest(), {"clip-1": _alignment()}, frames, embed_images=True)
    assert "data:image/jpeg;base64," in page and "keyframes/0001_0.000.jpg" not in page


def test_suspect_segments_are_greyed_with_their_reason_and_languages_shown(tmp_path: Path) -> None:
    from mediaproc.schema import LanguageRegion, Segment, Transcript
    heard = Transcript("ar", "base", "faster-whisper", 10.0, [
        Segment(0, 0.5, 3.0, " كلام حقيقي", language="ar"),
        Segment(1, 3.0, 6.0, f" Thank you for watching {HOSTILE}", language="ar", suspect=True,
                suspect_reasons=["low confidence (average log-probability -1.40 < -1.0)"])],
        regions=[LanguageRegion(0.5, 6.0, "ar", 0.97, [(0.5, 6.0)])])
    english = Transcript("en", "base", "faster-whisper", 10.0, [Segment(0, 0.5, 3.0, " real words", language="ar")],
                         task="translate")
    page = render_report(tmp_path, _article(), _manifest(), {"clip-1": _alignment()}, {},
                         {"clip-1": heard}, {"clip-1": english})
    assert page.count('class="seg suspect"') == 1 and "low confidence (average log-probability" in page
    assert "Arabic 0:00–0:06 (97%)" in page and "English translation" in page and "real words" in page
    assert HOSTILE not in page


def test_quotes_show_their_verdict_and_what_was_said_instead(tmp_path: Path) -> None:
    from mediaproc.schema import QuoteAlignment, QuoteDifference
    al = _alignment()
    al.quotes = [QuoteAlignment(0, 0, 0, "Seventeen families will get homes", "changed", 2.5, 4.0, 0.8,
                                "Seventy families will get homes", [QuoteDifference("number", "17", "70", 2.5)]),
                 QuoteAlignment(0, 1, 1, f"never said {HOSTILE}", "not_found")]
    page = render_report(tmp_path, _article(), _manifest(), {"clip-1": al})
    assert 'class="q-changed"' in page and "number: article <b>17</b>, spoken <b>70</b>" in page
    assert "Seventy families will get homes" in page and 'class="q-not_found"' in page and HOSTILE not in page
