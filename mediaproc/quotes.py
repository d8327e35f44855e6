"""Direct quotations in an article, and how a spoken passage differs from the quote.

Quotes are found in the article text with their offsets: double quotes (straight and
typographic), guillemets « », German „ “, Japanese 「」, and reported speech after a colon
("adding: the road will stay closed"). Those shorter than three words are scare quotes
("the “moderate opposition”"), not speech, and are left out.

A quote is compared with what the speaker said word by word, after Whisper's normaliser
(which also turns "four thousand" into 4000) and with fillers ignored:

* ``verbatim``: the same words;
* ``minor``: differences an ASR makes: a few similar-sounding words, a function word more or less;
* ``changed``: a content word substituted, added or dropped, a negation added or removed, or a number
  that is not the same value ("17" is not "70"): each difference is listed, a number mismatch always;
* ``not_found``: nothing in the transcript is close enough.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from rapidfuzz import fuzz
from rapidfuzz.distance import Levenshtein

from .schema import Article, Quote, QuoteDifference

MIN_WORDS = 3
FILLERS = frozenset({"uh", "um", "er", "erm", "ah", "eh", "hmm", "mm", "mhm", "huh"})
NEGATIONS = frozenset({"not", "no", "never", "none", "nobody", "nothing", "neither", "nor", "nowhere", "cannot",
                       "without", "kein", "keine", "nicht", "nie", "ne", "pas", "jamais", "non", "нет", "не",
                       "ни", "никогда", "değil", "yok", "لا", "لن", "لم", "ليس", "ما"})
# Open/close pairs. Straight double quotes pair with the next straight double quote.
_PAIRS = [("\u201c", "\u201d"), ("\u201e", "\u201c"), ("\u201e", "\u201d"), ("\u00ab", "\u00bb"), ("\u300c", "\u300d"),
          ("\u300e", "\u300f"), ('"', '"')]
_SPEECH_VERBS = (r"said|says|say|told|tells|added|adding|adds|asked|asks|ask|stated|states|declared|declares|"
                 r"replied|replies|warned|warns|explained|explains|wrote|writes|insisted|insists|announced|"
                 r"announces|continued|continues|sagte|sagt|erklärte|a déclaré|a dit|dit|déclare")
_REPORTED = re.compile(rf"(?i)\b(?:{_SPEECH_VERBS})\b[^:.!?\n]{{0,40}}:\s+(?=[^\"\u201c\u201e\u00ab\u300c\s])"
                       rf"([^\n]{{1,600}}?[.!?])(?=\s|$)")


def find_quotes(article: Article) -> list[Quote]:
    """Every quotation of three words or more in the article's body, with its paragraph, offsets and the
    sentence it starts in."""
    quotes: list[Quote] = []
    for para in article.paragraphs:
        spans: list[tuple[int, int, str]] = []
        for opener, closer in _PAIRS:
            pattern = re.compile(re.escape(opener) + r"([^\n" + re.escape(opener + closer) + r"]{1,1200})"
                                 + re.escape(closer))
            for m in pattern.finditer(para.text):
                if not any(s <= m.start(1) < e for s, e, _ in spans):
                    spans.append((m.start(1), m.end(1), "quotation"))
        for m in _REPORTED.finditer(para.text):
            if not any(s <= m.start(1) < e or m.start(1) <= s < m.end(1) for s, e, _ in spans):
                spans.append((m.start(1), m.end(1), "reported"))
        for start, end, kind in sorted(spans):
            text = para.text[start:end].strip(" ,;")
            if _word_count(text) < MIN_WORDS:
                continue
            sentence = next((s.index for s in para.sentences if s.start <= start < s.end), None)
            quotes.append(Quote(para.index, sentence, len(quotes), text, start, end, kind))
    return quotes


def _word_count(text: str) -> int:
    """Words, counting scripts written without spaces (Chinese, Japanese) at about two characters a word."""
    spaced = len(re.findall(r"\w+", text))
    unspaced = sum(1 for ch in text if "\u3040" <= ch <= "\u30ff" or "\u4e00" <= ch <= "\u9fff")
    return max(spaced, unspaced // 2)


# --- differences ---------------------------------------------------------------------------------------------

_NUMBER = re.compile(r"\d[\d.,]*%?|\d+(?:st|nd|rd|th)")


def ascii_digits(text: str) -> str:
    """Any script's decimal digits as ASCII (Arabic-Indic ٤ -> 4), and the Arabic thousands separator as ","."""
    out = []
    for ch in text:
        digit = unicodedata.decimal(ch, None)
        out.append(str(digit) if digit is not None and not ch.isascii() else "," if ch == "\u066c" else ch)
    return "".join(out)


def _is_number(token: str) -> bool:
    return bool(_NUMBER.fullmatch(token))


def _value(token: str) -> str:
    """A number token as a comparable value: separators gone, "4,000" and "4000" equal."""
    return token.replace(",", "").rstrip(".")


@dataclass
class _Diff:
    kind: str
    article: list[str]
    spoken: list[str]
    at: int            # index of the first spoken token involved (or where it would be)


def _is_content(token: str, stopwords: frozenset[str]) -> bool:
    return token not in stopwords and token not in FILLERS and (len(token) > 1 or token.isdigit())


def compare(article_tokens: list[str], spoken_tokens: list[str], stopwords: frozenset[str]) -> tuple[str, list[_Diff]]:
    """(verdict, differences) of a quote against the spoken tokens of its span, fillers ignored."""
    a = [t for t in article_tokens if t not in FILLERS]
    s_index = [k for k, t in enumerate(spoken_tokens) if t not in FILLERS]
    s = [spoken_tokens[k] for k in s_index]
    diffs: list[_Diff] = []
    for op in Levenshtein.opcodes(a, s):
        if op.tag == "equal":
            continue
        art, said = a[op.src_start:op.src_end], s[op.dest_start:op.dest_end]
        at = s_index[op.dest_start] if op.dest_start < len(s_index) else len(spoken_tokens)
        numbers_a = sorted(_value(t) for t in art if _is_number(t))
        numbers_s = sorted(_value(t) for t in said if _is_number(t))
        if numbers_a != numbers_s:
            diffs.append(_Diff("number", art, said, at))
        elif sum(t in NEGATIONS for t in art) != sum(t in NEGATIONS for t in said):
            diffs.append(_Diff("negation", art, said, at))
        elif art and said:
            similar = fuzz.ratio(" ".join(art), " ".join(said)) >= 60
            content = any(_is_content(t, stopwords) for t in art + said)
            diffs.append(_Diff("sound-alike" if similar or not content else "substituted", art, said, at))
        elif art:
            diffs.append(_Diff("dropped" if any(_is_content(t, stopwords) for t in art) else "function word",
                               art, said, at))
        else:
            diffs.append(_Diff("added" if any(_is_content(t, stopwords) for t in said) else "function word",
                               art, said, at))
    if not diffs:
        return "verbatim", []
    serious = [d for d in diffs if d.kind in ("number", "negation", "substituted", "dropped", "added")]
    minor_words = sum(max(len(d.article), len(d.spoken)) for d in diffs)
    if not serious and minor_words <= max(2, len(a) // 5):
        return "minor", diffs
    return "changed", diffs


def differences(diffs: list[_Diff], times: list[tuple[float, float]]) -> list[QuoteDifference]:
    """The differences with the time of the spoken words they concern (for the report's chips)."""
    out = []
    for d in diffs:
        at = min(d.at, len(times) - 1) if times else None
        start = times[at][0] if at is not None else None
        out.append(QuoteDifference(d.kind, " ".join(d.article) or None, " ".join(d.spoken) or None, start))
    return out


__all__ = ["find_quotes", "compare", "differences", "ascii_digits", "MIN_WORDS", "FILLERS", "NEGATIONS"]
