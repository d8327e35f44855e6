"""The built-in example: a small news article with a narrated video, served on loopback.

Everything is generated here (espeak-ng speech, ffmpeg colour scenes), so the demo
needs no network and shows every stage on real parts: the video narrates some
article sentences verbatim, paraphrases one, skips one and adds a remark of its own.
"""

from __future__ import annotations

import html
import time
from collections.abc import Callable
from pathlib import Path

from .archive import rebuild_index
from .options import RunOptions
from .pipeline import process
from .testing import synth
from .testing.server import FileServer
from ._fs import read_json

TITLE = "Flood waters recede in Millbrook as residents return"
PARAGRAPHS = [
    "Flood waters began to recede on Tuesday in the river town of Millbrook. "
    "About four thousand residents had left their homes over the weekend.",
    "The mayor said the main bridge will stay closed until engineers inspect it. "
    "Schools are expected to reopen on Monday.",
    "Volunteers handed out food and clean water at the town hall. "
    "The regional government promised emergency funds for repairs.",
]
BOILERPLATE = ["Share this article: Facebook, Twitter, Email.",
               "Copyright 2026 Example News. All rights reserved."]
NARRATION = [
    "Flood waters began to recede on Tuesday in the river town of Millbrook.",
    "About four thousand residents had left their homes over the weekend.",
    "The mayor said the main bridge will stay closed until engineers inspect it.",
    "Officials expect the damage to cost several million dollars.",               # said only in the video
    "Volunteers handed out food and clean water at the town hall.",
    "Money for the repairs will come from the regional government, officials promised.",  # paraphrase
]


def build_example(root: Path) -> Path:
    """Write ``article.html`` and ``report.mp4`` under ``root`` (reused when already there)."""
    root.mkdir(parents=True, exist_ok=True)
    video = root / "report.mp4"
    if not video.exists():
        synth.narrated_video(root / "report.tmp.mp4", NARRATION, size="640x360")
        (root / "report.tmp.mp4").rename(video)
    paras = [f"<p>{html.escape(p)}</p>" for p in PARAGRAPHS]
    paras.insert(2, '<figure><video controls poster=""><source src="report.mp4" type="video/mp4"></video>'
                    "<figcaption>Video report</figcaption></figure>")
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(TITLE)}</title>
<meta name="author" content="Demo Desk"><meta property="article:published_time" content="2026-11-24">
</head><body>
<nav><a href="/">Home</a> <a href="/weather">Weather</a></nav>
<article><h1>{html.escape(TITLE)}</h1><p class="byline">By Demo Desk, 24 November 2026</p>
{chr(10).join(paras)}
{"".join(f"<p>{html.escape(b)}</p>" for b in BOILERPLATE)}
</article>
<footer><p>Example News, Millbrook. Contact the newsroom.</p></footer>
</body></html>
"""
    (root / "article.html").write_text(page, encoding="utf-8")
    return root / "article.html"


def run_demo(out: Path, *, keep_serving: bool = False, echo: Callable[[str], None] = print) -> int:
    """Build, serve and process the example; print the transcript and where the outputs are."""
    out = Path(out).resolve()   # printed paths work from any directory
    echo("mediaproc demo: generating the example article and its narrated video (espeak-ng + ffmpeg) ...")
    build_example(out / "demo-site")
    with FileServer(out / "demo-site") as srv:
        url = srv.url("article.html")
        echo(f"serving it on {srv.base_url}; running the pipeline on {url}")
        t0 = time.monotonic()
        manifest = process(url, RunOptions(out=out), on_event=echo)
        rebuild_index(out)               # the archive, as run and batch keep it: index.sqlite, index.html
        echo(f"done in {time.monotonic() - t0:.1f} s; status {manifest.status}")
        art_dir = out / manifest.article_id
        for item in manifest.items:
            echo(f"\nmedia {item.url}: {item.status}" + (f" ({item.error})" if item.error else ""))
            media_dir = art_dir / "media" / item.id
            if (media_dir / "transcript.txt").exists():
                echo("transcript:\n  " + (media_dir / "transcript.txt").read_text().strip().replace("\n", "\n  "))
            if (media_dir / "alignment.json").exists():
                s = read_json(media_dir / "alignment.json")["summary"]
                echo(f"alignment: of {s['sentences']} article sentences {s['spoken']} spoken, "
                     f"{s['paraphrased']} paraphrased, {s['not_spoken']} not spoken "
                     f"(coverage {s['coverage']:.0%}); {s['video_only_spans']} passage(s) only in the video")
            echo(f"files: {media_dir}")
        echo(f"\nreport: {art_dir / 'report.html'}\nmanifest: {art_dir / 'manifest.json'}\n"
             f"archive: {out / 'index.html'} (mediaproc search WORDS {out})")
        if keep_serving:
            echo(f"serving {srv.base_url} until Ctrl-C")
            try:
                while True:
                    time.sleep(3600)
            except KeyboardInterrupt:
                pass
    return 0 if manifest.ok else 1
