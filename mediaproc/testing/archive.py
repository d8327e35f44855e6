"""Synthetic archives: the JSON a batch leaves for an article, without processing any media.

For the index benchmark (10,000 articles) and the index tests. Every file is built from the schema's own
classes and written with the same writer as the pipeline, so the index reads what a real run writes.
"""

from __future__ import annotations

import random
from pathlib import Path

from .._fs import write_json
from .._layout import ARTICLE_JSON, COMPLETE, MANIFEST
from ..schema import (Alignment, AlignmentSummary, Article, Keyframe, KeyframeResult, LanguageRegion, Manifest,
                      MediaItem, Paragraph, Segment, SentenceAlignment, Transcript)

WORDS = ("army ministry bridge highway M5 convoy Idlib Aleppo Damascus ceasefire rebels shelling village refugees "
         "hospital school market drone strike commander statement border crossing aid trucks water electricity "
         "night morning soldiers civilians reporter camera road checkpoint city north south east west talks").split()


def fake_article(out: Path, n: int, rng: random.Random, *, media: int = 1, segments: int = 40,
                 frames: int = 8, phashes: list[str] | None = None) -> Path:
    """Write ``OUT/article-<n>/`` as a finished article with ``media`` transcribed media items."""
    aid = f"article-{n:06d}"
    art_dir = out / aid
    (art_dir / "media").mkdir(parents=True, exist_ok=True)

    def sentence() -> str:
        return " ".join(rng.choice(WORDS) for _ in range(rng.randint(6, 14))).capitalize() + "."

    paragraphs = [Paragraph(i, sentence() + " " + sentence(), []) for i in range(6)]
    article = Article(f"https://news.example/{aid}.html", f"Report {n}: {sentence()[:50]}",
                      {"date": f"2024-{1 + n % 12:02d}-{1 + n % 28:02d}", "lang": "en"}, paragraphs)
    items = []
    for m in range(media):
        mid = f"clip-{n:06d}-{m}"
        media_dir = art_dir / "media" / mid
        media_dir.mkdir(exist_ok=True)
        language = rng.choice(["en", "en", "ar", "ru"])
        segs = [Segment(i, i * 4.0, i * 4.0 + 3.5, " " + sentence(), language=language) for i in range(segments)]
        transcript = Transcript(language, "faster-whisper auto", "faster-whisper", segments * 4.0, segs,
                                regions=[LanguageRegion(0.0, segments * 4.0, language, 0.99,
                                                        [(0.0, segments * 4.0)])])
        write_json(media_dir / "transcript.json", transcript)
        sentences = [SentenceAlignment(p.index, 0, p.text[:40], rng.choice(["spoken", "not_spoken"]), 0.8,
                                       4.0 * p.index, 4.0 * p.index + 3.5) for p in paragraphs]
        spoken = sum(s.status == "spoken" for s in sentences)
        summary = AlignmentSummary(len(sentences), spoken, 0, len(sentences) - spoken, spoken / len(sentences),
                                   0, 0, 0.0, 0)
        write_json(media_dir / "alignment.json", Alignment(article.source, transcript.model, sentences, [], summary))
        hashes = phashes or [f"{rng.getrandbits(64):016x}" for _ in range(frames)]
        kf = [Keyframe(i + 1, i * 10.0, Path(f"keyframes/{i + 1:04d}_{i * 10.0:.3f}.jpg"), 640, 360, "0" * 22,
                       phash=h) for i, h in enumerate(hashes)]
        write_json(media_dir / "keyframes.json", KeyframeResult("ok", "scenes", kf))
        items.append(MediaItem(mid, f"https://cdn.example/{mid}.mp4", "file", "video", "video>source[src]", 0,
                               "ok", duration=segments * 4.0))
    write_json(art_dir / ARTICLE_JSON, article)
    write_json(art_dir / MANIFEST, Manifest(aid, article.source, article.title, "ok", items=items))
    (art_dir / COMPLETE).write_text("")
    return art_dir
