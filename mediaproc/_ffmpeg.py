"""Every ffmpeg and ffprobe call mediaproc makes, built with ffmpeg-python and hardened the same way.

The bytes mediaproc hands to ffmpeg come from pages written by strangers. ffmpeg would
happily treat a file named ``x.mp4`` that holds an HLS playlist or a concat script as
instructions to open other files (``/home/...``) or URLs. So every input here is opened
with ``-protocol_whitelist file`` (nothing but the file itself, no network, no nested
protocols) and ``-format_whitelist`` of plain container demuxers (no hls, dash, concat,
image sequences, tee, lavfi, ...). A playlist can then only come in through the HLS
download path, whose segments are fetched over http(s) under the network policy.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any

import ffmpeg

from .errors import MediaError
from .schema import MediaInfo

SAMPLE_RATE = 16_000

# Demuxers that read one self-contained file. Anything else (playlists, scripts, image sequences,
# devices, network protocols) is refused by ffmpeg itself with "Format not on whitelist".
PLAIN_DEMUXERS = ("mov,mp4,m4a,3gp,3g2,mj2,matroska,webm,mp3,aac,ac3,eac3,dts,flac,ogg,wav,w64,aiff,caf,amr,"
                  "mpegts,mpeg,flv,live_flv,avi,asf,mxf,ivf,nut,rm,wv,ape,tta,mpc,mpc8,au,loas,m4v,h264,hevc,"
                  "mpegvideo,dv,wtv,xwma,opus")
SAFE_INPUT: dict[str, str] = {"protocol_whitelist": "file", "format_whitelist": PLAIN_DEMUXERS}
_QUIET = ("-nostdin", "-hide_banner", "-loglevel", "error")


def _input(path: str | os.PathLike[str], **kwargs: Any) -> ffmpeg.nodes.FilterableStream:
    """An ffmpeg-python input node for a local file, with the safety options above."""
    return ffmpeg.input(os.fspath(path), **SAFE_INPUT, **kwargs)


def _last_line(stderr: bytes | str | None) -> str:
    text = stderr.decode("utf-8", "replace") if isinstance(stderr, bytes) else (stderr or "")
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    return re.sub(r"^\[[^]]*\]\s*", "", lines[-1]) if lines else "no output"


def _float(value: object) -> float | None:
    try:
        f = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return f if f > 0 else None


def probe(path: str | os.PathLike[str]) -> MediaInfo:
    """What ``path`` holds; raise :class:`MediaError` naming what ffprobe said if it is not plain media."""
    path = os.fspath(path)
    try:
        data = ffmpeg.probe(path, **SAFE_INPUT)
    except ffmpeg.Error as exc:
        said = _last_line(exc.stderr)
        if b"not on whitelist" in (exc.stderr or b""):
            said = "it is not a plain media file (a playlist or script format, refused)"
        raise MediaError(f"ffprobe could not read it: {said.replace(path + ': ', '')}") from None
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
        path=path, format_name=fmt.get("format_name", ""), duration=duration, size=os.path.getsize(path),
        has_video=video is not None, has_audio=audio is not None,
        video_codec=video.get("codec_name") if video else None,
        audio_codec=audio.get("codec_name") if audio else None,
        width=video.get("width") if video else None, height=video.get("height") if video else None)


def decode_audio(path: str | os.PathLike[str], start: float = 0.0, seconds: float | None = None) -> Any:
    """16 kHz mono float32 samples (a numpy array) of ``path`` from ``start`` for ``seconds`` (None: to the end)."""
    import numpy as np

    args: dict[str, Any] = {"ss": start} if start else {}
    if seconds is not None:
        args["t"] = seconds
    try:
        out, _ = (_input(path, **args)
                  .output("pipe:", format="f32le", acodec="pcm_f32le", ac=1, ar=SAMPLE_RATE, vn=None)
                  .global_args(*_QUIET).run(capture_stdout=True, capture_stderr=True))
    except ffmpeg.Error as exc:
        raise MediaError(f"ffmpeg could not decode the audio of {Path(path).name}: {_last_line(exc.stderr)}") \
            from None
    return np.frombuffer(out, np.float32).copy()  # writable, as torch wants it


def grab_frame(path: str | os.PathLike[str], time: float) -> Any:
    """The frame shown at ``time`` seconds, at the video's full resolution, as a greyscale PIL image."""
    import io

    from PIL import Image

    try:
        out, _ = (_input(path, ss=max(0.0, time))
                  .output("pipe:", vframes=1, format="image2pipe", vcodec="png", pix_fmt="gray")
                  .global_args(*_QUIET).run(capture_stdout=True, capture_stderr=True))
    except ffmpeg.Error as exc:
        raise MediaError(f"ffmpeg could not read the frame at {time:.2f} s of {Path(path).name}: "
                         f"{_last_line(exc.stderr)}") from None
    if not out:
        raise MediaError(f"no frame at {time:.2f} s of {Path(path).name}")
    return Image.open(io.BytesIO(out)).copy()


def bottom_bands(path: str | os.PathLike[str], width: int, height: int, *, every: float = 1.0,
                 share: float = 0.3) -> Iterator[tuple[float, bytes, int, int]]:
    """(time, greyscale pixels, band width, band height) of the bottom ``share`` of the picture, one frame
    every ``every`` seconds: where burned-in subtitles sit."""
    band_h = max(2, int(height * share) // 2 * 2)
    process = (_input(path)
               .filter("fps", fps=1 / every).filter("crop", width, band_h, 0, height - band_h)
               .output("pipe:", format="rawvideo", pix_fmt="gray")
               .global_args(*_QUIET).run_async(pipe_stdout=True, pipe_stderr=True))
    size = width * band_h
    n = 0
    try:
        while True:
            data = process.stdout.read(size)
            if len(data) < size:
                break
            yield n * every, data, width, band_h
            n += 1
    finally:
        process.stdout.close()
        process.kill()
        process.wait()
        process.stderr.close()


def tail_problem(path: str | os.PathLike[str], duration: float | None, timeout: float = 120) -> str | None:
    """Decode the last second: a file cut short probes fine but fails here ("partial file")."""
    args = {"sseof": -1} if duration and duration > 1.0 else {}
    proc = (_input(path, **args).output("-", format="null")
            .global_args("-nostdin", "-v", "error").run_async(pipe_stdout=True, pipe_stderr=True))
    try:
        _, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        return f"decoding the last second took over {timeout:g} s"
    lines = [ln.strip() for ln in err.decode("utf-8", "replace").splitlines() if ln.strip()]
    bad = [ln for ln in lines if "partial file" in ln or "Invalid data" in ln or "truncat" in ln.lower()]
    if proc.returncode != 0 or bad:
        return re.sub(r"^\[[^]]*\]\s*", "", (bad or lines or [f"exit status {proc.returncode}"])[0])
    return None


@contextmanager
def frames_process(path: str | os.PathLike[str], build: Any, *, fast_intra: bool) -> Iterator[subprocess.Popen]:
    """Run ffmpeg streaming raw RGB frames on stdout and its log (``level+info``, for showinfo) on stderr.

    ``build`` turns the input's video stream into the filtered stream to emit; ``fast_intra`` decodes
    only intra-coded frames (``-skip_frame nointra`` with slice threading).
    """
    fast = {"skip_frame": "nointra", "thread_type": "slice"} if fast_intra else {}
    video = build(_input(path, **fast).video)
    proc = (ffmpeg.output(video, "pipe:", format="rawvideo", pix_fmt="rgb24", vsync="passthrough")
            .global_args("-nostdin", "-nostats", "-loglevel", "level+info")
            .run_async(pipe_stdout=True, pipe_stderr=True))
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.stdout.close()
        proc.wait()


def remux_to_mp4(src: str | os.PathLike[str], dest: str | os.PathLike[str], *, input_format: str) -> None:
    """Copy the streams of ``src`` (read as ``input_format`` only) into an MP4 container at ``dest``."""
    try:
        (ffmpeg.input(os.fspath(src), format=input_format, **SAFE_INPUT)
         .output(os.fspath(dest), c="copy", format="mp4", movflags="+faststart")
         .global_args(*_QUIET).overwrite_output().run(capture_stdout=True, capture_stderr=True))
    except ffmpeg.Error as exc:
        raise MediaError(f"ffmpeg could not remux {Path(src).name}: {_last_line(exc.stderr)}") from None


@cache
def version() -> str:
    """ffmpeg's version, for the manifest."""
    try:
        first = subprocess.run(["ffmpeg", "-version"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.TimeoutExpired):
        return "?"
    parts = first.splitlines()[0].split(" ") if first else []
    return parts[2] if len(parts) > 2 else "?"


@cache
def shim_dir(root: str | os.PathLike[str]) -> Path:
    """A directory with ``ffmpeg`` and ``ffprobe`` wrappers that add the safety options to every input.

    yt-dlp runs ffmpeg itself (merging formats, fixing HLS output) on bytes it downloaded; handing it this
    directory as ``ffmpeg_location`` makes those runs as safe as ours. Written once per process (the
    cache makes concurrent callers wait for the first), each script by an atomic rename.
    """
    directory = Path(root) / "bin"
    directory.mkdir(parents=True, exist_ok=True)
    for tool in ("ffmpeg", "ffprobe"):
        script = f"#!/bin/sh\nexec '{sys.executable}' -m mediaproc._ffmpeg {tool} \"$@\"\n"
        path = directory / tool
        if not path.is_file() or path.read_text() != script:
            fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{tool}.", suffix=".tmp")
            with os.fdopen(fd, "w") as f:
                f.write(script)
            os.chmod(tmp, 0o755)
            os.replace(tmp, path)
    return directory


def _shim(tool: str, args: list[str]) -> None:
    """Run the real ``tool`` with the safety options in front of every input (``ffmpeg -i``, ffprobe's one)."""
    safe = [item for k, v in SAFE_INPUT.items() for item in (f"-{k}", v)]
    if tool == "ffmpeg":
        argv = [a for arg in args for a in ([*safe, arg] if arg == "-i" else [arg])]
    else:
        argv = args if args[:1] in (["-version"], ["-h"], ["-help"]) else [*safe, *args]
    os.execvp(tool, [tool, *argv])


def sniff(path: str | os.PathLike[str]) -> str | None:
    """What the first bytes look like when they are not media: ``html``, ``hls``, ``json``, ``xml`` or None."""
    with open(path, "rb") as f:
        head = f.read(512).lstrip().lower()
    if head.startswith((b"<!doctype html", b"<html", b"<head", b"<body")) or b"<html" in head:
        return "html"
    if head.startswith(b"#extm3u"):
        return "hls"
    if head.startswith((b"{", b"[")):
        return "json"
    if head.startswith(b"<?xml") or head.startswith(b"<mpd"):
        return "xml"
    if head.startswith(b"ffconcat") or head.startswith(b"file "):
        return "concat"
    return None


__all__ = ["SAMPLE_RATE", "PLAIN_DEMUXERS", "SAFE_INPUT", "probe", "decode_audio", "tail_problem",
           "frames_process", "remux_to_mp4", "version", "sniff", "shim_dir"]

if __name__ == "__main__":   # the shim: python -m mediaproc._ffmpeg ffmpeg|ffprobe ARGS...
    _shim(sys.argv[1], sys.argv[2:])
