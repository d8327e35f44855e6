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


def scenes_video(path: str | Path, scenes: list[str], *, seconds: float = 3.0, size: str = "640x360",
                 fps: int = 25, bitrate: str = "800k") -> Path:
    """Textured shots one after another (lavfi sources such as ``testsrc2``, ``mandelbrot``, ``smptebars``,
    ``cellauto``), each ``seconds`` long, with a silent audio track: footage for perceptual hashing, where a
    flat colour would be no shot at all. The same scene at another ``size`` and ``bitrate`` is a re-encode."""
    inputs: list[str] = []
    for scene in scenes:
        inputs += ["-f", "lavfi", "-i", f"{scene}=s={size}:r={fps}"]
    n = len(scenes)
    total = n * seconds
    graph = "".join(f"[{i}:v]trim=duration={seconds},setpts=PTS-STARTPTS,setsar=1,format=yuv420p[v{i}];"
                    for i in range(n)) + \
        "".join(f"[v{i}]" for i in range(n)) + f"concat=n={n}:v=1:a=0[v]"
    _ffmpeg(*inputs, "-f", "lavfi", "-i", f"anullsrc=r=44100:cl=mono:d={total}", "-filter_complex", graph,
            "-map", "[v]", "-map", f"{n}:a", "-c:v", "libx264", "-preset", "veryfast", "-b:v", bitrate,
            "-force_key_frames", ",".join(f"{i * seconds:.3f}" for i in range(n)), "-c:a", "aac", "-shortest",
            "-movflags", "+faststart", str(path))
    return Path(path)


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


FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"          # fonts-dejavu-core (scripts/setup.sh)
ARABIC_FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"      # Debian's ara model misreads the bold


def _text_frame(path: Path, background: tuple[int, int, int], texts: list[tuple[str, tuple[int, int], int]],
                *, box: tuple[int, int, int, int] | None = None, font: str = FONT) -> Path:
    """A 1280x720 still: a striped background (a shot, not a flat card), an optional caption box, white text."""
    from PIL import Image, ImageDraw, ImageFont

    image = Image.new("RGB", (1280, 720), background)
    draw = ImageDraw.Draw(image)
    for x in range(0, 1280, 80):
        draw.line([(x, 0), (x + 300, 720)], fill=tuple(min(255, c + 25) for c in background), width=18)
    if box:
        draw.rectangle(box, fill=(20, 30, 60))
    for text, xy, size in texts:
        draw.text(xy, text, font=ImageFont.truetype(font, size), fill=(255, 255, 255))
    image.save(path)
    return path


NEWS_SUBTITLES = ["The convoy reached the border", "at dawn on Tuesday", "Aid trucks waited for hours",
                  "before the crossing opened"]


def news_clip(root: str | Path) -> Path:
    """22 s of 1280x720 H.264 with on-screen text at known times: a lower third "Ahmed Hassan / Idlib,
    Syria" (0-3 s), the date 12.03.2024 (3-6), the Arabic line "مدينة حلب" (6-9), the four
    :data:`NEWS_SUBTITLES` burned in over one shot (9-19, 2.5 s each), a shot without text (19-22)."""
    root = Path(root)
    lower = [("Ahmed Hassan", (60, 560), 54), ("Idlib, Syria", (60, 630), 40)]
    scenes = [(_text_frame(root / "a.png", (40, 120, 40), lower, box=(40, 545, 700, 690)), 3.0),
              (_text_frame(root / "b.png", (160, 40, 40), [("12.03.2024", (80, 80), 72)]), 3.0),
              (_text_frame(root / "c.png", (40, 60, 160), [("مدينة حلب", (420, 300), 90)], font=ARABIC_FONT), 3.0)]
    for i, line in enumerate(NEWS_SUBTITLES):
        scenes.append((_text_frame(root / f"s{i}.png", (40, 40, 40), [(line, (200, 610), 48)]), 2.5))
    scenes.append((_text_frame(root / "e.png", (150, 110, 160), []), 3.0))
    args: list[str] = []
    graph = ""
    for i, (png, seconds) in enumerate(scenes):
        args += ["-loop", "1", "-framerate", "25", "-t", str(seconds), "-i", str(png)]
        graph += f"[{i}:v]format=yuv420p,setsar=1[v{i}];"
    n = len(scenes)
    graph += "".join(f"[v{i}]" for i in range(n)) + f"concat=n={n}:v=1:a=0[v]"
    clip = root / "news.mp4"
    _ffmpeg(*args, "-filter_complex", graph, "-map", "[v]", "-c:v", "libx264", "-preset", "veryfast", "-crf", "20",
            str(clip))
    return clip
