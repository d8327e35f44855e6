#!/usr/bin/env python
"""The archive index at scale: a synthetic archive of 10,000 articles (the JSON a batch writes, no media).

Measures, side by side with the aims of the issue: rebuilding ``index.sqlite`` (and ``index.html``) from
scratch, adding one article to the full index (what a batch does as each article completes), search
latency over 100 queries (median and 95th percentile), and the database's size. Each article has one
media item with 40 transcript segments, 6 paragraphs and 8 keyframes with random perceptual hashes.

    .venv/bin/python scripts/bench_index.py [--articles 10000]
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from contextlib import closing
from pathlib import Path

from mediaproc import archive
from mediaproc.testing.archive import WORDS, fake_article


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=10_000)
    args = parser.parse_args()
    out = Path(tempfile.mkdtemp(prefix="bench-index-"))
    rng = random.Random(7)
    t0 = time.perf_counter()
    for n in range(args.articles):
        fake_article(out, n, rng)
    generated = time.perf_counter() - t0

    t0 = time.perf_counter()
    archive.rebuild_index(out)
    rebuilt = time.perf_counter() - t0

    adds = []
    with closing(archive.connect(out)) as conn:
        for k in range(20):
            art_dir = fake_article(out, args.articles + k, rng)
            t0 = time.perf_counter()
            archive.add_article(out, art_dir, conn)
            adds.append(time.perf_counter() - t0)

    queries = [rng.choice(WORDS) for _ in range(40)] + [f'"{rng.choice(WORDS)} {rng.choice(WORDS)}"' for _ in range(30)]
    queries += [f"{rng.choice(WORDS)[:3]}*" for _ in range(15)] + [f"{rng.choice(WORDS)} {rng.choice(WORDS)}"
                                                                     for _ in range(15)]
    latency = []
    for q in queries:
        t0 = time.perf_counter()
        archive.search(out, q, limit=20)
        latency.append(time.perf_counter() - t0)
    latency.sort()
    size = sum(p.stat().st_size for p in out.glob("index.sqlite*"))

    print(f"\n{args.articles} synthetic articles (generated in {generated:.0f} s) in {out}\n")
    print("| measure | figure | aim | ratio to aim |\n|---|---:|---:|---:|")
    print(f"| rebuild from scratch | {rebuilt:.1f} s | 60 s | {rebuilt / 60:.2f} |")
    add = statistics.median(adds)
    print(f"| add one article (median of 20) | {add * 1000:.1f} ms | 50 ms | {add / 0.05:.2f} |")
    p50, p95 = statistics.median(latency), latency[int(0.95 * len(latency)) - 1]
    print(f"| search, median of {len(latency)} queries | {p50 * 1000:.1f} ms | 100 ms | {p50 / 0.1:.2f} |")
    print(f"| search, 95th percentile | {p95 * 1000:.1f} ms | 100 ms | {p95 / 0.1:.2f} |")
    print(f"| database size | {size / 2**20:.0f} MB | - | - |")
    print(f"| overview page (index.html) | {(out / 'index.html').stat().st_size / 2**20:.1f} MB | - | - |")


if __name__ == "__main__":
    main()
