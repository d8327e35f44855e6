"""Every option of every stage: its default, its range or choices and its help, in one place.

The option classes are frozen dataclasses checked on construction (a bad value is an
:class:`~mediaproc.errors.OptionsError` with one line, before any work starts), and the
command line is generated from the same fields (:func:`mediaproc.cli`), so a default,
a choice or a help text is written once.
"""

from __future__ import annotations

import re
import typing
from collections.abc import Callable
from dataclasses import MISSING, dataclass, field, fields
from pathlib import Path
from typing import Any, Literal

from .errors import OptionsError

KeyframeMode = Literal["keyframes", "scenes", "interval"]
Engine = Literal["faster-whisper", "openai-whisper"]
Task = Literal["transcribe", "translate"]
Device = Literal["cpu", "cuda", "auto"]

AUTO_MODEL = "auto"


@dataclass(frozen=True)
class Opt:
    """How a field is checked and offered on the command line."""

    help: str
    min: float | None = None
    max: float | None = None
    above: float | None = None          # exclusive lower bound
    flag: str | None = None             # the command-line spelling; "" keeps the field off the command line
    metavar: str | None = None
    parse: Callable[[str], Any] | None = None   # turns the command-line text into the value
    shown: str | None = None            # the default as spelled on the command line (when ``parse`` is used)


def option(default: Any, help: str, **kw: Any) -> Any:
    """A dataclass field with its :class:`Opt` (``default_factory`` for mutable defaults)."""
    return field(default=default, metadata={"opt": Opt(help, **kw)})


def parse_size(text: str) -> int:
    """``500M``, ``2G``, ``1.5GiB``, ``700000`` -> bytes."""
    m = re.match(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?\s*$", str(text), re.I)
    if not m:
        raise OptionsError(f"{text!r} is not a size like 500M or 2G")
    return int(float(m.group(1)) * 1024 ** "bkmgt".index((m.group(2) or "b").lower()))


def choices(cls: type, name: str) -> tuple[Any, ...] | None:
    """The allowed values of a ``Literal`` field (None: any value of its type)."""
    hint = typing.get_type_hints(cls)[name]
    for arg in (typing.get_args(hint) if typing.get_origin(hint) is typing.Union else (hint,)):
        if typing.get_origin(arg) is Literal:
            return typing.get_args(arg)
    return None


def describe_range(o: Opt) -> str:
    """The allowed range in interval notation: ``(0, 1]``, ``[1, 95]``, ``>= 0``."""
    low = o.above if o.above is not None else o.min
    if low is not None and o.max is not None:
        return f"{'(' if o.above is not None else '['}{low:g}, {o.max:g}]"
    if low is not None:
        return f"{'>' if o.above is not None else '>='} {low:g}"
    return f"<= {o.max:g}" if o.max is not None else ""


class Checked:
    """Checks every field against its :class:`Opt` range and ``Literal`` choices after construction."""

    def __post_init__(self) -> None:
        for f in fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            allowed = choices(type(self), f.name)
            if allowed is not None and value not in allowed:
                raise OptionsError(f"{f.name} {value!r} is not one of "
                                   f"{', '.join(map(str, (a for a in allowed if a is not None)))}")
            o: Opt | None = f.metadata.get("opt")
            if o is None or not isinstance(value, (int, float)) or isinstance(value, bool):
                continue
            low_ok = (o.min is None or value >= o.min) and (o.above is None or value > o.above)
            if not low_ok or (o.max is not None and value > o.max):
                where = describe_range(o)
                raise OptionsError(f"{f.name} {value:g} must be "
                                   f"{'in ' if where[0] in '([' else ''}{where}")


def opt_fields(cls: type) -> list[tuple[str, Any, Opt]]:
    """(name, default, Opt) of the fields offered on the command line."""
    out = []
    for f in fields(cls):  # type: ignore[arg-type]
        o = f.metadata.get("opt")
        if o is not None and o.flag != "":
            default = f.default if f.default is not MISSING else None
            out.append((f.name, default, o))
    return out


# --- stages --------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class DownloadOptions(Checked):
    max_filesize: int = option(2 * 1024**3, "Refuse media larger than this (checked before and during download).",
                               min=1, metavar="SIZE", parse=parse_size, shown="2G")
    timeout: float = option(30.0, "Seconds a server may send (almost) nothing before the attempt is abandoned.",
                            above=0)
    deadline: float = option(3600.0, "Seconds one media item may take in all, retries included.", above=0)
    retries: int = option(5, "Retries for dropped connections, 5xx, 408 and 429 (other 4xx and DNS errors "
                             "are not retried).", min=0)
    jobs: int = option(4, "Concurrent downloads within an article.", min=1, flag="")
    progress: bool = option(False, "Progress bars on a terminal, a line per file otherwise.", flag="")


@dataclass(frozen=True)
class OcrOptions(Checked):
    """On-screen text (mediaproc.onscreen)."""

    enabled: bool = option(True, "Read on-screen text on the keyframes with Tesseract (lower thirds, dates, "
                                 "signs) and set it beside the article.", flag="--ocr")
    languages: str | None = option(None, "Tesseract languages joined by + (eng+ara+rus; default: English, the "
                                         "article's language and the speech's).", flag="--ocr-languages",
                                   metavar="LANGS")
    subtitles: bool = option(True, "Also sample the bottom of the picture every second for burned-in "
                                   "subtitles (onscreen.srt).", flag="--ocr-subtitles")


@dataclass(frozen=True)
class KeyframeOptions(Checked):
    """How to pick frames.

    ``dedup_threshold``: frames at most this far apart (in hash bits) are one shot (keyframes mode).
    ``scene_threshold``: ffmpeg's scene score above which a frame starts a new shot (scenes mode).
    """

    mode: KeyframeMode = option("keyframes", "keyframes: decode only codec key frames (fast); scenes: one frame "
                                             "per shot; interval: one frame every --interval seconds.",
                                flag="--keyframes")
    max_keyframes: int = option(40, "Keep at most this many frames.", min=1)
    min_gap: float = option(1.0, "Minimum seconds between kept frames.", min=0)
    interval: float = option(10.0, "Seconds between frames in interval mode.", above=0)
    max_width: int = option(640, "Scale keyframes down to this width.", min=16)
    quality: int = option(85, "JPEG quality of the keyframes.", min=1, max=95)
    dedup_threshold: int = option(10, "Hash distance under which two key frames are one shot.", min=0, flag="")
    scene_threshold: float = option(0.4, "Scene score above which a frame starts a new shot.", above=0, max=1,
                                    flag="")


@dataclass(frozen=True)
class TranscribeOptions(Checked):
    """What the whisper command line lets users choose, with its decoding defaults, plus voice activity detection."""

    model: str = option(AUTO_MODEL, "Whisper model: auto (English speech to the bundled tiny.en, any other "
                                    "language to the bundled multilingual base), tiny.en, base, another Whisper "
                                    "name, a .pt checkpoint or a CTranslate2 directory.")
    engine: Engine = option("faster-whisper", "Inference engine.")
    language: str | None = option(None, "Spoken language code (default: detected on the speech, window by "
                                        "window; English for .en models).")
    task: Task = option("transcribe", "transcribe, or translate into English (multilingual models).")
    vad: bool = option(True, "Decode only what voice activity detection (Silero) calls speech: no text is "
                             "invented over music or silence, and it is faster.")
    beam_size: int = option(5, "Beam search width (1: greedy), as the whisper command line's default.", min=1)
    best_of: int = option(5, "Candidates when sampling with a non-zero temperature.", min=1)
    temperature: float = option(0.0, "Sampling temperature; on a failed decode Whisper retries at higher ones.",
                                min=0, max=1)
    temperature_increment_on_fallback: float | None = option(0.2, "Temperature step of the fallback.", min=0,
                                                             flag="")
    initial_prompt: str | None = option(None, "Text to prime the decoder (names, the article title).")
    condition_on_previous_text: bool = option(True, "Prompt each window with the previous text (off: fewer "
                                                    "repetition loops).")
    word_timestamps: bool = option(True, "Time every word (the alignment needs it).")
    threads: int = option(0, "CPU threads for inference (0: library default).", min=0)
    device: Device = option("cpu", "Where to run the model.")

    def temperatures(self) -> tuple[float, ...]:
        """The fallback schedule, as the whisper CLI builds it from temperature and its increment."""
        if not self.temperature_increment_on_fallback:
            return (self.temperature,)
        steps, t = [], self.temperature
        while t <= 1.0 + 1e-6:
            steps.append(round(t, 2))
            t += self.temperature_increment_on_fallback
        return tuple(steps)


@dataclass(frozen=True)
class AlignOptions(Checked):
    spoken_threshold: float = option(0.72, "Score in (0, 1] above which a sentence counts as said nearly "
                                           "verbatim.", above=0, max=1)
    paraphrase_threshold: float = option(0.3, "Content-word overlap in (0, 1] above which an unmatched sentence "
                                              "counts as paraphrased.", above=0, max=1)
    quote_threshold: float = option(0.5, "Score in (0, 1] a quotation's best place must reach to count as found.",
                                    above=0, max=1, flag="")
    content_word_similarity: float = option(80, "rapidfuzz ratio for two content words to count as the same.",
                                            above=0, max=100, flag="")
    max_candidates: int = option(3, "Candidate places tried per sentence.", min=1, flag="")
    max_ngram_hits: int = option(20, "n-grams more frequent than this in the transcript do not anchor.", min=1,
                                 flag="")
    video_only_gap: float = option(2.0, "Seconds of silence that end a video-only span or a paraphrase.",
                                   above=0, flag="")
    min_video_only_tokens: int = option(2, "Shorter unclaimed runs are glue words, not remarks.", min=1, flag="")


@dataclass(frozen=True)
class SecurityOptions(Checked):
    """See the README's Security section and :mod:`mediaproc._net`."""

    allow_local_files: bool = option(False, "Let articles use local media outside their own folder, and pages "
                                            "fetched over the network use local files at all.")
    allow_private_hosts: bool = option(False, "Let links in pages from public hosts reach loopback, private "
                                              "and link-local addresses.")


@dataclass(frozen=True)
class CacheOptions(Checked):
    cache_dir: Path | None = option(None, "Media, keyframe and transcript cache (default: $MEDIAPROC_CACHE or "
                                          "the user cache directory).", metavar="DIR", parse=Path)
    no_cache: bool = option(False, "Neither reuse nor store anything in the cache.")
    refresh: bool = option(False, "Download, keyframe and transcribe again even when cached (repairs the cache).")





@dataclass(frozen=True)
class RunOptions(Checked):
    """Everything one run of the pipeline needs to know."""

    out: Path = option(Path("mediaproc-out"), "Output directory.", parse=Path)
    all_links: bool = option(False, "Also fetch links outside the article body (navigation, related-video "
                                    "rails, footers).")
    embed_images: bool = option(False, "Embed keyframes in report.html instead of linking them.")
    index: bool = option(True, "Keep OUT/index.sqlite and OUT/index.html up to date (the archive that "
                               "`mediaproc search` reads).")
    download: DownloadOptions = field(default_factory=DownloadOptions)
    keyframes: KeyframeOptions = field(default_factory=KeyframeOptions)
    ocr: OcrOptions = field(default_factory=OcrOptions)
    transcribe: TranscribeOptions = field(default_factory=TranscribeOptions)
    align: AlignOptions = field(default_factory=AlignOptions)
    security: SecurityOptions = field(default_factory=SecurityOptions)
    cache: CacheOptions = field(default_factory=CacheOptions)


__all__ = ["Opt", "option", "Checked", "opt_fields", "choices", "describe_range", "parse_size", "DownloadOptions",
           "KeyframeOptions", "TranscribeOptions", "AlignOptions", "SecurityOptions", "CacheOptions",
           "RunOptions", "AUTO_MODEL", "KeyframeMode"]
