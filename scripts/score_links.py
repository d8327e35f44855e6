#!/usr/bin/env python
"""Recall and precision of the link finder on a labelled corpus of saved pages, per page and per split.

A corpus is a directory of page folders, each holding ``source.html`` and ``labels.json`` (the article's
own media, decoys, ambiguous items, and a ``split``: ``dev`` to tune on, ``holdout`` to report); the
format is described in ``mediaproc/testing/corpus.py``. The 14 pages of tests/data/html are one such
corpus (the default); a larger one lives outside the repository.

    .venv/bin/python scripts/score_links.py [CORPUS_DIR] [--misses]
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from mediaproc.testing.corpus import score_corpus

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("corpus", nargs="?", type=Path, default=ROOT / "tests" / "data" / "html")
    parser.add_argument("--misses", action="store_true", help="List what each inexact page missed or added.")
    args = parser.parse_args()
    logging.disable(logging.WARNING)          # pages with broken JSON-LD are expected here
    score = score_corpus(args.corpus)
    print(score.table())
    print()
    for split in sorted({p.split for p in score.pages}):
        print(f"{split}: {type(score)([p for p in score.pages if p.split == split]).summary()}")
    print(f"all: {score.summary()}")
    if args.misses:
        for p in score.pages:
            if not p.exact or p.decoys_followed:
                print(f"\n{p.page} ({p.split})")
                print("".join(f"  missed: {urls[0]}\n" for urls in p.missed), end="")
                print("".join(f"  false:  {url}\n" for url in p.false), end="")


if __name__ == "__main__":
    main()
