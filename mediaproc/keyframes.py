"""Keyframes: one picture per shot, with its real time, for far less than decoding every frame.

One ffmpeg process per run decodes only the frames a mode needs (by default the intra-coded ones: key frames),
scales them to ``max_width`` and streams them as raw RGB on stdout, while its ``showinfo`` filter reports
each frame's own pts (and the scene score, where known) on stderr. Frames are hashed as they arrive,
near-duplicates are dropped, survivors go straight to JPEG, so memory holds one frame at a time.

Output in ``out_dir``: ``keyframes/NNNN_<seconds>.jpg``, ``keyframes.json`` and ``contact_sheet.jpg``.
"""

from __future__ import annotations

import heapq
import logging
import math
import queue
import re
import threading
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw, ImageFont

from . import _ffmpeg, _fs
from ._layout import Cache, claim
from .errors import KeyframeError
from .options import KeyframeOptions
from .schema import Keyframe, KeyframeResult, MediaInfo, load
from ._text import clock

log = logging.getLogger(__name__)

_MAX_KEY_GAP = 30.0      # seconds without a key frame after which the fast path may have missed shots
_HASH_SIZE = 8           # dHash of 8x8 gradients: 64 bits
_COLOUR_WEIGHT = 3       # a mean RGB step of 3/255 between the 9x8 thumbnails weighs as one hash bit
_SHEET_THUMB_WIDTH = 256
_SHEET_COLUMNS = 5


@dataclass
class _Candidate:
    time: float
    score: float | None
    dhash: int
    thumb: bytes  # 9x8 RGB: the colour signature
    path: Path
    width: int
    height: int

    @property
    def hash(self) -> str:
        mean = (round(sum(self.thumb[c::3]) / (len(self.thumb) / 3)) for c in range(3))
        return f"{self.dhash:016x}" + "".join(f"{c:02x}" for c in mean)


@dataclass
class _Info:
    time: float
    width: int
    height: int
    score: float | None


def extract_keyframes(media: str | Path, out_dir: str | Path, options: KeyframeOptions | None = None, *,
                      info: MediaInfo | None = None, sha256: str | None = None,
                      cache: Cache | None = None) -> KeyframeResult:
    """Pick one frame per shot of ``media`` and write them, a contact sheet and ``keyframes.json`` to ``out_dir``.

    Audio-only media give status ``skipped``; decode errors keep the frames that decoded (status ``partial``).
    Raises :class:`~mediaproc.errors.MediaError` if it is not media, :class:`KeyframeError` if no frame
    decodes. ``info`` is the caller's probe of ``media``, when it has one. With the media's ``sha256`` and a
    ``cache``, the result is cached by bytes and options and copied into ``out_dir`` (each frame verified
    against its sha256 first): the same clip in many articles is decoded once.
    """
    options = options or KeyframeOptions()
    media, out_dir = Path(media), claim(out_dir)
    if sha256 is None or cache is None:
        return _extract(media, out_dir, options, info)
    entry = cache.keyframes_entry(sha256, options)
    if cache.read and (hit := _reuse(entry, out_dir)) is not None:
        return hit
    result = _extract(media, out_dir, options, info)
    if cache.write:
        _store(out_dir, result, entry)
    return result


_OWN_NAME = re.compile(r"keyframes/\d{4}_\d+\.\d{3}\.jpg|contact_sheet\.jpg")


def _files(result: KeyframeResult) -> list[tuple[Path, str | None]]:
    """The files of a result with their sha256: frames, then the contact sheet. Only names of mediaproc's own
    layout: a cache entry edited to name ``../../somewhere`` is damaged, not followed."""
    files = [(f.path, f.sha256) for f in result.frames]
    files += [(result.contact_sheet, result.contact_sheet_sha256)] if result.contact_sheet else []
    for rel, _ in files:
        if not _OWN_NAME.fullmatch(rel.as_posix()):
            raise _fs.CopyMismatch(f"{rel} is not a keyframe file name")
    return files


def _reuse(entry: Path, out_dir: Path) -> KeyframeResult | None:
    """The cached result copied into ``out_dir``, or None when there is none or any file of it is damaged
    or missing (then it is redone and the entry replaced)."""
    try:
        result = load(KeyframeResult, _fs.read_json(entry / "keyframes.json"))
    except (OSError, ValueError):
        return None
    staging = _fs.temp_dir("keyframes", out_dir)
    try:
        for rel, digest in _files(result):
            if digest is None or (entry / rel).is_symlink():
                raise _fs.CopyMismatch(f"{rel} has no recorded sha256, or is a link")
            _fs.copy_verified(entry / rel, staging / rel, digest)
        _swap_in(staging, out_dir, result)
    except (_fs.CopyMismatch, OSError) as exc:
        log.warning("cached keyframes %s are damaged (%s); extracting them again", entry.name, exc)
        return None
    finally:
        _fs.remove_temp_dir(staging)
    result.cached = True
    return result


def _store(out_dir: Path, result: KeyframeResult, entry: Path) -> None:
    """Copy the fresh outputs into the cache entry (built aside, renamed into place)."""
    entry.parent.mkdir(parents=True, exist_ok=True)
    staging = _fs.temp_dir("keyframes-entry", entry.parent)
    try:
        for rel, digest in _files(result):
            _fs.copy_verified(out_dir / rel, staging / rel, digest)
        _fs.write_json(staging / "keyframes.json", result)
        if entry.exists():
            _fs.remove(entry)
        staging.rename(entry)
    except (OSError, _fs.CopyMismatch) as exc:      # a full cache disk costs the reuse, not the result
        log.warning("could not cache keyframes: %s", exc)
    finally:
        if staging.exists():
            _fs.remove_temp_dir(staging)


def _extract(media: Path, out_dir: Path, options: KeyframeOptions, info: MediaInfo | None) -> KeyframeResult:
    info = info or _ffmpeg.probe(media)
    staging = _fs.temp_dir("keyframes", out_dir)
    try:
        if not info.has_video:
            result = KeyframeResult(status="skipped", mode=options.mode, reason="no video stream (audio only)")
        else:
            result = _pick(media, info, staging / "keyframes", options)
            sheet = staging / "contact_sheet.jpg"
            _contact_sheet(staging, result.frames).save(sheet, "JPEG", quality=options.quality)
            result.contact_sheet, result.contact_sheet_sha256 = Path("contact_sheet.jpg"), _fs.sha256_file(sheet)
        result.media, result.options = media.name, asdict(options)
        _swap_in(staging, out_dir, result)
        return result
    finally:
        _fs.remove_temp_dir(staging)


def _pick(media: Path, info: MediaInfo, frames_dir: Path, options: KeyframeOptions) -> KeyframeResult:
    """Decode, deduplicate and cap the frames into ``frames_dir`` as ``NNNN_<seconds>.jpg``."""
    frames_dir.mkdir()
    mode, reason = options.mode, None
    if mode == "interval" and info.duration and info.duration / options.interval > options.max_keyframes:
        interval = info.duration / options.max_keyframes
        reason = f"interval widened from {options.interval:g} s to {interval:.1f} s to stay within " \
                 f"max_keyframes={options.max_keyframes}"
    else:
        interval = options.interval
    run = _Run(media, frames_dir, options, mode, interval)
    if mode == "keyframes" and (gap := _largest_gap(run.decoded_times, info.duration)) > _MAX_KEY_GAP:
        mode = "scenes"
        reason = f"key frames are up to {gap:.0f} s apart (more than {_MAX_KEY_GAP:g} s), " \
                 f"so shots could be missed: fell back to scene detection"
        log.info("%s: %s", media.name, reason)
        for candidate in run.kept:
            _fs.remove(candidate.path)
        run = _Run(media, frames_dir, options, mode, interval)
    if not run.kept:
        raise KeyframeError(f"ffmpeg decoded no video frame from {media.name}: {run.error or 'no error given'}")
    frames = _finalise(_cap(run.kept, options.max_keyframes), frames_dir)
    return KeyframeResult(status="partial" if run.error else "ok", mode=mode, frames=frames, reason=reason,
                          error=run.error)


def write_keyframes(result: KeyframeResult, out_dir: Path) -> Path:
    """``keyframes.json`` again, after a later stage added to the frames (their on-screen text)."""
    return _fs.write_json(Path(out_dir) / "keyframes.json", result)


def _swap_in(staging: Path, out_dir: Path, result: KeyframeResult) -> None:
    """Replace ``out_dir``'s keyframes/, sheet and JSON with the staged ones; the JSON last, so a folder with
    a keyframes.json is whole (and no stale frame of an earlier run survives)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for name in ("keyframes.json", "keyframes", "contact_sheet.jpg"):
        if (out_dir / name).exists():
            _fs.remove(out_dir / name)
    for name in ("keyframes", "contact_sheet.jpg"):
        if (staging / name).exists():
            (staging / name).rename(out_dir / name)
    write_keyframes(result, out_dir)


def _distance(a: _Candidate, b: _Candidate) -> float:
    """Differing dHash bits plus the mean RGB difference of the 9x8 thumbnails over ``_COLOUR_WEIGHT``.

    dHash alone sees two flat colours as identical (no gradients), and any hue shift too: hence the colour term.
    """
    colour = sum(abs(x - y) for x, y in zip(a.thumb, b.thumb)) / len(a.thumb)
    return (a.dhash ^ b.dhash).bit_count() + colour / _COLOUR_WEIGHT


class _Run:
    """One ffmpeg pass: decodes the frames ``mode`` selects and keeps the candidates as staged JPEGs."""

    def __init__(self, media: Path, staging: Path, options: KeyframeOptions, mode: str, interval: float):
        self.kept: list[_Candidate] = []
        self.decoded_times: list[float] = []
        self.error: str | None = None
        self._options = options
        stream = _FrameStream(media, mode, options, interval)
        for info, image in stream:
            self.decoded_times.append(info.time)
            self._offer(info, image, staging, dedup=mode == "keyframes")
        self.error = stream.error

    def _offer(self, info: _Info, image: Image.Image, staging: Path, dedup: bool) -> None:
        candidate = _Candidate(info.time, info.score, *_fingerprint(image),
                               staging / f"cand_{len(self.decoded_times):07d}.jpg", info.width, info.height)
        if self.kept:
            last = self.kept[-1]
            if candidate.time - last.time < self._options.min_gap:
                return
            if dedup and _distance(candidate, last) <= self._options.dedup_threshold:
                return
        image.save(candidate.path, "JPEG", quality=self._options.quality)
        self.kept.append(candidate)


class _FrameStream:
    """Iterate (info, RGB image) over the frames one ffmpeg process emits; ``error`` is set once exhausted."""

    _SHOWINFO = re.compile(r"Parsed_showinfo.*\bn:\s*\d+\s+pts:\s*-?\d+\s+pts_time:(\S+).*?\bs:(\d+)x(\d+)")
    _SCORE = re.compile(r"lavfi\.scene_score=([\d.]+)")
    _ERROR = re.compile(r"\[(?:error|fatal|panic)\] (.*)")

    def __init__(self, media: Path, mode: str, options: KeyframeOptions, interval: float):
        self._media, self._mode, self._options, self._interval = media, mode, options, interval
        self._errors: list[str] = []
        self.error: str | None = None

    def _build(self, video: Any) -> Any:
        options, interval = self._options, self._interval
        if self._mode == "scenes":  # scored on the scaled RGB frames: cheaper than at full size; colour cuts count
            video = _scaled(video, options.max_width).filter("format", "rgb24")
            video = video.filter("select", f"eq(n,0)+gt(scene,{options.scene_threshold})")
            video = video.filter("metadata", "print", key="lavfi.scene_score")
        elif self._mode == "keyframes":  # select too, for decoders that ignore skip_frame (e.g. VP9)
            video = _scaled(video.filter("select", "eq(pict_type,I)"), options.max_width)
        else:
            video = video.filter("select", f"isnan(prev_selected_t)+gte(t-prev_selected_t,{interval - 1e-3})")
            video = _scaled(video, options.max_width)
        return video.filter("showinfo")

    def __iter__(self) -> Iterator[tuple[_Info, Image.Image]]:
        # "nointra" rather than "nokey": encoders mark a cut near a forced key frame with a plain I-frame.
        # Frame threading makes the decoder wait for frames skip_frame drops anyway; slice threading
        # does not (measured: 2.5 s instead of 3.3 s for the I-frames of 10 min of 720p).
        infos: queue.Queue[_Info | None] = queue.Queue()
        with _ffmpeg.frames_process(self._media, self._build, fast_intra=self._mode == "keyframes") as proc:
            reader = threading.Thread(target=self._read_stderr, args=(proc.stderr, infos), daemon=True)
            reader.start()
            while (info := infos.get()) is not None:
                size = info.width * info.height * 3
                data = proc.stdout.read(size)
                if len(data) < size:
                    break
                yield info, Image.frombytes("RGB", (info.width, info.height), data)
            proc.stdout.close()
            returncode = proc.wait()
            reader.join()
        if returncode and not self._errors:
            self._errors.append(f"ffmpeg exited with status {returncode}")
        if self._errors:
            more = f" (and {len(self._errors) - 1} more)" if len(self._errors) > 1 else ""
            self.error = f"ffmpeg could not decode all of it: {self._errors[0]}{more}"

    def _read_stderr(self, stderr, infos: queue.Queue[_Info | None]) -> None:
        score = None
        for raw in stderr:
            line = raw.decode("utf-8", "replace").rstrip()
            if m := self._SHOWINFO.search(line):
                infos.put(_Info(float(m[1]), int(m[2]), int(m[3]), score))
                score = None
            elif m := self._SCORE.search(line):
                score = round(float(m[1]), 4)
            elif m := self._ERROR.search(line):
                self._errors.append(m[1])
        infos.put(None)


def _scaled(video: Any, max_width: int) -> Any:
    """At most ``max_width`` wide, square pixels (anamorphic video keeps its display shape), even height."""
    return video.filter("scale", w=f"min({max_width},iw*sar)", h="trunc(ow*ih/(iw*sar)/2)*2").filter("setsar", 1)


def _fingerprint(image: Image.Image) -> tuple[int, bytes]:
    """dHash (is each cell brighter than its right neighbour?) and the 9x8 RGB thumbnail it is made from."""
    small = image.resize((_HASH_SIZE + 1, _HASH_SIZE), Image.Resampling.BOX)
    grey = small.convert("L").tobytes()
    bits, width = 0, _HASH_SIZE + 1
    for row in range(0, len(grey), width):
        for left, right in zip(grey[row:row + _HASH_SIZE], grey[row + 1:row + width]):
            bits = (bits << 1) | (left > right)
    return bits, small.tobytes()


def _largest_gap(times: list[float], duration: float | None) -> float:
    edges = [0.0, *times, *([duration] if duration else [])]
    return max((b - a for a, b in zip(edges, edges[1:])), default=0.0)


def _cap(candidates: list[_Candidate], limit: int) -> list[_Candidate]:
    """Keep ``limit`` frames by dropping, again and again, the one most like a neighbour in time.

    Ties go to the one closest in time to that neighbour, so the survivors spread over the video.
    """
    n = len(candidates)
    if n <= limit:
        return candidates
    prev, nxt = list(range(-1, n - 1)), [*range(1, n), -1]
    alive, version = [True] * n, [0] * n

    def key(i: int) -> tuple[float, float]:
        return min((_distance(candidates[i], candidates[j]), abs(candidates[i].time - candidates[j].time))
                   for j in (prev[i], nxt[i]) if j >= 0)

    heap = [(key(i), i, 0) for i in range(n)]
    heapq.heapify(heap)
    while n > limit:
        _, i, v = heapq.heappop(heap)
        if not alive[i] or v != version[i]:
            continue
        alive[i], n = False, n - 1
        p, q = prev[i], nxt[i]
        if p >= 0:
            nxt[p] = q
        if q >= 0:
            prev[q] = p
        for j in (p, q):
            if j >= 0:
                version[j] += 1
                heapq.heappush(heap, (key(j), j, version[j]))
    for candidate, keep in zip(candidates, alive):
        if not keep:
            _fs.remove(candidate.path)
    return [c for c, keep in zip(candidates, alive) if keep]


def _finalise(candidates: list[_Candidate], staging: Path) -> list[Keyframe]:
    """Rename the staged JPEGs to ``NNNN_<seconds>.jpg`` in time order."""
    frames = []
    for index, c in enumerate(candidates, start=1):
        name = f"{index:04d}_{c.time:.3f}.jpg"
        c.path.rename(staging / name)
        frames.append(Keyframe(index, round(c.time, 3), Path("keyframes") / name, c.width, c.height, c.hash, c.score,
                               _fs.sha256_file(staging / name), _phash(staging / name)))
    return frames


_FLAT = 6.0     # grey-level standard deviation below which a frame is a blank (black, a colour card): no shot


def _phash(path: Path) -> str | None:
    """The frame's 64-bit perceptual hash (DCT, imagehash.phash) as 16 hex digits, to find the same shot
    re-encoded, resized or re-uploaded elsewhere in the archive; None for a blank frame, which every
    video shares."""
    import imagehash
    from PIL import ImageStat

    with Image.open(path) as image:
        grey = image.convert("L")
        if ImageStat.Stat(grey).stddev[0] < _FLAT:
            return None
        return str(imagehash.phash(grey))


def _contact_sheet(out_dir: Path, frames: list[Keyframe]) -> Image.Image:
    """A grid of thumbnails, each labelled with its time."""
    height = max(round(_SHEET_THUMB_WIDTH * f.height / f.width) for f in frames)
    columns = min(_SHEET_COLUMNS, len(frames))
    sheet = Image.new("RGB", (columns * _SHEET_THUMB_WIDTH, math.ceil(len(frames) / columns) * height), "black")
    draw = ImageDraw.Draw(sheet)
    font = ImageFont.load_default(size=18)
    for i, frame in enumerate(frames):
        x, y = (i % columns) * _SHEET_THUMB_WIDTH, (i // columns) * height
        with Image.open(out_dir / frame.path) as image:
            image.thumbnail((_SHEET_THUMB_WIDTH, height))
            sheet.paste(image, (x, y))
        label = clock(frame.time, 1)
        left, top, right, bottom = draw.textbbox((x + 6, y + height - 26), label, font=font)
        draw.rectangle((left - 4, top - 3, right + 4, bottom + 3), fill="black")
        draw.text((x + 6, y + height - 26), label, fill="white", font=font)
    return sheet
