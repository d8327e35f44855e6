"""The data that crosses stages, and the shape of every JSON file mediaproc writes.

Plain dataclasses, so every stage can be called from Python with and without the
others; :func:`dump` and :func:`load` are the one (de)serialiser for all of them
(pydantic validates on load, so a damaged or foreign file is one clear error, never a
half-built object). This module imports nothing of mediaproc: it is the leaf every
stage stands on. Statuses are ``Literal`` types with their meanings here, the one
place they are documented.

Files may gain fields between versions, never lose them; readers ignore fields they
do not know.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

import pydantic

SCHEMA_VERSION = 2

# --- statuses ------------------------------------------------------------------------------------------------

StageStatus = Literal["ok", "cached", "skipped", "partial", "failed"]
"""One stage of one media item: ``ok`` done now; ``cached`` reused from the cache; ``skipped`` not
applicable (no audio to transcribe, no video to keyframe); ``partial`` done on what could be decoded;
``failed`` not done (the error says why)."""

ItemStatus = Literal["pending", "ok", "partial", "failed"]
"""One media item: ``ok`` every stage that applies is ok or cached (keyframes of audio-only media are
``skipped`` and that is ok); ``partial`` a stage was partial (damaged frames) or impossible (no audio to
transcribe); ``failed`` the media could not be had or read (the error says why); ``pending`` not
finished (never in a finished manifest)."""

ArticleStatus = Literal["pending", "ok", "partial", "failed", "interrupted"]
"""One article: ``ok`` text read and every media item ok (an article without media is ok); ``partial``
some item not ok, or media but no readable article text; ``failed`` the source could not be read, or
it has neither text nor media, or every item failed; ``interrupted`` the run was stopped before it
finished (only in the batch summary: an interrupted article's earlier outputs are left as they were)."""

SentenceStatus = Literal["spoken", "paraphrased", "not_spoken"]
KeyframeStatus = Literal["ok", "skipped", "partial"]
LinkKind = Literal["file", "stream", "platform"]
MediaType = Literal["video", "audio"]
DocumentKind = Literal["html", "text", "markdown", "media"]
AddressClass = Literal["public", "private", "loopback", "link-local", "reserved"]


# --- documents and articles ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Origin:
    """Where content came from: what the links it contains may reach (see :mod:`mediaproc._net`).

    ``user``: named on the command line (any local file or host); ``local``: a saved article file, whose
    links may reach local files under ``root`` only; ``network``: fetched over http(s) from an address of
    ``address_class``, whose links may reach http(s) hosts of the public class or of that class only.
    """

    kind: Literal["user", "local", "network"]
    root: Path | None = None
    address_class: AddressClass | None = None


@dataclass
class Document:
    """The raw source: what :func:`mediaproc.article.load_document` read, before any parsing."""

    source: str               # as the user gave it
    url: str | None           # base URL for resolving links: the final page URL, None for local files
    kind: DocumentKind
    text: str                 # decoded text ("" for media)
    path: Path | None = None  # local file, if any
    origin: Origin = Origin("user")


@dataclass
class Sentence:
    paragraph: int          # index of the paragraph in Article.paragraphs
    index: int              # index of the sentence within its paragraph
    text: str
    start: int              # character offsets into the paragraph's text
    end: int


@dataclass
class Paragraph:
    index: int
    text: str
    sentences: list[Sentence] = field(default_factory=list)
    kind: str = "body"      # "body"; set aside: "boilerplate" (share buttons, disclaimers), "link" text, "caption"
    span: tuple[int, int] | None = None   # character range in Document.text (text/Markdown sources only)


@dataclass
class Quote:
    """A direct quotation in the article: ``text`` is ``paragraph``'s text[start:end]; ``sentence`` is the index
    of the sentence it begins in; ``kind`` "quotation" (in quote marks) or "reported" (after a colon)."""

    paragraph: int
    sentence: int | None
    index: int
    text: str
    start: int
    end: int
    kind: Literal["quotation", "reported"] = "quotation"


@dataclass
class Article:
    source: str                                   # path or URL as the user gave it
    title: str = ""
    metadata: dict[str, str] = field(default_factory=dict)   # author, date, url, canonical, sitename, lang
    paragraphs: list[Paragraph] = field(default_factory=list)
    # Set aside, never aligned: boilerplate, and what is not prose (link texts, captions, credits); ``kind`` says.
    boilerplate: list[Paragraph] = field(default_factory=list)
    quotes: list[Quote] = field(default_factory=list)

    def sentences(self) -> list[Sentence]:
        """All body sentences in reading order."""
        return [s for p in self.paragraphs for s in p.sentences]


@dataclass
class MediaLink:
    url: str                  # absolute URL (or absolute path for a local media file)
    kind: LinkKind            # "file", "stream" (HLS/DASH) or "platform" (hand to yt-dlp)
    media_type: MediaType | None   # None when unknown
    found_in: str             # selector or pattern, e.g. "video>source[src]", "json-ld VideoObject.contentUrl"
    paragraph: int | None     # index of the nearest Article.paragraphs entry, None if not placeable
    in_article: bool = True   # False for navigation, ads, related-video rails, footers
    fallbacks: list[str] = field(default_factory=list)   # other URLs of the same media, best first
    evidence: list[str] = field(default_factory=list)    # why in_article is what it is (``links --explain``)


# --- media ---------------------------------------------------------------------------------------------------

@dataclass
class MediaInfo:
    """What ffprobe says a file holds: the one fact every stage needs."""

    path: str
    format_name: str
    duration: float | None
    size: int
    has_video: bool
    has_audio: bool
    video_codec: str | None = None
    audio_codec: str | None = None
    width: int | None = None
    height: int | None = None


@dataclass
class DownloadResult:
    url: str
    path: Path                       # the verified file (a cache blob, a private temp file, or the local file)
    sha256: str
    size: int
    content_type: str
    from_cache: bool
    info: MediaInfo
    name: str = ""                   # a safe file name for the per-article copy
    cleanup: Path | None = None      # a private temporary directory holding ``path``, to remove after use


# --- transcripts ---------------------------------------------------------------------------------------------

@dataclass
class Word:
    word: str               # as the engine wrote it, usually with a leading space (whisper's own key)
    start: float
    end: float
    probability: float = 1.0


@dataclass
class Segment:
    """One segment of speech. The confidences are the engine's own; ``speech_share`` is the part of the
    segment's span that voice activity detection calls speech. A ``suspect`` segment (see
    :mod:`mediaproc.transcription` for the thresholds) stays in the transcript, with its reasons, but is never
    used as evidence by the alignment."""

    id: int
    start: float
    end: float
    text: str
    words: list[Word] = field(default_factory=list)
    avg_logprob: float | None = None
    no_speech_prob: float | None = None
    model: str = ""
    language: str | None = None
    language_probability: float | None = None
    compression_ratio: float | None = None
    speech_share: float | None = None
    suspect: bool = False
    suspect_reasons: list[str] = field(default_factory=list)


@dataclass
class LanguageRegion:
    """A stretch of the media in one language: its speech (VAD chunks, seconds) and the detection."""

    start: float
    end: float
    language: str
    probability: float | None = None       # None: given by --language or an English-only model
    speech: list[tuple[float, float]] = field(default_factory=list)


@dataclass
class Transcript:
    """A transcript in openai-whisper's JSON shape (``text``, ``segments``, ``language``) plus ours.

    ``language`` is the language of most of the speech; ``regions`` say where each language is. With
    ``task`` ``translate`` the text is the English translation on the same timeline. ``reason`` says why
    there are no segments (``no speech detected``).
    """

    language: str
    model: str = ""
    engine: str = ""
    duration: float | None = None
    segments: list[Segment] = field(default_factory=list)
    options: dict[str, Any] = field(default_factory=dict)
    task: str = "transcribe"
    regions: list[LanguageRegion] = field(default_factory=list)
    speech_seconds: float | None = None
    reason: str | None = None
    # True when read from the transcript cache; not part of the written JSON.
    cached: Annotated[bool, pydantic.Field(exclude=True)] = False

    @property
    def text(self) -> str:
        return "".join(s.text for s in self.segments).strip()

    def words(self) -> list[Word]:
        return [w for s in self.segments for w in s.words]

    def languages(self) -> list[str]:
        """The languages heard, most speech first."""
        seconds: dict[str, float] = {}
        for r in self.regions:
            seconds[r.language] = seconds.get(r.language, 0.0) + sum(e - s for s, e in r.speech)
        return sorted(seconds, key=lambda k: -seconds[k])

    def _json_extra(self) -> dict[str, Any]:
        return {"text": self.text}


# --- keyframes -----------------------------------------------------------------------------------------------

@dataclass
class TextLine:
    """One line of text read on a frame: Tesseract's words joined, ``box`` (x, y, width, height) in the
    full-resolution frame, ``confidence`` the mean of its words' (0-100)."""

    text: str
    box: tuple[int, int, int, int]
    confidence: float


@dataclass
class Keyframe:
    """One kept frame. ``path`` is relative to the media directory (``keyframes/NNNN_<seconds>.jpg``).

    ``hash`` is 16 hex digits of dHash then 6 of mean RGB; ``score`` is ffmpeg's scene score (scenes mode);
    ``sha256`` of the JPEG lets a cached copy be verified before reuse.
    """

    index: int
    time: float
    path: Path
    width: int
    height: int
    hash: str
    score: float | None = None
    sha256: str | None = None
    phash: str | None = None       # 64-bit perceptual hash (16 hex), for reused footage; None for a blank frame
    text: list[TextLine] = field(default_factory=list)   # on-screen text (mediaproc.onscreen)


@dataclass
class KeyframeResult:
    """``mode`` is the mode actually used (the fast path may fall back); ``reason`` says why."""

    status: KeyframeStatus
    mode: str
    frames: list[Keyframe] = field(default_factory=list)
    contact_sheet: Path | None = None
    contact_sheet_sha256: str | None = None
    reason: str | None = None
    error: str | None = None
    media: str = ""                                      # the media file's name
    options: dict[str, Any] = field(default_factory=dict)
    # True when copied from the keyframe cache; not part of the written JSON.
    cached: Annotated[bool, pydantic.Field(exclude=True)] = False


# --- alignment -----------------------------------------------------------------------------------------------

@dataclass
class WordPair:
    article: str | None     # the article's word(s) as written; None for a word only in the speech
    spoken: str | None      # the transcript's word(s); None for an article word that was not said
    start: float | None
    end: float | None
    index: int | None = None   # the first spoken word's index in the transcript's word order (*)


@dataclass
class SentenceAlignment:
    paragraph: int
    index: int
    text: str
    status: SentenceStatus
    start: float | None = None
    end: float | None = None
    score: float = 0.0                   # for not_spoken: the best score any candidate reached
    segment_ids: list[int] = field(default_factory=list)
    spoken_text: str = ""                # what the transcript says over [start, end]
    word_span: list[int] | None = None   # [first, last] word index (*)
    # (*) Transcript.words() order; a segment without word timings counts the words of its text.
    words: list[WordPair] = field(default_factory=list)   # spoken sentences only


QuoteVerdict = Literal["verbatim", "minor", "changed", "not_found"]
"""How the spoken words compare with a quotation: ``verbatim`` the same words (fillers ignored); ``minor`` the
differences an ASR makes (similar-sounding words, a function word); ``changed`` a content word substituted,
added or dropped, a negation or a number not the same; ``not_found`` nothing close enough was said."""


@dataclass
class QuoteDifference:
    """One difference between a quote and what was said: ``kind`` number, negation, substituted, dropped,
    added, sound-alike or function word; ``start`` when the spoken words (or the gap) begin."""

    kind: str
    article: str | None
    spoken: str | None
    start: float | None = None


@dataclass
class QuoteAlignment:
    paragraph: int
    sentence: int | None
    index: int
    text: str
    verdict: QuoteVerdict
    start: float | None = None           # the first spoken word that matched a word of the quote
    end: float | None = None             # the last one
    score: float = 0.0
    spoken_text: str = ""
    differences: list[QuoteDifference] = field(default_factory=list)
    word_span: list[int] | None = None


@dataclass
class VideoOnlySpan:
    start: float
    end: float
    text: str
    segment_ids: list[int] = field(default_factory=list)


@dataclass
class AlignmentSummary:
    sentences: int
    spoken: int
    paraphrased: int
    not_spoken: int
    coverage: float                 # share of article sentences spoken or paraphrased
    transcript_words: int
    aligned_words: int
    aligned_word_share: float       # share of transcript words inside a spoken or paraphrased span
    video_only_spans: int
    method: str = ""
    thresholds: dict[str, float] = field(default_factory=dict)
    quotes: dict[str, int] = field(default_factory=dict)    # verdict -> count


@dataclass
class Alignment:
    article: str                    # Article.source
    transcript_model: str
    sentences: list[SentenceAlignment]
    video_only: list[VideoOnlySpan]
    summary: AlignmentSummary
    quotes: list[QuoteAlignment] = field(default_factory=list)
    transcript: str = "transcript.json"   # which transcript file of the media item was aligned
    language: str = "en"                  # the language of that transcript
    note: str | None = None               # why it was aligned against a translation, or not at all


# --- on-screen text ---------------------------------------------------------------------------------------

@dataclass
class OnScreenCue:
    """Text that stays at the bottom of the picture over consecutive sampled frames: a burned-in subtitle."""

    start: float
    end: float
    text: str
    confidence: float


OnScreenKind = Literal["name", "date", "number"]


@dataclass
class OnScreenMatch:
    """Something read on screen set beside the article: ``agrees`` (the article has it too) or ``differs``
    (a date on screen the article does not give, while it gives others: for the user to check, never a
    verdict that either is false)."""

    kind: OnScreenKind
    verdict: Literal["agrees", "differs"]
    on_screen: str                       # as read
    time: float
    article: list[str] = field(default_factory=list)   # the article's matching text, or its other dates
    paragraph: int | None = None


@dataclass
class OnScreen:
    """What the frames of one media item say. ``languages``: the Tesseract languages used."""

    languages: list[str]
    frames_read: int = 0
    bands_read: int = 0
    seconds: float = 0.0
    cues: list[OnScreenCue] = field(default_factory=list)
    matches: list[OnScreenMatch] = field(default_factory=list)
    error: str | None = None


# --- runs ----------------------------------------------------------------------------------------------------

@dataclass
class StageRecord:
    status: StageStatus
    seconds: float = 0.0
    error: str | None = None


@dataclass
class MediaItem:
    id: str
    url: str
    kind: LinkKind
    media_type: MediaType | None
    found_in: str
    paragraph: int | None
    status: ItemStatus = "pending"
    error: str | None = None
    sha256: str | None = None
    size: int | None = None
    from_cache: bool = False
    duration: float | None = None
    has_video: bool | None = None
    has_audio: bool | None = None
    path: str | None = None      # relative to the article directory
    transcript_cached: bool = False
    stages: dict[str, StageRecord] = field(default_factory=dict)


@dataclass
class Manifest:
    article_id: str
    source: str
    title: str = ""
    status: ArticleStatus = "pending"
    error: str | None = None
    started: str = ""
    finished: str = ""
    seconds: float = 0.0
    model: str = ""
    engine: str = ""
    versions: dict[str, str] = field(default_factory=dict)
    items: list[MediaItem] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)   # what the user should know that is not a failure
    schema_version: int = SCHEMA_VERSION

    @property
    def ok(self) -> bool:
        return self.status == "ok"


@dataclass
class BatchSummary:
    articles: int = 0
    ok: int = 0
    partial: int = 0
    failed: int = 0
    resumed: int = 0              # complete from an earlier run, not redone
    media_downloaded: int = 0
    media_cached: int = 0
    media_failed: int = 0
    transcripts_cached: int = 0
    audio_seconds: float = 0.0    # audio transcribed in this run (cache hits excluded)
    wall_seconds: float = 0.0
    interrupted: bool = False     # stopped by Ctrl-C: articles_detail marks those in flight "interrupted"
    failures: list[dict[str, str]] = field(default_factory=list)
    articles_detail: list[dict[str, str]] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        return 1 if (self.failed or self.partial or self.interrupted) else 0


# --- the one (de)serialiser ----------------------------------------------------------------------------------

T = TypeVar("T")


@cache
def _adapter(cls: Any) -> pydantic.TypeAdapter[Any]:
    return pydantic.TypeAdapter(cls)


def dump(obj: Any) -> Any:
    """``obj`` (a schema dataclass, or lists/dicts of them) as plain JSON types."""
    if isinstance(obj, (list, tuple)):
        return [dump(v) for v in obj]
    if isinstance(obj, dict):
        return {str(k): dump(v) for k, v in obj.items()}
    if isinstance(obj, Path):
        return str(obj)
    if not hasattr(obj, "__dataclass_fields__"):
        return obj
    data = _adapter(type(obj)).dump_python(obj, mode="json")
    extra = getattr(obj, "_json_extra", None)
    return {**extra(), **data} if extra else data


def load(cls: type[T], data: Any) -> T:
    """Build a ``cls`` from JSON data; raises ``ValueError`` (pydantic's, one line of it) if it does not fit."""
    try:
        return _adapter(cls).validate_python(data)
    except pydantic.ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or cls.__name__
        raise ValueError(f"{where}: {first['msg']}") from None


def dumps(obj: Any) -> str:
    return json.dumps(dump(obj), indent=2, ensure_ascii=False) + "\n"


__all__ = ["SCHEMA_VERSION", "StageStatus", "ItemStatus", "ArticleStatus", "SentenceStatus", "KeyframeStatus",
           "Origin", "Document", "Sentence", "Paragraph", "Quote", "Article", "QuoteVerdict", "QuoteDifference",
           "QuoteAlignment", "MediaLink", "MediaInfo", "DownloadResult",
           "Word", "Segment", "LanguageRegion", "Transcript", "TextLine", "Keyframe", "KeyframeResult", "OnScreenCue", "OnScreenMatch", "OnScreen", "WordPair", "SentenceAlignment",
           "VideoOnlySpan", "AlignmentSummary", "Alignment", "StageRecord", "MediaItem", "Manifest",
           "BatchSummary", "dump", "load", "dumps"]
