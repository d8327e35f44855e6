"""Transcription with the real bundled tiny.en on real and generated speech, with both engines."""

from __future__ import annotations

import json
import re
from pathlib import Path

import jiwer
import numpy as np
import pytest
from whisper.normalizers import EnglishTextNormalizer

from mediaproc import transcribe as tr
from mediaproc._layout import Cache
from mediaproc.errors import MediaprocError, NoAudio, OptionsError, TranscribeError
from mediaproc.options import TranscribeOptions
from mediaproc.schema import Transcript
from mediaproc.testing import synth
from mediaproc.transcribe import check_options, load_transcript, write_transcript

DATA = Path(__file__).parent / "data" / "speech"
normalize = EnglishTextNormalizer()
SENTENCES = [
    "Yesterday the city council approved a new budget for the public library.",
    "Engineers tested the old bridge for three weeks before opening it to traffic.",
    "Scientists measured the temperature of the river every morning in the summer.",
]


def wer(reference: str, hypothesis: str) -> float:
    return jiwer.wer(normalize(reference), normalize(hypothesis))


def vtt_text(path: Path) -> str:
    cues = path.read_text().split("\n\n")[1:]
    return " ".join(cue.split("\n", 1)[1] for cue in cues if "-->" in cue)


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> Cache:
    return Cache.at(tmp_path_factory.mktemp("cache"))


def _transcribe(engines, path: Path, options: TranscribeOptions, cache: Cache | None, **kw) -> Transcript:
    return tr.transcribe(engines.get(options), path, options, cache=cache, **kw)


@pytest.fixture(scope="module")
def run(cache, engines):
    """transcribe(engine, path), each pair computed once for the whole module."""
    done: dict[tuple[str, str], Transcript] = {}

    def get(path: Path, engine: str) -> Transcript:
        if (str(path), engine) not in done:
            done[str(path), engine] = _transcribe(engines, path, TranscribeOptions(engine=engine), cache)
        return done[str(path), engine]

    return get


@pytest.fixture(scope="module")
def narrated(tmp_path_factory) -> synth.Narrated:
    return synth.narrated_video(tmp_path_factory.mktemp("narrated") / "narrated.mp4", SENTENCES)


# --- no inference ---------------------------------------------------------------------------------------------


def test_audio_is_decoded_to_16k_mono_float32_windows():
    whole = tr.decode_audio(DATA / "friday.mp4")
    assert whole.dtype == np.float32 and abs(len(whole) / 16_000 - 6.15) < 0.1
    window = tr.decode_audio(DATA / "friday.mp4", start=2.0, seconds=1.5)
    assert len(window) == 24_000
    assert np.abs(window).max() > 0.01


def test_video_without_audio_is_skipped_with_a_reason(tmp_path, cache, engine):
    with pytest.raises(NoAudio, match="silent.mp4 has no audio stream") as info:
        tr.transcribe(engine, synth.silent_video(tmp_path / "silent.mp4", 1.0), cache=cache)
    assert isinstance(info.value, MediaprocError)


def test_undecodable_audio_is_a_one_line_error(tmp_path):
    with pytest.raises(TranscribeError, match="ffmpeg could not decode the audio of junk.mp3"):
        tr.decode_audio(tmp_path / "junk.mp3")


@pytest.mark.parametrize("options, message", [
    ({"engine": "whisper.cpp"}, "^engine 'whisper.cpp' is not one of"),
    ({"task": "summarize"}, "^task 'summarize'"),
    ({"beam_size": 0}, "^beam_size 0 must be >= 1$"),
    ({"temperature": 1.5}, r"^temperature 1.5 must be in \[0, 1\]$"),
    ({"device": "tpu"}, "^device 'tpu'"),
])
def test_bad_options_are_one_line_errors(options, message):
    with pytest.raises(OptionsError, match=message):
        TranscribeOptions(**options)


@pytest.mark.parametrize("options, message", [
    (TranscribeOptions(task="translate"), "translate needs a multilingual model; tiny.en"),
    (TranscribeOptions(language="de"), "language 'de' needs a multilingual model"),
    (TranscribeOptions(model="enormous"), "not a file, a directory or a Whisper model name"),
])
def test_options_the_model_cannot_serve_are_refused_before_work(options, message):
    with pytest.raises(OptionsError, match=message):
        check_options(options)


def test_temperature_schedule_matches_the_whisper_cli():
    assert TranscribeOptions().temperatures() == (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)
    assert TranscribeOptions(temperature=0.5, temperature_increment_on_fallback=None).temperatures() == (0.5,)


def test_unreadable_transcript_json_is_a_one_line_error(tmp_path):
    (tmp_path / "t.json").write_text('{"segments": 3}')
    with pytest.raises(TranscribeError, match="is not a transcript JSON file"):
        load_transcript(tmp_path / "t.json")


# --- inference ------------------------------------------------------------------------------------------------

ENGINES = ["openai-whisper", "faster-whisper"]


@pytest.mark.slow
@pytest.mark.parametrize("engine", ENGINES)
def test_jfk_word_for_word_with_americans_at_1_8_s(run, engine):
    t = run(DATA / "jfk.flac", engine)
    assert (t.language, t.model, t.engine) == ("en", "tiny.en", engine)
    assert normalize(t.text) == normalize((DATA / "jfk.reference.txt").read_text())
    americans = [w for w in t.words() if w.word.strip(" ,") == "Americans"]
    assert len(americans) == 1 and americans[0].start <= 1.8 <= americans[0].end
    assert all(0 <= w.start <= w.end <= t.duration + 0.05 and 0 < w.probability <= 1 for w in t.words())


# WER measured with tiny.en (greedy): openai-whisper sonnet 0.132, friday 0.321; faster-whisper lucier 0.019,
# friday 0.393. Bounds are a little above.
@pytest.mark.slow
@pytest.mark.parametrize("media, reference, engine, bound", [
    ("sonnet001.mp3", "sonnet001.txt", "openai-whisper", 0.18),
    ("friday.mp4", "friday.vtt", "openai-whisper", 0.40),
    ("lucier.mp3", "lucier.txt", "faster-whisper", 0.06),
    ("friday.mp4", "friday.vtt", "faster-whisper", 0.45),
])
def test_word_error_rate_against_reference(run, record_property, media, reference, engine, bound):
    t = run(DATA / media, engine)
    ref = DATA / reference
    error = wer(vtt_text(ref) if ref.suffix == ".vtt" else ref.read_text(), t.text)
    record_property("wer", round(error, 4))
    print(f"WER {media} {engine}: {error:.4f}")
    assert error <= bound


@pytest.mark.slow
@pytest.mark.parametrize("engine", ENGINES)
def test_first_word_of_each_generated_sentence_is_within_half_a_second(run, narrated, engine):
    words = run(narrated.path, engine).words()
    position = 0
    for sentence in narrated.sentences:
        first = normalize(sentence.text.split()[0])
        position = next(i for i in range(position, len(words)) if normalize(words[i].word) == first)
        assert abs(words[position].start - sentence.start) <= 0.5, (sentence.text, words[position])
    assert wer(" ".join(SENTENCES), run(narrated.path, engine).text) <= 0.2


@pytest.mark.slow
def test_silence_gives_an_empty_transcript(tmp_path, cache, engine):
    t = tr.transcribe(engine, synth.static_video(tmp_path / "quiet.mp4", 3.0), cache=cache)
    assert t.segments == [] and t.text == "" and abs(t.duration - 3.0) < 0.1


@pytest.mark.slow
@pytest.mark.parametrize("engine", ENGINES)
def test_each_engine_fills_whisper_json_with_its_own_values(run, tmp_path, engine):
    """What each engine wrote, read as whisper's JSON: every confidence filled in and in range, every
    segment spanning its own words (an engine that dropped a value or a time would fail here)."""
    data = json.loads(write_transcript(run(DATA / "jfk.flac", engine), tmp_path)["json"].read_text())
    assert data["text"].strip() and data["language"] == "en" and data["engine"] == engine
    for seg in data["segments"]:
        assert -5 < seg["avg_logprob"] <= 0 and 0 <= seg["no_speech_prob"] <= 1
        assert seg["words"] and seg["text"].split() == "".join(w["word"] for w in seg["words"]).split()
        assert seg["start"] <= seg["words"][0]["start"] + 0.05 and seg["words"][-1]["end"] <= seg["end"] + 0.05
        assert all(0 < w["probability"] <= 1 and w["start"] <= w["end"] for w in seg["words"])


@pytest.mark.slow
def test_writers_produce_valid_srt_vtt_tsv_and_json(run, tmp_path):
    t = run(DATA / "friday.mp4", "openai-whisper")
    files = write_transcript(t, tmp_path, basename="friday")
    assert {p.name for p in files.values()} == {f"friday.{f}" for f in ("txt", "srt", "vtt", "tsv", "json")}
    stamp = r"(\d\d):(\d\d):(\d\d),(\d\d\d)"
    cues = files["srt"].read_text().strip().split("\n\n")
    assert len(cues) == len(t.segments)
    for number, cue in enumerate(cues, start=1):
        index, times, text = cue.split("\n", 2)
        assert int(index) == number and re.fullmatch(f"{stamp} --> {stamp}", times) and text.strip()
    vtt = files["vtt"].read_text()
    assert vtt.startswith("WEBVTT\n\n") and vtt.count(" --> ") == len(t.segments)
    assert re.search(r"^\d\d:\d\d\.\d\d\d --> \d\d:\d\d\.\d\d\d$", vtt, re.M)
    rows = [line.split("\t") for line in files["tsv"].read_text().splitlines()]
    assert rows[0] == ["start", "end", "text"] and len(rows) == len(t.segments) + 1
    assert all(int(a) <= int(b) for a, b, _ in rows[1:])
    assert files["txt"].read_text().split() == t.text.split()
    data = json.loads(files["json"].read_text())
    assert data["model"] == "tiny.en" and data["engine"] == "openai-whisper" and data["language"] == "en"
    assert load_transcript(files["json"]) == t


@pytest.mark.slow
def test_second_call_hits_the_cache_and_refresh_redoes(run, engines, cache):
    first = run(DATA / "jfk.flac", "faster-whisper")
    again = _transcribe(engines, DATA / "jfk.flac", TranscribeOptions(engine="faster-whisper"), cache)
    assert again.cached and not first.cached
    assert again.segments == first.segments
    other = _transcribe(engines, DATA / "jfk.flac", TranscribeOptions(engine="faster-whisper", beam_size=2), cache)
    assert not other.cached
    refresh = Cache.at(cache.root, read=False)
    redone = _transcribe(engines, DATA / "jfk.flac", TranscribeOptions(engine="faster-whisper"), refresh)
    assert not redone.cached and redone.text == first.text


@pytest.mark.slow
def test_long_media_is_done_in_windows_without_lost_or_doubled_words(run, engines, monkeypatch, capsys):
    whole = run(DATA / "lucier.mp3", "faster-whisper")
    monkeypatch.setattr(tr, "WINDOW_SECONDS", 40.0)
    monkeypatch.setattr(tr, "_OVERLAP_SECONDS", 10.0)
    windowed = _transcribe(engines, DATA / "lucier.mp3", TranscribeOptions(engine="faster-whisper"), None,
                           progress=True)
    assert "lucier.mp3" in capsys.readouterr().err
    starts = [w.start for w in windowed.words()]
    assert starts == sorted(starts) and starts[-1] < windowed.duration
    assert [s.id for s in windowed.segments] == list(range(len(windowed.segments)))
    assert abs(windowed.duration - whole.duration) < 0.05
    assert wer((DATA / "lucier.txt").read_text(), windowed.text) <= 0.08
