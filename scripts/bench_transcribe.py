#!/usr/bin/env python
"""Transcription speed and accuracy, side by side, on the same generated speech and the same tiny.en weights.

Baseline (a): the ``whisper`` CLI that openai-whisper installs, given the converted tiny.en checkpoint.
(b): ``mediaproc.transcribe`` with each engine. (c): ``mediaproc run`` end to end, per engine, on an
article that links the same video over a loopback server (download, keyframes, transcription,
alignment, report; cold caches). Each run is a child process, so wall time and peak RSS are its own.

    .venv/bin/python scripts/bench_transcribe.py [--minutes 6] [--beam-size 5]
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

import jiwer
from whisper.normalizers import EnglishTextNormalizer

from mediaproc.models import prepare_default_model
from mediaproc.testing import synth
from mediaproc.testing.server import FileServer

_SUBJECTS = ["The city council", "A local farmer", "The new museum", "Our reporter", "The school board",
             "A small bakery", "The regional airport", "Two scientists", "The football club", "A young nurse"]
_VERBS = ["announced", "described", "questioned", "celebrated", "postponed", "explained", "reviewed", "defended"]
_OBJECTS = ["a plan to repair the old bridge", "the results of the spring election",
            "a program for children who love reading", "the cost of the water project",
            "the decision to close the northern road", "a festival of music and food in the park",
            "the history of the harbour and its ships", "new rules for parking near the station"]
_ENDINGS = ["on Monday morning.", "after a long meeting.", "in a short statement.", "to a crowd of neighbours.",
            "before the summer holidays.", "during an interview on the radio."]


@dataclass
class Row:
    name: str
    wall: float
    peak_rss_mb: float
    text: str


def script(minutes: float, seed: int = 7) -> list[str]:
    """Varied news-like sentences, about ``minutes`` long when spoken at espeak-ng's 160 words a minute."""
    rng = random.Random(seed)
    sentences, words = [], 0
    while words < minutes * 150:
        sentence = " ".join([rng.choice(_SUBJECTS), rng.choice(_VERBS), rng.choice(_OBJECTS), rng.choice(_ENDINGS)])
        sentences.append(sentence)
        words += len(sentence.split())
    return sentences


def measure(name: str, command: list[str], output: Path | None = None) -> Row:
    """Run ``command`` as a child; its own peak RSS comes from wait4. The transcript is stdout or ``output``."""
    start = time.perf_counter()
    with tempfile.TemporaryFile() as out:
        child = subprocess.Popen(command, stdout=out, stderr=subprocess.DEVNULL)
        _, status, usage = os.wait4(child.pid, 0)
        child.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - start
        if child.returncode:
            raise SystemExit(f"{name} failed with exit code {child.returncode}: {' '.join(command)}")
        out.seek(0)
        text = output.read_text() if output else out.read().decode()
    return Row(name, wall, usage.ru_maxrss / 1024, text)


def whisper_cli_command(media: Path, checkpoint: Path, beam_size: int, out_dir: Path) -> list[str]:
    return [str(Path(sys.executable).with_name("whisper")), str(media), "--model", str(checkpoint),
            "--language", "en", "--beam_size", str(beam_size), "--word_timestamps", "True", "--fp16", "False",
            "--verbose", "False", "--output_format", "txt", "--output_dir", str(out_dir)]


def mediaproc_command(media: Path, engine: str, beam_size: int) -> list[str]:
    code = ("import sys; from mediaproc.transcription import transcribe, TranscribeOptions; "
            f"print(transcribe(sys.argv[1], TranscribeOptions(engine={engine!r}, beam_size={beam_size}), "
            "refresh=True).text)")
    return [sys.executable, "-c", code, str(media)]


def pipeline_command(article: Path, engine: str, beam_size: int, out_dir: Path) -> list[str]:
    """(c) ``mediaproc run`` end to end; ``--refresh`` so neither the download nor the transcript is cached."""
    return [sys.executable, "-m", "mediaproc", "-q", "run", str(article), "-o", str(out_dir), "--engine", engine,
            "--beam-size", str(beam_size), "--refresh"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=6.0, help="length of the generated speech")
    parser.add_argument("--beam-size", type=int, default=5, help="the same for every run (whisper CLI default: 5)")
    args = parser.parse_args()

    checkpoint = prepare_default_model()
    with tempfile.TemporaryDirectory() as tmp:
        tmp_dir = Path(tmp)
        os.environ["MEDIAPROC_CACHE"] = str(tmp_dir / "cache")  # children: cold transcript cache, same weights
        (tmp_dir / "cache" / "models").mkdir(parents=True)
        (tmp_dir / "cache" / "models" / checkpoint.name).symlink_to(checkpoint)
        sentences = script(args.minutes)
        narrated = synth.narrated_video(tmp_dir / "speech.mp4", sentences)
        print(f"speech: {narrated.duration:.1f} s, {len(sentences)} sentences (espeak-ng), one scene each; "
              f"model tiny.en; beam size {args.beam_size}; {os.cpu_count()} CPUs; "
              f"load average {os.getloadavg()[0]:.2f}\n")
        rows = [
            measure("whisper CLI (baseline)", whisper_cli_command(narrated.path, checkpoint, args.beam_size, tmp_dir),
                    tmp_dir / "speech.txt"),
        ]
        with FileServer(tmp_dir) as srv:
            article = tmp_dir / "article.md"
            article.write_text("# Generated news\n\n" + "\n\n".join(sentences) + f"\n\n{srv.url('speech.mp4')}\n")
            for engine in ("openai-whisper", "faster-whisper"):
                rows.append(measure(f"mediaproc transcribe, {engine}",
                                    mediaproc_command(narrated.path, engine, args.beam_size)))
                out = tmp_dir / f"run-{engine}"
                run = measure(f"mediaproc run end to end, {engine}",
                              pipeline_command(article, engine, args.beam_size, out))
                rows.append(replace(run, text=next(out.glob("*/media/*/transcript.txt")).read_text()))

    normalize = EnglishTextNormalizer()
    reference = normalize(" ".join(sentences))
    base = rows[0]
    print("| run | wall s | x real time | peak RSS MB | WER | speed vs baseline |")
    print("|---|---:|---:|---:|---:|---:|")
    for row in rows:
        wer = jiwer.wer(reference, normalize(row.text))
        print(f"| {row.name} | {row.wall:.1f} | {narrated.duration / row.wall:.1f} | {row.peak_rss_mb:.0f} | "
              f"{wer:.3f} | {base.wall / row.wall:.2f}x |")
    by_name = {row.name: row for row in rows}
    print()
    for engine in ("openai-whisper", "faster-whisper"):
        bare, run = by_name[f"mediaproc transcribe, {engine}"], by_name[f"mediaproc run end to end, {engine}"]
        print(f"{engine}: run end to end / bare transcription = {run.wall / bare.wall:.2f} (aim <= 1.15); "
              f"whisper CLI / this engine = {base.wall / bare.wall:.2f}x (aim for faster-whisper >= 2)")


if __name__ == "__main__":
    main()
