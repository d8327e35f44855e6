"""Shared fixtures: generated media with known content (built once per session), a loopback
file server with fault injection, and a per-session cache so tests never touch the user's."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import platformdirs
import pytest

from mediaproc.testing import synth
from mediaproc.testing.server import FileServer

DATA = Path(__file__).parent / "data"

SENTENCES = [
    "The Syrian Army and its allies delivered a devastating blow in southern Idlib.",
    "Militants conducted at least two major counter attacks, employing suicide bombers.",
    "Warning strikes were also conducted near a Turkish military convoy.",
]


@dataclass
class Media:
    """Generated test media, each file with its ground truth."""

    root: Path
    narrated: synth.Narrated          # 3 sentences, one colour scene each, H.264/AAC MP4
    webm: Path
    hls: Path                         # playlist of an HLS rendition of ``narrated``
    silent: Path                      # video without an audio stream
    audio: synth.Narrated             # audio-only m4a
    truncated: Path                   # first half of the MP4's bytes
    html_as_mp4: Path                 # an HTML error page named .mp4


@pytest.fixture(scope="session", autouse=True)
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh media/transcript cache per session; the converted model is shared with the user's
    cache so it is built once per machine, not once per test run."""
    cache = tmp_path_factory.mktemp("cache")
    real_models = Path(os.environ.get("MEDIAPROC_CACHE") or platformdirs.user_cache_dir("mediaproc")) / "models"
    real_models.mkdir(parents=True, exist_ok=True)
    (cache / "models").symlink_to(real_models, target_is_directory=True)
    os.environ["MEDIAPROC_CACHE"] = str(cache)
    return cache


@pytest.fixture(scope="session")
def engines():
    """Real engines, each model loaded once per test session."""
    from mediaproc.engines import Engines
    return Engines()


@pytest.fixture(scope="session")
def engine(engines):
    """The default engine (openai-whisper, bundled tiny.en)."""
    from mediaproc.options import TranscribeOptions
    return engines.get(TranscribeOptions())


@pytest.fixture(scope="session")
def media(tmp_path_factory: pytest.TempPathFactory) -> Media:
    root = tmp_path_factory.mktemp("media")
    narrated = synth.narrated_video(root / "report.mp4", SENTENCES)
    return Media(
        root=root,
        narrated=narrated,
        webm=synth.webm(narrated.path, root / "report.webm"),
        hls=synth.hls(narrated.path, root / "hls"),
        silent=synth.silent_video(root / "silent.mp4"),
        audio=synth.audio_only(root / "speech.m4a", SENTENCES[:2]),
        truncated=synth.truncated(narrated.path, root / "truncated.mp4"),
        html_as_mp4=synth.html_as_media(root / "gone.mp4"),
    )


@pytest.fixture
def server(media: Media):
    """A loopback server over the generated media; faults and the log are per test."""
    with FileServer(media.root) as srv:
        yield srv


@pytest.fixture(scope="session")
def example_article() -> Path:
    """The user's own example article (see tests/data/examples/SOURCES.md)."""
    return DATA / "examples" / "article-with-mp4-report.txt"


BATCH_CLIPS = {  # the 12-article batch set (batch and cluster tests): one short narrated clip each; "shared" is linked from three articles
    "shared": "The bridge over the river was closed on Monday morning.",
    "b": "Volunteers handed out food and water at the town hall.",
    "c": "The regional government promised emergency funds for repairs.",
    "d": "Schools in the valley will reopen next week.",
    "e": "Engineers inspected the dam for cracks after the storm.",
    "f": "Farmers lost most of the autumn harvest to the water.",
    "g": "The mayor thanked the rescue teams for their work.",
}


@pytest.fixture(scope="session")
def batch_site(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("batch-site")
    for name, sentence in BATCH_CLIPS.items():
        synth.narrated_video(root / f"{name}.mp4", [sentence], size="320x180")
    synth.html_as_media(root / "error-page.mp4")
    with FileServer(root) as srv:
        articles = tmp_path_factory.mktemp("articles")
        (articles / "sub").mkdir()
        specs = {
            "a1.txt": ("Bridge closed", BATCH_CLIPS["shared"], "shared.mp4"),
            "a2.md": ("Bridge report", BATCH_CLIPS["shared"], "shared.mp4"),
            "sub/a3.html": ("Bridge again", BATCH_CLIPS["shared"], "shared.mp4"),
            "dead.txt": ("Dead link", "This clip was removed.", "removed.mp4"),
            "error.md": ("Error page", "This clip is an error page.", "error-page.mp4"),
            "nomedia.txt": ("No media", "This article has no video at all.", None),
            "b.txt": ("Food", BATCH_CLIPS["b"], "b.mp4"),
            "c.md": ("Funds", BATCH_CLIPS["c"], "c.mp4"),
            "sub/d.html": ("Schools", BATCH_CLIPS["d"], "d.mp4"),
            "e.txt": ("Dam", BATCH_CLIPS["e"], "e.mp4"),
            "f.md": ("Harvest", BATCH_CLIPS["f"], "f.mp4"),
            "g.htm": ("Mayor", BATCH_CLIPS["g"], "g.mp4"),
        }
        for rel, (title, text, clip) in specs.items():
            path = articles / rel
            link = srv.url(clip) if clip else ""
            if path.suffix in (".html", ".htm"):
                video = f'<video controls src="{link}"></video>' if clip else ""
                path.write_text(f"<html><head><title>{title}</title></head><body><article><h1>{title}</h1>"
                                f"<p>{text} It was reported by our local desk on Tuesday.</p>{video}"
                                "</article></body></html>", encoding="utf-8")
            else:
                path.write_text(f"# {title}\n\n{text} It was reported by our local desk on Tuesday.\n\n{link}\n",
                                encoding="utf-8")
        yield srv, articles


def article_outputs(out: Path) -> dict[str, str]:
    """Relative paths of every output file, with the transcript texts (other contents hold timings)."""
    files = {}
    for p in sorted(out.rglob("*")):
        if p.is_file() and p.name not in ("batch-summary.json", ".mediaproc.lock", "index.sqlite-wal",
                                          "index.sqlite-shm"):
            rel = str(p.relative_to(out))
            files[rel] = p.read_text() if p.name == "transcript.txt" else ""
    return files


def has_tool(name: str) -> bool:
    return shutil.which(name) is not None
