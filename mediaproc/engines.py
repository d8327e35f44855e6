"""Speech-recognition engines behind one small interface, as whisper's ``transcribe(model, audio)`` takes its model.

An :class:`Engine` turns 16 kHz mono samples into segments with word times relative to
those samples. :func:`mediaproc.transcription.transcribe` does everything around it (decoding
windows, caching, timelines), so a test can hand it a fake engine and the pipeline runs the
same code with or without real inference. :class:`Engines` loads each real engine once per
process and hands the same loaded model to every caller.
"""

from __future__ import annotations

import base64
import gzip
import pickle
import threading
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

from .errors import ModelError
from .models import ENGLISH_MODEL, MULTILINGUAL_MODEL, ResolvedModel, _whisper_cache, checkpoint_path, resolve_model
from .options import AUTO_MODEL, TranscribeOptions
from .schema import Segment, Word


class Engine(Protocol):
    """What transcription needs from a recogniser."""

    name: str                  # "faster-whisper", "openai-whisper", or a test's own
    model: ResolvedModel       # .name and .key (cache keys); .multilingual

    def transcribe(self, audio: Any, options: TranscribeOptions, *, language: str | None,
                   prompt: str | None) -> tuple[str, list[Segment]]:
        """(language, segments) of ``audio`` (float32 samples); times relative to its first sample."""

    def detect_language(self, audio: Any) -> list[tuple[str, float]]:
        """(language code, probability) of the speech in ``audio``, most likely first, at least the two
        most likely (multilingual models only)."""


def _device(device: str) -> str:
    if device in ("", "auto"):
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


def _segment(i: int, start: float, end: float, text: str, words: list[Word],
             avg_logprob: float | None, no_speech_prob: float | None, model: str) -> Segment:
    return Segment(i, float(start), float(end), text, words,
                   None if avg_logprob is None else float(avg_logprob),
                   None if no_speech_prob is None else float(no_speech_prob), model=model)


@dataclass
class OpenAIWhisper:
    """openai-whisper on an ordinary checkpoint (the bundled model is converted to one once)."""

    model: ResolvedModel
    device: str = "cpu"
    threads: int = 0
    name: str = "openai-whisper"
    whisper_model: Any = field(default=None, repr=False)   # the library's own loaded model
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)  # whisper hooks the model per call

    def __post_init__(self) -> None:
        self.device = _device(self.device)
        self.whisper_model = _load_whisper(self.model, self.device)

    def transcribe(self, audio: Any, options: TranscribeOptions, *, language: str | None,
                   prompt: str | None) -> tuple[str, list[Segment]]:
        import torch

        with self._lock:
            if self.threads:
                torch.set_num_threads(self.threads)
            result = self.whisper_model.transcribe(
                audio, verbose=None, language=language, task=options.task,
                beam_size=options.beam_size if options.beam_size > 1 else None,
                best_of=options.best_of, temperature=options.temperatures(), initial_prompt=prompt,
                condition_on_previous_text=options.condition_on_previous_text,
                word_timestamps=options.word_timestamps, fp16=self.whisper_model.device.type != "cpu")
        segments = [_segment(s["id"], s["start"], s["end"], s["text"],
                             [Word(w["word"], float(w["start"]), float(w["end"]), float(w["probability"]))
                              for w in s.get("words", [])],
                             s.get("avg_logprob"), s.get("no_speech_prob"), self.model.name)
                    for s in result["segments"]]
        return result["language"], segments

    def detect_language(self, audio: Any) -> list[tuple[str, float]]:
        import whisper

        with self._lock:
            mel = whisper.log_mel_spectrogram(whisper.pad_or_trim(audio), self.whisper_model.dims.n_mels)
            _, probs = self.whisper_model.detect_language(mel.to(self.whisper_model.device))
        return sorted(((code, float(p)) for code, p in probs.items()), key=lambda lp: -lp[1])


@dataclass
class FasterWhisper:
    """faster-whisper (CTranslate2, int8 on the CPU) on a CTranslate2 model directory."""

    model: ResolvedModel
    device: str = "cpu"
    threads: int = 0
    name: str = "faster-whisper"
    whisper_model: Any = field(default=None, repr=False)   # the library's own loaded model

    def __post_init__(self) -> None:
        try:
            from faster_whisper import WhisperModel
        except ImportError:
            raise ModelError("engine faster-whisper is not installed: pip install 'mediaproc[faster]'") from None
        self.device = _device(self.device)
        compute_type = "int8" if self.device == "cpu" else "default"
        if self.model.ct2_dir is not None:
            source, local_only = str(self.model.ct2_dir), False
        elif self.model.kind == "name":
            source, local_only = self.model.name, True  # faster-whisper's own download cache, never the network
        else:
            raise ModelError(f"engine faster-whisper needs a CTranslate2 model directory, got checkpoint "
                             f"{self.model.path}; use --engine openai-whisper for .pt files")
        try:
            self.whisper_model = WhisperModel(source, device=self.device, compute_type=compute_type,
                                        cpu_threads=self.threads, local_files_only=local_only)
        except (OSError, ValueError, RuntimeError) as exc:
            raise ModelError(f"faster-whisper could not load {self.model.name} offline "
                             f"({str(exc).splitlines()[0]}); pass --model with a CTranslate2 "
                             f"model directory") from None

    def transcribe(self, audio: Any, options: TranscribeOptions, *, language: str | None,
                   prompt: str | None) -> tuple[str, list[Segment]]:
        found, info = self.whisper_model.transcribe(
            audio, language=language, task=options.task, beam_size=options.beam_size,
            best_of=options.best_of, temperature=list(options.temperatures()), initial_prompt=prompt,
            condition_on_previous_text=options.condition_on_previous_text,
            word_timestamps=options.word_timestamps, vad_filter=False)
        segments = [_segment(s.id, s.start, s.end, s.text,
                             [Word(w.word, float(w.start), float(w.end), float(w.probability)) for w in s.words or []],
                             s.avg_logprob, s.no_speech_prob, self.model.name)
                    for s in found]  # a generator: decoding happens here
        return info.language, segments

    def detect_language(self, audio: Any) -> list[tuple[str, float]]:
        _, _, ranked = self.whisper_model.detect_language(audio)
        return [(code, float(p)) for code, p in ranked]


_KINDS: dict[str, type] = {"openai-whisper": OpenAIWhisper, "faster-whisper": FasterWhisper}


@dataclass(frozen=True)
class _AutoModel:
    """The model of an :class:`Auto` engine, for names and cache keys."""

    name: str
    key: str
    multilingual: bool = True


class Auto:
    """``--model auto``: English speech to the fast English model, every other language (translation and
    language detection too) to the multilingual one."""

    def __init__(self, english: Engine, multilingual: Engine) -> None:
        self.english, self.multilingual = english, multilingual
        self.name = multilingual.name
        self.model = _AutoModel(f"auto ({english.model.name} + {multilingual.model.name})",
                                f"auto:{english.model.key}+{multilingual.model.key}")

    def transcribe(self, audio: Any, options: TranscribeOptions, *, language: str | None,
                   prompt: str | None) -> tuple[str, list[Segment]]:
        engine = self.english if language == "en" and options.task == "transcribe" else self.multilingual
        return engine.transcribe(audio, options, language=language, prompt=prompt)

    def detect_language(self, audio: Any) -> list[tuple[str, float]]:
        return self.multilingual.detect_language(audio)


class Engines:
    """Loads each (engine, model, device, threads) once and hands out the same instance after."""

    def __init__(self, models_dir: Path | None = None) -> None:
        self.models_dir = models_dir
        self._loaded: dict[tuple[Any, ...], Engine] = {}
        self._lock = threading.Lock()

    def get(self, options: TranscribeOptions) -> Engine:
        """The engine ``options`` ask for (resolving and, for openai-whisper, converting the model)."""
        if options.model == AUTO_MODEL:
            return Auto(self.get(replace(options, model=ENGLISH_MODEL)),
                        self.get(replace(options, model=MULTILINGUAL_MODEL)))
        model = resolve_model(options.model, self.models_dir)
        key = (options.engine, model.key, options.device, options.threads)
        with self._lock:
            if key not in self._loaded:
                self._loaded[key] = _KINDS[options.engine](model, options.device, options.threads)
            return self._loaded[key]


# --- openai-whisper checkpoints ---------------------------------------------------------------------------------

def _alignment_heads(checkpoint: Path, name: str, dims: Any) -> bytes | None:
    """Heads stored by ``convert_ct2``, else openai-whisper's own for a checkpoint named like an official model."""
    import numpy as np
    import torch
    import whisper

    stored = torch.load(checkpoint, map_location="cpu", weights_only=True, mmap=True).get("alignment_heads")
    heads = stored or whisper._ALIGNMENT_HEADS.get(name)  # noqa: SLF001 - the table has no public accessor
    if heads is None:
        return None
    size = np.frombuffer(gzip.decompress(base64.b85decode(heads)), dtype=bool).size
    return heads if size == dims.n_text_layer * dims.n_text_head else None


def _load_whisper(model: ResolvedModel, device: str) -> Any:
    import whisper

    if model.path is None:  # an official name not in the cache: openai-whisper downloads it, where it can
        try:
            return whisper.load_model(model.name, device=device, download_root=str(_whisper_cache()))
        except OSError as exc:
            raise ModelError(
                f"model {model.name} is not in {_whisper_cache()} and could not be downloaded ({exc}); "
                f"pass --model with a .pt checkpoint or a CTranslate2 model directory") from None
    checkpoint = checkpoint_path(model)
    try:
        loaded = whisper.load_model(str(checkpoint), device=device)
    except (RuntimeError, KeyError, OSError, EOFError, ValueError, pickle.UnpicklingError) as exc:
        raise ModelError(f"{checkpoint} is not an openai-whisper checkpoint ({type(exc).__name__})") from None
    heads = _alignment_heads(checkpoint, model.name, loaded.dims)
    if heads is not None:
        loaded.set_alignment_heads(heads)
    return loaded


__all__ = ["Engine", "Engines", "OpenAIWhisper", "FasterWhisper", "Auto"]
