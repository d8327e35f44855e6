"""Write ``report.html``: one self-contained page per article that a person can read offline.

The page shows the article with the sentences the video speaks highlighted and a
timestamp chip that seeks the player, an alignment map (video time across,
article order down), what the video says that the article does not, keyframes,
and every failure with its reason. It is rendered from the typed results of the
other stages by a Jinja2 template with autoescaping, so nothing a page or a
transcript says can become markup.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2

from ._fs import atomic_write_text
from ._layout import ARCHIVE_JS, REPORT
from ._text import clock
from .schema import (Alignment, Article, KeyframeResult, Manifest, MediaItem, OnScreen, SentenceAlignment,
                     Transcript)

_STATUS_COLOUR = {"spoken": "#2e9e2e", "paraphrased": "#d08a00"}


@cache
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.PackageLoader("mediaproc", "templates"),
                             autoescape=True, undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    env.filters["clock"] = lambda seconds: "?" if seconds is None else clock(seconds)
    return env


def _asset(name: str) -> str:
    return resources.files("mediaproc").joinpath("templates", name).read_text(encoding="utf-8")


@dataclass
class _Hit:
    media: str
    status: str
    start: float
    score: float


def _best_hits(alignments: dict[str, Alignment]) -> dict[tuple[int, int], _Hit]:
    """Per sentence, the best alignment across media items (spoken beats paraphrased)."""
    best: dict[tuple[int, int], _Hit] = {}
    for item_id, al in alignments.items():
        for s in al.sentences:
            if s.status not in _STATUS_COLOUR or s.start is None:
                continue
            key = (s.paragraph, s.index)
            if key not in best or (s.status == "spoken" and best[key].status != "spoken"):
                best[key] = _Hit(item_id, s.status, s.start, s.score)
    return best


def _img_src(out_dir: Path, rel: str, embed: bool) -> str:
    if not embed:
        return rel
    return "data:image/jpeg;base64," + base64.b64encode((out_dir / rel).read_bytes()).decode("ascii")


def _frames(out_dir: Path, item: MediaItem, kf: KeyframeResult | None, embed: bool) -> list[dict[str, Any]]:
    if kf is None:
        return []
    return [{"time": f.time, "src": _img_src(out_dir, f"media/{item.id}/{f.path.as_posix()}", embed),
             "text": [line.text for line in f.text]} for f in kf.frames]


def _alignment_map(sentences: list[SentenceAlignment], order: dict[tuple[int, int], int], duration: float
                   ) -> dict[str, Any]:
    """Video time across, article sentence order down: reordering and gaps show at a glance."""
    n = max(len(order), 1)
    width, height, pad = 360, max(80, min(360, 8 * n + 30)), 24
    marks = [{"x": pad + (width - 2 * pad) * min(s.start / duration, 1.0),
              "y": 10 + (height - 30) * (order.get((s.paragraph, s.index), 0) / max(n - 1, 1)),
              "colour": _STATUS_COLOUR[s.status], "start": s.start, "text": s.text[:80]}
             for s in sentences if s.start is not None and s.status in _STATUS_COLOUR]
    return {"width": width, "height": height, "pad": pad, "marks": marks}


_LANGUAGES = {"en": "English", "de": "German", "fr": "French", "ar": "Arabic", "ru": "Russian", "tr": "Turkish",
              "uk": "Ukrainian", "es": "Spanish", "it": "Italian", "zh": "Chinese", "ja": "Japanese", "fa": "Persian",
              "he": "Hebrew", "pt": "Portuguese", "pl": "Polish", "nl": "Dutch", "ko": "Korean", "ku": "Kurdish"}


def language_name(code: str) -> str:
    return _LANGUAGES.get(code, code or "unknown")


def _heard(transcript: Transcript | None) -> list[dict[str, Any]]:
    """Languages heard, region by region, for the media panel."""
    if transcript is None:
        return []
    return [{"name": language_name(r.language), "start": r.start, "end": r.end,
             "probability": r.probability} for r in transcript.regions]


def render_report(out_dir: str | Path, article: Article | None, manifest: Manifest,
                  alignments: dict[str, Alignment], keyframes: dict[str, KeyframeResult] | None = None,
                  transcripts: dict[str, Transcript] | None = None, translations: dict[str, Transcript] | None = None,
                  onscreen: dict[str, OnScreen] | None = None, *, embed_images: bool = False) -> str:
    """The report as one HTML string (CSS and JS inline; keyframes linked or, with ``embed_images``, inlined)."""
    out_dir = Path(out_dir)
    keyframes, transcripts, translations = keyframes or {}, transcripts or {}, translations or {}
    onscreen = onscreen or {}
    hits = _best_hits(alignments)
    order = {(s.paragraph, s.index): i for i, s in enumerate(article.sentences())} if article else {}
    paragraphs = []
    for p in article.paragraphs if article else []:
        sentences = [{"paragraph": s.paragraph, "index": s.index, "text": s.text, "hit": hits.get((s.paragraph, s.index))}
                     for s in p.sentences]
        first = next((s["hit"] for s in sentences if s["hit"]), None)
        thumb = None
        if first is not None:
            item = next((i for i in manifest.items if i.id == first.media), None)
            frames = [f for f in (keyframes.get(first.media).frames if keyframes.get(first.media) else [])]
            before = [f for f in frames if f.time <= first.start + 0.25] or frames[:1]
            if before and item is not None:
                thumb = {"time": before[-1].time, "media": first.media, "seek": first.start,
                         "src": _img_src(out_dir, f"media/{item.id}/{before[-1].path.as_posix()}", embed_images)}
        paragraphs.append({"sentences": sentences, "thumb": thumb})
    media = []
    for item in manifest.items:
        al = alignments.get(item.id)
        transcript = transcripts.get(item.id)
        media.append({
            "item": item, "alignment": al, "name": Path(item.url).name or item.url,
            "map": _alignment_map(al.sentences, order, float(item.duration)) if al and item.duration else None,
            "frames": _frames(out_dir, item, keyframes.get(item.id), embed_images),
            "transcript": transcript, "translation": translations.get(item.id), "heard": _heard(transcript),
            "onscreen": onscreen.get(item.id)})
    meta = article.metadata if article else {}
    return _environment().get_template("report.html.j2").render(
        title=(article.title if article else "") or manifest.title or manifest.source,
        lang=meta.get("lang", "en"), source=manifest.source,
        source_is_url=manifest.source.startswith(("http://", "https://")), meta=meta, manifest=manifest,
        paragraphs=paragraphs, boilerplate=article.boilerplate if article else [],
        failures=[i for i in manifest.items if i.status != "ok"], media=media,
        css=_asset("report.css"), js=_asset("report.js"))


def write_report(out_dir: str | Path, article: Article | None, manifest: Manifest,
                 alignments: dict[str, Alignment], keyframes: dict[str, KeyframeResult] | None = None,
                 transcripts: dict[str, Transcript] | None = None, translations: dict[str, Transcript] | None = None,
                 onscreen: dict[str, OnScreen] | None = None, *, embed_images: bool = False) -> Path:
    """Render and write ``out_dir/report.html`` atomically, with an empty ``archive.js`` beside it until the
    archive index writes the real one (the report loads it; a missing file would be a console error)."""
    stub = Path(out_dir) / ARCHIVE_JS
    if not stub.exists():
        atomic_write_text(stub, "window.mediaprocArchive = null;  // not indexed yet: `mediaproc index OUT`\n")
    return atomic_write_text(Path(out_dir) / REPORT, render_report(
        out_dir, article, manifest, alignments, keyframes, transcripts, translations, onscreen,
        embed_images=embed_images))


def render_overview(rows: list[dict[str, Any]]) -> str:
    """``OUT/index.html``: every article of the archive in one sortable, filterable table (self-contained)."""
    from datetime import datetime, timezone

    counts: dict[str, int] = {}
    for row in rows:
        counts[row["status"] or "pending"] = counts.get(row["status"] or "pending", 0) + 1
        row["languages_named"] = ", ".join(language_name(c) for c in (row["languages"] or "").split(",") if c)
    return _environment().get_template("overview.html.j2").render(
        rows=rows, counts=sorted(counts.items()), css=_asset("report.css"), js=_asset("overview.js"),
        generated=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"))


__all__ = ["render_report", "write_report", "render_overview", "language_name"]
