#!/usr/bin/env python
"""Transcription speed, memory and accuracy, side by side in one run, on the same inputs.

Baseline: the ``whisper`` command line that openai-whisper installs (tiny.en, its own defaults: beam 5,
temperature fallback, no VAD). Against it: ``mediaproc transcribe`` with its defaults (faster-whisper,
``--model auto``, beam 5, VAD) and with each engine and bundled model. Inputs: the real English speech
of tests/data (lucier, sonnet001, jfk: 165 s) plus about 5 minutes of generated narration (espeak-ng),
and, for hallucinations, the three no-speech clips of tests/data/video. A last pair of runs measures what
VAD saves on media that is mostly music: the narration with the Big Buck Bunny soundtrack around it.
Each row is one child process over all the files (the model loaded once), so its wall time and peak
RSS are its own.

    .venv/bin/python scripts/bench_transcribe.py [--minutes 5]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import jiwer
from whisper.normalizers import EnglishTextNormalizer

from mediaproc.models import prepare_bundled_models
from mediaproc.testing import synth

ROOT = Path(__file__).resolve().parents[1]
SPEECH = ROOT / "tests" / "data" / "speech"
VIDEO = ROOT / "tests" / "data" / "video"
REAL = {"lucier.mp3": "lucier.txt", "sonnet001.mp3": "sonnet001.txt", "jfk.flac": "jfk.reference.txt"}
NO_SPEECH = ["moviepy_big_buck_bunny_0_30.webm", "ffmpeg-python_in1.mp4", "moviepy_video_with_failing_audio.mp4"]
_SUBJECTS = ["The city council", "A local farmer", "The new museum", "Our reporter", "The school board",
             "A small bakery", "The regional airport", "Two scientists", "The football club", "A young nurse"]
_VERBS = ["announced", "described", "questioned", "celebrated", "postponed", "explained", "reviewed", "defended"]
_OBJECTS = ["a plan to repair the old bridge", "the results of the spring election",
            "a program for children who love reading", "the cost of the water project",
            "the decision to close the northern road", "a festival of music and food in the park",
            "the history of the harbour and its ships", "new rules for parking near the station"]
_ENDINGS = ["on Monday morning.", "after a long meeting.", "in a short statement.", "to a crowd of neighbours.",
            "before the summer holidays.", "during an interview on the radio."]
normalize = EnglishTextNormalizer()


def script(minutes: float, seed: int = 7) -> list[str]:
    """Varied news-like sentences, about ``minutes`` long when spoken."""
    rng = random.Random(seed)
    sentences, words = [], 0
    while words < minutes * 150:
        sentence = " ".join([rng.choice(_SUBJECTS), rng.choice(_VERBS), rng.choice(_OBJECTS), rng.choice(_ENDINGS)])
        sentences.append(sentence)
        words += len(sentence.split())
    return sentences


@dataclass
class Run:
    name: str
    wall: float
    rss_mb: float
    texts: dict[str, str]


def timed(name: str, cmd: list[str], read: callable, env: dict | None = None) -> Run:
    """Run ``cmd`` as a child; wall time and the child's own peak RSS (wait4)."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    err = proc.stderr.read().decode(errors="replace")
    if status != 0:
        raise SystemExit(f"{name} failed ({status}):\n{err[-3000:]}")
    return Run(name, wall, usage.ru_maxrss / 1024, read())


def whisper_cli(files: list[Path], out: Path, checkpoint: Path) -> tuple[list[str], callable]:
    cmd = [str(Path(sys.executable).with_name("whisper")), *map(str, files), "--model", str(checkpoint),
           "--output_dir", str(out), "--output_format", "json", "--language", "en", "--fp16", "False",
           "--verbose", "False"]

    def read() -> dict[str, str]:
        return {f.name: json.loads((out / f"{f.stem}.json").read_text())["text"] for f in files}
    return cmd, read


def mediaproc(files: list[Path], out: Path, cache: Path, *extra: str) -> tuple[list[str], callable]:
    cmd = [sys.executable, "-m", "mediaproc", "-q", "transcribe", *map(str, files), "-o", str(out),
           "--cache-dir", str(cache), "--json", *extra]

    def read() -> dict[str, str]:
        texts = {}
        for f in files:
            (path,) = [p for p in out.glob("*/transcript.json") if p.parent.name.startswith(_slug(f))]
            data = json.loads(path.read_text())
            texts[f.name] = " ".join(s["text"] for s in data["segments"] if not s.get("suspect"))
        return texts
    return cmd, read


def _slug(path: Path) -> str:
    from mediaproc._layout import slugify
    return slugify(path.stem)


def wer(refs: dict[str, str], texts: dict[str, str]) -> float:
    errors = words = 0
    for name, ref in refs.items():
        r, h = normalize(ref), normalize(texts.get(name, ""))
        m = jiwer.process_words(r, h)
        errors += m.substitutions + m.deletions + m.insertions
        words += len(r.split())
    return errors / words


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=5.0, help="generated narration added to the real speech")
    args = parser.parse_args()
    tiny_pt, _ = prepare_bundled_models()
    work = Path(tempfile.mkdtemp(prefix="bench-transcribe-"))
    sentences = script(args.minutes)
    narration = synth.audio_only(work / "narration.wav", sentences, pause=0.6)
    bunny = VIDEO / "moviepy_big_buck_bunny_0_30.webm"
    music = work / "music.wav"     # 60 s of soundtrack, the narration, 60 s of soundtrack
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-stream_loop", "1", "-i", str(bunny), "-i", str(narration.path),
                    "-filter_complex", "[0:a]atrim=0:60,aresample=16000,asetpts=N/SR/TB[m];[1:a]aresample=16000[s];"
                    "[m]asplit[m1][m2];[m1][s][m2]concat=n=3:v=0:a=1", "-ac", "1", str(music)], check=True)
    files = [SPEECH / name for name in REAL] + [narration.path]
    refs = {name: (SPEECH / ref).read_text() for name, ref in REAL.items()} | {narration.path.name: " ".join(sentences)}
    seconds = sum(float(subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0",
                                        str(f)], capture_output=True, text=True).stdout) for f in files)
    quiet = [VIDEO / name for name in NO_SPEECH]

    rows: list[tuple[Run, float, int]] = []
    cmd, read = whisper_cli(files, work / "cli", tiny_pt)
    rows.append((timed("whisper CLI, tiny.en (baseline)", cmd, read), 0, 0))
    configs = [("mediaproc defaults (faster-whisper, auto, VAD)", ()),
               ("mediaproc faster-whisper tiny.en", ("--model", "tiny.en")),
               ("mediaproc faster-whisper base", ("--model", "base")),
               ("mediaproc openai-whisper tiny.en", ("--engine", "openai-whisper", "--model", "tiny.en")),
               ("mediaproc openai-whisper base", ("--engine", "openai-whisper", "--model", "base"))]
    for name, extra in configs:
        cmd, read = mediaproc(files, work / name.replace(" ", "_"), work / f"cache-{len(rows)}", *extra)
        run = timed(name, cmd, read)
        cmd, read_quiet = mediaproc(quiet, work / f"quiet-{len(rows)}", work / f"qcache-{len(rows)}", *extra)
        invented = timed(name + " (no speech)", cmd, read_quiet).texts
        rows.append((run, 0, sum(len(normalize(t).split()) for t in invented.values())))
    cmd, read = whisper_cli(quiet, work / "cli-quiet", tiny_pt)
    cli_quiet = timed("whisper CLI (no speech)", cmd, read).texts
    rows[0] = (rows[0][0], 0, sum(len(normalize(t).split()) for t in cli_quiet.values()))

    vad_runs = []
    for label, extra in (("with VAD", ()), ("without VAD", ("--no-vad",))):
        cmd, read = mediaproc([music], work / f"music-{label.replace(' ', '-')}", work / f"mcache-{label.replace(' ', '-')}", *extra)
        vad_runs.append(timed(label, cmd, read))

    base = rows[0][0]
    print(f"\n{len(files)} files, {seconds:.0f} s of speech ({seconds - narration.duration:.0f} s real, "
          f"{narration.duration:.0f} s generated); no-speech clips: {', '.join(NO_SPEECH)}; "
          f"load {os.getloadavg()[0]:.1f}\n")
    print("| run | wall s | x real time | peak RSS MB | WER | words invented on no-speech clips | speed vs whisper CLI |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for run, _, invented in rows:
        print(f"| {run.name} | {run.wall:.1f} | {seconds / run.wall:.1f} | {run.rss_mb:.0f} | "
              f"{wer(refs, run.texts):.3f} | {invented} | {base.wall / run.wall:.2f}x |")
    with_vad, without = vad_runs
    print(f"\nmostly music ({60 + narration.duration + 60:.0f} s, {narration.duration:.0f} s of it speech): "
          f"with VAD {with_vad.wall:.1f} s, without {without.wall:.1f} s: VAD makes it {without.wall / with_vad.wall:.2f}x "
          f"faster; WER {wer({'music.wav': ' '.join(sentences)}, with_vad.texts):.3f} vs "
          f"{wer({'music.wav': ' '.join(sentences)}, without.texts):.3f}")
    print(f"\n(work files in {work}; this process's own peak RSS "
          f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB)")


if __name__ == "__main__":
    main()
