"""The download stage against the loopback fault server, with real yt-dlp and real ffmpeg."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dataclasses import replace

from mediaproc._fs import sha256_file
from mediaproc._layout import Cache
from mediaproc.downloads import download, download_all
from mediaproc.errors import DownloadError, MediaprocError, RefusedError
from mediaproc.options import DownloadOptions
from mediaproc.schema import DownloadResult
from mediaproc.testing import synth
from mediaproc.testing.server import FileServer

REPO = Path(__file__).resolve().parents[1]


def _ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", *args], check=True)


@pytest.fixture(scope="session")
def www(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """clip.mp4 (3 s H.264 + 440 Hz AAC, moov at the end), a copy, broken variants and an HLS rendition."""
    root = tmp_path_factory.mktemp("www")
    clip = root / "clip.mp4"
    _ffmpeg("-f", "lavfi", "-i", "testsrc2=s=320x240:r=25:d=3", "-f", "lavfi", "-i", "sine=frequency=440:duration=3",
            "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", str(clip))
    (root / "mirror").mkdir()
    (root / "mirror" / "same.mp4").write_bytes(clip.read_bytes())
    _ffmpeg("-i", str(clip), "-c", "copy", "-movflags", "+faststart", str(root / "faststart.mp4"))
    synth.truncated(clip, root / "cut.mp4", 0.5)                       # moov atom lost
    synth.truncated(root / "faststart.mp4", root / "cut-faststart.mp4", 0.5)  # probes fine, ends early
    synth.html_as_media(root / "error-page.mp4")
    synth.hls(clip, root / "hls", segment_seconds=1)
    return root


@pytest.fixture
def srv(www: Path):
    with FileServer(www) as server:
        yield server


class Downloads:
    """Download options and a cache of the test's own, changed as a test needs."""

    def __init__(self, root: Path) -> None:
        self.cache_dir = root
        self.cache = Cache.at(root)
        self.options = DownloadOptions(timeout=2.0, retries=2)

    def set(self, **changes: object) -> None:
        self.options = replace(self.options, **changes)


@pytest.fixture
def opts(tmp_path: Path) -> Downloads:
    return Downloads(tmp_path / "cache")


def _get(o: Downloads, url: str, **kw: object) -> DownloadResult:
    return download(url, o.options, cache=o.cache, **kw)


def _cache_files(o: Downloads, sub: str) -> list[Path]:
    root = o.cache_dir / "media" / sub
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def _nothing_cached(o: Downloads) -> bool:
    return not (_cache_files(o, "blobs") or _cache_files(o, "urls") or _cache_files(o, "partial"))


def _one_line(exc: BaseException) -> str:
    text = str(exc)
    assert "\n" not in text and "Traceback" not in text
    return text


def test_direct_file_is_validated_cached_and_fetched_once(srv, www, opts):
    url = srv.url("clip.mp4")
    first = _get(opts, url)
    assert first.sha256 == sha256_file(www / "clip.mp4")
    assert first.size == (www / "clip.mp4").stat().st_size
    assert first.info.has_video and first.info.has_audio and not first.from_cache
    assert first.content_type == "video/mp4"
    assert first.path.is_relative_to(opts.cache_dir) and first.path.read_bytes() == (www / "clip.mp4").read_bytes()

    again = _get(opts, url)                       # a second article linking the same video
    assert again.from_cache and again.path == first.path and again.info.duration == first.info.duration
    assert srv.full_gets("clip.mp4") == 1
    assert len(srv.log("clip.mp4", "GET")) == 1


def test_404_fails_with_one_clear_line(srv, opts):
    with pytest.raises(DownloadError) as err:
        _get(opts, srv.url("missing.mp4"))
    assert "404" in _one_line(err.value)
    assert _nothing_cached(opts)


def test_500_twice_then_success(srv, www, opts):
    srv.fault("clip.mp4", "status", code=500, times=2)
    result = _get(opts, srv.url("clip.mp4"))
    assert result.sha256 == sha256_file(www / "clip.mp4")
    assert [r.status for r in srv.log("clip.mp4")].count(500) == 2


def test_dropped_connection_resumes_with_range(srv, www, opts):
    size = (www / "clip.mp4").stat().st_size
    srv.fault("clip.mp4", "drop", at=0.4)
    result = _get(opts, srv.url("clip.mp4"))
    assert result.sha256 == sha256_file(www / "clip.mp4")
    gets = srv.log("clip.mp4", "GET")
    assert gets[0].bytes_sent < size and gets[0].status == 200
    resumed = gets[-1]
    assert resumed.status == 206 and 0 < resumed.range_start <= int(size * 0.4)
    assert sum(r.bytes_sent for r in gets) < size * 1.2        # not fetched again from byte 0


def test_dropped_connection_resumes_on_next_run(srv, www, opts):
    opts.set(retries=0)
    srv.fault("clip.mp4", "drop", at=0.4)
    with pytest.raises(DownloadError) as err:
        _get(opts, srv.url("clip.mp4"))
    _one_line(err.value)
    assert [p.name for p in _cache_files(opts, "partial")] == ["media.mp4.part"]
    assert not _cache_files(opts, "blobs")                   # a partial file is never "complete"
    result = _get(opts, srv.url("clip.mp4"))
    assert result.sha256 == sha256_file(www / "clip.mp4")
    assert srv.log("clip.mp4", "GET")[-1].range_start > 0
    assert not _cache_files(opts, "partial")


def test_html_served_as_video_is_rejected(srv, opts):
    with pytest.raises(DownloadError) as err:
        _get(opts, srv.url("error-page.mp4"))
    msg = _one_line(err.value)
    assert "video/mp4" in msg and "looks like HTML" in msg and "not a media file" in msg and "140 bytes" in msg
    assert _nothing_cached(opts)


def test_wrong_content_type_alone_does_not_reject_real_media(srv, www, opts):
    srv.fault("clip.mp4", "content_type", type="text/html")
    result = _get(opts, srv.url("clip.mp4"))
    assert result.sha256 == sha256_file(www / "clip.mp4") and result.content_type == "text/html"


@pytest.mark.parametrize("name", ["cut.mp4", "cut-faststart.mp4"])
def test_truncated_mp4_is_rejected(srv, opts, name):
    with pytest.raises(DownloadError) as err:
        _get(opts, srv.url(name))
    msg = _one_line(err.value)
    assert "rejected" in msg and "video/mp4" in msg
    assert _nothing_cached(opts)


def test_redirect_chain_is_followed(srv, www, opts):
    srv.fault("old/a.mp4", "redirect", to="old/b.mp4", code=301)
    srv.fault("old/b.mp4", "redirect", to="clip.mp4")
    assert _get(opts, srv.url("old/a.mp4")).sha256 == sha256_file(www / "clip.mp4")


def test_redirect_loop_fails_clearly(srv, opts):
    srv.fault("a.mp4", "redirect", to="b.mp4")
    srv.fault("b.mp4", "redirect", to="a.mp4")
    with pytest.raises(DownloadError) as err:
        _get(opts, srv.url("a.mp4"))
    assert "redirect loop" in _one_line(err.value)
    assert len(srv.requests) <= 40


def test_stalled_server_times_out(srv, opts):
    opts.set(timeout=1.0, retries=1)
    srv.fault("clip.mp4", "stall", seconds=60, at=0.3)
    started = time.monotonic()
    with pytest.raises(DownloadError) as err:
        _get(opts, srv.url("clip.mp4"))
    assert "timed out" in _one_line(err.value)
    assert time.monotonic() - started < 30                   # gave up long before the server woke up


def test_hls_segments_are_merged_into_one_playable_file(srv, www, opts):
    result = _get(opts, srv.url("hls/index.m3u8"))
    assert result.info.has_video and result.info.has_audio
    assert result.info.duration == pytest.approx(3.0, abs=0.5)
    assert result.path.suffix == ".mp4"
    segments = [r for r in srv.requests if r.path.endswith(".ts")]
    assert len({r.path for r in segments}) == len(list((www / "hls").glob("*.ts")))


def test_max_filesize_checked_before_download(srv, opts):
    opts.set(max_filesize=10_000)
    with pytest.raises(DownloadError) as err:
        _get(opts, srv.url("clip.mp4"))
    assert "max_filesize" in _one_line(err.value) and "before" in str(err.value)
    assert srv.log("clip.mp4", "GET") == []


def test_max_filesize_checked_while_downloading(srv, www, opts):
    opts.set(max_filesize=50_000)
    srv.fault("clip.mp4", "no_length")                       # the size is unknown until the bytes arrive
    with pytest.raises(DownloadError) as err:
        _get(opts, srv.url("clip.mp4"))
    assert "max_filesize" in _one_line(err.value)
    assert _nothing_cached(opts)


def test_same_url_from_two_articles_is_fetched_once(srv, opts):
    url = srv.url("clip.mp4")
    opts.set(jobs=2)
    a, b = download_all([url, url], opts.options, cache=opts.cache)                    # concurrently, under the per-URL lock
    assert isinstance(a, DownloadResult) and isinstance(b, DownloadResult)
    assert a.path == b.path and {a.from_cache, b.from_cache} == {False, True}
    assert srv.full_gets("clip.mp4") == 1


def test_same_bytes_under_two_urls_are_stored_once(srv, opts):
    a = _get(opts, srv.url("clip.mp4"))
    b = _get(opts, srv.url("mirror/same.mp4"))
    assert a.path == b.path and a.sha256 == b.sha256
    assert len(_cache_files(opts, "blobs")) == 1 and len(_cache_files(opts, "urls")) == 2
    assert a.name != b.name                                   # each link keeps its own readable name


def test_refresh_and_no_cache(srv, opts):
    url = srv.url("clip.mp4")
    _get(opts, url)
    opts.cache = Cache.at(opts.cache_dir, read=False)            # --refresh
    assert not _get(opts, url).from_cache
    opts.cache = Cache.at(opts.cache_dir, read=False, write=False)   # --no-cache
    uncached = _get(opts, url)
    assert not uncached.from_cache and not uncached.path.is_relative_to(opts.cache_dir)
    assert uncached.cleanup is not None and uncached.path.is_relative_to(uncached.cleanup)
    assert srv.full_gets("clip.mp4") == 3


def test_server_supplied_names_are_sanitised(srv, www, opts, tmp_path):
    evil = "../../etc/passwd\n\x1b[31m" + "x" * 300 + ".mp4"
    srv.add(evil, (www / "clip.mp4").read_bytes())
    result = _get(opts, srv.url("%2e%2e%2F%2e%2e%2Fetc%2Fpasswd%0A%1B%5B31m" + "x" * 300 + ".mp4"))
    assert result.name.endswith(".mp4") and len(result.name) <= 62
    assert "/" not in result.name and ".." not in result.name and result.name.isprintable()
    copied = _get(opts, result.url, into=tmp_path / "article")
    assert copied.path.parent == tmp_path / "article" and copied.path.name == result.name
    assert not copied.path.samefile(result.path)                  # a copy: editing it leaves the cache alone
    assert copied.path.read_bytes() == result.path.read_bytes()


def test_download_all_keeps_order_and_isolates_failures(srv, opts):
    urls = [srv.url("clip.mp4"), srv.url("missing.mp4"), srv.url("error-page.mp4"), "ftp://example.org/a.mp4"]
    results = download_all(urls, opts.options, cache=opts.cache)
    assert [type(r) for r in results] == [DownloadResult, DownloadError, DownloadError, RefusedError]
    assert results[0].url == urls[0]
    for failure, url in zip(results[1:], urls[1:]):
        assert _one_line(failure).startswith(url)


def test_fallback_url_is_tried_after_a_failure(srv, www, opts):
    result = _get(opts, srv.url("missing.mp4"), fallbacks=[srv.url("mirror/same.mp4")])
    assert result.url.endswith("mirror/same.mp4") and result.sha256 == sha256_file(www / "clip.mp4")


def test_local_paths_are_probed_in_place(www, opts):
    for ref in (str(www / "clip.mp4"), (www / "clip.mp4").as_uri()):
        result = _get(opts, ref)
        assert result.path == www / "clip.mp4" and result.sha256 == sha256_file(www / "clip.mp4")
    with pytest.raises(DownloadError) as err:
        _get(opts, str(www / "error-page.mp4"))
    assert "ffprobe" in _one_line(err.value)
    assert _nothing_cached(opts)


_KILLED_CHILD = """
import sys
from mediaproc._layout import Cache
from mediaproc.downloads import download
from mediaproc.options import DownloadOptions
download(sys.argv[1], DownloadOptions(timeout=10, retries=0), cache=Cache.at(sys.argv[2]))
"""


def test_sigkilled_download_resumes_without_refetching(srv, www, opts):
    size = (www / "clip.mp4").stat().st_size
    srv.fault("clip.mp4", "trickle", rate=20_000)             # ~6 s for the whole file
    url = srv.url("clip.mp4")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    child = subprocess.Popen([sys.executable, "-c", _KILLED_CHILD, url, str(opts.cache_dir)], env=env)
    had = 0
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and had < size // 4:
            parts = _cache_files(opts, "partial")
            had = parts[0].stat().st_size if parts else 0
            time.sleep(0.05)
        assert had >= size // 4, "the child never got going"
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    srv.clear_faults()
    result = _get(opts, url)
    assert result.sha256 == sha256_file(www / "clip.mp4")
    resumed = srv.log("clip.mp4", "GET")[-1]
    assert resumed.status == 206 and resumed.range_start >= had
    assert resumed.bytes_sent == size - resumed.range_start
