"""Benchmark the keyframes stage against decoding every frame, side by side in one run.

Generates a 10-minute 720p H.264 video (2-s GOP, 20 scene changes with a key frame at each, as real
encoders place them) in a temp dir, then times, each in a fresh worker process so peak memory is its own:

- ``keyframes`` mode (the fast path: intra frames only),
- ``scenes`` mode (every frame decoded and scored),
- the naive baseline: ``ffmpeg -i in.mp4 -vf fps=1,scale=640:-2 out/%05d.jpg`` (decodes every frame).

Prints a markdown table: seconds, speed as a multiple of real time, ratio to the baseline, peak memory
(ru_maxrss of the worker and of its ffmpeg child), frames written and cuts found within 0.5 s.

    .venv/bin/python scripts/bench_keyframes.py [--minutes 10] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FPS, GOP_SECONDS, CHANGES = 25, 2, 20


def generate(path: Path, seconds: float, preset: str) -> None:
    """testsrc2 whose hue jumps at each of :func:`cuts`, with a key frame there.

    The x264 preset matters: ``ultrafast`` (no B-frames, no CABAC, huge I-frames) makes the frames
    the fast path skips unusually cheap to decode; published news video is encoded with a slower
    preset, which ``veryfast`` stands for here.
    """
    subprocess.run(
        ["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-f", "lavfi",
         "-i", f"testsrc2=s=1280x720:r={FPS}:d={seconds},hue=h='137*floor(n/{_shot_frames(seconds)})'",
         "-c:v", "libx264", "-preset", preset, "-crf", "23", "-pix_fmt", "yuv420p", "-g", str(FPS * GOP_SECONDS),
         "-force_key_frames", ",".join(f"{t:.2f}" for t in cuts(seconds)), str(path)], check=True)


def _shot_frames(seconds: float) -> int:
    return round(seconds * FPS / (CHANGES + 1))


def cuts(seconds: float) -> list[float]:
    """Frame-exact cut times (the hue jumps on whole frames, so the forced key frames land on the cuts)."""
    return [_shot_frames(seconds) * i / FPS for i in range(1, CHANGES + 1)]


def worker(method: str, media: Path, out: Path) -> dict:
    """Run one method; report its time, frame times and peak memory (this process, its ffmpeg)."""
    start = time.perf_counter()
    if method == "naive":
        out.mkdir(parents=True)
        subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-i", str(media), "-vf", "fps=1,scale=640:-2",
                        str(out / "%05d.jpg")], check=True)
        times: list[float] = []
        frames = len(list(out.iterdir()))
    else:
        from mediaproc.keyframes import extract_keyframes
        from mediaproc.options import KeyframeOptions
        result = extract_keyframes(media, out, KeyframeOptions(mode=method, max_keyframes=100))
        assert result.mode == method, result.reason
        times = [f.time for f in result.frames]
        frames = len(times)
    return {"seconds": time.perf_counter() - start, "frames": frames, "times": times,
            "rss_self_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "rss_ffmpeg_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--keep", type=Path, help="generate/reuse the test video here instead of a temp dir")
    parser.add_argument("--preset", default="veryfast", help="x264 preset of the generated video")
    parser.add_argument("--worker", nargs=3, metavar=("METHOD", "MEDIA", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        method, media, out = args.worker
        print(json.dumps(worker(method, Path(media), Path(out))))
        return

    seconds = args.minutes * 60
    with tempfile.TemporaryDirectory() as tmp:
        root = args.keep or Path(tmp)
        root.mkdir(parents=True, exist_ok=True)
        media = root / f"bench_{args.minutes:g}min_720p_{args.preset}.mp4"
        start = time.perf_counter()
        if not media.exists():
            generate(media, seconds, args.preset)
        print(f"video: {media.name}, {seconds:.0f} s 1280x720 {FPS} fps H.264 ({args.preset}), GOP {GOP_SECONDS} s, "
              f"{CHANGES} cuts, {media.stat().st_size / 1e6:.0f} MB (made in {time.perf_counter() - start:.0f} s)",
              file=sys.stderr)
        runs = {}
        for method in ("keyframes", "scenes", "naive"):
            out = Path(tempfile.mkdtemp(dir=tmp))
            proc = subprocess.run([sys.executable, __file__, "--worker", method, str(media), str(out / "o")],
                                  check=True, capture_output=True, text=True)
            runs[method] = json.loads(proc.stdout)
            print(f"{method}: {runs[method]['seconds']:.1f} s", file=sys.stderr)

    naive = runs["naive"]["seconds"]
    print("\n| method | seconds | x real time | vs naive | peak RSS python / ffmpeg (MB) | frames "
          f"| cuts found (of {CHANGES}) |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for method, r in runs.items():
        found = sum(any(abs(t - c) <= 0.5 for t in r["times"]) for c in cuts(seconds)) if method != "naive" else "n/a"
        rss = f"{r['rss_self_mb']:.0f} / {r['rss_ffmpeg_mb']:.0f}"
        print(f"| {method} | {r['seconds']:.2f} | {seconds / r['seconds']:.0f}x | {naive / r['seconds']:.1f}x "
              f"| {rss} | {r['frames']} | {found} |")


if __name__ == "__main__":
    main()
