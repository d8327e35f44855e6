"""Quotations as units: found in the article, aligned on their own, judged word by word (numbers as values)."""

from __future__ import annotations

import json
import statistics
from pathlib import Path

import pytest

from mediaproc.alignment import align
from mediaproc.article import parse_article, read_article
from mediaproc.quotes import compare, find_quotes
from mediaproc.schema import Article, Document, Paragraph, Segment, Sentence, Transcript, Word

DATA = Path(__file__).parent / "data"
SPEECH = DATA / "speech"


def _article(*paragraphs: str) -> Article:
    doc = Document("a.md", None, "markdown", "# Quotes\n\n" + "\n\n".join(paragraphs))
    return parse_article(doc)


def _transcript(*chunks: str, word: float = 0.3, gap: float = 0.8) -> Transcript:
    segments, t = [], 0.0
    for i, chunk in enumerate(chunks):
        start, words = t, []
        for w in chunk.split():
            words.append(Word(" " + w, round(t, 3), round(t + word * 0.9, 3)))
            t += word
        segments.append(Segment(i, round(start, 3), round(t, 3), " " + chunk, words))
        t += gap
    return Transcript("en", "hand-built", "test", round(t, 3), segments)


def _tokens(text: str) -> list[str]:
    from mediaproc.alignment import _Side, _words
    return _Side.of(_words(text), True).tokens


def _verdict(article: str, spoken: str) -> tuple[str, list[str]]:
    from mediaproc.alignment import _STOPWORDS
    verdict, diffs = compare(_tokens(article), _tokens(spoken), _STOPWORDS)
    return verdict, [d.kind for d in diffs]


# --- finding ------------------------------------------------------------------------------------------------

def test_quotes_in_every_common_notation_with_offsets():
    art = _article('The mayor said "the bridge will reopen on Monday" to reporters.',
                   "Le ministre a déclaré « nous ne céderons pas aux menaces » hier.",
                   "Der Sprecher sagte „wir prüfen alle Möglichkeiten genau“ am Abend.",
                   "彼は「この問題は解決しました」と言った。",
                   "Houston suggested a helmet for one item, adding: the other one might go under sleep restraint.",
                   "Militants claimed that the “Assad regime” suffered large casualties.")
    quotes = find_quotes(art)
    texts = [q.text for q in quotes]
    assert texts == ["the bridge will reopen on Monday", "nous ne céderons pas aux menaces",
                     "wir prüfen alle Möglichkeiten genau", "この問題は解決しました",
                     "the other one might go under sleep restraint."]   # not "Assad regime": a scare quote
    for q in quotes:
        assert art.paragraphs[q.paragraph].text[q.start:q.end].strip(" ,;") == q.text
    reported = [q for q in quotes if q.kind == "reported"]
    assert len(reported) == 1 and reported[0].sentence == 0


def test_link_texts_and_captions_are_kept_but_never_aligned():
    art = _article("The river rose overnight and the bridge was closed to traffic on Monday.",
                   "Watch the video", "Photo: John Smith / AP", "Click to play")
    kinds = {p.text: p.kind for p in art.boilerplate}
    assert kinds == {"Watch the video": "link", "Photo: John Smith / AP": "caption", "Click to play": "link"}
    al = align(art, _transcript("Watch the video", "The river rose overnight and the bridge was closed to traffic on Monday."))
    assert [s.text for s in al.sentences] == [art.paragraphs[0].text]
    assert any("Watch the video" in v.text for v in al.video_only)     # said, but not as the article's prose


# --- judging ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("article, spoken, verdict, kinds", [
    ("The bridge will reopen on Monday.", "the bridge will reopen on monday", "verbatim", []),
    ("The bridge will reopen on Monday.", "the bridge uh will um reopen on monday", "verbatim", []),
    ("The bridge will reopen on Monday.", "the bridge will reopened on monday", "minor", ["sound-alike"]),
    ("The bridge will reopen on Monday.", "the bridge will not reopen on monday", "changed", ["negation"]),
    ("The bridge won't reopen on Monday.", "the bridge will reopen on monday", "changed", ["negation"]),
    ("Seventeen people were injured.", "seventy people were injured", "changed", ["number"]),
    ("17 people were injured.", "seventeen people were injured", "verbatim", []),
    ("Four thousand people fled.", "4,000 people fled", "verbatim", []),
    ("٤٬٠٠٠ people fled.", "four thousand people fled", "verbatim", []),
    ("Prices rose by 12 percent.", "prices rose by 21 percent", "changed", ["number"]),
    ("Minister Jones will visit the town.", "minister smith will visit the town", "changed", ["substituted"]),
    ("The road is closed and the school stays shut until Friday.", "the road is closed", "changed", ["dropped"]),
    ("The road is closed.", "the road is closed and guarded by soldiers", "changed", ["added"]),
])
def test_verdicts_and_differences(article, spoken, verdict, kinds):
    got, diffs = _verdict(article, spoken)
    assert (got, diffs) == (verdict, kinds)


def test_a_quote_after_a_lead_in_takes_its_own_tight_times():
    lead_in = 'Earlier, the poem had said "That thereby beauty\'s rose might never die."'
    tr = _transcript("From fairest creatures we desire increase,", "That thereby beauty's rose might never die,")
    al = align(_article(lead_in), tr)
    (quote,) = al.quotes
    assert quote.verdict == "verbatim" and quote.start == tr.segments[1].words[0].start
    assert quote.end == tr.segments[1].words[-1].end
    (sentence,) = al.sentences
    assert sentence.status == "spoken" and (sentence.start, sentence.end) == (quote.start, quote.end)


def test_a_changed_quote_names_its_difference_with_a_time():
    art = _article('The mayor promised: "Seventeen families will get new homes before winter."')
    tr = _transcript("Some other words first.", "Seventy families will get new homes before winter.")
    (quote,) = align(art, tr).quotes
    assert quote.verdict == "changed"
    (diff,) = [d for d in quote.differences if d.kind == "number"]
    assert (diff.article, diff.spoken) == ("17", "70") and diff.start == tr.segments[1].words[0].start


def test_an_unspoken_quote_is_not_found():
    (quote,) = align(_article('She said "we will never leave this valley again".'),
                     _transcript("The weather was fine all week in the capital.")).quotes
    assert quote.verdict == "not_found" and quote.start is None


# --- real speech ----------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def sonnet_quotes(engine):
    from mediaproc.transcription import transcribe
    lines = [ln.strip() for ln in (SPEECH / "sonnet001.txt").read_text().splitlines() if ln.strip()][1:]
    lead_ins = ["Earlier, the poem had said", "The speaker then reads", "Next comes the line", "It continues with",
                "As the reader puts it,", "We then hear"]
    order = list(range(len(lines)))
    order = order[1::2] + order[::2]                                   # out of order
    paragraphs = [f'{lead_ins[k % len(lead_ins)]} "{lines[i].rstrip(",.;:?!")}."' for k, i in enumerate(order)]
    article = _article(*paragraphs)
    transcript = transcribe(engine, SPEECH / "sonnet001.mp3")
    fragments = json.loads((DATA / "align" / "sonnet001.syncmap.json").read_text())["fragments"][1:]
    truth = {lines[i].rstrip(",.;:?!"): float(fragments[i]["begin"]) for i in range(len(lines))}
    return align(article, transcript), truth


@pytest.mark.slow
def test_sonnet_lines_quoted_after_lead_ins_start_on_time(sonnet_quotes, record_property):
    al, truth = sonnet_quotes
    found = [q for q in al.quotes if q.verdict != "not_found"]
    assert len(found) >= len(truth) - 1
    errors = sorted(abs(q.start - truth[q.text.rstrip(".")]) for q in found)
    median, p90 = statistics.median(errors), errors[round(0.9 * (len(errors) - 1))]
    record_property("start_error_median", round(median, 3))
    record_property("start_error_p90", round(p90, 3))
    print(f"sonnet quote start error: median {median:.2f} s, p90 {p90:.2f} s over {len(errors)} quotes")
    assert median <= 0.3 and p90 <= 0.7
    for s in al.sentences:                                             # sentences follow their quotes
        q = next(q for q in al.quotes if (q.paragraph, q.sentence) == (s.paragraph, s.index))
        if q.verdict in ("verbatim", "minor"):
            assert s.status == "spoken" and s.start == q.start


@pytest.mark.slow
def test_friday_lines_quoted_after_asks_are_found(engine):
    from mediaproc.transcription import transcribe
    art = _article('The woman in the hat asks: "Tell me, is the lord of the universe in?"',
                   'The operator answers: "Yes, he\'s in, in a bad humor."')
    al = align(art, transcribe(engine, SPEECH / "friday.mp4"))
    assert [q.verdict != "not_found" for q in al.quotes] == [True, True], al.quotes
    assert 1.0 < al.quotes[0].start < al.quotes[1].start < 6.2


@pytest.mark.slow
def test_the_jfk_line_quoted_in_a_paragraph_is_verbatim(engine):
    from mediaproc.transcription import transcribe
    art = _article('In his inaugural address Kennedy told the nation: "Ask not what your country can do for you, '
                   'ask what you can do for your country." The speech was written with Ted Sorensen.')
    (quote,) = align(art, transcribe(engine, SPEECH / "jfk.flac")).quotes
    # "ask" starts at 3.3 s (after a pause); Whisper word starts drift into the pause before them by up to 1 s.
    assert quote.verdict == "verbatim" and 2.2 < quote.start < 4.5


@pytest.mark.slow
def test_generated_speech_close_to_the_quotes_gets_the_right_verdicts(engine, tmp_path):
    from mediaproc.testing.synth import audio_only
    from mediaproc.transcription import transcribe
    pairs = [  # (the article's quote, what the video says)
        ("The old bridge will reopen to traffic next week.", "The old bridge will not reopen to traffic next week."),
        ("Seventeen families lost their homes in the flood.", "Seventy families lost their homes in the flood."),
        ("Minister Jones will visit the flooded valley on Friday.",
         "Minister Brown will visit the flooded valley on Friday."),
        # Cut short: the rest was never said (a quote cut to a third of its words is "not_found", not a guess).
        ("The road is closed, and the school will stay shut until the water goes down.",
         "The road is closed, and the school will stay shut."),
        ("Volunteers handed out food and clean water at the town hall.",
         "Volunteers handed out food and clean water at the town hall."),
    ]
    spoken = audio_only(tmp_path / "said.wav", [said for _, said in pairs], pause=1.0, wpm=150)
    art = _article(*[f'The spokesman said: "{quote}"' for quote, _ in pairs])
    quotes = align(art, transcribe(engine, spoken.path)).quotes
    got = [(q.verdict, sorted({d.kind for d in q.differences} & {"negation", "number", "substituted", "dropped"}))
           for q in quotes]
    assert got == [("changed", ["negation"]), ("changed", ["number"]), ("changed", ["substituted"]),
                   ("changed", ["dropped"]), ("verbatim", [])], [(q.text, q.spoken_text, q.differences) for q in quotes]
