"""Keyframes on generated videos with known cuts, on real corpus clips (tests/data/video) and broken input."""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from PIL import Image, ImageStat

from mediaproc import keyframes as kf
from mediaproc import _fs
from mediaproc._fs import read_json
from mediaproc.errors import KeyframeError, MediaError, MediaprocError, OptionsError
from mediaproc.keyframes import extract_keyframes
from mediaproc.options import KeyframeOptions
from mediaproc.schema import Keyframe, KeyframeResult

VIDEO = Path(__file__).parent / "data" / "video"


def _ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", *args], check=True)


@dataclass
class Scenes:
    path: Path
    scene_times: list[float]
    duration: float


@pytest.fixture(scope="module")
def scenes(tmp_path_factory: pytest.TempPathFactory) -> Scenes:
    """Six solid-colour scenes, H.264 with a 2-s GOP and a key frame at each cut (as real encoders place them).

    dHash sees every one of them as the same image. Two colours share the same grey level (0x808080 and
    a green of equal luma), so a grey-only hash would merge them too.
    """
    colours = ["0x1f77b4", "0xff7f0e", "0x808080", "0x3c9a3c", "0xd62728", "0x000000"]
    frames = [65, 85, 45, 110, 55, 75]  # at 25 fps: cuts at 2.6, 6.0, 7.8, 12.2, 14.4 s; 17.4 s in all
    starts = [sum(frames[:i]) / 25 for i in range(len(frames))]
    path = tmp_path_factory.mktemp("kf") / "scenes.mp4"
    inputs = [arg for c, n in zip(colours, frames)
              for arg in ("-f", "lavfi", "-i", f"color=c={c}:s=320x180:r=25,trim=end_frame={n}")]
    _ffmpeg(*inputs, "-filter_complex", "".join(f"[{i}]" for i in range(len(frames))) + f"concat=n={len(frames)}",
            "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", "-g", "50",
            "-force_key_frames", ",".join(f"{t:.2f}" for t in starts), str(path))
    return Scenes(path, starts, sum(frames) / 25)


@pytest.fixture(scope="module")
def noisy_still(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """60 s of one test card with fresh noise in every frame, a key frame every 2 s."""
    path = tmp_path_factory.mktemp("kf") / "still.mp4"
    _ffmpeg("-f", "lavfi", "-i", "smptehdbars=s=320x180:r=10:d=60,noise=alls=8:allf=t",
            "-c:v", "libx264", "-preset", "ultrafast", "-crf", "30", "-pix_fmt", "yuv420p", "-g", "20", str(path))
    return path


@pytest.fixture(scope="module")
def long_gop(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """40 s, one key frame only (no key frame at the cut at 23.3 s): the fast path cannot see the cut."""
    path = tmp_path_factory.mktemp("kf") / "long_gop.mp4"
    _ffmpeg("-f", "lavfi", "-i", "testsrc2=s=160x120:r=10:d=23.3",
            "-f", "lavfi", "-i", "color=c=navy:s=160x120:r=10:d=16.7",
            "-filter_complex", "[0][1]concat=n=2,format=yuv420p", "-c:v", "libx264", "-preset", "ultrafast",
            "-g", "1000", "-x264-params", "scenecut=0", str(path))
    return path


def _starts(result: KeyframeResult) -> list[float]:
    return [f.time for f in result.frames]


def _mean_grey(out: Path, frame: Keyframe) -> float:
    with Image.open(out / frame.path) as image:
        return ImageStat.Stat(image.convert("L")).mean[0]


@pytest.mark.parametrize("mode", ["keyframes", "scenes"])
def test_one_frame_per_scene_at_its_start(scenes: Scenes, tmp_path: Path, mode: str) -> None:
    result = extract_keyframes(scenes.path, tmp_path, KeyframeOptions(mode=mode))
    assert result.status == "ok" and result.mode == mode and result.error is None
    assert len(result.frames) == len(scenes.scene_times), (_starts(result), scenes.scene_times)
    for frame, start in zip(result.frames, scenes.scene_times):
        assert abs(frame.time - start) <= 0.5, (_starts(result), scenes.scene_times)


def test_flat_colours_share_a_dhash_but_are_kept_apart(scenes: Scenes, tmp_path: Path) -> None:
    """The trap: dHash of any flat colour is all zeros; the colour part of the hash keeps the scenes."""
    result = extract_keyframes(scenes.path, tmp_path)
    assert {f.hash[:16] for f in result.frames} == {"0" * 16}
    assert len({f.hash[16:] for f in result.frames}) == len(scenes.scene_times)


def test_interval_mode_samples_every_n_seconds(scenes: Scenes, tmp_path: Path) -> None:
    result = extract_keyframes(scenes.path, tmp_path, KeyframeOptions(mode="interval", interval=2.0))
    times = _starts(result)
    assert result.mode == "interval" and times[0] < 0.05
    assert scenes.duration - 2.0 <= times[-1] < scenes.duration
    assert all(abs((b - a) - 2.0) <= 0.041 for a, b in zip(times, times[1:])), times


def test_interval_is_widened_to_respect_max_keyframes(scenes: Scenes, tmp_path: Path) -> None:
    result = extract_keyframes(scenes.path, tmp_path, KeyframeOptions(mode="interval", interval=0.5, max_keyframes=4))
    assert len(result.frames) == 4 and "widened" in result.reason


@pytest.mark.parametrize("mode", ["keyframes", "scenes"])
def test_static_shot_with_noise_yields_one_frame(noisy_still: Path, tmp_path: Path, mode: str) -> None:
    result = extract_keyframes(noisy_still, tmp_path, KeyframeOptions(mode=mode))
    assert result.status == "ok" and len(result.frames) == 1 and result.frames[0].time < 0.05


def test_long_gop_falls_back_to_scene_detection(long_gop: Path, tmp_path: Path) -> None:
    result = extract_keyframes(long_gop, tmp_path)
    assert result.mode == "scenes" and "fell back" in result.reason
    assert [round(t) for t in _starts(result)] == [0, 23]
    assert read_json(tmp_path / "keyframes.json")["mode"] == "scenes"


def test_max_keyframes_keeps_distinct_frames_spread_over_time(scenes: Scenes, tmp_path: Path) -> None:
    result = extract_keyframes(scenes.path, tmp_path, KeyframeOptions(max_keyframes=3))
    times = _starts(result)
    assert len(times) == 3 and times == sorted(times)
    assert all(any(abs(t - s) <= 0.5 for s in scenes.scene_times) for t in times)
    assert len(list((tmp_path / "keyframes").iterdir())) == 3


def _candidate(tmp_path: Path, time: float, colour: str) -> kf._Candidate:
    """Unit-test helper: a staged candidate of one flat colour at ``time`` (in a folder mediaproc may clean)."""
    _fs.own(tmp_path)
    image = Image.new("RGB", (64, 36), colour)
    path = tmp_path / f"{time}.jpg"
    image.save(path)
    return kf._Candidate(time, None, *kf._fingerprint(image), path, 64, 36)


def test_cap_keeps_the_most_distinct_frames(tmp_path: Path) -> None:
    cands = [_candidate(tmp_path, t, c) for t, c in [(0, "#ff0000"), (5, "#f80404"), (10, "#0000ff"), (20, "#00ff00")]]
    kept = [c.time for c in kf._cap(cands, 3)]
    assert kept in ([0, 10, 20], [5, 10, 20])  # one of the two reds goes
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(f"{t}.jpg" for t in kept)


def test_cap_spreads_equally_distinct_frames_over_time(tmp_path: Path) -> None:
    greys = [(0, "#000000"), (10, "#3c3c3c"), (11, "#787878"), (20, "#b4b4b4"), (30, "#f0f0f0")]  # steps of 60
    kept = [c.time for c in kf._cap([_candidate(tmp_path, t, c) for t, c in greys], 4)]
    assert kept in ([0, 11, 20, 30], [0, 10, 20, 30])  # the crowded pair loses one


def test_outputs_layout_and_json(tmp_path: Path) -> None:
    media = VIDEO / "autocut_test001.mp4"  # 1920x1080, white until the cut at 5.09 s, then black
    out = tmp_path / "out"
    (out / "keyframes").mkdir(parents=True)
    (out / "keyframes" / "9999_stale.jpg").write_bytes(b"old run")
    result = extract_keyframes(media, out, KeyframeOptions(max_width=480, quality=70))
    assert result.status == "ok"
    data = read_json(out / "keyframes.json")
    assert data["media"] == media.name and data["status"] == "ok" and data["contact_sheet"] == "contact_sheet.jpg"
    assert sorted(p.name for p in (out / "keyframes").iterdir()) == [Path(f["path"]).name for f in data["frames"]]
    for i, (f, frame) in enumerate(zip(data["frames"], result.frames), start=1):
        assert f["index"] == i and f["time"] == frame.time and re.fullmatch(r"[0-9a-f]{22}", f["hash"])
        assert f["path"] == f"keyframes/{i:04d}_{frame.time:.3f}.jpg"
        with Image.open(out / f["path"]) as image:
            assert image.size == (f["width"], f["height"]) == (480, 270)
    with Image.open(out / "contact_sheet.jpg") as sheet:
        assert sheet.width == 2 * 256 and sheet.height >= 144


@pytest.mark.parametrize("mode", ["keyframes", "scenes"])
def test_autocut_white_to_black_cut_is_found(tmp_path: Path, mode: str) -> None:
    result = extract_keyframes(VIDEO / "autocut_test001.mp4", tmp_path, KeyframeOptions(mode=mode))
    assert len(result.frames) == 2
    white, black = result.frames
    assert white.time < 0.05 and 5.09 - 0.05 <= black.time <= 5.09 + 0.5
    assert _mean_grey(tmp_path, white) > 200 and _mean_grey(tmp_path, black) < 50


def test_scenes_mode_matches_ffmpeg_python_countdown_cuts(tmp_path: Path) -> None:
    manifest_cuts = [0.83, 1.67, 2.50, 3.47, 4.34, 5.17, 6.01]  # ffmpeg scene score > 0.4 (corpus MANIFEST.md)
    options = KeyframeOptions(mode="scenes", scene_threshold=0.4, min_gap=0.5)
    times = _starts(extract_keyframes(VIDEO / "ffmpeg-python_in1.mp4", tmp_path, options))
    assert len(times) == 1 + len(manifest_cuts) and times[0] < 0.05
    assert all(abs(t - cut) <= 0.5 for t, cut in zip(times[1:], manifest_cuts)), times


def test_min_gap_thins_fast_cuts(tmp_path: Path) -> None:
    times = _starts(extract_keyframes(VIDEO / "ffmpeg-python_in1.mp4", tmp_path, KeyframeOptions(mode="scenes")))
    assert len(times) >= 4 and all(b - a >= 1.0 for a, b in zip(times, times[1:])), times


def test_webm_without_container_duration_still_gives_frames(tmp_path: Path) -> None:
    result = extract_keyframes(VIDEO / "moviepy_no_duration.webm", tmp_path)
    assert result.status == "ok" and len(result.frames) >= 1 and result.frames[0].width == 640


def test_video_without_audio(tmp_path: Path) -> None:
    result = extract_keyframes(VIDEO / "moviepy_example_video_only.mp4", tmp_path)
    assert result.status == "ok" and len(result.frames) == 1 and (tmp_path / "contact_sheet.jpg").is_file()


def test_audio_only_is_skipped_without_error(media, tmp_path: Path) -> None:
    result = extract_keyframes(media.audio.path, tmp_path)
    assert (result.status, result.frames, result.error) == ("skipped", [], None)
    assert "no video" in result.reason
    assert read_json(tmp_path / "keyframes.json")["status"] == "skipped"
    assert not (tmp_path / "contact_sheet.jpg").exists()


def test_truncated_mp4_keeps_the_frames_that_decode(media, tmp_path: Path) -> None:
    result = extract_keyframes(media.truncated, tmp_path, KeyframeOptions(mode="scenes"))
    assert result.status == "partial" and "ffmpeg could not decode" in result.error
    assert 1 <= len(result.frames) < len(media.narrated.scene_times)
    assert all((tmp_path / f.path).is_file() for f in result.frames)
    assert read_json(tmp_path / "keyframes.json")["error"] == result.error


def test_not_media_is_a_one_line_error(media, tmp_path: Path) -> None:
    with pytest.raises(MediaError) as info:
        extract_keyframes(media.html_as_mp4, tmp_path)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("bad", [{"mode": "shots"}, {"max_keyframes": 0}, {"interval": 0}, {"quality": 0}])
def test_invalid_options_are_rejected(bad: dict) -> None:
    with pytest.raises(OptionsError) as info:
        KeyframeOptions(**bad)
    assert isinstance(info.value, MediaprocError) and next(iter(bad)) in str(info.value)
