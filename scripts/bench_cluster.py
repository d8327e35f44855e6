#!/usr/bin/env python
"""Scale out on Dask: ``mediaproc batch --executor local`` against ``--executor dask`` on the same articles.

Both runs start from an empty cache. The Dask run starts a LocalCluster of ``--workers`` single-threaded
processes on this machine (its start-up and per-worker model load are inside the measured wall time).
Reports both wall times, their ratio, the shared-cache hit rates from batch-summary.json and the cost
per article, and what that predicts for N machines.

    .venv/bin/python scripts/bench_cluster.py [--articles 20] [--videos 8] [--seconds 90] [--workers 2] [--keep]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from _benchsite import (
    Site,
    Timing,
    fresh_cache,
    load_average,
    machine_facts,
    markdown_table,
    read_summary,
    run,
    serve_site,
)

BIN = Path(sys.executable).parent


def run_executor(site: Site, work: Path, executor: str, workers: int) -> tuple[Timing, dict]:
    out, cache = work / f"{executor}-out", work / f"{executor}-cache"
    cmd = [str(BIN / "mediaproc"), "-q", "batch", str(site.articles), "-o", str(out), "--cache-dir", str(cache),
           "--executor", executor]
    if executor == "dask":
        cmd += ["--workers", str(workers)]
    print(" ".join(cmd), file=sys.stderr)
    site.server.clear_log()
    timing = run(cmd, env=fresh_cache(cache))
    summary = read_summary(out)
    gets = sum(site.server.full_gets(name) for name in site.videos)
    if summary["ok"] != len(site.links) or gets != len(site.videos):
        print(f"WARNING {executor}: {summary['ok']}/{len(site.links)} articles ok, {gets} full GETs for "
              f"{len(site.videos)} videos; failures {summary['failures'][:3]}", file=sys.stderr)
    return timing, summary


def hit_rates(summary: dict) -> tuple[float, float]:
    """(media from cache / media fetched or cached, transcripts from cache / media transcribed or cached)."""
    media = summary["media_downloaded"] + summary["media_cached"]
    return summary["media_cached"] / media if media else 0.0, summary["transcripts_cached"] / media if media else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--articles", type=int, default=20, help="articles in the set")
    parser.add_argument("--videos", type=int, default=8, help="distinct narrated videos they link to")
    parser.add_argument("--seconds", type=float, default=90.0,
                        help="mean video length; lengths spread from 2/3 to 4/3 of it")
    parser.add_argument("--workers", type=int, default=2, help="LocalCluster worker processes (1 thread each)")
    parser.add_argument("--keep", action="store_true", help="keep the work directory and print its path")
    args = parser.parse_args()

    facts = machine_facts()
    work = Path(tempfile.mkdtemp(prefix="bench-cluster-"))
    results = {}
    try:
        t0 = time.perf_counter()
        with serve_site(work / "site", articles=args.articles, videos=args.videos, seconds=args.seconds) as site:
            print(f"generated in {time.perf_counter() - t0:.0f} s: {site.describe()}", file=sys.stderr)
            for executor in ("local", "dask"):
                results[executor] = run_executor(site, work, executor, args.workers)
        facts += f"; after it {load_average()}"
    finally:
        if args.keep:
            print(f"work directory kept: {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)

    n = len(site.links)
    local_wall = results["local"][0].wall
    rows = []
    for executor, (timing, summary) in results.items():
        media_hit, transcript_hit = hit_rates(summary)
        label = "`--executor local`" if executor == "local" else \
            f"`--executor dask` (LocalCluster {args.workers} x 1 thread)"
        rows.append([label, f"{timing.wall:.1f}", f"{timing.cpu:.1f}", f"{local_wall / timing.wall:.2f}",
                     f"{media_hit:.0%}", f"{transcript_hit:.0%}", f"{timing.wall / n:.2f}",
                     f"{summary['ok']}/{summary['articles']}"])
    dask_timing, dask_summary = results["dask"]
    dask_wall = dask_timing.wall
    media_hit, transcript_hit = hit_rates(dask_summary)
    speedup = local_wall / dask_wall
    verdict = ("faster" if speedup > 1.05 else "slower" if speedup < 0.95 else "about as fast")
    per_minute = n / local_wall * 60
    transcribed = dask_summary["media_downloaded"] + dask_summary["media_cached"] - dask_summary["transcripts_cached"]
    print(f"### Scale out on Dask\n\n{site.describe()}; tiny.en, fresh cache per run.\nMachine: {facts}.\n")
    print(markdown_table(["executor", "wall s", "CPU s", "speed-up vs local", "media cache hits", "transcript cache hits",
                          "s per article", "articles ok"], rows))
    print(f"\nOn {os.cpu_count()} cores the Dask executor is {verdict} than the local one "
          f"({dask_wall:.1f} s against {local_wall:.1f} s, {speedup:.2f}x). The gain is bounded here: the local "
          f"executor already keeps both cores busy (torch runs Whisper on both, and the next articles download "
          f"and keyframe in threads meanwhile), while each Dask worker runs torch on one thread (Dask sets "
          f"OMP_NUM_THREADS=1), so the cluster mostly trades intra-op for inter-article parallelism and pays "
          f"for its start-up and one model load per worker. On Dask {media_hit:.0%} of media links and "
          f"{transcript_hit:.0%} of transcriptions came from the shared cache: {dask_summary['media_downloaded']} "
          f"downloads and {transcribed} transcriptions for {len(site.videos)} distinct videos. "
          f"The cost per article ({local_wall / n:.2f} s locally, {dask_wall / n:.2f} s on Dask) averages "
          f"articles that transcribe a new video and articles that only reuse one, i.e. about "
          f"{per_minute:.0f} articles a minute per machine of this size at this hit rate. On N such machines "
          f"sharing the cache and the scheduler, expect close to N times that, minus the fixed start-up, as "
          f"long as N stays below the number of distinct videos in flight: an article whose video another "
          f"worker is transcribing waits for it, so this {len(site.videos)}-video set cannot use more than "
          f"{len(site.videos)} workers, and a higher hit rate (more articles per video) lowers the cost per "
          f"article rather than adding parallelism.")


if __name__ == "__main__":
    main()
