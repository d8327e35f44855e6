"""What a media file holds, according to ffprobe: the one fact every stage needs."""

from __future__ import annotations

import os
from dataclasses import dataclass

import ffmpeg

from .utils import MediaprocError


class MediaError(MediaprocError):
    """ffprobe found no playable audio or video stream."""


@dataclass
class MediaInfo:
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


def _float(value: object) -> float | None:
    try:
        f = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return f if f > 0 else None


def probe(path: str | os.PathLike[str]) -> MediaInfo:
    """Probe ``path``; raise :class:`MediaError` naming what ffprobe said if it is not media."""
    path = os.fspath(path)
    try:
        data = ffmpeg.probe(path)
    except ffmpeg.Error as exc:
        lines = (exc.stderr or b"").decode("utf-8", "replace").strip().splitlines()
        raise MediaError(f"ffprobe could not read it: {lines[-1] if lines else 'no output'}") from None
    streams = data.get("streams", [])
    video = next((s for s in streams if s.get("codec_type") == "video"
                  and not s.get("disposition", {}).get("attached_pic")), None)
    audio = next((s for s in streams if s.get("codec_type") == "audio"), None)
    fmt = data.get("format", {})
    if video is None and audio is None:
        raise MediaError(f"ffprobe found no audio or video stream (format {fmt.get('format_name', '?')})")
    duration = _float(fmt.get("duration")) or max(
        (_float(s.get("duration")) or 0.0 for s in streams), default=0.0) or None
    return MediaInfo(
        path=path,
        format_name=fmt.get("format_name", ""),
        duration=duration,
        size=os.path.getsize(path),
        has_video=video is not None,
        has_audio=audio is not None,
        video_codec=video.get("codec_name") if video else None,
        audio_codec=audio.get("codec_name") if audio else None,
        width=video.get("width") if video else None,
        height=video.get("height") if video else None,
    )
