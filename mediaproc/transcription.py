"""Transcribe media with Whisper: only what is speech, each language with the model that knows it, every
segment with its confidence and, when it looks invented, the reason.

Audio is decoded by ffmpeg straight to 16 kHz mono float32 in windows of a few minutes, so an hour of
media never sits in memory at once. In each window Silero voice activity detection (shipped inside
faster-whisper's wheel) finds the speech; music, noise and silence never reach the decoder, which is
where Whisper invents text. The spoken language is detected on that speech, up to every 30 s of it, so a
report that switches to an interviewee's language is followed; each stretch of one language goes to
the engine for it (:class:`mediaproc.engines.Auto`: English to tiny.en, the rest to base). Times are put
back on the media's own timeline.

Hallucination guards mark a segment ``suspect`` (it stays in the transcript, with its reasons, and the
alignment never uses it) when any of these holds; the first three are Whisper's own thresholds:

* its text compresses more than ``COMPRESSION_RATIO_LIMIT`` (2.4) times with zlib: repetitive text;
* its average token log-probability is below ``LOGPROB_LIMIT`` (-1.0): the decoder was unsure;
* its no-speech probability is above ``NO_SPEECH_LIMIT`` (0.6) while its log-probability is below -0.5;
* less than ``MIN_SPEECH_SHARE`` (30%) of its span is speech by the VAD;
* it repeats the segment before it (95% similar, three words or more).
"""

from __future__ import annotations

import bisect
import io
import os
import zlib
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from . import _ffmpeg
from ._fs import atomic_write_text, read_json, sha256_file, write_json
from ._layout import Cache
from .engines import Engine
from .errors import MediaError, NoAudio, OptionsError, TranscribeError
from .options import AUTO_MODEL, TranscribeOptions
from .schema import LanguageRegion, MediaInfo, Segment, Transcript, dump, load

SAMPLE_RATE = _ffmpeg.SAMPLE_RATE
WINDOW_SECONDS = 300.0   # audio decoded and transcribed at a time: ~19 MB of float32
_SILENCE_PEAK = 1e-3     # -60 dBFS: a window quieter than this holds no speech, and Whisper would invent some
_FRAME = SAMPLE_RATE // 50  # 20 ms
_QUIET_RATIO = 0.02      # -34 dB below the window's loud frames: silence between words, not a soft consonant
FORMATS = ("txt", "srt", "vtt", "tsv", "json")

# Silero VAD: speech split at silences of half a second, padded 0.2 s, chunks of at most 30 s: fine enough to
# see a language change at a pause. The decoder gets coarser spans (chunks less than _JOIN_GAP apart joined
# with what lies between, and _DECODE_PAD more each side): measured on the English speech of tests/data,
# cutting every short pause out costs Whisper context and words.
VAD_PARAMETERS = {"threshold": 0.5, "min_silence_duration_ms": 500, "speech_pad_ms": 200, "max_speech_duration_s": 30}
_JOIN_GAP = 1.0
_DECODE_PAD = 0.2
_UNIT_SECONDS = 30.0     # speech per language detection (Whisper looks at 30 s at a time)
_RIVAL = 0.05            # a runner-up language this likely means the speech may hold two: see _bisect
_CHUNK_SURE = 0.5        # a detection below this is a guess; a part keeps the whole's language
_MIN_DETECT_SECONDS = 1.5   # chunks shorter than this are never detected alone

COMPRESSION_RATIO_LIMIT = 2.4
LOGPROB_LIMIT = -1.0
NO_SPEECH_LIMIT = 0.6
MIN_SPEECH_SHARE = 0.3
NO_SPEECH = "no speech detected"


def decode_audio(media: str | os.PathLike[str], start: float = 0.0, seconds: float | None = None) -> np.ndarray:
    """16 kHz mono float32 samples of ``media`` from ``start`` for ``seconds`` (to the end if None)."""
    return _decode(media, start, seconds)


def _decode(media: str | os.PathLike[str], start: float, seconds: float | None) -> np.ndarray:
    try:
        return _ffmpeg.decode_audio(media, start, seconds)
    except MediaError as exc:
        raise TranscribeError(str(exc)) from None


# --- speech and languages -------------------------------------------------------------------------------------

Chunk = tuple[int, int]     # [start, end) in samples of the window


def speech_chunks(audio: np.ndarray) -> list[Chunk]:
    """Where ``audio`` holds speech, by Silero VAD."""
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    if not len(audio) or float(np.abs(audio).max()) < _SILENCE_PEAK:
        return []
    return [(c["start"], c["end"]) for c in get_speech_timestamps(audio, VadOptions(**VAD_PARAMETERS))]


@dataclass
class _Region:
    """Chunks of one window in one language, transcribed together."""

    chunks: list[Chunk]
    language: str | None
    probability: float | None


def _units(chunks: list[Chunk]) -> list[list[Chunk]]:
    """Consecutive chunks grouped into about ``_UNIT_SECONDS`` of speech each."""
    units: list[list[Chunk]] = []
    for chunk in chunks:
        if units and sum(e - s for s, e in units[-1]) + chunk[1] - chunk[0] <= _UNIT_SECONDS * SAMPLE_RATE:
            units[-1].append(chunk)
        else:
            units.append([chunk])
    return units


def _concat(audio: np.ndarray, chunks: list[Chunk]) -> np.ndarray:
    return np.concatenate([audio[s:e] for s, e in chunks]) if chunks else audio[:0]


Detected = tuple[str | None, float | None]   # (language, probability); None: given, not detected


def _languages(audio: np.ndarray, chunks: list[Chunk], engine: Engine,
               options: TranscribeOptions) -> tuple[list[Chunk], list[Detected]]:
    """The chunks (a chunk that holds two languages cut in two) and each one's (language, probability):
    given, English for an English-only model, else detected per unit of speech and, within an unsure
    unit, by halves (:func:`_bisect`)."""
    if options.language or not engine.model.multilingual:
        return chunks, [(options.language or "en", None)] * len(chunks)
    found: list[tuple[Chunk, Detected]] = []
    for unit in _units(chunks):
        found += _bisect(audio, unit, engine, engine.detect_language(_concat(audio, unit)))
    return [c for c, _ in found], [d for _, d in found]


def _bisect(audio: np.ndarray, chunks: list[Chunk], engine: Engine,
            ranked: list[tuple[str, float]]) -> list[tuple[Chunk, Detected]]:
    """Each chunk of ``chunks``, whose speech as a whole Whisper ``ranked`` (languages, most likely first),
    with its language.

    On mixed speech Whisper names one language and gives the other a share of the probability: measured
    with base on 20 s of real English followed by real Arabic, German, French, Russian, Spanish or Turkish,
    the runner-up (nearly always the other language) had 0.04 to 0.44; on one real language it had 0.02 at
    most, on espeak-ng's English 0.06 at most (Whisper is unsure of synthetic voices, but between English
    and nothing in particular). So a stretch whose runner-up reaches ``_RIVAL`` (or whose winner is a
    guess, below ``_CHUNK_SURE``) is cut in two, at the chunk boundary nearest its middle or, for a single
    chunk (an edit can cut from one voice to the next without a pause), at its quietest moment near the
    middle, and each half is detected: if both agree with the whole it is one language, else each half is
    resolved the same way. A half's own detection counts only when it is better than a guess."""
    top = ranked[0]
    rival = ranked[1][1] if len(ranked) > 1 else 0.0
    halves = _halves(audio, chunks) if rival >= _RIVAL or top[1] < _CHUNK_SURE else None
    if halves is None:
        return [(c, top) for c in chunks]
    heard = [engine.detect_language(_concat(audio, half)) for half in halves]
    if all(h[0][0] == top[0] for h in heard):
        return [(c, top) for c in chunks]
    result: list[tuple[Chunk, Detected]] = []
    for half, own in zip(halves, heard):
        result += _bisect(audio, half, engine, own if own[0][1] >= _CHUNK_SURE else [top])
    return result


def _halves(audio: np.ndarray, chunks: list[Chunk]) -> tuple[list[Chunk], list[Chunk]] | None:
    """``chunks`` cut in two parts of at least ``_MIN_DETECT_SECONDS`` of speech each, or None."""
    least = int(_MIN_DETECT_SECONDS * SAMPLE_RATE)
    sizes = np.cumsum([e - s for s, e in chunks])
    cuts = [i for i in range(1, len(chunks)) if sizes[i - 1] >= least and sizes[-1] - sizes[i - 1] >= least]
    if cuts:
        cut = min(cuts, key=lambda i: abs(sizes[i - 1] - sizes[-1] / 2))
        return chunks[:cut], chunks[cut:]
    if len(chunks) != 1 or sizes[0] < 3 * least:
        return None
    (s, e), third = chunks[0], (chunks[0][1] - chunks[0][0]) // 3
    levels = _frame_levels(audio[s + third: e - third])
    at = s + third + int(np.argmin(levels)) * _FRAME + _FRAME // 2 if len(levels) else (s + e) // 2
    return [(s, at)], [(at, e)]


def _regions(chunks: list[Chunk], languages: list[Detected]) -> list[_Region]:
    regions: list[_Region] = []
    for chunk, (language, probability) in zip(chunks, languages):
        if regions and regions[-1].language == language:
            regions[-1].chunks.append(chunk)
            if probability is not None and regions[-1].probability is not None:
                regions[-1].probability = max(regions[-1].probability, probability)
        else:
            regions.append(_Region([chunk], language, probability))
    return regions


class _Timeline:
    """Maps times in the concatenated speech of some chunks back to the window's timeline."""

    def __init__(self, chunks: list[Chunk]) -> None:
        self.chunks = chunks
        self.ends: list[int] = []          # end of each chunk in the concatenation (samples)
        total = 0
        for s, e in chunks:
            total += e - s
            self.ends.append(total)

    def __call__(self, t: float, *, is_end: bool = False) -> float:
        sample = int(round(t * SAMPLE_RATE))
        k = bisect.bisect_left(self.ends, sample) if is_end else bisect.bisect_right(self.ends, sample)
        k = min(k, len(self.chunks) - 1)
        before = self.ends[k - 1] if k else 0
        return (self.chunks[k][0] + min(max(sample - before, 0), self.chunks[k][1] - self.chunks[k][0])) / SAMPLE_RATE


def _placed(segment: Segment, timeline: _Timeline, offset: float, region: _Region) -> Segment:
    words = [replace(w, start=round(offset + timeline(w.start), 3), end=round(offset + timeline(w.end, is_end=True), 3))
             for w in segment.words]
    return replace(segment, start=round(offset + timeline(segment.start), 3),
                   end=round(offset + timeline(segment.end, is_end=True), 3), words=words,
                   language=segment.language or region.language, language_probability=region.probability)


# --- guards -------------------------------------------------------------------------------------------------

def compression_ratio(text: str) -> float:
    """How much zlib shrinks the text, as Whisper measures it: high for loops of the same words."""
    data = text.strip().encode("utf-8")
    return round(len(data) / len(zlib.compress(data)), 3) if data else 0.0


def _speech_share(segment: Segment, speech: list[tuple[float, float]]) -> float:
    span = segment.end - segment.start
    if span <= 0:
        return 1.0
    covered = sum(max(0.0, min(e, segment.end) - max(s, segment.start)) for s, e in speech)
    return round(min(covered / span, 1.0), 3)


def _norm(text: str) -> str:
    return " ".join("".join(ch.lower() if ch.isalnum() else " " for ch in text).split())


def judge(segments: list[Segment], speech: list[tuple[float, float]] | None) -> list[Segment]:
    """Each segment with its compression ratio, speech share and, when a guard fails, ``suspect`` and why."""
    from rapidfuzz import fuzz

    judged: list[Segment] = []
    previous = ""
    for seg in segments:
        reasons = []
        ratio = compression_ratio(seg.text)
        share = _speech_share(seg, speech) if speech is not None else None
        if ratio > COMPRESSION_RATIO_LIMIT:
            reasons.append(f"repetitive text (compression ratio {ratio:.2f} > {COMPRESSION_RATIO_LIMIT})")
        if seg.avg_logprob is not None and seg.avg_logprob < LOGPROB_LIMIT:
            reasons.append(f"low confidence (average log-probability {seg.avg_logprob:.2f} < {LOGPROB_LIMIT})")
        if seg.no_speech_prob is not None and seg.no_speech_prob > NO_SPEECH_LIMIT and (seg.avg_logprob or 0) < -0.5:
            reasons.append(f"probably not speech (no-speech probability {seg.no_speech_prob:.2f} > {NO_SPEECH_LIMIT})")
        if share is not None and share < MIN_SPEECH_SHARE:
            reasons.append(f"mostly outside the detected speech ({share:.0%} speech < {MIN_SPEECH_SHARE:.0%})")
        text = _norm(seg.text)
        if previous and len(text.split()) >= 3 and fuzz.ratio(text, previous) >= 95:
            reasons.append("repeats the segment before it")
        previous = text or previous
        judged.append(replace(seg, compression_ratio=ratio, speech_share=share, suspect=bool(reasons),
                              suspect_reasons=reasons))
    return judged


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


@dataclass
class _Heard:
    """What :func:`_run` found in the media."""

    segments: list[Segment]
    regions: list[LanguageRegion]
    seconds: float                     # audio decoded


def _run(media: Path, duration: float | None, engine: Engine, options: TranscribeOptions, progress: bool,
         plan: list[LanguageRegion] | None = None) -> _Heard:
    """Window by window: speech, languages, regions, decoding. A speech chunk that reaches a window's end is
    left for the next window, which starts at it, so no word is cut at a boundary.

    With ``plan`` (the regions of an earlier pass) the speech and languages are taken from it, and only
    regions that are not English are decoded (this is how a translation reuses its transcript's timeline).
    """
    segments: list[Segment] = []
    regions: list[LanguageRegion] = []
    prompt, prompt_language, start = options.initial_prompt, options.language, 0.0
    with tqdm(total=round(duration, 1) if duration else None, unit="s", desc=media.name,
              disable=not progress, leave=False) as bar:
        while True:
            audio = _decode(media, start, WINDOW_SECONDS)
            seconds = len(audio) / SAMPLE_RATE
            last = seconds < WINDOW_SECONDS - 1.0 / SAMPLE_RATE
            if plan is not None:
                chunks, languages = _planned(plan, start)
            else:
                chunks = speech_chunks(audio) if options.vad else _whole(audio)
                languages = []
            following = start + seconds
            if not last and len(chunks) > 1 and chunks[-1][1] >= len(audio) - SAMPLE_RATE // 10:
                following = start + chunks[-1][0] / SAMPLE_RATE   # the next window starts with this chunk
                chunks, languages = chunks[:-1], languages[:-1]
            chunks = [(s, min(e, len(audio))) for s, e in chunks]
            if plan is None and chunks:
                chunks, languages = _languages(audio, chunks, engine, options)
            levels = _frame_levels(audio)
            for region in _regions(chunks, languages):
                if plan is not None and region.language == "en":
                    continue                                   # English already; the translation keeps it
                spans = _spans(region.chunks, len(audio))
                timeline = _Timeline(spans)
                piece = _concat(audio, spans)
                same = prompt_language in (None, region.language)     # another language's text would mislead
                _, found = engine.transcribe(piece, options, language=region.language, prompt=prompt if same else None)
                placed = [_placed(seg, timeline, 0.0, region) for seg in found]
                placed = [_shifted(_snap_to_speech(seg, levels), start, len(segments) + i)
                          for i, seg in enumerate(placed)]
                segments += placed
                if placed and options.condition_on_previous_text:
                    prompt = "".join(seg.text for seg in placed)[-1000:]   # Whisper keeps the last ~220 tokens
                    prompt_language = region.language
                speech = [(round(start + s / SAMPLE_RATE, 3), round(start + e / SAMPLE_RATE, 3)) for s, e in region.chunks]
                _add_region(regions, LanguageRegion(speech[0][0], speech[-1][1], region.language or "",
                                                    region.probability, speech))
            bar.update(max(following - start, 0.0))
            if last:
                return _Heard(segments, regions, start + seconds)
            start = max(following, start + 1.0)                  # always move on


def _spans(chunks: list[Chunk], length: int) -> list[Chunk]:
    """What the decoder hears of a region: its chunks, those less than ``_JOIN_GAP`` apart joined with the
    audio between them, each span widened by ``_DECODE_PAD`` (never into a neighbour or past the window)."""
    joined: list[list[int]] = []
    for s, e in chunks:
        if joined and s - joined[-1][1] < _JOIN_GAP * SAMPLE_RATE:
            joined[-1][1] = e
        else:
            joined.append([s, e])
    pad = int(_DECODE_PAD * SAMPLE_RATE)
    spans: list[Chunk] = []
    for k, (s, e) in enumerate(joined):
        low = spans[-1][1] if spans else 0
        high = joined[k + 1][0] if k + 1 < len(joined) else length
        spans.append((max(low, s - pad), min(high, e + pad)))
    return spans


def _whole(audio: np.ndarray) -> list[Chunk]:
    """Without VAD: the window in pieces of at most 30 s, unless it is silent."""
    if not len(audio) or float(np.abs(audio).max()) < _SILENCE_PEAK:
        return []
    step = int(_UNIT_SECONDS * SAMPLE_RATE)
    return [(s, min(s + step, len(audio))) for s in range(0, len(audio), step)]


def _planned(plan: list[LanguageRegion], start: float) -> tuple[list[Chunk], list[Detected]]:
    """The chunks of ``plan`` that begin at or after ``start``, in this window's samples (some may run past it)."""
    chunks, languages = [], []
    for region in plan:
        for s, e in region.speech:
            if s >= start - 1e-3 and s - start < WINDOW_SECONDS:
                chunks.append((max(0, int(round((s - start) * SAMPLE_RATE))), int(round((e - start) * SAMPLE_RATE))))
                languages.append((region.language, region.probability))
    return chunks, languages


def _add_region(regions: list[LanguageRegion], region: LanguageRegion) -> None:
    """Append, merging with the last region when it is the same language (across windows)."""
    if regions and regions[-1].language == region.language:
        last = regions[-1]
        regions[-1] = replace(last, end=region.end, speech=last.speech + region.speech,
                              probability=max(filter(None, (last.probability, region.probability)), default=None))
    else:
        regions.append(region)


def _shifted(segment: Segment, offset: float, new_id: int) -> Segment:
    words = [replace(w, start=round(w.start + offset, 3), end=round(w.end + offset, 3)) for w in segment.words]
    return replace(segment, id=new_id, start=round(segment.start + offset, 3), end=round(segment.end + offset, 3),
                   words=words)


# --- the stage ------------------------------------------------------------------------------------------------


def check_options(options: TranscribeOptions, models_dir: Path | None = None) -> None:
    """Raise :class:`OptionsError` now for a model that does not exist or cannot do what is asked, so a typo
    does not cost a whole run of downloads."""
    from .errors import ModelError
    from .models import resolve_model

    if options.model == AUTO_MODEL:
        return
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
            "engine": engine.name, "vad": VAD_PARAMETERS if options.vad else None, "guards": 1}


def _dominant(regions: list[LanguageRegion]) -> str | None:
    seconds: dict[str, float] = {}
    for r in regions:
        seconds[r.language] = seconds.get(r.language, 0.0) + sum(e - s for s, e in r.speech)
    return max(seconds, key=seconds.get) if seconds else None


def _cached(entry: Path | None, cache: Cache | None) -> Transcript | None:
    if entry is not None and cache is not None and cache.read and entry.is_file():
        try:
            return replace(load_transcript(entry), cached=True)
        except TranscribeError:
            pass  # a damaged cache entry is simply redone
    return None


def transcribe(engine: Engine, media: str | os.PathLike[str], options: TranscribeOptions | None = None, *,
               cache: Cache | None = None, progress: bool = False, info: MediaInfo | None = None,
               sha256: str | None = None) -> Transcript:
    """Transcribe the first audio stream of ``media`` with ``engine``.

    A cached transcript is reused when ``cache`` allows it, and a new one stored. Raises :class:`NoAudio`
    for media without audio; media without speech give a transcript with no segments and ``reason`` "no
    speech detected". ``info`` and ``sha256`` are the caller's probe and hash of ``media``, when it has them.
    """
    options = options or TranscribeOptions()
    media = Path(media)
    info = info or _ffmpeg.probe(media)
    if not info.has_audio:
        raise NoAudio(f"{media.name} has no audio stream to transcribe")
    _check_model_fits(options, engine.model.name)
    entry = cache.transcript_entry(sha256 or sha256_file(media), _settings(engine, options)) if cache else None
    if (hit := _cached(entry, cache)) is not None:
        return hit
    heard = _run(media, info.duration, engine, options, progress)
    speech = [chunk for r in heard.regions for chunk in r.speech] if options.vad else None
    english_only = "en" if not engine.model.multilingual else ""
    transcript = Transcript(
        language=_dominant(heard.regions) or options.language or english_only, model=engine.model.name,
        engine=engine.name, duration=round(heard.seconds, 3), segments=judge(heard.segments, speech),
        options=asdict(options), task=options.task, regions=heard.regions,
        speech_seconds=round(sum(e - s for s, e in speech), 3) if speech is not None else None,
        reason=NO_SPEECH if options.vad and not heard.regions else None)
    if entry is not None and cache is not None and cache.write:
        write_json(entry, transcript)
    return transcript


def needs_translation(transcript: Transcript) -> bool:
    """Whether some of the speech is not English (and the translation would say more than the transcript)."""
    return any(r.language != "en" for r in transcript.regions) and transcript.task == "transcribe"


def translate(engine: Engine, media: str | os.PathLike[str], transcript: Transcript,
              options: TranscribeOptions | None = None, *, cache: Cache | None = None, progress: bool = False,
              info: MediaInfo | None = None, sha256: str | None = None) -> Transcript:
    """The English translation of ``transcript`` on the same timeline (Whisper's translate task).

    Only the speech that is not English is decoded again, on the regions the transcript found; English
    segments are kept as they were heard. ``engine`` must be multilingual.
    """
    if not engine.model.multilingual:
        raise OptionsError(f"translation needs a multilingual model; {engine.model.name} is English-only")
    options = replace(options or TranscribeOptions(), task="translate", language=None)
    media = Path(media)
    info = info or _ffmpeg.probe(media)
    settings = {**_settings(engine, options), "of": [r.language for r in transcript.regions],
                "speech": [c for r in transcript.regions for c in r.speech]}
    entry = cache.transcript_entry(sha256 or sha256_file(media), settings) if cache else None
    if (hit := _cached(entry, cache)) is not None:
        return hit
    heard = _run(media, info.duration, engine, options, progress, plan=transcript.regions)
    speech = [chunk for r in transcript.regions for chunk in r.speech]
    kept = [s for s in transcript.segments if s.language == "en"]
    merged = sorted(kept + judge(heard.segments, speech), key=lambda s: s.start)
    result = Transcript(language="en", model=engine.model.name, engine=engine.name, duration=transcript.duration,
                        segments=[replace(s, id=i) for i, s in enumerate(merged)], options=asdict(options),
                        task="translate", regions=transcript.regions, speech_seconds=transcript.speech_seconds)
    if entry is not None and cache is not None and cache.write:
        write_json(entry, result)
    return result


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


__all__ = ["transcribe", "translate", "needs_translation", "judge", "speech_chunks", "compression_ratio",
           "check_options", "decode_audio", "load_transcript", "write_transcript", "FORMATS", "SAMPLE_RATE"]
