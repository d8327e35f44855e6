"""The command line as people type it: every command beyond --help, flags in any position, one line per failure."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import struct
import termios
import subprocess
import sys
from pathlib import Path

import pytest

from mediaproc.testing import synth

DATA = Path(__file__).parent / "data"


def mediaproc(*args: str, timeout: float = 600, **kw) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mediaproc", *args], capture_output=True, text=True,
                          timeout=timeout, **kw)


def test_quiet_and_verbose_work_after_the_subcommand_too(tmp_path: Path) -> None:
    page = tmp_path / "a.md"
    page.write_text("# T\n\nThe council met on Tuesday to discuss the bridge.\n\nhttps://example.org/x.txt\n")
    for args in (["-q", "links", str(page)], ["links", str(page), "-q"], ["links", "-v", str(page)]):
        proc = mediaproc(*args)
        assert proc.returncode == 0, (args, proc.stderr)
        assert "no such option" not in proc.stderr


def test_help_shows_defaults_and_ranges_from_the_option_classes() -> None:
    text = " ".join(mediaproc("run", "--help").stdout.split())
    assert "[1, 95]" in text and "default: 85" in text          # --quality: one range, one default
    assert "--allow-local-files" in text and "--allow-private-hosts" in text and "--deadline" in text
    bad = mediaproc("keyframes", "x.mp4", "--quality", "99")
    assert bad.returncode == 2 and "quality 99 must be in [1, 95]" in bad.stderr


def test_a_failed_download_is_reported_once_and_in_the_summary(server, tmp_path: Path) -> None:
    page = tmp_path / "a.md"
    page.write_text(f"# T\n\nThe council met on Tuesday to discuss the bridge.\n\n{server.url('gone.mp4')}\n")
    proc = mediaproc("run", str(page), "-o", str(tmp_path / "out"))
    assert proc.returncode == 1
    lines = [ln for ln in (proc.stderr + proc.stdout).splitlines() if "gone.mp4" in ln]
    assert len(lines) == 2, proc.stderr + proc.stdout           # when it happened, and in the summary
    assert lines[0].startswith("FAILED") and lines[1].lstrip().startswith("FAILED")


def test_no_cache_and_refresh_reach_every_stage(server, tmp_path: Path) -> None:
    page = tmp_path / "a.md"
    page.write_text(f"# T\n\nThe council met on Tuesday to discuss the bridge.\n\n{server.url('silent.mp4')}\n")
    cache = tmp_path / "cache"
    common = [str(page), "-o", str(tmp_path / "out"), "--cache-dir", str(cache), "--json"]

    def stages() -> dict[str, str]:
        (art,) = [p for p in (tmp_path / "out").iterdir() if p.is_dir()]
        item = json.loads((art / "manifest.json").read_text())["items"][0]
        return {name: rec["status"] for name, rec in item["stages"].items()}

    assert mediaproc("run", *common).returncode == 1             # partial: the clip has no audio
    assert stages()["download"] == "ok" and stages()["keyframes"] == "ok"
    mediaproc("run", *common)
    assert stages()["download"] == "cached" and stages()["keyframes"] == "cached"
    mediaproc("run", *common, "--refresh")
    assert stages()["download"] == "ok" and stages()["keyframes"] == "ok"
    before = sorted(p.relative_to(cache) for p in cache.rglob("*") if p.is_file())
    mediaproc("run", *common, "--no-cache")
    assert stages()["download"] == "ok" and stages()["keyframes"] == "ok"
    assert sorted(p.relative_to(cache) for p in cache.rglob("*") if p.is_file()) == before    # nothing stored


def test_all_links_also_fetches_what_is_outside_the_article(server, tmp_path: Path) -> None:
    page = tmp_path / "a.html"
    page.write_text("<html><body><nav><video src='" + server.url("silent.mp4") + "'></video></nav><article>"
                    "<h1>T</h1><p>The council met on Tuesday to discuss the new bridge and its cost.</p></article>"
                    "</body></html>")
    plain = json.loads(mediaproc("links", str(page), "--json").stdout)
    everything = json.loads(mediaproc("links", str(page), "--all-links", "--json").stdout)
    assert plain == [] and [ln["in_article"] for ln in everything] == [False]


@pytest.mark.slow
def test_batch_urls_pattern_and_fail_fast(batch_site, tmp_path: Path) -> None:
    srv, articles = batch_site
    urls = tmp_path / "urls.txt"
    srv.add("story.md", "# Story\n\nThe bridge over the river was closed on Monday morning.\n\n"
                        f"{srv.url('shared.mp4')}\n")
    urls.write_text(f"# one article URL\n\n{srv.url('story.md')}\n")
    proc = mediaproc("-q", "batch", "--urls", str(urls), "-o", str(tmp_path / "u"), "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["ok"] == 1
    only_md = json.loads(mediaproc("-q", "batch", str(articles), "--pattern", "*.md", "-o", str(tmp_path / "p"),
                                   "--json").stdout)
    assert only_md["articles"] == len(list(articles.rglob("*.md")))
    fast = mediaproc("-q", "batch", str(articles), "-o", str(tmp_path / "f"), "--fail-fast", "--jobs", "1", "--json")
    summary = json.loads(fast.stdout)
    assert fast.returncode == 1 and summary["failed"] == 1 and summary["articles"] < 12
    assert "--fail-fast" in fast.stderr


@pytest.mark.slow
def test_transcribe_align_and_models_commands(tmp_path: Path) -> None:
    spoken = synth.audio_only(tmp_path / "talk.wav", ["The bridge over the river was closed on Monday morning.",
                                                     "Engineers will inspect it this week."])
    out = tmp_path / "t"
    proc = mediaproc("-q", "transcribe", str(spoken.path), "-o", str(out), "--json")
    assert proc.returncode == 0, proc.stderr
    (result,) = json.loads(proc.stdout)
    assert "river" in result["text"].lower() and "monday" in result["text"].lower() and result["language"] == "en"
    transcript = Path(result["files"]["json"])
    article = tmp_path / "a.md"
    article.write_text("# Bridge\n\nThe bridge over the river was closed on Monday morning. The mayor is away.\n")
    aligned = mediaproc("align", str(article), str(transcript), "-o", str(tmp_path / "al"), "--json")
    data = json.loads(aligned.stdout)
    assert [s["status"] for s in data["sentences"]] == ["spoken", "not_spoken"]
    assert (tmp_path / "al" / "alignment.json").is_file() and (tmp_path / "al" / "transcript.corrected.srt").is_file()
    listed = json.loads(mediaproc("models", "--json").stdout)
    assert any(m["name"] == "auto" and m["default"] for m in listed)
    assert all(m["available"] for m in listed if m["name"] in ("tiny.en", "base"))
    bad = mediaproc("transcribe", str(spoken.path), "--model", "enormous")
    assert bad.returncode == 2 and "not a file, a directory or a Whisper model name" in bad.stderr


@pytest.mark.slow
def test_faster_whisper_runs_inside_the_pipeline(server, tmp_path: Path) -> None:
    page = tmp_path / "a.md"
    page.write_text(f"# T\n\nThe Syrian Army and its allies delivered a devastating blow in southern Idlib.\n\n"
                    f"{server.url('report.mp4')}\n")
    proc = mediaproc("-q", "run", str(page), "-o", str(tmp_path / "out"), "--engine", "faster-whisper", "--json")
    assert proc.returncode == 0, proc.stderr
    (art,) = [p for p in (tmp_path / "out").iterdir() if p.is_dir()]
    transcript = json.loads(next(art.rglob("transcript.json")).read_text())
    assert transcript["engine"] == "faster-whisper" and "idlib" in transcript["text"].lower()
    alignment = json.loads(next(art.rglob("alignment.json")).read_text())
    assert alignment["sentences"][0]["status"] == "spoken"


@pytest.mark.slow
def test_one_bar_on_a_terminal_and_no_download_bars_under_it(batch_site, tmp_path: Path) -> None:
    _, articles = batch_site
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))   # a terminal has a size
    proc = subprocess.Popen([sys.executable, "-m", "mediaproc", "batch", str(articles), "-o", str(tmp_path / "out"),
                             "--jobs", "2"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=slave)
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    proc.wait(timeout=600)
    os.close(master)
    screen = b"".join(chunks).decode("utf-8", "replace")
    assert "12/12" in screen and "article/s" in screen                          # the batch bar
    assert "downloads" not in screen and "B/s" not in screen                   # no per-file bars fight it


@pytest.mark.slow
def test_dask_local_cluster_gives_the_same_outputs(batch_site, tmp_path: Path) -> None:
    from conftest import article_outputs
    _, articles = batch_site
    local = mediaproc("-q", "batch", str(articles), "-o", str(tmp_path / "local"), "--json")
    dask = mediaproc("-q", "batch", str(articles), "-o", str(tmp_path / "dask"), "--executor", "dask",
                     "--workers", "2", "--json")
    assert json.loads(dask.stdout)["ok"] == json.loads(local.stdout)["ok"] == 10, dask.stderr[-3000:]
    assert article_outputs(tmp_path / "dask") == article_outputs(tmp_path / "local")
