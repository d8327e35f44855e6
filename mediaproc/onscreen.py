"""What the frames say: on-screen text read with Tesseract, burned-in subtitles, and the article beside it.

Each kept keyframe is read again from the media at full resolution (the stored JPEG is a 640-px
thumbnail), in greyscale, scaled up when it is small, in two passes (:func:`_passes`: the frame with
Tesseract's own page layout, and its caption-bright pixels alone) by Debian's Tesseract 5.3, through
pytesseract, one tesseract process per pass over all of a video's frames (:func:`_tesseract`). Lines
whose mean word confidence is below :data:`MIN_CONFIDENCE`, that hold fewer than :data:`MIN_CHARS`
letters or digits, or that are scattered single characters, are texture and are dropped.

Burned-in subtitles do not change the shot, so keyframes miss them: the bottom :data:`BAND_SHARE` of the
picture is sampled every :data:`BAND_EVERY` seconds and read when its caption ink holds still
(:func:`read_subtitles`); text that repeats over consecutive samples becomes one timed cue
(``onscreen.srt``), a second transcript for music or speech in another language.

Names, dates and numbers read on screen are set beside the article: ``agrees`` when the article has
them too; a date on screen that the article does not give, while it gives others, ``differs``. That is
all it claims: "on screen" against "in the article", for the user to check.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rapidfuzz import fuzz

from . import _ffmpeg
from ._text import fold
from .errors import MediaError
from .options import OcrOptions
from .schema import Article, KeyframeResult, OnScreen, OnScreenCue, OnScreenMatch, TextLine

MIN_CONFIDENCE = 60.0      # Tesseract's mean word confidence (0-100) a line needs to be kept
MIN_CHARS = 4              # letters or digits a line needs to be kept (textures read as 'igh', 'Wed')
BAND_SHARE = 0.3           # the bottom share of the picture sampled for subtitles
BAND_EVERY = 1.0           # seconds between subtitle samples
_MIN_INK = 0.002           # share of a band's pixels that must be caption-bright for it to hold a subtitle
_SAME_INK = 0.85           # overlap (intersection over union) of caption ink that makes it the same subtitle
_SAME_CUE = 80             # rapidfuzz ratio over which two readings are one subtitle
_MIN_HEIGHT = 540          # frames lower than this are scaled up to it for Tesseract (its time grows with the
                           # pixels: 720 doubled the cost per frame of 332-px footage)
_BRIGHT = 200              # grey level from which a pixel counts as caption ink (white, yellow) in the overlay pass
_MAX_INK = 0.12            # share of the picture above which bright pixels are sky or a white set, not captions

# ISO 639-1 (article and speech languages) -> Tesseract's traineddata names.
TESSERACT = {"en": "eng", "ar": "ara", "ru": "rus", "tr": "tur", "uk": "ukr", "fr": "fra", "de": "deu",
             "es": "spa", "it": "ita", "fa": "fas", "he": "heb", "zh": "chi_sim", "ja": "jpn", "ko": "kor"}


_TESSDATA = [Path("/usr/share/tesseract-ocr/5/tessdata"), Path("/usr/share/tesseract-ocr/4.00/tessdata"),
             Path("/usr/share/tessdata"), Path("/usr/local/share/tessdata")]


def tessdata() -> Path | None:
    """Where the Tesseract language data is: ``$TESSDATA_PREFIX``, else Debian's and the usual places."""
    env = os.environ.get("TESSDATA_PREFIX")
    for folder in ([Path(env)] if env else []) + _TESSDATA:
        if folder.is_dir() and any(folder.glob("*.traineddata")):
            return folder
    return None


def installed() -> set[str]:
    """The Tesseract languages this machine has (empty without the tesseract program or its language data)."""
    folder = tessdata()
    if folder is None or shutil.which("tesseract") is None:
        return set()
    return {p.stem for p in folder.glob("*.traineddata")} - {"osd"}


def choose_languages(options: OcrOptions, *codes: str | None) -> list[str]:
    """``--ocr-languages`` if given, else English plus the Tesseract languages of ``codes`` (the article's
    and the speech's), those installed only."""
    if options.languages:
        return [lang for lang in options.languages.split("+") if lang]
    have = installed()
    wanted = ["eng"] + [TESSERACT[c.split("-")[0].lower()] for c in codes if c and c.split("-")[0].lower() in TESSERACT]
    return [lang for lang in dict.fromkeys(wanted) if lang in have]


# --- reading ---------------------------------------------------------------------------------------------------

def _passes(image, frame_height: int) -> tuple[list[tuple[Any, int]], float]:
    """The images Tesseract is given for one frame with their page-segmentation modes, and the scale used:
    the frame in greyscale, scaled up when it is small (text of a 360p frame is too small for Tesseract)
    and contrast-stretched, with Tesseract's own page layout (psm 3, which sets textures aside: sparse-text
    mode reads them, slowly, as words); and, when they are few enough to be captions (``_MAX_INK``), the
    frame's brightest pixels alone, as dark on white, read as one block (psm 6: the white or yellow
    captions of lower thirds and subtitles over a busy picture, which one global threshold merges with
    the picture)."""
    from PIL import Image, ImageOps

    grey = image.convert("L")
    scale = min(3.0, _MIN_HEIGHT / frame_height) if frame_height < _MIN_HEIGHT else 1.0
    if scale > 1.0:
        grey = grey.resize((round(grey.width * scale), round(grey.height * scale)), Image.Resampling.LANCZOS)
    passes = [(ImageOps.autocontrast(grey, cutoff=1), 3)]
    ink = grey.histogram()[_BRIGHT:]
    if 0 < sum(ink) <= _MAX_INK * grey.width * grey.height:
        passes.append((grey.point(lambda v: 0 if v >= _BRIGHT else 255), 6))
    return passes, scale


def _lines(data: dict[str, list[Any]], page: int, scale: float) -> list[TextLine]:
    """The lines Tesseract's TSV gives for image ``page`` (1-based), noise dropped, boxes unscaled."""
    lines: dict[tuple[int, int, int], list[int]] = {}
    for i, word in enumerate(data["text"]):
        if data["page_num"][i] == page and str(word).strip() and float(data["conf"][i]) >= 0:
            lines.setdefault((data["block_num"][i], data["par_num"][i], data["line_num"][i]), []).append(i)
    out = []
    for idx in lines.values():
        text = " ".join(str(data["text"][i]).strip() for i in idx)
        confidence = sum(float(data["conf"][i]) for i in idx) / len(idx)
        words = text.split()
        if confidence < MIN_CONFIDENCE or sum(ch.isalnum() for ch in text) < MIN_CHARS \
                or 3 * sum(len(w) == 1 for w in words) > len(words):
            continue          # too unsure, too short, or scattered single characters: texture, not text
        x0 = min(data["left"][i] for i in idx)
        y0 = min(data["top"][i] for i in idx)
        x1 = max(data["left"][i] + data["width"][i] for i in idx)
        y1 = max(data["top"][i] + data["height"][i] for i in idx)
        box = tuple(round(v / scale) for v in (x0, y0, x1 - x0, y1 - y0))
        out.append(TextLine(text, box, round(confidence, 1)))  # type: ignore[arg-type]
    return out


def _tesseract(images: list[Any], languages: list[str], psm: int) -> dict[str, list[Any]]:
    """Tesseract's word table for ``images``, read by ONE tesseract process from a file list: loading a
    language model costs more than reading a frame (0.15 s against 0.1), so it is loaded once per pass."""
    import pytesseract

    with tempfile.TemporaryDirectory(prefix="mediaproc-ocr-") as tmp:
        paths = []
        for k, image in enumerate(images):
            paths.append(os.path.join(tmp, f"{k:05d}.png"))
            image.save(paths[-1])
        listing = os.path.join(tmp, "images.txt")
        Path(listing).write_text("\n".join(paths) + "\n", encoding="utf-8")
        try:
            return pytesseract.image_to_data(listing, lang="+".join(languages) or "eng", config=f"--psm {psm}",
                                             output_type=pytesseract.Output.DICT)
        except (pytesseract.TesseractError, pytesseract.TesseractNotFoundError, OSError) as exc:
            raise MediaError(f"tesseract failed: {str(exc).strip()[:200]}") from None


def read_images(images: list[Any], languages: list[str], frame_height: int | None = None, *,
                overlay_only: bool = False) -> list[list[TextLine]]:
    """The lines of text on each of ``images`` (frames, or bands of frames ``frame_height`` high), boxes
    in the images' pixels, noise dropped; where both passes read a line, the surer reading."""
    if not images:
        return []
    prepared = [_passes(image, frame_height or image.height) for image in images]
    found: list[list[TextLine]] = [[] for _ in images]
    for which, psm in ((0, 3), (1, 6)):
        if overlay_only and which == 0:
            continue
        batch = [(k, passes[which][0]) for k, (passes, _) in enumerate(prepared)
                 if len(passes) > which and passes[which][1] == psm]
        if not batch:
            continue
        data = _tesseract([image for _, image in batch], languages, psm)
        for page, (k, _) in enumerate(batch, start=1):
            for line in _lines(data, page, prepared[k][1]):
                same = next((j for j, old in enumerate(found[k]) if _overlap(old.box, line.box) > 0.5), None)
                if same is None:
                    found[k].append(line)
                elif line.confidence > found[k][same].confidence:
                    found[k][same] = line
    return [sorted(lines, key=lambda line: (line.box[1], line.box[0])) for lines in found]


def _overlap(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> float:
    """Intersection over the smaller box."""
    w = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
    h = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
    return max(0, w) * max(0, h) / max(1, min(a[2] * a[3], b[2] * b[3]))


def read_image(image, languages: list[str], frame_height: int | None = None) -> list[TextLine]:
    """The lines of text on one image (see :func:`read_images`)."""
    return read_images([image], languages, frame_height)[0]


def read_keyframes(media: Path, keyframes: KeyframeResult, languages: list[str]) -> int:
    """Fill each keyframe's ``text`` from the full-resolution frame; the number of frames read."""
    frames = [_ffmpeg.grab_frame(media, frame.time) for frame in keyframes.frames]
    for frame, lines in zip(keyframes.frames, read_images(frames, languages)):
        frame.text = lines
    return len(frames)


def read_subtitles(media: Path, width: int, height: int, languages: list[str]) -> tuple[list[OnScreenCue], int]:
    """Burned-in subtitles as timed cues, and the number of bands read.

    A band is read only when its caption ink (pixels at ``_BRIGHT`` or above, between ``_MIN_INK`` and
    ``_MAX_INK`` of it) stays where it is over two samples, as a subtitle does over moving pictures and
    bright scenery does not, and differs from the ink last read: so a long video costs about one reading
    per subtitle. The bands to read are collected first and read by one tesseract process."""
    import numpy as np
    from PIL import Image

    samples: list[tuple[float, int | None]] = []     # (time, index of the reading it shows, or None)
    bands: list[Any] = []
    previous: Any = None      # the ink of the sample before, if it looked like text
    read_ink: Any = None      # the ink last read
    for t, pixels, w, h in _ffmpeg.bottom_bands(media, width, height, every=BAND_EVERY, share=BAND_SHARE):
        band = np.frombuffer(pixels, np.uint8).reshape(h, w)
        ink = band >= _BRIGHT
        text_like = _MIN_INK <= float(ink.mean()) <= _MAX_INK
        held = text_like and previous is not None and _iou(ink, previous) >= _SAME_INK
        if not held:
            shown = None             # no caption, or one not yet held for two samples
        elif read_ink is None or _iou(ink, read_ink) < _SAME_INK:
            bands.append(Image.fromarray(band))
            read_ink, shown = ink, len(bands) - 1
            if samples and samples[-1][1] is None:       # the sample before showed it already
                samples[-1] = (samples[-1][0], shown)
        else:
            shown = samples[-1][1] if samples else None
        previous = ink if text_like else None
        samples.append((t, shown))
    texts = [(" ".join(line.text for line in lines), min((line.confidence for line in lines), default=0.0))
             for lines in read_images(bands, languages, frame_height=height, overlay_only=True)]
    readings = [(t, *(texts[k] if k is not None else ("", 0.0))) for t, k in samples]
    return _cues(readings, BAND_EVERY), len(bands)


def _iou(a: Any, b: Any) -> float:
    return float((a & b).sum()) / max(1, int((a | b).sum()))


def _cues(readings: list[tuple[float, str, float]], every: float) -> list[OnScreenCue]:
    """Consecutive samples that read the same (nearly: OCR wavers) as one cue from the first to the last."""
    cues: list[OnScreenCue] = []
    for t, text, confidence in readings:
        if not text:
            continue
        last = cues[-1] if cues else None
        if last and t <= last.end + 1e-6 and fuzz.ratio(last.text, text) >= _SAME_CUE:
            last.end = t + every
            if confidence > last.confidence:
                last.text, last.confidence = text, confidence
        else:
            cues.append(OnScreenCue(t, t + every, text, confidence))
    return cues


def write_srt(cues: list[OnScreenCue], path: Path) -> Path:
    """``onscreen.srt``, written by openai-whisper's own SRT writer like the transcripts."""
    import io

    from whisper.utils import WriteSRT

    from ._fs import atomic_write_text

    buf = io.StringIO()
    WriteSRT(str(path.parent)).write_result({"segments": [{"start": c.start, "end": c.end, "text": c.text}
                                                          for c in cues]}, file=buf)
    return atomic_write_text(path, buf.getvalue())


# --- the article beside it ---------------------------------------------------------------------------------

_MONTHS = {m: i + 1 for i, names in enumerate([
    "january jan janvier janv januar январь января ocak كانون الثاني يناير",
    "february feb fevrier février févr februar февраль февраля şubat subat فبراير شباط",
    "march mar mars märz marz март марта mart مارس آذار",
    "april apr avril апрель апреля nisan أبريل نيسان",
    "may mai май мая mayıs mayis مايو أيار",
    "june jun juin juni июнь июня haziran يونيو حزيران",
    "july jul juillet juli июль июля temmuz يوليو تموز",
    "august aug aout août август августа ağustos agustos أغسطس آب",
    "september sep sept septembre сентябрь сентября eylül eylul سبتمبر أيلول",
    "october oct octobre oktober октябрь октября ekim أكتوبر تشرين الأول",
    "november nov novembre ноябрь ноября kasım kasim نوفمبر تشرين الثاني",
    "december dec decembre décembre dezember декабрь декабря aralık aralik ديسمبر كانون الأول",
]) for m in names.split()}
_MONTH_WORD = "|".join(sorted((re.escape(m) for m in _MONTHS), key=len, reverse=True))
_DATES = [
    (re.compile(r"\b(\d{4})-(\d{1,2})-(\d{1,2})\b"), ("y", "m", "d")),
    (re.compile(r"\b(\d{1,2})[./](\d{1,2})[./](\d{4}|\d{2})\b"), ("d", "m", "y")),
    (re.compile(rf"(?i)\b(\d{{1,2}})\.?\s+({_MONTH_WORD})\.?,?\s+(\d{{4}})\b"), ("d", "mon", "y")),
    (re.compile(rf"(?i)\b({_MONTH_WORD})\.?\s+(\d{{1,2}})(?:st|nd|rd|th)?,?\s+(\d{{4}})\b"), ("mon", "d", "y")),
]
_NAME = re.compile(r"\b[A-ZÀ-ÖØ-ÞА-ЯЁ][\w'’\-]{2,}(?:\s+[A-ZÀ-ÖØ-ÞА-ЯЁ][\w'’\-]{2,})*")


def dates(text: str) -> list[tuple[str, tuple[int, int, int]]]:
    """(as written, (year, month, day)) of each date in ``text`` in the common numeric and written forms."""
    found = []
    for pattern, order in _DATES:
        for m in pattern.finditer(text):
            parts = dict(zip(order, m.groups()))
            month = _MONTHS.get(parts["mon"].casefold()) if "mon" in parts else int(parts["m"])
            year = int(parts["y"]) + (2000 if len(parts["y"]) == 2 else 0)
            day = int(parts["d"])
            if month and 1 <= month <= 12 and 1 <= day <= 31 and 1900 <= year <= 2100:
                found.append((m.group(0), (year, month, day)))
    return found


@dataclass
class _Read:
    text: str
    time: float


def match_article(article: Article | None, readings: Iterable[_Read]) -> list[OnScreenMatch]:
    """Names and dates read on screen set beside the article's text (see the module's docstring)."""
    if article is None or not article.paragraphs:
        return []
    paragraphs = [(p.index, p.text, fold(p.text)) for p in article.paragraphs]
    article_dates = {d: (shown, index) for index, text, _ in paragraphs for shown, d in dates(text)}
    out: list[OnScreenMatch] = []
    seen: set[tuple[str, str]] = set()
    for reading in readings:
        for shown, value in dates(reading.text):
            key = ("date", str(value))
            if key in seen:
                continue
            seen.add(key)
            if value in article_dates:
                text, index = article_dates[value]
                out.append(OnScreenMatch("date", "agrees", shown, reading.time, [text], index))
            elif article_dates:
                out.append(OnScreenMatch("date", "differs", shown, reading.time,
                                         sorted({t for t, _ in article_dates.values()})))
        for m in _NAME.finditer(reading.text):
            name = m.group(0)
            key = ("name", fold(name))
            if key in seen or len(name) < 4:
                continue
            seen.add(key)
            hit = next(((index, text) for index, text, folded in paragraphs
                        if re.search(rf"(?<!\w){re.escape(fold(name))}(?!\w)", folded)), None)
            if hit:
                out.append(OnScreenMatch("name", "agrees", name, reading.time, [name], hit[0]))
    return out


# --- the stage -------------------------------------------------------------------------------------------------

def read_onscreen(media: Path, keyframes: KeyframeResult, article: Article | None, languages: list[str],
                  *, width: int | None = None, height: int | None = None) -> OnScreen:
    """The on-screen text of one media item: keyframes' ``text`` filled in place, subtitles, article matches.

    A failure (no tesseract, an unreadable frame) is recorded in ``error``: on-screen text is extra
    evidence, never a reason to lose the rest."""
    result = OnScreen(languages)
    t0 = time.monotonic()
    try:
        if not languages:
            raise MediaError("no Tesseract language installed (scripts/setup.sh installs tesseract-ocr)")
        result.frames_read = read_keyframes(media, keyframes, languages)
        if width and height:
            result.cues, result.bands_read = read_subtitles(media, width, height, languages)
    except (MediaError, OSError, RuntimeError) as exc:
        result.error = str(exc)
    readings = [_Read(line.text, f.time) for f in keyframes.frames for line in f.text]
    readings += [_Read(c.text, c.start) for c in result.cues]
    result.matches = match_article(article, sorted(readings, key=lambda r: r.time))
    result.seconds = round(time.monotonic() - t0, 3)
    return result


__all__ = ["read_onscreen", "read_image", "read_keyframes", "read_subtitles", "match_article", "dates",
           "choose_languages", "installed", "write_srt", "MIN_CONFIDENCE", "MIN_CHARS", "TESSERACT"]
