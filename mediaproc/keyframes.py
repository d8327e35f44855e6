"""Keyframes: one picture per shot, with its real time, for far less than decoding every frame.

One ffmpeg process per run decodes only the frames a mode needs (by default the intra-coded ones: key frames),
scales them to ``max_width`` and streams them as raw RGB on stdout, while its ``showinfo`` filter reports
each frame's own pts (and the scene score, where known) on stderr. Frames are hashed as they arrive,
near-duplicates are dropped, survivors go straight to JPEG, so memory holds one frame at a time.

Output in ``out_dir``: ``keyframes/NNNN_<seconds>.jpg``, ``keyframes.json`` and ``contact_sheet.jpg``.
"""

from __future__ import annotations

import hashlib
import heapq
import json
import logging
import math
import os
import queue
import re
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

import ffmpeg
from PIL import Image, ImageDraw, ImageFont

from .media import MediaInfo, probe
from .utils import MediaprocError, cache_dir, clock, read_json, write_json

log = logging.getLogger(__name__)

MODES = ("keyframes", "scenes", "interval")
_MAX_KEY_GAP = 30.0      # seconds without a key frame after which the fast path may have missed shots
_HASH_SIZE = 8           # dHash of 8x8 gradients: 64 bits
_COLOUR_WEIGHT = 3       # a mean RGB step of 3/255 between the 9x8 thumbnails weighs as one hash bit
_SHEET_THUMB_WIDTH = 256
_SHEET_COLUMNS = 5


class KeyframeError(MediaprocError):
    """Invalid options, or ffmpeg decoded no video frame at all."""


@dataclass
class KeyframeOptions:
    """How to pick frames.

    ``dedup_threshold``: frames at most this far apart (in hash bits, see ``_distance``) are one shot
    (keyframes mode). ``scene_threshold``: ffmpeg's scene score, computed on the scaled RGB frames, above
    which a frame starts a new shot (scenes mode). ``min_gap``: seconds a kept frame must follow the last one.
    """

    mode: str = "keyframes"
    max_keyframes: int = 40
    min_gap: float = 1.0
    interval: float = 10.0
    quality: int = 85
    max_width: int = 640
    dedup_threshold: int = 10
    scene_threshold: float = 0.4

    def __post_init__(self) -> None:
        checks = [
            (self.mode in MODES, f"mode {self.mode!r} is not one of {', '.join(MODES)}"),
            (self.max_keyframes >= 1, f"max_keyframes must be at least 1, got {self.max_keyframes}"),
            (self.min_gap >= 0, f"min_gap must be >= 0 seconds, got {self.min_gap}"),
            (self.interval > 0, f"interval must be > 0 seconds, got {self.interval}"),
            (1 <= self.quality <= 100, f"quality must be 1..100, got {self.quality}"),
            (self.max_width >= 16, f"max_width must be at least 16 pixels, got {self.max_width}"),
            (self.dedup_threshold >= 0, f"dedup_threshold must be >= 0, got {self.dedup_threshold}"),
            (0 < self.scene_threshold < 1, f"scene_threshold must be between 0 and 1, got {self.scene_threshold}"),
        ]
        for ok, message in checks:
            if not ok:
                raise KeyframeError(message)


@dataclass
class Keyframe:
    """One kept frame. ``path`` is relative to the ``out_dir`` given to :func:`extract_keyframes`.

    ``hash`` is 16 hex digits of dHash then 6 of mean RGB; ``score`` is ffmpeg's scene score (scenes mode).
    """

    index: int
    time: float
    path: Path
    width: int
    height: int
    hash: str
    score: float | None = None


@dataclass
class KeyframeResult:
    """``mode`` is the mode actually used (the fast path may fall back); ``reason`` says why."""

    status: Literal["ok", "skipped", "partial"]
    mode: str
    frames: list[Keyframe] = field(default_factory=list)
    contact_sheet: Path | None = None
    reason: str | None = None
    error: str | None = None


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


def extract_keyframes(media: Path, out_dir: Path, options: KeyframeOptions | None = None, *,
                      info: MediaInfo | None = None, sha256: str | None = None) -> KeyframeResult:
    """Pick one frame per shot of ``media`` and write them, a contact sheet and ``keyframes.json`` to ``out_dir``.

    Audio-only media give status ``skipped``; decode errors keep the frames that decoded (status ``partial``).
    Raises :class:`~mediaproc.media.MediaError` if it is not media, :class:`KeyframeError` if no frame decodes.
    ``info`` is the caller's probe of ``media``, when it has one. With the media's ``sha256`` the result is
    cached (by bytes and options) and linked into ``out_dir``: the same clip in many articles is decoded once.
    """
    options = options or KeyframeOptions()
    media, out_dir = Path(media), Path(out_dir)
    if sha256 is None:
        return _extract(media, out_dir, options, info)
    key = json.dumps({"media": sha256, **asdict(options)}, sort_keys=True)
    cached = cache_dir() / "keyframes" / hashlib.sha256(key.encode()).hexdigest()[:32]
    if not (cached / "keyframes.json").is_file():
        result = _extract(media, out_dir, options, info)
        _link_outputs(out_dir, cached)
        return result
    _link_outputs(cached, out_dir)
    data = read_json(out_dir / "keyframes.json")
    return KeyframeResult(status=data["status"], mode=data["mode"], reason=data["reason"], error=data["error"],
                          frames=[Keyframe(**dict(f, path=Path(f["path"]))) for f in data["frames"]],
                          contact_sheet=Path(data["contact_sheet"]) if data["contact_sheet"] else None)


def _link_outputs(src: Path, dst: Path) -> None:
    """Hard-link (copy across filesystems) keyframes/, the sheet and keyframes.json; the JSON last, so a
    destination with a keyframes.json is whole. A cache entry is built aside and renamed into place."""
    def link(a: str, b: str) -> None:
        try:
            os.link(a, b)
        except OSError:
            shutil.copy2(a, b)

    dst.parent.mkdir(parents=True, exist_ok=True)
    target = Path(tempfile.mkdtemp(prefix=f".{dst.name}-", suffix=".tmp", dir=dst.parent)) \
        if not dst.exists() else dst
    (target / "keyframes.json").unlink(missing_ok=True)
    shutil.rmtree(target / "keyframes", ignore_errors=True)
    if (src / "keyframes").is_dir():
        shutil.copytree(src / "keyframes", target / "keyframes", copy_function=link)
    for name in ("contact_sheet.jpg", "keyframes.json"):
        (target / name).unlink(missing_ok=True)
        if (src / name).exists():
            link(str(src / name), str(target / name))
    if target != dst:
        try:
            target.rename(dst)
        except OSError:   # another process stored the same entry first
            shutil.rmtree(target, ignore_errors=True)


def _extract(media: Path, out_dir: Path, options: KeyframeOptions, info: MediaInfo | None) -> KeyframeResult:
    info = info or probe(media)
    out_dir.mkdir(parents=True, exist_ok=True)
    if not info.has_video:
        result = KeyframeResult(status="skipped", mode=options.mode, reason="no video stream (audio only)")
        _write_outputs(media, out_dir, options, result, staging=None)
        return result

    staging = Path(tempfile.mkdtemp(prefix=".keyframes-", suffix=".tmp", dir=out_dir))
    try:
        mode, reason = options.mode, None
        if mode == "interval" and info.duration and info.duration / options.interval > options.max_keyframes:
            interval = info.duration / options.max_keyframes
            reason = f"interval widened from {options.interval:g} s to {interval:.1f} s to stay within " \
                     f"max_keyframes={options.max_keyframes}"
        else:
            interval = options.interval
        run = _Run(media, staging, options, mode, interval)
        if mode == "keyframes" and (gap := _largest_gap(run.decoded_times, info.duration)) > _MAX_KEY_GAP:
            mode = "scenes"
            reason = f"key frames are up to {gap:.0f} s apart (more than {_MAX_KEY_GAP:g} s), " \
                     f"so shots could be missed: fell back to scene detection"
            log.info("%s: %s", media.name, reason)
            _clear(staging)
            run = _Run(media, staging, options, mode, interval)
        if not run.kept:
            raise KeyframeError(f"ffmpeg decoded no video frame from {media.name}: {run.error or 'no error given'}")
        frames = _finalise(_cap(run.kept, options.max_keyframes), staging)
        result = KeyframeResult(
            status="partial" if run.error else "ok", mode=mode, frames=frames,
            contact_sheet=Path("contact_sheet.jpg"), reason=reason, error=run.error)
        _write_outputs(media, out_dir, options, result, staging)
        return result
    finally:
        shutil.rmtree(staging, ignore_errors=True)


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
        # "nointra" rather than "nokey": encoders mark a cut near a forced key frame with a plain I-frame
        # Frame threading makes the decoder wait for frames skip_frame drops anyway; slice threading
        # does not (measured: 2.5 s instead of 3.3 s for the I-frames of 10 min of 720p).
        fast = {"skip_frame": "nointra", "thread_type": "slice"} if mode == "keyframes" else {}
        video = ffmpeg.input(os.fspath(media), **fast).video
        if mode == "scenes":  # scored on the scaled RGB frames: cheaper than at full size, and colour cuts count
            video = _scaled(video, options.max_width).filter("format", "rgb24")
            video = video.filter("select", f"eq(n,0)+gt(scene,{options.scene_threshold})")
            video = video.filter("metadata", "print", key="lavfi.scene_score")
        elif mode == "keyframes":  # select too, for decoders that ignore skip_frame (e.g. VP9)
            video = _scaled(video.filter("select", "eq(pict_type,I)"), options.max_width)
        else:
            video = video.filter("select", f"isnan(prev_selected_t)+gte(t-prev_selected_t,{interval - 1e-3})")
            video = _scaled(video, options.max_width)
        video = video.filter("showinfo")
        self._cmd = (ffmpeg.output(video, "pipe:", format="rawvideo", pix_fmt="rgb24", vsync="passthrough")
                     .global_args("-nostdin", "-nostats", "-loglevel", "level+info").compile())
        self._errors: list[str] = []
        self.error: str | None = None

    def __iter__(self) -> Iterator[tuple[_Info, Image.Image]]:
        infos: queue.Queue[_Info | None] = queue.Queue()
        proc = subprocess.Popen(self._cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        reader = threading.Thread(target=self._read_stderr, args=(proc.stderr, infos), daemon=True)
        reader.start()
        try:
            while (info := infos.get()) is not None:
                size = info.width * info.height * 3
                data = proc.stdout.read(size)
                if len(data) < size:
                    break
                yield info, Image.frombytes("RGB", (info.width, info.height), data)
        finally:
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


def _scaled(video: ffmpeg.nodes.FilterableStream, max_width: int) -> ffmpeg.nodes.FilterableStream:
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
            candidate.path.unlink()
    return [c for c, keep in zip(candidates, alive) if keep]


def _finalise(candidates: list[_Candidate], staging: Path) -> list[Keyframe]:
    """Rename the staged JPEGs to ``NNNN_<seconds>.jpg`` in time order."""
    frames = []
    for index, c in enumerate(candidates, start=1):
        name = f"{index:04d}_{c.time:.3f}.jpg"
        c.path.rename(staging / name)
        frames.append(Keyframe(index, round(c.time, 3), Path("keyframes") / name, c.width, c.height, c.hash, c.score))
    return frames


def _write_outputs(media: Path, out_dir: Path, options: KeyframeOptions, result: KeyframeResult,
                   staging: Path | None) -> None:
    """Swap the staged frames in as ``keyframes/`` (no stale frames from an earlier run), then sheet and JSON."""
    final = out_dir / "keyframes"
    shutil.rmtree(final, ignore_errors=True)
    (out_dir / "contact_sheet.jpg").unlink(missing_ok=True)
    if staging is not None:
        staging.rename(final)
        _contact_sheet(out_dir, result.frames).save(out_dir / "contact_sheet.jpg", "JPEG",
                                                                     quality=options.quality)
    write_json(out_dir / "keyframes.json", {"media": media.name, "options": options, **vars(result)})


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


def _clear(directory: Path) -> None:
    for path in directory.iterdir():
        path.unlink()
