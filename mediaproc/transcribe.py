"""Transcribe media with a Whisper engine and write the transcript files.

Audio is decoded by ffmpeg straight to 16 kHz mono float32 in windows of a few minutes, so an
hour of media never sits in memory at once; the engine (:mod:`mediaproc.engines`) sees one window
at a time and its times are put back on the media's timeline here. Results are cached by media
content, model, engine and options.
"""

from __future__ import annotations

import io
import os
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from . import _ffmpeg
from ._fs import atomic_write_text, read_json, sha256_file, write_json
from ._layout import Cache
from .engines import Engine
from .errors import MediaError, NoAudio, OptionsError, TranscribeError
from .options import TranscribeOptions
from .schema import MediaInfo, Segment, Transcript, dump, load

SAMPLE_RATE = _ffmpeg.SAMPLE_RATE
WINDOW_SECONDS = 300.0   # audio decoded and transcribed at a time: ~19 MB of float32
_OVERLAP_SECONDS = 30.0  # segments ending in a window's last 30 s are redone by the next window
_SILENCE_PEAK = 1e-3     # -60 dBFS: a window quieter than this holds no speech, and Whisper would invent some
_FRAME = SAMPLE_RATE // 50  # 20 ms
_QUIET_RATIO = 0.02      # -34 dB below the window's loud frames: silence between words, not a soft consonant
FORMATS = ("txt", "srt", "vtt", "tsv", "json")


def decode_audio(media: str | os.PathLike[str], start: float = 0.0, seconds: float | None = None) -> np.ndarray:
    """16 kHz mono float32 samples of ``media`` from ``start`` for ``seconds`` (to the end if None)."""
    return _decode(media, start, seconds)


def _decode(media: str | os.PathLike[str], start: float, seconds: float | None) -> np.ndarray:
    try:
        return _ffmpeg.decode_audio(media, start, seconds)
    except MediaError as exc:
        raise TranscribeError(str(exc)) from None


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


def _run(media: Path, duration: float | None, engine: Engine, options: TranscribeOptions,
         progress: bool) -> tuple[str | None, float, list[Segment]]:
    """Transcribe window by window; a window's last segments are redone from their start by the next one,
    so no word is cut at a window boundary. Returns (language, decoded seconds, segments)."""
    language, prompt = options.language, options.initial_prompt
    segments: list[Segment] = []
    start = 0.0
    with tqdm(total=round(duration, 1) if duration else None, unit="s", desc=media.name,
              disable=not progress, leave=False) as bar:
        while True:
            audio = _decode(media, start, WINDOW_SECONDS)
            seconds = len(audio) / SAMPLE_RATE
            last = seconds < WINDOW_SECONDS - 1.0 / SAMPLE_RATE
            found: list[Segment] = []
            if len(audio) and float(np.abs(audio).max()) >= _SILENCE_PEAK:
                language, found = engine.transcribe(audio, options, language=language, prompt=prompt)
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


def check_options(options: TranscribeOptions, models_dir: Path | None = None) -> None:
    """Raise :class:`OptionsError` now for a model that does not exist or cannot do what is asked, so a typo
    does not cost a whole run of downloads."""
    from .models import resolve_model
    from .errors import ModelError

    try:
        model = resolve_model(options.model, models_dir)
    except ModelError as exc:
        raise OptionsError(str(exc)) from None
    _check_model_fits(options, model.name)


def _check_model_fits(options: TranscribeOptions, name: str) -> None:
    if not name.endswith(".en"):
        return
    if options.task == "translate":
        raise OptionsError(f"task translate needs a multilingual model; {name} is English-only")
    if options.language not in (None, "en", "english", "English"):
        raise OptionsError(f"language {options.language!r} needs a multilingual model; {name} is English-only")


def _settings(engine: Engine, options: TranscribeOptions) -> dict[str, Any]:
    """What the transcript depends on: the weights, the engine and the decoding options."""
    return {"model": engine.model.key, **{k: v for k, v in asdict(options).items() if k not in ("model", "threads")},
            "engine": engine.name}


def transcribe(engine: Engine, media: str | os.PathLike[str], options: TranscribeOptions | None = None, *,
               cache: Cache | None = None, progress: bool = False, info: MediaInfo | None = None,
               sha256: str | None = None) -> Transcript:
    """Transcribe the first audio stream of ``media`` with ``engine``.

    A cached transcript is reused when ``cache`` allows it, and a new one stored. Raises :class:`NoAudio`
    for media without audio; silence gives a transcript with no segments. ``info`` and ``sha256`` are the
    caller's probe and hash of ``media``, when it has them.
    """
    options = options or TranscribeOptions()
    media = Path(media)
    info = info or _ffmpeg.probe(media)
    if not info.has_audio:
        raise NoAudio(f"{media.name} has no audio stream to transcribe")
    _check_model_fits(options, engine.model.name)
    entry = cache.transcript_entry(sha256 or sha256_file(media), _settings(engine, options)) if cache else None
    if entry is not None and cache.read and entry.is_file():
        try:
            return replace(load_transcript(entry), cached=True)
        except TranscribeError:
            pass  # a damaged cache entry is simply redone
    language, seconds, segments = _run(media, info.duration, engine, options, progress)
    english_only = "en" if engine.model.name.endswith(".en") else ""
    transcript = Transcript(language=language or options.language or english_only, model=engine.model.name,
                            engine=engine.name, duration=round(seconds, 3), segments=segments,
                            options=asdict(options))
    if entry is not None and cache.write:
        write_json(entry, transcript)
    return transcript


# --- files ----------------------------------------------------------------------------------------------------


def load_transcript(json_path: str | os.PathLike[str]) -> Transcript:
    """Read a transcript JSON written by :func:`write_transcript` (or by the whisper CLI)."""
    try:
        return load(Transcript, read_json(json_path))
    except (OSError, ValueError) as exc:
        raise TranscribeError(f"{json_path} is not a transcript JSON file: {exc}") from None


def write_transcript(t: Transcript, out_dir: str | os.PathLike[str], basename: str = "transcript",
                     formats: tuple[str, ...] = FORMATS) -> dict[str, Path]:
    """Write ``<basename>.<fmt>`` for each format (txt, srt, vtt, tsv with openai-whisper's writers; json)."""
    from whisper.utils import get_writer

    out_dir = Path(out_dir)
    result = dump(t)
    written: dict[str, Path] = {}
    for fmt in formats:
        if fmt == "json":
            written[fmt] = write_json(out_dir / f"{basename}.json", t)
            continue
        if fmt not in FORMATS:
            raise OptionsError(f"transcript format {fmt!r} is not one of {', '.join(FORMATS)}")
        buffer = io.StringIO()
        get_writer(fmt, str(out_dir)).write_result(result, buffer)
        written[fmt] = atomic_write_text(out_dir / f"{basename}.{fmt}", buffer.getvalue())
    return written


__all__ = ["transcribe", "check_options", "decode_audio", "load_transcript", "write_transcript", "FORMATS", "SAMPLE_RATE"]
