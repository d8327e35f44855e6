"""The article set the batch and cluster benchmarks share, and the few helpers both need.

``serve_site`` generates distinct narrated videos (espeak-ng + ffmpeg, nothing downloaded),
serves them on loopback with :class:`FileServer`, and writes .txt/.md/.html articles whose
links overlap (some articles share a video), so a batch can reuse downloads and transcripts
the way a real newsroom archive does.
"""

from __future__ import annotations

import html
import json
import os
import platform
import random
import resource
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from mediaproc.models import prepare_bundled_models
from mediaproc.testing import synth
from mediaproc.testing.server import FileServer

WPM = 150        # tiny.en drops words of espeak speech much faster than this
PAUSE = 1.0      # seconds of silence before each sentence
_SUFFIXES = (".txt", ".md", ".html")
_PLACES = ["Millbrook", "Easton", "the harbour district", "the northern valley", "Riverside", "the old town",
           "Ashford", "the coastal road", "Kingsley", "the university quarter"]
_SUBJECTS = ["The city council", "A local farmer", "The new museum", "Our reporter", "The school board",
             "The fire brigade", "The regional airport", "Two engineers", "The football club", "A young nurse",
             "The transport minister", "Hospital staff"]
_VERBS = ["announced", "described", "questioned", "welcomed", "postponed", "explained", "reviewed", "defended",
          "criticised", "presented"]
_OBJECTS = ["a plan to repair the old bridge", "the results of the spring election", "the cost of the water project",
            "a program for children who love reading", "the decision to close the northern road",
            "new rules for parking near the station", "the history of the harbour and its ships",
            "a budget for cleaner buses", "the damage left by the storm", "plans for a larger library"]
_ENDINGS = ["on Monday morning.", "after a long meeting.", "in a short statement.", "to a crowd of neighbours.",
            "before the summer holidays.", "during an interview on the radio.", "despite the heavy rain."]


@dataclass
class Site:
    """Articles on disk, media on a loopback server, and what each article links to."""

    articles: Path
    media: Path
    server: FileServer
    videos: dict[str, synth.Narrated]                              # file name -> ground truth
    links: dict[Path, list[str]] = field(default_factory=dict)     # article -> media file names, in order

    @property
    def distinct_audio(self) -> float:
        """Seconds of audio a batch with a shared cache has to transcribe."""
        return sum(v.duration for v in self.videos.values())

    @property
    def linked_audio(self) -> float:
        """Seconds of audio over every link of every article: what a per-article loop transcribes."""
        return sum(self.videos[name].duration for names in self.links.values() for name in names)

    @property
    def link_count(self) -> int:
        return sum(len(names) for names in self.links.values())

    def url(self, name: str) -> str:
        return self.server.url(name)

    def describe(self) -> str:
        lengths = sorted(v.duration for v in self.videos.values())
        return (f"{len(self.links)} articles ({', '.join(f'{sum(p.suffix == s for p in self.links)} {s}' for s in _SUFFIXES)}), "
                f"{self.link_count} links to {len(self.videos)} distinct videos of {lengths[0]:.0f}-{lengths[-1]:.0f} s "
                f"({self.distinct_audio:.0f} s distinct audio, {self.linked_audio:.0f} s over all links)")


def _sentences(rng: random.Random, seconds: float) -> list[str]:
    """News-like sentences, about ``seconds`` long when spoken at WPM with PAUSE before each."""
    out: list[str] = []
    spoken = 0.0
    while spoken < seconds:
        sentence = " ".join([rng.choice(_SUBJECTS), rng.choice(_VERBS), rng.choice(_OBJECTS), "in",
                             rng.choice(_PLACES), rng.choice(_ENDINGS)])
        out.append(sentence)
        spoken += PAUSE + len(sentence.split()) * 60 / WPM
    return out


def _video_lengths(videos: int, seconds: float) -> list[float]:
    """Spread from 2/3 to 4/3 of ``seconds`` (60-120 s for the default 90)."""
    if videos == 1:
        return [seconds]
    return [seconds * (2 / 3 + (2 / 3) * i / (videos - 1)) for i in range(videos)]


def _assign(articles: int, videos: int) -> list[list[int]]:
    """One to three videos per article, overlapping: every video is linked from several articles."""
    plan = []
    for i in range(articles):
        picks = [i % videos]
        if i % 2 == 0:
            picks.append((i * 5 + 3) % videos)
        if i % 5 == 0:
            picks.append((i + videos // 2 + 1) % videos)
        plan.append(list(dict.fromkeys(picks)))
    return plan


def _write_article(path: Path, title: str, paragraphs: list[str], urls: list[str]) -> None:
    if path.suffix == ".html":
        players = "".join(f'<figure><video controls src="{html.escape(u)}"></video>'
                          f"<figcaption>Video report {k + 1}</figcaption></figure>" for k, u in enumerate(urls))
        body = "".join(f"<p>{html.escape(p)}</p>" for p in paragraphs[:1]) + players + \
            "".join(f"<p>{html.escape(p)}</p>" for p in paragraphs[1:])
        path.write_text(f"<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{html.escape(title)}"
                        f"</title></head><body><nav><a href=\"/\">Home</a></nav><article><h1>{html.escape(title)}</h1>"
                        f"{body}</article><footer><p>Example News</p></footer></body></html>\n", encoding="utf-8")
    elif path.suffix == ".md":
        # Links inside a sentence: a paragraph of nothing but Markdown links is taken for navigation.
        links = " ".join(f"Watch [video report {k + 1}]({u}) from our desk." for k, u in enumerate(urls))
        path.write_text(f"# {title}\n\n{paragraphs[0]}\n\n{links}\n\n" + "\n\n".join(paragraphs[1:]) + "\n",
                        encoding="utf-8")
    else:
        path.write_text(f"{title}\n\n{paragraphs[0]}\n\n" + "\n".join(urls) + "\n\n" + "\n\n".join(paragraphs[1:]) + "\n",
                        encoding="utf-8")


@contextmanager
def serve_site(root: Path, *, articles: int = 20, videos: int = 8, seconds: float = 90.0,
               size: str = "640x360", seed: int = 11) -> Iterator[Site]:
    """Generate the media and articles under ``root`` and serve the media until the block ends."""
    rng = random.Random(seed)
    media, docs = root / "media", root / "articles"
    media.mkdir(parents=True)
    docs.mkdir(parents=True)
    narrations = {}
    for i, length in enumerate(_video_lengths(videos, seconds)):
        name = f"report-{i + 1:02d}.mp4"
        narrations[name] = synth.narrated_video(media / name, _sentences(rng, length), size=size,
                                                pause=PAUSE, wpm=WPM)
    names = list(narrations)
    with FileServer(media) as server:
        site = Site(docs, media, server, narrations)
        for i, picks in enumerate(_assign(articles, videos)):
            path = docs / (f"section-{i % 3}" if i % 4 else "") / f"story-{i + 1:02d}{_SUFFIXES[i % 3]}"
            path.parent.mkdir(exist_ok=True)
            lead = narrations[names[picks[0]]].sentences
            # The article quotes part of its first video's narration, and adds text of its own.
            quoted = [s.text for s in lead[: max(2, len(lead) // 3)]]
            own = _sentences(rng, 20)
            title = f"Story {i + 1}: {quoted[0].split(' in ')[0]}"
            _write_article(path, title, [" ".join(quoted[:2]), " ".join(own), " ".join(quoted[2:]) or own[0]],
                           [server.url(names[k]) for k in picks])
            site.links[path] = [names[k] for k in picks]
        yield site


def fresh_cache(path: Path) -> dict[str, str]:
    """An empty mediaproc cache at ``path`` (media, transcripts) that shares only the converted model, so
    no run pays for converting it; returns the environment that points ``MEDIAPROC_CACHE`` at it."""
    path.mkdir(parents=True)
    (path / "models").symlink_to(prepare_bundled_models()[0].parent, target_is_directory=True)
    return dict(os.environ, MEDIAPROC_CACHE=str(path))


@dataclass
class Timing:
    """Wall time, and CPU time (user + system), which other load on the machine disturbs much less."""

    wall: float = 0.0
    cpu: float = 0.0

    def __add__(self, other: Timing) -> Timing:
        return Timing(self.wall + other.wall, self.cpu + other.cpu)

    def __str__(self) -> str:
        return f"{self.wall:.1f} s wall, {self.cpu:.1f} s CPU"


@contextmanager
def timed() -> Iterator[Timing]:
    """Time the block in this process (CPU of all its threads); the Timing is filled when it ends."""
    timing = Timing()
    cpu, start = time.process_time(), time.perf_counter()
    try:
        yield timing
    finally:
        timing.wall, timing.cpu = time.perf_counter() - start, time.process_time() - cpu


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run(cmd: list[str], *, env: dict[str, str] | None = None, timeout: float = 1800) -> Timing:
    """Run ``cmd`` to completion and time it with the processes it waited for; a failure stops the
    benchmark with its stderr."""
    cpu, start = _children_cpu(), time.perf_counter()
    proc = subprocess.run(cmd, check=False, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                          text=True, timeout=timeout)
    if proc.returncode:
        raise SystemExit(f"exit {proc.returncode}: {' '.join(cmd)}\n{proc.stderr[-2000:]}")
    return Timing(time.perf_counter() - start, _children_cpu() - cpu)


def read_summary(out: Path) -> dict:
    return json.loads((out / "batch-summary.json").read_text())


def load_average() -> str:
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


def machine_facts() -> str:
    load = load_average()
    cpu = next((ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                if ln.startswith("model name")), platform.processor() or "?")
    return f"{os.cpu_count()} cores ({cpu}), load average before the run {load}, Python {platform.python_version()}"


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)
