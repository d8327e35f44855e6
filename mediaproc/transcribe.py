"""Transcribe media with Whisper (openai-whisper or faster-whisper) and write transcript files.

Audio is decoded by ffmpeg straight to 16 kHz mono float32 in windows of a few minutes, so an hour of media
never sits in memory at once. Results are cached by media content, model, engine and options.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import ffmpeg
import numpy as np
from tqdm import tqdm

from .media import MediaInfo, probe
from .models import DEFAULT_MODEL, ENGINES, ResolvedModel, load_faster_whisper, load_whisper, resolve_model
from .utils import MediaprocError, atomic_write_text, cache_dir, read_json, sha256_file, write_json

SAMPLE_RATE = 16_000
WINDOW_SECONDS = 300.0   # audio decoded and transcribed at a time: ~19 MB of float32
_OVERLAP_SECONDS = 30.0  # segments ending in a window's last 30 s are redone by the next window
_SILENCE_PEAK = 1e-3     # -60 dBFS: a window quieter than this holds no speech, and Whisper would invent some
_FRAME = SAMPLE_RATE // 50  # 20 ms
_QUIET_RATIO = 0.02      # -34 dB below the window's loud frames: silence between words, not a soft consonant
FORMATS = ("txt", "srt", "vtt", "tsv", "json")


class TranscribeError(MediaprocError):
    """Audio could not be decoded, options are invalid, or a transcript file is unreadable."""


class NoAudio(TranscribeError):
    """The media has no audio stream: the pipeline records the item as skipped with this reason."""


@dataclass
class Word:
    text: str               # as the engine wrote it, usually with a leading space
    start: float
    end: float
    probability: float = 1.0


@dataclass
class Segment:
    id: int
    start: float
    end: float
    text: str
    words: list[Word] = field(default_factory=list)
    avg_logprob: float | None = None
    no_speech_prob: float | None = None


@dataclass
class Transcript:
    language: str
    model: str
    engine: str
    duration: float | None = None
    segments: list[Segment] = field(default_factory=list)
    options: dict[str, object] = field(default_factory=dict)
    cached: bool = False    # True when read from the transcript cache (not part of the written JSON)

    @property
    def text(self) -> str:
        return "".join(s.text for s in self.segments).strip()

    def words(self) -> list[Word]:
        return [w for s in self.segments for w in s.words]


@dataclass
class TranscribeOptions:
    """What the whisper CLI lets users choose; defaults favour speed (greedy decoding, like ``whisper.transcribe``)."""

    model: str = DEFAULT_MODEL
    engine: str = "openai-whisper"           # or "faster-whisper"
    language: str | None = None              # None: detected (.en models are English)
    task: str = "transcribe"                 # or "translate" (to English; multilingual models only)
    beam_size: int | None = None             # None: greedy; the whisper CLI uses 5
    best_of: int = 5                         # candidates when sampling at a fallback temperature
    temperature: float = 0.0
    temperature_increment_on_fallback: float | None = 0.2
    initial_prompt: str | None = None
    condition_on_previous_text: bool = True  # False: less prone to repetition loops, less consistent text
    word_timestamps: bool = True
    threads: int = 0                         # CPU threads; 0: the library's default
    device: str = "cpu"                      # "cpu", "cuda" or "auto"

    def validate(self) -> None:
        if self.engine not in ENGINES:
            raise TranscribeError(f"engine {self.engine!r} is not one of {', '.join(ENGINES)}")
        if self.task not in ("transcribe", "translate"):
            raise TranscribeError(f"task {self.task!r} is not transcribe or translate")
        if self.beam_size is not None and self.beam_size < 1:
            raise TranscribeError(f"beam size {self.beam_size} must be at least 1")
        if not 0.0 <= self.temperature <= 1.0:
            raise TranscribeError(f"temperature {self.temperature} must be between 0 and 1")
        if self.device not in ("cpu", "cuda", "auto"):
            raise TranscribeError(f"device {self.device!r} is not cpu, cuda or auto")
        if self.threads < 0:
            raise TranscribeError(f"threads {self.threads} must be 0 (default) or more")

    def temperatures(self) -> tuple[float, ...]:
        """The fallback schedule, as the whisper CLI builds it from temperature and its increment."""
        if not self.temperature_increment_on_fallback:
            return (self.temperature,)
        steps = np.arange(self.temperature, 1.0 + 1e-6, self.temperature_increment_on_fallback)
        return tuple(round(float(t), 2) for t in steps)


# --- audio ----------------------------------------------------------------------------------------------------


def decode_audio(media: str | os.PathLike[str], start: float = 0.0, seconds: float | None = None) -> np.ndarray:
    """16 kHz mono float32 samples of ``media`` from ``start`` for ``seconds`` (to the end if None)."""
    input_args: dict[str, Any] = {"ss": start} if start else {}
    if seconds is not None:
        input_args["t"] = seconds
    try:
        out, _ = (ffmpeg.input(os.fspath(media), **input_args)
                  .output("pipe:", format="f32le", acodec="pcm_f32le", ac=1, ar=SAMPLE_RATE, vn=None)
                  .global_args("-nostdin", "-hide_banner", "-loglevel", "error")
                  .run(capture_stdout=True, capture_stderr=True))
    except ffmpeg.Error as exc:
        lines = (exc.stderr or b"").decode("utf-8", "replace").strip().splitlines()
        raise TranscribeError(f"ffmpeg could not decode the audio of {Path(media).name}: "
                              f"{lines[-1] if lines else 'no output'}") from None
    return np.frombuffer(out, np.float32).copy()  # writable, as torch wants it


# --- engines: (audio, language, prompt) -> (language, segments with times relative to the audio) -------------

_Engine = Callable[[np.ndarray, str | None, str | None], tuple[str, list[Segment]]]
_whisper_lock = threading.Lock()  # openai-whisper installs kv-cache hooks on the shared model per call


def _segment(i: int, start: float, end: float, text: str, words: list[Word],
             avg_logprob: float | None, no_speech_prob: float | None) -> Segment:
    return Segment(i, float(start), float(end), text, words,
                   None if avg_logprob is None else float(avg_logprob),
                   None if no_speech_prob is None else float(no_speech_prob))


def _openai_whisper(model: ResolvedModel, options: TranscribeOptions) -> _Engine:
    loaded = load_whisper(model, options.device)

    def run(audio: np.ndarray, language: str | None, prompt: str | None) -> tuple[str, list[Segment]]:
        import torch

        with _whisper_lock:
            if options.threads:
                torch.set_num_threads(options.threads)
            result = loaded.transcribe(
                audio, verbose=None, language=language, task=options.task, beam_size=options.beam_size,
                best_of=options.best_of, temperature=options.temperatures(), initial_prompt=prompt,
                condition_on_previous_text=options.condition_on_previous_text,
                word_timestamps=options.word_timestamps, fp16=loaded.device.type != "cpu")
        segments = [_segment(s["id"], s["start"], s["end"], s["text"],
                             [Word(w["word"], float(w["start"]), float(w["end"]), float(w["probability"]))
                              for w in s.get("words", [])],
                             s.get("avg_logprob"), s.get("no_speech_prob"))
                    for s in result["segments"]]
        return result["language"], segments

    return run


def _faster_whisper(model: ResolvedModel, options: TranscribeOptions) -> _Engine:
    loaded = load_faster_whisper(model, options.device, options.threads)

    def run(audio: np.ndarray, language: str | None, prompt: str | None) -> tuple[str, list[Segment]]:
        found, info = loaded.transcribe(
            audio, language=language, task=options.task, beam_size=options.beam_size or 1,
            best_of=options.best_of, temperature=list(options.temperatures()), initial_prompt=prompt,
            condition_on_previous_text=options.condition_on_previous_text,
            word_timestamps=options.word_timestamps, vad_filter=False)
        segments = [_segment(s.id, s.start, s.end, s.text,
                             [Word(w.word, float(w.start), float(w.end), float(w.probability)) for w in s.words or []],
                             s.avg_logprob, s.no_speech_prob)
                    for s in found]  # a generator: decoding happens here
        return info.language, segments

    return run


_ENGINES: dict[str, Callable[[ResolvedModel, TranscribeOptions], _Engine]] = {
    "openai-whisper": _openai_whisper,
    "faster-whisper": _faster_whisper,
}


def _frame_levels(audio: np.ndarray) -> np.ndarray:
    """RMS level of each 20 ms frame."""
    frames = len(audio) // _FRAME
    return np.sqrt(np.mean(audio[: frames * _FRAME].reshape(frames, _FRAME) ** 2, axis=1))


def _snap_to_speech(segment: Segment, levels: np.ndarray) -> Segment:
    """Move word starts that Whisper put in a preceding silence (typically 0.0 or a segment start) forward
    to where sound begins inside the word. Quiet means well below the window's loud speech, so audio with a
    noise floor is left alone."""
    quiet = max(_SILENCE_PEAK, _QUIET_RATIO * float(np.percentile(levels, 95))) if len(levels) else 0.0
    words = []
    for w in segment.words:
        first, last = int(w.start * SAMPLE_RATE) // _FRAME, int(w.end * SAMPLE_RATE) // _FRAME
        loud = np.flatnonzero(levels[first:last] >= quiet)
        start = (first + loud[0]) * _FRAME / SAMPLE_RATE if len(loud) else w.start
        words.append(replace(w, start=round(max(w.start, float(start)), 3)))
    return replace(segment, words=words, start=words[0].start) if words else segment


def _shifted(segment: Segment, offset: float, new_id: int) -> Segment:
    words = [replace(w, start=w.start + offset, end=w.end + offset) for w in segment.words]
    return replace(segment, id=new_id, start=segment.start + offset, end=segment.end + offset, words=words)


def _run(media: Path, duration: float | None, engine: _Engine, options: TranscribeOptions,
         progress: bool) -> tuple[str | None, float, list[Segment]]:
    """Transcribe window by window; a window's last segments are redone from their start by the next one,
    so no word is cut at a window boundary. Returns (language, decoded seconds, segments)."""
    language, prompt = options.language, options.initial_prompt
    segments: list[Segment] = []
    start = 0.0
    with tqdm(total=round(duration, 1) if duration else None, unit="s", desc=media.name,
              disable=not progress, leave=False) as bar:
        while True:
            audio = decode_audio(media, start, WINDOW_SECONDS)
            seconds = len(audio) / SAMPLE_RATE
            last = seconds < WINDOW_SECONDS - 1.0 / SAMPLE_RATE
            found: list[Segment] = []
            if len(audio) and float(np.abs(audio).max()) >= _SILENCE_PEAK:
                language, found = engine(audio, language, prompt)
            levels = _frame_levels(audio)
            found = [_shifted(_snap_to_speech(s, levels), start, len(segments) + i) for i, s in enumerate(found)]
            if last:
                segments += found
                bar.update(bar.total - bar.n if bar.total else seconds)
                return language, start + seconds, segments
            cut = start + WINDOW_SECONDS - _OVERLAP_SECONDS
            kept = [s for s in found if s.end <= cut]
            following = kept[-1].end if kept else found[0].start if found else cut
            segments += kept
            if kept and options.condition_on_previous_text:
                prompt = "".join(s.text for s in kept)[-1000:]  # Whisper keeps only the last ~220 tokens
            following = max(following, start + _OVERLAP_SECONDS)  # always move on
            bar.update(following - start)
            start = following


# --- the stage ------------------------------------------------------------------------------------------------


def _check_model_fits(options: TranscribeOptions, model: ResolvedModel) -> None:
    if not model.name.endswith(".en"):
        return
    if options.task == "translate":
        raise TranscribeError(f"task translate needs a multilingual model; {model.name} is English-only")
    if options.language not in (None, "en", "english", "English"):
        raise TranscribeError(f"language {options.language!r} needs a multilingual model; "
                              f"{model.name} is English-only")


def _cache_file(sha256: str, model: ResolvedModel, options: TranscribeOptions) -> Path:
    settings = {k: v for k, v in asdict(options).items() if k not in ("model", "threads")}
    key = json.dumps({"media": sha256, "model": model.key, **settings}, sort_keys=True)
    return cache_dir() / "transcripts" / f"{hashlib.sha256(key.encode()).hexdigest()}.json"


def preload(options: TranscribeOptions | None = None) -> None:
    """Load the model now (a Dask worker does this once at start-up, so no task pays for it)."""
    options = options or TranscribeOptions()
    _ENGINES[options.engine](resolve_model(options.model), options)


def transcribe(media: str | os.PathLike[str], options: TranscribeOptions | None = None, *,
               refresh: bool = False, progress: bool = False, info: MediaInfo | None = None,
               sha256: str | None = None) -> Transcript:
    """Transcribe the first audio stream of ``media``; a cached transcript is reused unless ``refresh``.

    Raises :class:`NoAudio` for media without audio; silence gives a transcript with no segments.
    ``info`` and ``sha256`` are the caller's probe and hash of ``media``, when it has them.
    """
    options = options or TranscribeOptions()
    options.validate()
    media = Path(media)
    info = info or probe(media)
    if not info.has_audio:
        raise NoAudio(f"{media.name} has no audio stream to transcribe")
    model = resolve_model(options.model)
    _check_model_fits(options, model)
    cached = _cache_file(sha256 or sha256_file(media), model, options)
    if not refresh and cached.is_file():
        try:
            return replace(load_transcript(cached), cached=True)
        except TranscribeError:
            pass  # a damaged cache entry is simply redone
    engine = _ENGINES[options.engine](model, options)
    language, seconds, segments = _run(media, info.duration, engine, options, progress)
    english_only = "en" if model.name.endswith(".en") else ""
    transcript = Transcript(language=language or options.language or english_only, model=model.name,
                            engine=options.engine, duration=round(seconds, 3), segments=segments,
                            options=asdict(options))
    write_json(cached, to_result(transcript))
    return transcript


# --- files ----------------------------------------------------------------------------------------------------


def to_result(t: Transcript) -> dict[str, Any]:
    """The transcript as openai-whisper's result dict (what its JSON output holds), plus model, engine, etc."""
    return {
        "text": t.text,
        "segments": [{"id": s.id, "start": s.start, "end": s.end, "text": s.text,
                      "words": [{"word": w.text, "start": w.start, "end": w.end, "probability": w.probability}
                                for w in s.words],
                      "avg_logprob": s.avg_logprob, "no_speech_prob": s.no_speech_prob}
                     for s in t.segments],
        "language": t.language,
        "model": t.model,
        "engine": t.engine,
        "duration": t.duration,
        "options": t.options,
    }


def from_result(result: dict[str, Any]) -> Transcript:
    segments = [Segment(s["id"], s["start"], s["end"], s["text"],
                        [Word(w["word"], w["start"], w["end"], w.get("probability", 1.0))
                         for w in s.get("words") or []],
                        s.get("avg_logprob"), s.get("no_speech_prob"))
                for s in result["segments"]]
    return Transcript(language=result["language"], model=result.get("model", ""),
                      engine=result.get("engine", ""), duration=result.get("duration"), segments=segments,
                      options=result.get("options") or {})


def load_transcript(json_path: str | os.PathLike[str]) -> Transcript:
    """Read a transcript JSON written by :func:`write_transcript` (or by the whisper CLI)."""
    try:
        return from_result(read_json(json_path))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise TranscribeError(f"{json_path} is not a transcript JSON file: {exc!r}") from None


def write_transcript(t: Transcript, out_dir: str | os.PathLike[str], basename: str = "transcript",
                     formats: tuple[str, ...] = FORMATS) -> dict[str, Path]:
    """Write ``<basename>.<fmt>`` for each format (txt, srt, vtt, tsv with openai-whisper's writers; json)."""
    from whisper.utils import get_writer

    out_dir = Path(out_dir)
    result = to_result(t)
    written: dict[str, Path] = {}
    for fmt in formats:
        if fmt == "json":
            written[fmt] = write_json(out_dir / f"{basename}.json", result)
            continue
        if fmt not in FORMATS:
            raise TranscribeError(f"transcript format {fmt!r} is not one of {', '.join(FORMATS)}")
        buffer = io.StringIO()
        get_writer(fmt, str(out_dir)).write_result(result, buffer)
        written[fmt] = atomic_write_text(out_dir / f"{basename}.{fmt}", buffer.getvalue())
    return written
