#!/usr/bin/env python
"""What on-screen text costs: `mediaproc run` end to end with OCR on (the default) and with --no-ocr, side by
side on the same media, each in its own process with a cold cache; and OCR's own time per keyframe and per
minute of video (from onscreen.json).

Media: the Tears of Steel battle clip of the shared corpus (real footage with dialogue, 70 s, Blender
Foundation, CC-BY) when ../shared/corpus/video has it, and a generated 22-s news clip with a lower third, a
date, an Arabic line and burned-in subtitles (``mediaproc.testing.synth.news_clip``, as in the tests).

    .venv/bin/python scripts/bench_onscreen.py [--keyframes scenes]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from mediaproc.testing import synth

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "corpus" / "video" / "tears-of-steel-battle-clip-medium.webm"


def run(media: Path, work: Path, label: str, *extra: str) -> tuple[float, Path]:
    article = work / f"{label}.md"
    local = work / f"{label}{media.suffix}"
    shutil.copyfile(media, local)
    article.write_text(f"# Clip\n\nThe clip was filmed on the road to the border crossing.\n\n[clip]({local.as_uri()})\n")
    out = work / f"out-{label}"
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "mediaproc", "-q", "run", str(article), "-o", str(out), "--cache-dir",
                    str(work / f"cache-{label}"), *extra], check=False, capture_output=True)
    return time.perf_counter() - t0, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keyframes", default="keyframes", help="keyframe mode for both runs")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-onscreen-"))
    (work / "news").mkdir()
    clips = [("news clip (generated, 22 s)", synth.news_clip(work / "news"))]
    if SHARED.is_file():
        clips.append(("Tears of Steel battle clip (70 s)", SHARED))
    print("| media | run, --no-ocr (s) | run, OCR on (s) | ratio | keyframes read | OCR s per keyframe "
          "| subtitle bands read | OCR s per minute of video |\n|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, media in clips:
        off, _ = run(media, work, f"off-{len(name)}", "--no-ocr", "--keyframes", args.keyframes)
        on, out = run(media, work, f"on-{len(name)}", "--keyframes", args.keyframes)
        ocr = json.loads(next(out.glob("*/media/*/onscreen.json")).read_text())
        manifest = json.loads(next(out.glob("*/manifest.json")).read_text())
        minutes = (manifest["items"][0]["duration"] or 1) / 60
        per_frame = ocr["seconds"] / max(1, ocr["frames_read"])
        print(f"| {name} | {off:.1f} | {on:.1f} | {on / off:.2f} | {ocr['frames_read']} | {per_frame:.2f} | "
              f"{ocr['bands_read']} | {ocr['seconds'] / minutes:.1f} |")
    print(f"\n(work files in {work})")


if __name__ == "__main__":
    main()
