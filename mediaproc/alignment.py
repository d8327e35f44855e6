"""Align a transcript with the article: which sentences were spoken, when, paraphrased, or not at all.

Both sides are normalised to word tokens with Whisper's English normaliser (numbers, spellings,
punctuation), so "4,000" meets "four thousand" and "17 – killed" meets "17 killed". Each article
sentence finds its candidate places in the transcript through an inverted index of word n-grams
(no order is assumed: paragraphs may be read in any order), then a word-level Levenshtein alignment
(rapidfuzz) in a small window around each candidate gives its exact span, score and word pairs.
Cost grows with the number of n-gram hits, not with article words x transcript words.

Sentences the speaker reworded are found afterwards in the transcript left unclaimed, by fuzzy
overlap of content words; whatever is still unclaimed is reported as said only in the video.
"""

from __future__ import annotations

import io
import math
import re
import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import Callable, Iterator

from rapidfuzz import fuzz, process
from rapidfuzz.distance import Levenshtein

from ._fs import atomic_write_text, read_json, write_json
from .errors import AlignError
from .options import AlignOptions
from .quotes import ascii_digits, compare, differences, find_quotes
from .schema import (Alignment, AlignmentSummary, Article, Quote, QuoteAlignment, Segment, Sentence, SentenceAlignment,
                     Transcript, VideoOnlySpan, WordPair, load)

SPOKEN = "spoken"
PARAPHRASED = "paraphrased"
NOT_SPOKEN = "not_spoken"

METHOD = ("Whisper text normaliser tokens; word 3/2/1-gram anchors from each article sentence into the "
          "transcript, short sentences next to their placed neighbours; word-level Levenshtein alignment "
          "(rapidfuzz) around each anchor, scored by character similarity of the normalised texts (spoken); "
          "greedy non-overlapping assignment, best score first; paraphrases by rarity-weighted F1 of fuzzily "
          "matched content words against the transcript sentences left unclaimed")

# Function words: they never anchor a sentence alone and do not count as content.
_STOPWORDS = frozenset("""
a about above after again against all also am an and any are as at be because been before being below between both
but by can could did do does doing down during each even few for from further had has have having he her here hers
herself him himself his how i if in into is it its itself just let me more most my myself no nor not now of off on
once only or other our ours ourselves out over own same she should so some such than that the their theirs them
themselves then there these they this those through to too under until up very was we were what when where which
while who whom why will with would you your yours yourself yourselves s t ll ve re d m o y
""".split())


# --- normalisation ---------------------------------------------------------------------------------

@lru_cache(maxsize=2)
def _normaliser(english: bool = True):
    """Whisper's own normalisers: the English one knows numbers and spellings; the basic one any language."""
    from whisper.normalizers import BasicTextNormalizer, EnglishTextNormalizer   # imports torch: only here
    return EnglishTextNormalizer() if english else BasicTextNormalizer()


@lru_cache(maxsize=200_000)
def _normalise(text: str, english: bool = True) -> tuple[str, ...]:
    # Whisper leaves a lone "one" spelled out (it is often a pronoun); both sides must agree on digits.
    return tuple("1" if t == "one" else t for t in _normaliser(english)(text).split())


_NUMERIC = re.compile(r"[\d.%$£€¢]+")
_MISSPELT = 0.5
_CONNECTORS = frozenset({"and", "point", "a"})


def _is_number(text: str, tokens: tuple[str, ...]) -> bool:
    return bool(tokens) and all(_NUMERIC.fullmatch(t) for t in tokens) and not text.rstrip()[-1:] in ".?!;:"


def _tokenise(words: list[str], english: bool) -> tuple[list[str], list[int], list[int]]:
    """Normalised tokens and, per token, the first and last index of the word(s) it came from.

    Words are normalised one at a time (cached) except runs of number words, which are normalised
    together so "four thousand" becomes "4000" as "4,000" does.
    """
    tokens: list[str] = []
    origin: list[int] = []
    last: list[int] = []
    normed = [_normalise(w, english) for w in words]
    i = 0
    while i < len(words):
        j = i
        if _is_number(words[i], normed[i]):
            while j + 1 < len(words) and (
                _is_number(words[j + 1], normed[j + 1])
                or (words[j + 1].lower() in _CONNECTORS and j + 2 < len(words)
                    and _is_number(words[j + 2], normed[j + 2]))):
                j += 1
        if j > i and any(c.isalpha() for w in words[i:j + 1] for c in w):
            run = _normalise(" ".join(words[i:j + 1]), english)
            tokens += run
            origin += [i] * len(run)
            last += [j] * len(run)
            i = j + 1
            continue
        tokens += normed[i]
        origin += [i] * len(normed[i])
        last += [i] * len(normed[i])
        i += 1
    return tokens, origin, last


def _is_content(token: str) -> bool:
    return token not in _STOPWORDS and (len(token) > 1 or token.isdigit())


# --- the two sides ---------------------------------------------------------------------------------

@dataclass
class _Word:
    text: str
    start: float
    end: float
    segment: int


def _segment_words(transcript: Transcript) -> Iterator[tuple[Segment, list[_Word]]]:
    """Each segment with its words; a segment without word timings gets its text spread evenly, and a
    ``suspect`` segment (a likely hallucination) none: it is never evidence of anything.

    Whisper often stretches the first word of a segment over the silence before it (and the last
    over the silence after): such a word is cut to twice the transcript's median time per
    character, so the sentence start reported is when the speaking starts.
    """
    rates = [(w.end - w.start) / len(w.word.strip()) for s in transcript.segments for w in s.words
             if w.word.strip() and w.end > w.start]
    per_char = 2 * statistics.median(rates) if rates else math.inf
    for seg in transcript.segments:
        if seg.suspect:
            yield seg, []
            continue
        if not seg.words:
            parts = seg.text.split()
            step = (seg.end - seg.start) / max(len(parts), 1)
            yield seg, [_Word(" " + p, seg.start + k * step, seg.start + (k + 1) * step, seg.id)
                        for k, p in enumerate(parts)]
            continue
        words = [_Word(w.word, w.start, w.end, seg.id) for w in seg.words]
        first, last = words[0], words[-1]
        first.start = max(first.start, first.end - per_char * max(len(first.text.strip()), 2))
        last.end = min(last.end, last.start + per_char * max(len(last.text.strip()), 2))
        yield seg, words


def _flat_words(transcript: Transcript) -> list[_Word]:
    return [w for _, group in _segment_words(transcript) for w in group]


@dataclass
class _Side:
    """Tokens of one text with, per token, the first and last word it came from."""
    words: list[str]
    tokens: list[str]
    origin: list[int]
    last: list[int]

    @classmethod
    def of(cls, words: list[str], english: bool) -> _Side:
        return cls(words, *_tokenise(words, english))


@dataclass
class _Fit:
    sentence: int
    lo: int          # token span [lo, hi) in the transcript
    hi: int
    score: float


# --- local fitting ---------------------------------------------------------------------------------

def _similarity(a: list[str], b: list[str]) -> float:
    return fuzz.ratio(" ".join(a), " ".join(b)) / 100


def _stray(block, neighbour) -> bool:
    """A 1-2 token match far from the rest of the sentence's matches is a coincidence ("the", "of"): far in
    the transcript, or cut off from them by three or more unmatched words on both sides (the speaker
    stopped quoting and went on with something else that happens to share a word)."""
    s_gap = abs(neighbour[0] - block[1]) if neighbour[0] >= block[1] else abs(block[0] - neighbour[1])
    t_gap = abs(neighbour[2] - block[3]) if neighbour[2] >= block[3] else abs(block[2] - neighbour[3])
    return block[1] - block[0] <= 2 and (t_gap > s_gap + 2 or min(s_gap, t_gap) >= 3)


def _fit(s: list[str], t: list[str], lo: int, hi: int, sentence: int, ends: list[bool]) -> _Fit | None:
    """The best span for sentence tokens ``s`` inside transcript tokens ``t[lo:hi]``.

    ``ends[k]``: the speaker's sentence ends after transcript token ``k``.
    """
    window = t[lo:hi]
    if not s or not window:
        return None
    blocks = [(o.src_start, o.src_end, o.dest_start, o.dest_end)
              for o in Levenshtein.opcodes(s, window) if o.tag == "equal"]
    if not blocks:
        return None
    while len(blocks) > 1 and _stray(blocks[0], blocks[1]):
        blocks.pop(0)
    while len(blocks) > 1 and _stray(blocks[-1], blocks[-2]):
        blocks.pop()
    # Tight: the span runs from the first to the last transcript token that matched a word of the sentence,
    # exactly or, at its two ends, as a misspelling ("Floodwoggers" for "Flood waters"); never over words
    # that match nothing.
    i1, j1 = blocks[0][0], blocks[0][2]
    i2, j2 = blocks[-1][1], blocks[-1][3]
    j1 -= _misspelt(s[:i1], window, j1, left=True)
    j2 += _misspelt(s[i2:], window, j2, left=False)
    return _Fit(sentence, lo + j1, lo + j2, _similarity(s, window[j1:j2]))


def _misspelt(part: list[str], window: list[str], at: int, *, left: bool) -> int:
    """How many window tokens next to ``at`` are the sentence's unmatched end ``part`` misheard: spelt closely
    enough (character similarity above ``_MISSPELT``), or a number where the sentence has a number (a
    changed figure is evidence to show, not noise to cut off); 0 if none is."""
    if not part:
        return 0
    best, best_k = _MISSPELT, 0
    for k in range(1, min(len(part) + 2, at if left else len(window) - at) + 1):
        score = _similarity(part, window[at - k:at] if left else window[at:at + k])
        if score > best:
            best, best_k = score, k
    edge, heard = (part[-1], window[at - 1]) if left and at else (part[0], window[at]) if not left and at < len(window) \
        else (None, None)
    if best_k == 0 and edge is not None and _NUMERIC.fullmatch(edge) and _NUMERIC.fullmatch(heard):
        return 1
    return best_k


def _candidates(s: list[str], index: dict[int, dict[tuple[str, ...], list[int]]], n_tokens: int, opts: AlignOptions) -> list[tuple[int, int]]:
    """Token windows of the transcript where n-grams of the sentence occur, most supported first."""
    votes: list[tuple[int, float]] = []
    for n, weight in ((3, 3.0), (2, 1.5), (1, 1.0)):
        for i in range(len(s) - n + 1):
            gram = tuple(s[i:i + n])
            if not any(_is_content(g) for g in gram):
                continue
            hits = index[n].get(gram)
            if hits and len(hits) <= opts.max_ngram_hits:
                votes += [(p - i, weight) for p in hits]
    if not votes:
        return []
    votes.sort()
    tol = max(3, len(s) // 3)
    groups: list[list] = []        # [first diagonal, last diagonal, weight]
    for d, w in votes:
        if groups and d - groups[-1][1] <= tol:
            groups[-1][1] = d
            groups[-1][2] += w
        else:
            groups.append([d, d, w])
    need = 2.0 if len(s) > 2 else 1.0
    groups = sorted((g for g in groups if g[2] >= need), key=lambda g: -g[2])[:opts.max_candidates]
    slack = max(3, len(s) // 2)
    return [(max(0, d0 - slack), min(n_tokens, d1 + len(s) + slack)) for d0, d1, _ in groups]


# --- assignment ------------------------------------------------------------------------------------

class _Claims:
    """Which transcript tokens already belong to a sentence."""

    def __init__(self, n: int):
        self.owner = [-1] * n

    def free(self, lo: int, hi: int) -> bool:
        return all(o < 0 for o in self.owner[lo:hi])

    def take(self, lo: int, hi: int, sentence: int) -> None:
        self.owner[lo:hi] = [sentence] * (hi - lo)

    def free_run(self, at: int, step: int, limit: int) -> tuple[int, int]:
        """The unclaimed tokens next to ``at`` going left (step -1) or right (+1), at most ``limit``."""
        k = at
        if step > 0:
            while k < len(self.owner) and self.owner[k] < 0 and k - at < limit:
                k += 1
            return at, k
        while k > 0 and self.owner[k - 1] < 0 and at - k < limit:
            k -= 1
        return k, at


def _trim_to_free(fit: _Fit, claims: _Claims) -> tuple[int, int]:
    lo, hi = fit.lo, fit.hi
    while lo < hi and claims.owner[lo] >= 0:
        lo += 1
    while hi > lo and claims.owner[hi - 1] >= 0:
        hi -= 1
    return lo, hi


def _assign(fits: list[_Fit], claims: _Claims, placed: dict[int, _Fit], threshold: float,
            rescore: Callable[[int, int, int], float]) -> None:
    """Best score first; a sentence whose span was taken may keep the free part if it still fits."""
    for f in sorted(fits, key=lambda f: (-f.score, -(f.hi - f.lo))):
        if f.sentence in placed or f.score < threshold:
            continue
        if not claims.free(f.lo, f.hi):
            lo, hi = _trim_to_free(f, claims)
            if not claims.free(lo, hi):
                continue
            if lo >= hi:
                continue
            f = _Fit(f.sentence, lo, hi, rescore(f.sentence, lo, hi))
            if f.score < threshold:
                continue
        claims.take(f.lo, f.hi, f.sentence)
        placed[f.sentence] = f


def _neighbour_fits(sents: list[_Side], t: list[str], claims: _Claims, placed: dict[int, _Fit],
                    ends: list[bool]) -> list[_Fit]:
    """Unplaced sentences tried right after the previous sentence's span and right before the next's.

    This is how short sentences (too short to anchor safely) and badly misheard ones are found.
    """
    fits = []
    for k, side in enumerate(sents):
        if k in placed or not side.tokens:
            continue
        reach = 2 * len(side.tokens) + 3
        windows = []
        if k - 1 in placed:
            windows.append(claims.free_run(placed[k - 1].hi, +1, reach))
        if k + 1 in placed:
            windows.append(claims.free_run(placed[k + 1].lo, -1, reach))
        for lo, hi in windows:
            if hi > lo and (f := _fit(side.tokens, t, lo, hi, k, ends)) is not None:
                fits.append(f)
    return fits


def _content(tokens: list[str]) -> list[str]:
    return list(dict.fromkeys(tok for tok in tokens if _is_content(tok)))


def _overlap(a: list[str], b: list[str], weight: Callable[[str], float], cutoff: float) -> float:
    """Weighted F1 of the content words of ``a`` found in ``b`` and back.

    Words match fuzzily, so ASR misspellings still count; each word weighs by how rare it is in
    the article, so a shared "Turkish border" says more than a shared "Syrian army".
    """
    if not a or not b:
        return 0.0

    def found(x: list[str], y: list[str]) -> float:
        ys = set(y)
        hit = sum(weight(w) for w in x if w in ys or process.extractOne(w, y, scorer=fuzz.ratio, score_cutoff=cutoff))
        return hit / sum(weight(w) for w in x)

    recall, precision = found(a, b), found(b, a)
    return 2 * recall * precision / (recall + precision) if recall and precision else 0.0


def _ends_sentence(words: list[_Word], w: int, gap: float) -> bool:
    """Whether the speaker's sentence ends after word ``w``: ASR punctuation or a long pause."""
    return words[w].text.rstrip()[-1:] in ".?!" or w + 1 == len(words) or words[w + 1].start - words[w].end > gap


def _units(claims: _Claims, ends: list[bool]) -> list[tuple[int, int]]:
    """Unclaimed transcript stretches, cut where the speaker's sentences end."""
    units, lo = [], None
    for k, end in enumerate(ends):
        if claims.owner[k] >= 0:
            if lo is not None:
                units.append((lo, k))
            lo = None
            continue
        lo = k if lo is None else lo
        if end:
            units.append((lo, k + 1))
            lo = None
    if lo is not None:
        units.append((lo, len(ends)))
    return units


def _paraphrases(sents: list[_Side], t_side: _Side, ends: list[bool], claims: _Claims,
                 placed: dict[int, _Fit], opts: AlignOptions) -> dict[int, _Fit]:
    """Unplaced sentences matched to unclaimed transcript units (or two adjacent ones) by content words."""
    df = Counter(w for side in sents for w in _content(side.tokens))
    rare = math.log(1 + len(sents) / 0.5)
    weights = {w: math.log(1 + len(sents) / n) for w, n in df.items()}

    def weight(w: str) -> float:
        return weights.get(w, rare)

    units = _units(claims, ends)
    spans = units + [(a[0], b[1]) for a, b in zip(units, units[1:]) if a[1] == b[0]]
    span_content = [_content(t_side.tokens[lo:hi]) for lo, hi in spans]
    by_word: dict[str, list[int]] = defaultdict(list)
    for u, content in enumerate(span_content):
        for w in content:
            by_word[w].append(u)
    fits = []
    contents = {k: _content(side.tokens) for k, side in enumerate(sents) if k not in placed}
    for k, content in contents.items():
        shared = Counter(u for w in content for u in by_word.get(w, ()))
        need = 2 if len(content) > 3 else 1
        for u, n in shared.most_common(opts.max_candidates):
            if n >= need:
                fits.append(_Fit(k, *spans[u], _overlap(content, span_content[u], weight, opts.content_word_similarity)))
    found: dict[int, _Fit] = {}
    _assign(fits, claims, found, opts.paraphrase_threshold,
            lambda k, lo, hi: _overlap(contents[k], _content(t_side.tokens[lo:hi]), weight, opts.content_word_similarity))
    return found


# --- results ---------------------------------------------------------------------------------------

def _word_range(t_side: _Side, lo: int, hi: int) -> tuple[int, int]:
    """Transcript word indices [first, last] of token span [lo, hi)."""
    return t_side.origin[lo], t_side.last[hi - 1]


def _pairs(a_side: _Side, t_side: _Side, words: list[_Word], lo: int, hi: int) -> list[WordPair]:
    """Article word(s) against spoken word(s), from the token alignment of the sentence with its span.

    A word that became several tokens ("won't") stays one pair; article words that have no token
    ("–") ride along with the word before them, so the pairs hold the article's full wording.
    """
    out: list[WordPair] = []
    seen_a = seen_t = -1

    def a_words(i1: int, i2: int) -> list[int]:
        if i1 >= i2:
            return []
        stop = max(a_side.last[i2 - 1] + 1, a_side.origin[i2] if i2 < len(a_side.origin) else len(a_side.words))
        return [x for x in range(a_side.origin[i1], stop) if x > seen_a]

    def t_words(j1: int, j2: int) -> list[int]:
        if j1 >= j2:
            return []
        return [y for y in range(t_side.origin[lo + j1], t_side.last[lo + j2 - 1] + 1) if y > seen_t]

    def add(ai: list[int], ti: list[int]) -> None:
        nonlocal seen_a, seen_t
        if not ai and not ti:
            return
        out.append(WordPair(" ".join(a_side.words[i] for i in ai) or None,
                            " ".join(words[i].text.strip() for i in ti) or None,
                            round(words[ti[0]].start, 3) if ti else None, round(words[ti[-1]].end, 3) if ti else None,
                            ti[0] if ti else None))
        seen_a, seen_t = max([seen_a, *ai]), max([seen_t, *ti])

    ops = Levenshtein.opcodes(a_side.tokens, t_side.tokens[lo:hi])
    k = 0
    while k < len(ops):
        op = ops[k]
        if op.tag == "equal":
            for d in range(op.src_end - op.src_start):
                j = op.dest_start + d
                add(a_words(op.src_start + d, op.src_start + d + 1), t_words(j, j + 1))
            k += 1
            continue
        # Consecutive edits form one block: "Flood waters" -> "Floodwoggers" is a replace and a delete.
        e = k
        while e + 1 < len(ops) and ops[e + 1].tag != "equal":
            e += 1
        ai = a_words(op.src_start, ops[e].src_end)
        ti = t_words(op.dest_start, ops[e].dest_end)
        if len(ai) == len(ti):
            for x, y in zip(ai, ti):
                add([x], [y])
        else:
            add(ai, ti)
        k = e + 1
    return out


def _result(sentence: Sentence, status: str, fit: _Fit | None, t_side: _Side, words: list[_Word],
            score: float, pairs: list[WordPair]) -> SentenceAlignment:
    out = SentenceAlignment(sentence.paragraph, sentence.index, sentence.text, status, score=round(score, 3))
    if fit is None:
        return out
    first, last = _word_range(t_side, fit.lo, fit.hi)
    span = words[first:last + 1]
    out.start, out.end = round(span[0].start, 3), round(span[-1].end, 3)
    out.segment_ids = sorted({w.segment for w in span})
    out.spoken_text = "".join(w.text for w in span).strip()
    out.word_span = [first, last]
    out.words = pairs
    return out


def _video_only(words: list[_Word], t_side: _Side, claimed_words: list[bool], opts: AlignOptions) -> list[VideoOnlySpan]:
    """Runs of unclaimed words, cut where the speaker's sentences end; runs without a content word are
    glue between matched sentences, not remarks."""
    tokens_of: dict[int, list[str]] = defaultdict(list)
    for tok, w in zip(t_side.tokens, t_side.origin):
        tokens_of[w].append(tok)
    runs: list[list[int]] = []
    for k in range(len(words)):
        if claimed_words[k]:
            continue
        if runs and runs[-1][-1] == k - 1 and not _ends_sentence(words, k - 1, opts.video_only_gap):
            runs[-1].append(k)
        else:
            runs.append([k])
    spans = []
    for run in runs:
        toks = [tok for k in run for tok in tokens_of[k]]
        if len(toks) >= opts.min_video_only_tokens and any(_is_content(tok) for tok in toks):
            spans.append(VideoOnlySpan(round(words[run[0]].start, 3), round(words[run[-1]].end, 3),
                                       "".join(words[k].text for k in run).strip(),
                                       sorted({words[k].segment for k in run})))
    return spans


def article_language(article: Article) -> str:
    """The article's language code from its metadata; English when it does not say."""
    return (article.metadata.get("lang") or "en").lower().split("-")[0]


def align_media(article: Article, transcript: Transcript, translation: Transcript | None = None, *,
                options: AlignOptions | None = None) -> Alignment:
    """Align against what can be compared with the article: the transcript when both are in one language,
    the English translation when the article is English and the speech is not, and nothing (said so in
    ``note``) when the speech is in another language than a non-English article."""
    lang = article_language(article)
    heard = transcript.languages() or [transcript.language or "en"]
    if lang == "en" and translation is not None:
        result = align(article, translation, options=options)
        result.transcript, result.language = "transcript.en.json", "en"
        result.note = (f"the video speaks {', '.join(heard)}: aligned with its English translation "
                       "(Whisper's translate task); wording differences are the translation's as much as the speaker's")
        return result
    if lang in heard[:1] or (lang == "en" and "en" in heard):
        return align(article, transcript, options=options)
    empty = align(article, replace(transcript, segments=[]), options=options)
    empty.language = heard[0]
    empty.note = (f"the video speaks {', '.join(heard)} and the article is in {lang}: not aligned (mediaproc "
                  "translates speech into English only)")
    return empty


def align(article: Article, transcript: Transcript, *, options: AlignOptions | None = None) -> Alignment:
    """Say which body sentences of ``article`` are spoken in ``transcript``, when, and what else is said.

    Boilerplate paragraphs are never candidates, and suspect transcript segments never evidence. Nothing
    is assumed about order: paragraphs may be read in any order, skipped, or interleaved with remarks.
    Texts are compared through Whisper's English normaliser when the transcript is English, its basic one
    (case, punctuation, diacritics) for any other language.
    """
    opts = options or AlignOptions()
    english = (transcript.language or "en").lower().startswith("en")
    sentences = article.sentences()
    sents = [_Side.of(_words(s.text), english) for s in sentences]
    words = _flat_words(transcript)
    t_side = _Side.of([ascii_digits(w.text) for w in words], english)
    t = t_side.tokens
    ends = [(k + 1 == len(t) or t_side.origin[k + 1] != w) and _ends_sentence(words, w, opts.video_only_gap)
            for k, w in enumerate(t_side.origin)]

    index: dict[int, dict[tuple[str, ...], list[int]]] = {1: defaultdict(list), 2: defaultdict(list),
                                                           3: defaultdict(list)}
    for n in (1, 2, 3):
        for p in range(len(t) - n + 1):
            index[n][tuple(t[p:p + n])].append(p)

    def rescore(k: int, lo: int, hi: int) -> float:
        return _similarity(sents[k].tokens, t[lo:hi])

    claims = _Claims(len(t))
    placed: dict[int, _Fit] = {}
    best: dict[int, float] = defaultdict(float)
    fits = []
    for k, side in enumerate(sents):
        if len(side.tokens) < 3:
            continue            # too short to anchor on its own: placed next to its neighbours below
        for lo, hi in _candidates(side.tokens, index, len(t), opts):
            if (f := _fit(side.tokens, t, lo, hi, k, ends)) is not None:
                fits.append(f)
    for rnd in range(3):
        for f in fits:
            best[f.sentence] = max(best[f.sentence], f.score)
        before = len(placed)
        _assign(fits, claims, placed, opts.spoken_threshold, rescore)
        if rnd and len(placed) == before:
            break
        fits = _neighbour_fits(sents, t, claims, placed, ends)
    spoken = dict(placed)
    paraphrased = _paraphrases(sents, t_side, ends, claims, placed, opts)

    results = []
    for k, (sentence, side) in enumerate(zip(sentences, sents)):
        if k in spoken:
            f = spoken[k]
            results.append(_result(sentence, SPOKEN, f, t_side, words, f.score,
                                   _pairs(side, t_side, words, f.lo, f.hi)))
        elif k in paraphrased:
            f = paraphrased[k]
            results.append(_result(sentence, PARAPHRASED, f, t_side, words, f.score, []))
        else:
            results.append(_result(sentence, NOT_SPOKEN, None, t_side, words, best[k], []))

    quotes = [_quote(q, english, index, t_side, words, ends, opts) for q in article.quotes or find_quotes(article)]
    by_sentence = {(s.paragraph, s.index): r for s, r in zip(sentences, results)}
    for q, qa in quotes:
        r = by_sentence.get((q.paragraph, q.sentence))
        if r is not None and qa.fit is not None:
            _follow(r, qa, _Side.of(_words(q.text), english), t_side, words)

    claimed_words = [False] * len(words)
    for r in results:
        if r.word_span is not None:
            first, last = r.word_span
            claimed_words[first:last + 1] = [True] * (last - first + 1)
    n = len(results)
    counts = Counter(r.status for r in results)
    aligned = sum(claimed_words)
    summary = AlignmentSummary(
        sentences=n, spoken=counts[SPOKEN], paraphrased=counts[PARAPHRASED], not_spoken=counts[NOT_SPOKEN],
        coverage=round((counts[SPOKEN] + counts[PARAPHRASED]) / n, 4) if n else 0.0,
        transcript_words=len(words), aligned_words=aligned,
        aligned_word_share=round(aligned / len(words), 4) if words else 0.0,
        video_only_spans=0, method=METHOD,
        thresholds={"spoken_threshold": opts.spoken_threshold, "paraphrase_threshold": opts.paraphrase_threshold,
                    "content_word_similarity": opts.content_word_similarity, "quote_threshold": opts.quote_threshold},
        quotes=dict(Counter(qa.result.verdict for _, qa in quotes)))
    video_only = _video_only(words, t_side, claimed_words, opts)
    summary.video_only_spans = len(video_only)
    return Alignment(article.source, transcript.model, results, video_only, summary,
                     quotes=[qa.result for _, qa in quotes], language=transcript.language or "en")


# --- quotations ------------------------------------------------------------------------------------

def _words(text: str) -> list[str]:
    return ascii_digits(text).split()


@dataclass
class _QuoteFit:
    result: QuoteAlignment
    fit: _Fit | None


def _quote(q: Quote, english: bool, index: dict[int, dict[tuple[str, ...], list[int]]], t_side: _Side,
           words: list[_Word], ends: list[bool], opts: AlignOptions) -> tuple[Quote, _QuoteFit]:
    """A quotation on its own: its best place anywhere in the transcript (overlapping a sentence's is fine),
    and how what was said there differs from it."""
    side = _Side.of(_words(q.text), english)
    t = t_side.tokens
    fits = [f for lo, hi in _candidates(side.tokens, index, len(t), opts)
            if (f := _fit(side.tokens, t, lo, hi, q.index, ends)) is not None]
    best = max(fits, key=lambda f: (f.score, -(f.hi - f.lo)), default=None)
    result = QuoteAlignment(q.paragraph, q.sentence, q.index, q.text, "not_found",
                            score=round(best.score, 3) if best else 0.0)
    if best is None or best.score < opts.quote_threshold:
        return q, _QuoteFit(result, None)
    verdict, diffs = compare(side.tokens, t[best.lo:best.hi], _STOPWORDS)
    first, last = _word_range(t_side, best.lo, best.hi)
    times = [(words[t_side.origin[k]].start, words[t_side.last[k]].end) for k in range(best.lo, best.hi)]
    result.verdict, result.start, result.end = verdict, round(words[first].start, 3), round(words[last].end, 3)
    result.spoken_text = "".join(w.text for w in words[first:last + 1]).strip()
    result.differences, result.word_span = differences(diffs, times), [first, last]
    return q, _QuoteFit(result, best)


def _follow(r: SentenceAlignment, qa: _QuoteFit, side: _Side, t_side: _Side, words: list[_Word]) -> None:
    """The sentence takes its quotation's place and times when the rest of it is the article's own narration:
    when the sentence was not found as a whole, or its span reaches before the quote (lead-in words matched
    somewhere else)."""
    quote, fit = qa.result, qa.fit
    assert fit is not None
    reaches_before = r.start is not None and quote.start is not None and r.start < quote.start - 0.3
    if quote.verdict in ("verbatim", "minor") and (r.status != SPOKEN or reaches_before):
        status = SPOKEN
    elif quote.verdict == "changed" and r.status == NOT_SPOKEN:
        status = PARAPHRASED
    else:
        return
    first, last = quote.word_span or (0, 0)
    span = words[first:last + 1]
    r.status, r.start, r.end = status, quote.start, quote.end
    r.score = max(r.score, quote.score)
    r.segment_ids = sorted({w.segment for w in span})
    r.spoken_text, r.word_span = quote.spoken_text, [first, last]
    r.words = _pairs(side, t_side, words, fit.lo, fit.hi) if status == SPOKEN else []


# --- files -----------------------------------------------------------------------------------------

def write_alignment(alignment: Alignment, path: str | Path) -> Path:
    return write_json(path, alignment)


def load_alignment(path: str | Path) -> Alignment:
    """Read back an alignment.json written by :func:`write_alignment`."""
    try:
        return load(Alignment, read_json(path))
    except (OSError, ValueError) as exc:
        raise AlignError(f"cannot read alignment {path}: {exc}") from None


def _corrected_segments(alignment: Alignment, transcript: Transcript) -> list[dict]:
    """Segments with the article's wording over verbatim sentences, the ASR words elsewhere."""
    replaced: dict[int, str] = {}
    for s in alignment.sentences:
        if s.status != SPOKEN or s.word_span is None:
            continue
        first, last = s.word_span
        replaced.update({k: "" for k in range(first, last + 1)})
        for p in s.words:
            if p.index is not None and p.article:   # article words the speaker skipped stay out
                replaced[p.index] = (replaced[p.index] + " " + p.article).strip()
    out, k = [], 0
    for seg, group in _segment_words(transcript):
        parts = []
        for w in group:
            text = replaced.get(k)
            parts.append(w.text if text is None else (" " + text if text else ""))
            k += 1
        out.append({"start": seg.start, "end": seg.end, "text": "".join(parts).strip() or seg.text.strip()})
    return out


def write_corrected_subtitles(alignment: Alignment, transcript: Transcript, out_dir: str | Path) -> dict[str, Path]:
    """transcript.corrected.srt/.vtt: the transcript's timing, the article's spelling where it was read out."""
    from whisper.utils import WriteSRT, WriteVTT

    out_dir = Path(out_dir)
    result = {"segments": _corrected_segments(alignment, transcript)}
    paths = {}
    for fmt, writer in (("srt", WriteSRT), ("vtt", WriteVTT)):
        buf = io.StringIO()
        writer(str(out_dir)).write_result(result, file=buf)
        paths[fmt] = atomic_write_text(out_dir / f"transcript.corrected.{fmt}", buf.getvalue())
    return paths


__all__ = ["align", "align_media", "article_language", "load_alignment", "write_alignment", "write_corrected_subtitles", "SPOKEN", "PARAPHRASED",
           "NOT_SPOKEN", "METHOD"]
