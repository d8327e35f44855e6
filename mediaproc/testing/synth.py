"""Generate media with known content: espeak-ng speech, ffmpeg lavfi scenes.

Every generated file comes with its ground truth (sentence times, scene-change
times), so tests and the demo can check real outputs against known facts.
"""

from __future__ import annotations

import array
import shutil
import subprocess
import tempfile
import wave
from dataclasses import dataclass, field
from pathlib import Path

RATE = 22050  # espeak-ng's native rate
_COLOURS = ["0x1f77b4", "0xff7f0e", "0x2ca02c", "0xd62728", "0x9467bd",
            "0x8c564b", "0xe377c2", "0x7f7f7f", "0xbcbd22", "0x17becf"]


@dataclass
class SpokenSentence:
    text: str
    start: float   # first audible sample
    end: float     # last audible sample


@dataclass
class Narrated:
    path: Path
    duration: float
    sentences: list[SpokenSentence] = field(default_factory=list)
    scene_times: list[float] = field(default_factory=list)


def _require(tool: str) -> str:
    exe = shutil.which(tool)
    if exe is None:
        raise RuntimeError(f"{tool} is not installed (scripts/setup.sh installs it)")
    return exe


def _ffmpeg(*args: str) -> None:
    subprocess.run([_require("ffmpeg"), "-nostdin", "-hide_banner", "-loglevel", "error", "-y", *args],
                   check=True)


def _speech_samples(text: str, voice: str, wpm: int) -> array.array:
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "s.wav"
        subprocess.run([_require("espeak-ng"), "-v", voice, "-s", str(wpm), "-w", str(wav), text],
                       check=True, capture_output=True)
        with wave.open(str(wav)) as w:
            assert w.getframerate() == RATE and w.getsampwidth() == 2 and w.getnchannels() == 1
            samples = array.array("h", w.readframes(w.getnframes()))
    return samples


def _audible_span(samples: array.array, threshold: int = 500) -> tuple[int, int]:
    loud = [i for i in range(0, len(samples), 50) if abs(samples[i]) > threshold]
    return (loud[0], loud[-1]) if loud else (0, len(samples))


def _write_wav(path: Path, samples: array.array) -> None:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(samples.tobytes())


def speak(text: str, wav: str | Path, *, voice: str = "en-us", wpm: int = 160) -> float:
    """Write ``text`` spoken by espeak-ng to ``wav``; return its duration in seconds."""
    samples = _speech_samples(text, voice, wpm)
    _write_wav(Path(wav), samples)
    return len(samples) / RATE


def _narration(sentences: list[str], pause: float, voice: str, wpm: int,
               tail: float = 0.5) -> tuple[array.array, list[SpokenSentence], list[float]]:
    """One block per sentence: ``pause`` of silence, then the speech. Blocks start the scenes."""
    audio = array.array("h")
    spoken, blocks = [], []
    gap = array.array("h", bytes(2 * int(pause * RATE)))
    for text in sentences:
        blocks.append(len(audio) / RATE)
        audio.extend(gap)
        samples = _speech_samples(text, voice, wpm)
        first, last = _audible_span(samples)
        spoken.append(SpokenSentence(text, (len(audio) + first) / RATE, (len(audio) + last) / RATE))
        audio.extend(samples)
    audio.extend(array.array("h", bytes(2 * int(tail * RATE))))
    return audio, spoken, blocks


def narrated_video(path: str | Path, sentences: list[str], *, size: str = "640x360", fps: int = 25,
                   gop_seconds: float = 2.0, pause: float = 0.5, voice: str = "en-us",
                   wpm: int = 160) -> Narrated:
    """An H.264/AAC MP4: one solid-colour scene per sentence, the cut where its block starts."""
    path = Path(path)
    audio, spoken, blocks = _narration(sentences, pause, voice, wpm)
    duration = len(audio) / RATE
    # Cuts on whole frames, so the reported scene times are exactly where the frames change.
    cut_frames = [round(t * fps) for t in blocks] + [round(duration * fps)]
    scene_times = [f / fps for f in cut_frames[:-1]]
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "narration.wav"
        _write_wav(wav, audio)
        inputs: list[str] = []
        chains: list[str] = []
        for i, (first, end) in enumerate(zip(cut_frames, cut_frames[1:])):
            inputs += ["-f", "lavfi", "-i", f"color=c={_COLOURS[i % len(_COLOURS)]}:s={size}:r={fps}"]
            chains.append(f"[{i}:v]trim=end_frame={end - first},setpts=PTS-STARTPTS[v{i}]")
        n = len(blocks)
        graph = ";".join(chains) + ";" + "".join(f"[v{i}]" for i in range(n)) + f"concat=n={n}:v=1:a=0[v]"
        _ffmpeg(*inputs, "-i", str(wav), "-filter_complex", graph, "-map", "[v]", "-map", f"{n}:a",
                "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p",
                "-g", str(int(fps * gop_seconds)), "-force_key_frames", ",".join(f"{t:.4f}" for t in scene_times),
                "-c:a", "aac", "-b:a", "96k", "-shortest", "-movflags", "+faststart", str(path))
    return Narrated(path, duration, spoken, scene_times)


def audio_only(path: str | Path, sentences: list[str], *, pause: float = 0.5, voice: str = "en-us",
               wpm: int = 160) -> Narrated:
    """Narration alone, encoded by the file's extension (.wav, .mp3, .m4a, .ogg ...)."""
    path = Path(path)
    audio, spoken, _ = _narration(sentences, pause, voice, wpm)
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "narration.wav"
        _write_wav(wav, audio)
        if path.suffix.lower() == ".wav":
            shutil.copyfile(wav, path)
        else:
            _ffmpeg("-i", str(wav), str(path))
    return Narrated(path, len(audio) / RATE, spoken, [])


def static_video(path: str | Path, seconds: float, *, size: str = "640x360", fps: int = 25,
                 gop_seconds: float = 2.0) -> Path:
    """One unchanging shot (a test card) with a silent audio track."""
    _ffmpeg("-f", "lavfi", "-i", f"smptehdbars=s={size}:r={fps}:d={seconds}",
            "-f", "lavfi", "-i", f"anullsrc=r=44100:cl=mono:d={seconds}",
            "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", "-g", str(int(fps * gop_seconds)),
            "-c:a", "aac", "-shortest", str(path))
    return Path(path)


def silent_video(path: str | Path, seconds: float = 3.0, *, size: str = "320x240", fps: int = 25) -> Path:
    """A video with no audio stream at all."""
    _ffmpeg("-f", "lavfi", "-i", f"testsrc2=s={size}:r={fps}:d={seconds}",
            "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", str(path))
    return Path(path)


def webm(src: str | Path, dst: str | Path) -> Path:
    """Re-encode to VP9/Opus WebM."""
    _ffmpeg("-i", str(src), "-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8",
            "-b:v", "300k", "-c:a", "libopus", str(dst))
    return Path(dst)


def hls(src: str | Path, out_dir: str | Path, *, segment_seconds: int = 2) -> Path:
    """An HLS VOD rendition of ``src`` (stream copy); returns the playlist path."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    playlist = out / "index.m3u8"
    _ffmpeg("-i", str(src), "-c", "copy", "-f", "hls", "-hls_time", str(segment_seconds),
            "-hls_playlist_type", "vod", "-hls_segment_filename", str(out / "seg%03d.ts"), str(playlist))
    return playlist


def truncated(src: str | Path, dst: str | Path, fraction: float = 0.5) -> Path:
    """The first ``fraction`` of the bytes of ``src``: what an interrupted transfer leaves."""
    data = Path(src).read_bytes()
    Path(dst).write_bytes(data[: int(len(data) * fraction)])
    return Path(dst)


def html_as_media(dst: str | Path) -> Path:
    """An HTML error page saved under a media name, as servers hand them out."""
    Path(dst).write_text("<!doctype html><html><head><title>404 Not Found</title></head>"
                         "<body><h1>Not Found</h1><p>The video you requested is gone.</p></body></html>\n")
    return Path(dst)
