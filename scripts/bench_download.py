#!/usr/bin/env python
"""Download-stage speed on the loopback server, side by side with ``curl -o`` in the same run.

Measures a ~200 MB media file (raw video in Matroska, generated with ffmpeg lavfi):
  * curl -o                                  (the baseline)
  * mediaproc download, transfer only        (yt-dlp's HTTP downloader into the cache's .part)
  * mediaproc download, end to end           (transfer + ffprobe + tail decode + sha256 + cache)
  * mediaproc download of a cached URL       (the skip; target < 50 ms)

Usage: .venv/bin/python scripts/bench_download.py [--mb 200] [--repeat 5] [--dir /dev/shm]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mediaproc import downloads as dl  # noqa: E402
from mediaproc._layout import Cache  # noqa: E402
from mediaproc.options import DownloadOptions  # noqa: E402

_SERVE = f"""
import sys
sys.path.insert(0, {str(Path(__file__).resolve().parents[1])!r})
from mediaproc.testing.server import FileServer
with FileServer(sys.argv[1], chunk=1 << 20) as srv:
    srv.fault("slow/big.mkv", "trickle", rate=float(sys.argv[2]))
    print(srv.base_url, flush=True)
    sys.stdin.read()
"""
FRAME = 1280 * 720 * 3 // 2          # one yuv420p frame of raw video


def _make_media(path: Path, mb: int) -> None:
    frames = max(1, mb * 1_000_000 // FRAME)
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-f", "lavfi",
                    "-i", "testsrc2=s=1280x720:r=25", "-frames:v", str(frames),
                    "-c:v", "rawvideo", "-pix_fmt", "yuv420p", str(path)], check=True)


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mb", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--rate", type=float, default=50.0,
                        help="MB/s of the rate-limited rows (a fast real network; 0 skips them)")
    parser.add_argument("--dir", default="/dev/shm" if Path("/dev/shm").is_dir() else None,
                        help="where files are written (default: tmpfs, so disk writeback noise does not "
                             "decide the race)")
    args = parser.parse_args()
    if shutil.which("curl") is None:
        sys.exit("curl is not installed (apt-get install curl)")

    with tempfile.TemporaryDirectory(prefix="bench-download-", dir=args.dir) as tmp:
        tmp = Path(tmp)
        (tmp / "www").mkdir()
        media = tmp / "www" / "big.mkv"
        _make_media(media, args.mb)
        (tmp / "www" / "slow").mkdir()
        os.link(media, tmp / "www" / "slow" / "big.mkv")
        size = media.stat().st_size
        rows: dict[str, list[float]] = {"curl -o": [], "mediaproc transfer (yt-dlp)": [],
                                        "mediaproc end to end": [], "mediaproc cached skip": []}
        slow = {f"curl -o @ {args.rate:g} MB/s": [], f"mediaproc end to end @ {args.rate:g} MB/s": []}
        # The server runs in its own process, as curl does: sharing our GIL would slow the client.
        server = subprocess.Popen([sys.executable, "-c", _SERVE, str(tmp / "www"), str(args.rate * 1e6 or 1)],
                                  stdout=subprocess.PIPE, stdin=subprocess.PIPE, text=True)
        try:
            base = server.stdout.readline().strip()
            url = base + "big.mkv"
            for i in range(args.repeat):
                out = tmp / "curl.out"
                rows["curl -o"].append(_timed(lambda: subprocess.run(
                    ["curl", "-sS", "-f", "-o", str(out), url], check=True)))
                out.unlink()

                cache = Cache.at(tmp / f"cache{i}")
                work = tmp / f"transfer{i}"
                job = dl._Job(DownloadOptions(), cache, None, None, dl._Progress())
                rows["mediaproc transfer (yt-dlp)"].append(_timed(lambda: job.fetch(url, work)))
                shutil.rmtree(work)

                result = None

                def end_to_end() -> None:
                    nonlocal result
                    result = dl.download(url, cache=cache)
                rows["mediaproc end to end"].append(_timed(end_to_end))
                assert result is not None and result.size == size and not result.from_cache
                for _ in range(20):
                    rows["mediaproc cached skip (verified)"].append(_timed(lambda: dl.download(url, cache=cache)))
                shutil.rmtree(tmp / f"cache{i}")
            for i in range(min(args.repeat, 3) if args.rate else 0):
                slow_curl, slow_ours = slow
                slow[slow_curl].append(_timed(lambda: subprocess.run(
                    ["curl", "-sS", "-f", "-o", str(out), base + "slow/big.mkv"], check=True)))
                out.unlink()
                slow_cache = Cache.at(tmp / "slow-cache", read=False)
                slow[slow_ours].append(_timed(lambda: dl.download(base + "slow/big.mkv", cache=slow_cache)))
        finally:
            server.stdin.close()                         # the server exits when its stdin closes
            server.wait(timeout=30)

    print(f"\nfile: {size / 1e6:.0f} MB raw video (Matroska), loopback server in its own process, "
          f"written to {args.dir or tempfile.gettempdir()}, median of {args.repeat} runs "
          f"(cached skip: of {20 * args.repeat})\n")
    _table(rows, size, "curl -o")
    if args.rate:
        print(f"\nthe same through a server limited to {args.rate:g} MB/s (median of {min(args.repeat, 3)}):\n")
        _table(slow, size, next(iter(slow)))


def _table(rows: dict[str, list[float]], size: int, baseline: str) -> None:
    curl = statistics.median(rows[baseline])
    print(f"| {'what':<34} | {'time':>10} | {'MB/s':>8} | {'curl time / this':>16} |")
    print(f"|{'-' * 36}|{'-' * 12}|{'-' * 10}|{'-' * 18}|")
    for name, times in rows.items():
        t = statistics.median(times)
        rate = f"{size / t / 1e6:8.0f}" if "skip" not in name else f"{'-':>8}"
        shown = f"{t * 1000:.1f} ms" if t < 1 else f"{t:.2f} s"
        ratio = f"{curl / t:16.2f}" if "skip" not in name else f"{'(target < 50 ms)':>16}"
        print(f"| {name:<34} | {shown:>10} | {rate} | {ratio} |")


if __name__ == "__main__":
    main()
