"""Video in one language under an article in another: detected, translated, aligned where it makes sense.

The speech is real: the German half of multilingual.mp3 (the MIT licence read in German; third-party, see
tests/data/speech/SOURCES.md) and its English half. espeak-ng's voices are too poor for language detection.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from mediaproc.options import RunOptions
from mediaproc.pipeline import process

pytestmark = pytest.mark.slow
SPEECH = Path(__file__).parent / "data" / "speech"
MIT_EN = [
    "Permission is hereby granted, free of charge, to any person obtaining a copy of this software and associated "
    "documentation files, to deal in the Software without restriction.",
    "This includes the rights to use, copy, modify, merge, publish, distribute, sublicense and sell copies of the "
    "Software, and to permit persons to whom the Software is furnished to do so.",
]
MIT_DE = [
    "Jedem, der diese Software und die dazugehörigen Dokumentationsdateien erhält, wird hiermit unentgeltlich die "
    "Genehmigung erteilt, mit der Software uneingeschränkt zu verfahren.",
    "Dies umfasst insbesondere das Recht, die Software zu verwenden, zu vervielfältigen, zu modifizieren, "
    "zusammenzufügen, zu veröffentlichen, zu verteilen, unterzulizenzieren und Kopien der Software zu verkaufen.",
]
UNRELATED = "The council also discussed the new bus timetable for the winter months."


def _clip(folder: Path, name: str, start: float, seconds: float) -> Path:
    """A video of one part of multilingual.mp3 over a plain background."""
    out = folder / name
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i", "color=c=navy:s=320x180:r=10",
                    "-ss", str(start), "-t", str(seconds), "-i", str(SPEECH / "multilingual.mp3"), "-shortest",
                    "-c:v", "libx264", "-preset", "veryfast", "-c:a", "aac", str(out)], check=True)
    return out


def _page(folder: Path, lang: str, sentences: list[str], clip: Path) -> Path:
    body = "".join(f"<p>{s}</p>" for s in sentences)
    page = folder / f"article-{lang}.html"
    page.write_text(f'<html lang="{lang}"><head><title>Licence</title></head><body><article><h1>Licence</h1>{body}'
                    f'<video src="{clip.name}"></video></article></body></html>', encoding="utf-8")
    return page


def _outputs(out: Path, manifest) -> tuple[Path, dict]:
    (item,) = manifest.items
    media = out / manifest.article_id / "media" / item.id
    return media, json.loads((media / "alignment.json").read_text())


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    folder = tmp_path_factory.mktemp("site")
    return folder, _clip(folder, "german.mp4", 30.5, 29.5), _clip(folder, "english.mp4", 0.0, 29.5)


def test_german_video_under_an_english_article_is_translated_and_aligned(clips, tmp_path) -> None:
    folder, german, _ = clips
    manifest = process(str(_page(folder, "en", MIT_EN + [UNRELATED], german)), RunOptions(out=tmp_path))
    media, alignment = _outputs(tmp_path, manifest)
    (item,) = manifest.items
    assert item.status == "ok" and item.stages["translate"].status == "ok"
    transcript = json.loads((media / "transcript.json").read_text())
    translation = json.loads((media / "transcript.en.json").read_text())
    assert transcript["language"] == "de" and [r["language"] for r in transcript["regions"]] == ["de"]
    assert translation["task"] == "translate" and "software" in translation["text"].lower()
    assert (media / "transcript.en.srt").is_file() and (media / "transcript.en.vtt").is_file()
    assert alignment["transcript"] == "transcript.en.json" and "de" in alignment["note"]
    status = [s["status"] for s in alignment["sentences"]]
    assert status[-1] == "not_spoken" and any(st != "not_spoken" for st in status[:2]), status
    report = (tmp_path / manifest.article_id / "report.html").read_text()
    assert "English translation" in report and "German" in report


def test_german_video_under_a_german_article_is_aligned_natively(clips, tmp_path) -> None:
    folder, german, _ = clips
    manifest = process(str(_page(folder, "de", MIT_DE, german)), RunOptions(out=tmp_path))
    media, alignment = _outputs(tmp_path, manifest)
    assert not (media / "transcript.en.json").exists() and "translate" not in manifest.items[0].stages
    assert alignment["transcript"] == "transcript.json" and alignment["language"] == "de"
    assert [s["status"] for s in alignment["sentences"]] == ["spoken", "spoken"], alignment["sentences"]


def test_english_video_under_a_german_article_says_it_cannot_align(clips, tmp_path) -> None:
    folder, _, english = clips
    manifest = process(str(_page(folder, "de", MIT_DE, english)), RunOptions(out=tmp_path))
    _, alignment = _outputs(tmp_path, manifest)
    assert "not aligned" in alignment["note"] and "en" in alignment["note"]
    assert all(s["status"] == "not_spoken" for s in alignment["sentences"]) and alignment["video_only"] == []
