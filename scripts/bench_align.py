"""Benchmark the alignment stage: a 10,000-word article against a one-hour transcript.

The transcript is made from the article itself, as a real video would be: paragraphs in shuffled
order, a fifth of them skipped, ASR-like noise (misspelt, dropped, inserted and merged words,
numbers as digits), some sentences reworded, and remarks that are not in the article.
Targets: under 2 s and under 500 MB peak on 2 cores. Run: .venv/bin/python scripts/bench_align.py
"""

from __future__ import annotations

import argparse
import random
import resource
import time
import tracemalloc

from mediaproc.alignment import _normalise, _normaliser, align
from mediaproc.schema import Article, Paragraph, Segment, Sentence, Transcript, Word

TARGET_SECONDS = 2.0
TARGET_MB = 500.0
_STOP = "the of and to a in that is was for on with as by at from it his her their this which".split()
_NUMBERS = {"four": "4", "twelve": "12", "thousand": "1,000", "seventeen": "17", "two": "2", "hundred": "100"}


def _vocabulary(rng: random.Random, n: int) -> list[str]:
    letters = "abcdefghijklmnopqrstuvwxyz"
    return ["".join(rng.choice(letters) for _ in range(rng.randint(3, 10))) for _ in range(n)]


def _sentence(rng: random.Random, vocab: list[str], weights: list[float]) -> list[str]:
    words = []
    for _ in range(rng.randint(8, 30)):
        r = rng.random()
        words.append(rng.choice(_STOP) if r < 0.4 else rng.choice(list(_NUMBERS)) if r < 0.42
                     else rng.choices(vocab, weights)[0])
    words[0] = words[0].capitalize()
    words[-1] += "."
    return words


def make_article(rng: random.Random, n_words: int) -> Article:
    vocab = _vocabulary(rng, 6000)
    weights = [1 / (k + 1) for k in range(len(vocab))]          # Zipf: a few words are everywhere
    paragraphs, total = [], 0
    while total < n_words:
        texts = [" ".join(_sentence(rng, vocab, weights)) for _ in range(rng.randint(2, 6))]
        # One sentence in eight is a direct quote, so the quote alignment runs at scale too.
        texts = [f"\u201c{t}\u201d" if rng.random() < 0.125 else t for t in texts]
        k = len(paragraphs)
        paragraphs.append(Paragraph(k, " ".join(texts),
                                    [Sentence(k, i, t, 0, len(t)) for i, t in enumerate(texts)]))
        total += sum(len(t.split()) for t in texts)
    return Article("bench", "Benchmark article", paragraphs=paragraphs)


def _asr(rng: random.Random, words: list[str]) -> list[str]:
    out = []
    for w in words:
        r = rng.random()
        if r < 0.05 and len(w) > 3:                            # misspelt
            k = rng.randrange(len(w))
            out.append(w[:k] + rng.choice("aeiouxyz") + w[k + 1:])
        elif r < 0.07:                                        # dropped
            continue
        elif r < 0.09:                                        # inserted filler
            out += [w, rng.choice(["uh", "you", "know", "so"])]
        elif r < 0.10 and out:                                # merged with the previous word
            out[-1] += w
        else:
            out.append(_NUMBERS.get(w, w))
    return out


def make_transcript(rng: random.Random, article: Article, seconds: float) -> tuple[Transcript, dict]:
    """The transcript, and per sentence (paragraph, index) -> (how it went in, index of its first word)."""
    remarks = _vocabulary(rng, 500)
    stream: list[str] = []
    truth: dict[tuple[int, int], tuple[str, int | None]] = {}
    for p in rng.sample(article.paragraphs, len(article.paragraphs)):
        if rng.random() < 0.2:
            truth.update({(s.paragraph, s.index): ("absent", None) for s in p.sentences})
            continue
        for s in p.sentences:
            words = s.text.replace("\u201c", "").replace("\u201d", "").split()   # no quote marks in speech
            how = "spoken"
            if rng.random() < 0.1:
                rng.shuffle(words)
                how = "reworded"
            truth[s.paragraph, s.index] = (how, len(stream))
            stream += _asr(rng, words)
        if rng.random() < 0.3:
            stream += [rng.choice(remarks) for _ in range(rng.randint(5, 25))] + ["."]
    step = seconds / len(stream)
    segments, t = [], 0.0
    for k in range(0, len(stream), 12):
        chunk = stream[k:k + 12]
        words = [Word(" " + w, t + i * step, t + (i + 0.8) * step) for i, w in enumerate(chunk)]
        segments.append(Segment(len(segments), t, t + len(chunk) * step, "".join(w.word for w in words), words))
        t += len(chunk) * step
    times = {key: (how, None if first is None else first * step) for key, (how, first) in truth.items()}
    return Transcript("en", "bench", "synthetic", t, segments), times


def accuracy(result, truth: dict) -> str:
    """How the statuses compare with how each sentence went into the transcript."""
    got = {(s.paragraph, s.index): s for s in result.sentences}
    spoken = [k for k, (how, _) in truth.items() if how == "spoken"]
    found = [k for k in spoken if got[k].status == "spoken" and abs(got[k].start - truth[k][1]) <= 0.5]
    reworded = [k for k, (how, _) in truth.items() if how == "reworded"]
    absent = [k for k, (how, _) in truth.items() if how == "absent"]
    return (f"spoken found on time (0.5 s): {len(found)}/{len(spoken)}; "
            f"reworded found: {sum(got[k].status != 'not_spoken' for k in reworded)}/{len(reworded)}; "
            f"absent claimed: {sum(got[k].status != 'not_spoken' for k in absent)}/{len(absent)}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--words", type=int, default=10_000)
    ap.add_argument("--seconds", type=float, default=3600.0)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()

    rng = random.Random(args.seed)
    article = make_article(rng, args.words)
    transcript, truth = make_transcript(rng, article, args.seconds)
    _normaliser()                                              # whisper/torch import is not the stage's cost
    n_article = sum(len(s.text.split()) for s in article.sentences())
    print(f"article: {n_article} words, {len(article.sentences())} sentences; "
          f"transcript: {len(transcript.words())} words, {len(transcript.segments)} segments, {args.seconds:.0f} s")

    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    timings = {}
    for label in ("cold", "warm"):                             # cold: word normalisation cache empty
        if label == "cold":
            _normalise.cache_clear()
        t0 = time.perf_counter()
        result = align(article, transcript)
        timings[label] = time.perf_counter() - t0
    rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    _normalise.cache_clear()
    tracemalloc.start()
    align(article, transcript)
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()

    s = result.summary
    print(f"result: {s.spoken} spoken, {s.paraphrased} paraphrased, {s.not_spoken} not spoken; "
          f"coverage {s.coverage:.2f}; transcript words aligned {s.aligned_word_share:.2f}; "
          f"{s.video_only_spans} video-only spans")
    print(accuracy(result, truth))
    print(f"quotes: {len(result.quotes)} in the article, verdicts {s.quotes}")
    print(f"{'measure':<34}{'value':>10}{'target':>10}{'ratio':>8}")
    for name, value, target in (("align() seconds, cold cache", timings["cold"], TARGET_SECONDS),
                                ("align() seconds, warm cache", timings["warm"], TARGET_SECONDS),
                                ("peak traced MB (tracemalloc)", peak, TARGET_MB),
                                ("ru_maxrss growth MB", max(rss1 - rss0, 0.0), TARGET_MB)):
        print(f"{name:<34}{value:>10.2f}{target:>10.0f}{value / target:>8.2f}")


if __name__ == "__main__":
    main()
