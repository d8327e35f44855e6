"""End to end through the real CLI: real ffmpeg, real Whisper weights, a real loopback server."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from mediaproc.testing import synth
from mediaproc.testing.server import FileServer

pytestmark = pytest.mark.slow

REMOTE = "https://southfront.org/wp-content/uploads/video/IMR_23_12_2019.mp4"
VIDEO_PATH = "wp-content/uploads/video/IMR_23_12_2019.mp4"
# Read from the example's body, out of order, plus one remark the article does not contain.
NARRATION = [
    "Warning strikes were also conducted near a Turkish military convoy moving in the area of Kafar Aweed.",
    "The Syrian Army and its allies delivered a devastating blow to Al-Qaeda-linked Hayat Tahrir al-Sham "
    "and its Turkish-backed allies in southern Idlib.",
    "Our correspondent could not reach the front line this week.",
    "According to them, the moderate opposition just conducted a tactical retreat.",
]


def _words(text: str) -> str:
    return re.sub(r"\W+", " ", text).lower().strip()


def mediaproc(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mediaproc", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=600)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, example_article: Path):
    """The user's example with its MP4 link pointed at a loopback server that serves a narration."""
    root = tmp_path_factory.mktemp("site")
    (root / VIDEO_PATH).parent.mkdir(parents=True)
    narrated = synth.narrated_video(root / VIDEO_PATH, NARRATION)
    with FileServer(root) as srv:
        article = root / "article-with-mp4-report.txt"
        article.write_text(example_article.read_text(encoding="utf-8").replace(REMOTE, srv.url(VIDEO_PATH)),
                           encoding="utf-8")
        yield srv, article, narrated


@pytest.fixture(scope="module")
def run_example(site, tmp_path_factory: pytest.TempPathFactory):
    srv, article, narrated = site
    out = tmp_path_factory.mktemp("out")
    proc = mediaproc("run", str(article), "-o", str(out))
    assert proc.returncode == 0, proc.stderr + proc.stdout
    (art_dir,) = [p for p in out.iterdir() if p.is_dir()]
    return srv, narrated, art_dir, proc


def test_links_on_user_example_prints_exactly_the_mp4(example_article: Path) -> None:
    proc = mediaproc("links", str(example_article))
    assert proc.returncode == 0, proc.stderr
    assert [ln.split()[0] for ln in proc.stdout.splitlines() if ln.strip()] == [REMOTE]
    as_json = json.loads(mediaproc("links", str(example_article), "--json").stdout)
    assert [(ln["url"], ln["kind"]) for ln in as_json] == [(REMOTE, "file")]


def test_run_on_user_example(run_example) -> None:
    srv, narrated, art_dir, proc = run_example
    manifest = json.loads((art_dir / "manifest.json").read_text())
    (item,) = manifest["items"]
    assert item["url"] == srv.url(VIDEO_PATH)
    assert item["status"] == "ok" and item["has_video"] and item["has_audio"]
    assert abs(item["duration"] - narrated.duration) < 0.3
    assert srv.full_gets(VIDEO_PATH) == 1
    media_dir = art_dir / "media" / item["id"]

    kf = json.loads((media_dir / "keyframes.json").read_text())
    frames = kf["frames"] if isinstance(kf, dict) else kf
    times = [f["time"] for f in frames]
    for cut in narrated.scene_times:          # one frame per colour scene, near its cut
        assert any(abs(t - cut) < 0.5 for t in times), (cut, times)
    assert all((media_dir / f["path"]).exists() for f in frames)
    assert (media_dir / "contact_sheet.jpg").exists()

    for ext in ("txt", "srt", "vtt", "tsv", "json"):
        assert (media_dir / f"transcript.{ext}").stat().st_size > 0
    text = (media_dir / "transcript.txt").read_text().lower()
    for word in ("syrian", "army", "turkish", "convoy", "retreat"):
        assert word in text

    alignment = json.loads((media_dir / "alignment.json").read_text())
    spoken = {s["text"]: s for s in alignment["sentences"] if s["status"] in ("spoken", "paraphrased")}
    truth = {s.text: s for s in narrated.sentences}
    for said in (NARRATION[0], NARRATION[1], NARRATION[3]):
        match = [s for t, s in spoken.items() if _words(t)[:40] == _words(said)[:40]]
        assert match, f"not aligned: {said}"
        assert abs(match[0]["start"] - truth[said].start) < 1.0
    assert len(spoken) <= 4
    assert any("correspondent" in v["text"].lower() for v in alignment["video_only"])

    article = json.loads((art_dir / "article.json").read_text())
    assert article["title"].startswith("Video: Battle for Idlib")
    report = (art_dir / "report.html").read_text()
    assert "s-spoken" in report and "<video" in report
    assert str(art_dir / "report.html") in proc.stdout


def test_bad_links_fail_clearly_and_the_rest_completes(media, tmp_path: Path) -> None:
    with FileServer(media.root) as srv:
        article = tmp_path / "mixed.md"
        article.write_text(
            "# Three clips\n\nThe first clip is gone.\n\n"
            f"{srv.url('missing.mp4')}\n\nThe second is an error page.\n\n{srv.url('gone.mp4')}\n\n"
            f"The third clip is silent.\n\n{srv.url('silent.mp4')}\n\n"
            f"The last one is fine.\n\n{srv.url('report.mp4')}\n", encoding="utf-8")
        out = tmp_path / "out"
        proc = mediaproc("run", str(article), "-o", str(out), "--keyframes", "interval")
    assert proc.returncode == 1, proc.stderr
    (art_dir,) = [p for p in out.iterdir() if p.is_dir()]
    items = {Path(i["url"]).name: i for i in json.loads((art_dir / "manifest.json").read_text())["items"]}
    assert items["missing.mp4"]["status"] == "failed" and "404" in items["missing.mp4"]["error"]
    assert items["gone.mp4"]["status"] == "failed" and "html" in items["gone.mp4"]["error"].lower()
    assert items["silent.mp4"]["status"] == "partial" and "audio" in items["silent.mp4"]["error"]
    assert items["report.mp4"]["status"] == "ok"
    assert "Traceback" not in proc.stderr
    for name in ("missing.mp4", "gone.mp4"):
        assert sum(name in line for line in proc.stderr.splitlines() if "FAILED" in line) >= 1
    transcript = json.loads((art_dir / "media" / items["report.mp4"]["id"] / "transcript.json").read_text())
    assert transcript["engine"] == "faster-whisper" and "syrian" in transcript["text"].lower()


def test_help_explains_every_command() -> None:
    top = mediaproc("--help")
    assert top.returncode == 0 and "Exit status" in top.stdout
    for cmd in ("run", "batch", "links", "keyframes", "transcribe", "align", "models", "demo"):
        proc = mediaproc(cmd, "--help")
        assert proc.returncode == 0 and "Usage:" in proc.stdout, cmd
    assert mediaproc("run").returncode == 2
