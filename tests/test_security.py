"""Hostile input: what a page, a playlist, a redirect, a damaged cache or a careless command line may NOT do.

Every case runs on real parts: hostile pages and playlists on a loopback server, real ffmpeg, real files in
temporary folders that must survive, and a sentinel service on another loopback port that must see no
request. A page served from 127.0.0.2 stands in for a public site (``MEDIAPROC_TESTING_PUBLIC_ADDRESSES``,
a test-only setting); links from it to 127.0.0.1 are links from the internet into this machine.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mediaproc import _fs, _net
from mediaproc._layout import Cache
from mediaproc.downloads import download
from mediaproc.errors import DownloadError, RefusedError, UnsafePathError
from mediaproc.options import CacheOptions, DownloadOptions, RunOptions, SecurityOptions
from mediaproc.pipeline import process
from mediaproc.schema import Origin
from mediaproc.testing import synth
from mediaproc.testing.server import FileServer

PUBLIC_HOST = "127.0.0.2"
ENV = {**os.environ, _net._TEST_PUBLIC_ENV: PUBLIC_HOST}


def mediaproc(*args: str, timeout: float = 600, env: dict | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mediaproc", *args], capture_output=True, text=True,
                          timeout=timeout, env=env or ENV)


def _one_line(text: str) -> str:
    assert "Traceback" not in text, text
    return text


@pytest.fixture
def public(monkeypatch):
    """This test's process treats 127.0.0.2 as a public address (subprocesses get ENV)."""
    monkeypatch.setenv(_net._TEST_PUBLIC_ENV, PUBLIC_HOST)


@pytest.fixture
def sentinel():
    """A service on the machine's own loopback that no hostile page may reach: it must log no request."""
    with FileServer() as srv:
        srv.add("secret.mp4", b"internal service")
        srv.add("admin", b"internal admin page")
        yield srv


@pytest.fixture
def evidence(tmp_path: Path, media) -> Path:
    """A user's folder of their own material: a clip and a note that must survive everything."""
    folder = tmp_path / "evidence"
    folder.mkdir()
    shutil.copy(media.narrated.path, folder / "clip.mp4")
    (folder / "notes.txt").write_text("irreplaceable\n")
    return folder


def _intact(folder: Path) -> None:
    assert sorted(p.name for p in folder.iterdir()) == ["clip.mp4", "notes.txt"]
    assert (folder / "notes.txt").read_text() == "irreplaceable\n"


# --- 1. mediaproc deletes only what it made ---------------------------------------------------------------

def test_the_removal_guard_refuses_everything_outside_owned_folders(tmp_path: Path) -> None:
    outside = tmp_path / "users-folder"
    outside.mkdir()
    (outside / "keep.txt").write_text("x")
    with pytest.raises(UnsafePathError, match="not inside a directory mediaproc made"):
        _fs.remove(outside)
    with pytest.raises(UnsafePathError):
        _fs.remove(outside / "keep.txt")
    owned = _fs.own(tmp_path / "owned")
    owned.mkdir()
    with pytest.raises(UnsafePathError):             # the owned folder itself is not "inside" it
        _fs.remove(owned)
    (owned / "link").symlink_to(outside, target_is_directory=True)
    _fs.remove(owned / "link")                        # a link inside is removed as a link ...
    assert (outside / "keep.txt").read_text() == "x"  # ... never followed out
    with pytest.raises(UnsafePathError):              # nor may "inside" be reached through ".."
        _fs.remove(owned / ".." / "users-folder")
    with pytest.raises(UnsafePathError, match="not a mediaproc temporary directory"):
        _fs.remove_temp_dir(outside)
    temp = _fs.temp_dir("t", tmp_path)
    (temp / "a").write_text("a")
    _fs.remove_temp_dir(temp)
    assert not temp.exists() and outside.exists()


def test_no_cache_run_on_a_local_clip_leaves_its_folder_alone(evidence: Path, tmp_path: Path) -> None:
    proc = mediaproc("-q", "run", "--no-cache", str(evidence / "clip.mp4"), "-o", str(tmp_path / "out"))
    assert proc.returncode == 0, proc.stderr
    _intact(evidence)
    (art,) = [p for p in (tmp_path / "out").iterdir() if p.is_dir()]
    (copy,) = (art / "media").rglob("*.mp4")
    assert copy.read_bytes() == (evidence / "clip.mp4").read_bytes()
    assert copy.stat().st_ino != (evidence / "clip.mp4").stat().st_ino    # a copy, not a link to the original


def test_no_cache_run_on_a_page_linking_a_local_folder_leaves_it_alone(public, sentinel, evidence, tmp_path) -> None:
    with FileServer(host=PUBLIC_HOST) as site:
        site.add("page.html", _page(f'<video src="{(evidence / "clip.mp4").as_uri()}"></video>'))
        proc = mediaproc("run", "--no-cache", site.url("page.html"), "-o", str(tmp_path / "out"))
    assert proc.returncode == 1
    assert "refused" in _one_line(proc.stderr) and "local files" in proc.stderr
    _intact(evidence)


# --- 2. a remote page cannot make mediaproc read local files ---------------------------------------------

def _page(body: str, head: str = "") -> str:
    return (f"<html><head><title>Report</title>{head}</head><body><article><h1>Report</h1>"
            "<p>The council met on Tuesday to discuss the new bridge and what it will cost the town.</p>"
            f"{body}</article></body></html>")


@pytest.mark.parametrize("markup", [
    '<video src="{uri}"></video>',
    '<video controls><source src="{uri}" type="video/mp4"></video>',
    '',                                                            # og:video in the head
])
def test_file_links_in_a_network_page_are_refused_without_reading(public, evidence, tmp_path, markup) -> None:
    uri = (evidence / "clip.mp4").as_uri()
    head = f'<meta property="og:video" content="{uri}">' if not markup else ""
    with FileServer(host=PUBLIC_HOST) as site:
        site.add("page.html", _page(markup.format(uri=uri), head))
        manifest = process(site.url("page.html"), RunOptions(out=tmp_path / "out"))
    (item,) = manifest.items
    assert item.status == "failed" and "refused" in item.error and "--allow-local-files" in item.error
    assert item.sha256 is None and not list((tmp_path / "out").rglob("*.mp4"))     # nothing read or copied
    _intact(evidence)


def test_a_refusal_says_nothing_about_whether_the_file_exists(public, tmp_path) -> None:
    errors = []
    with FileServer(host=PUBLIC_HOST) as site:
        for name, target in (("a.html", "file:///etc/passwd"), ("b.html", "file:///nonexistent/secret.mp4")):
            site.add(name, _page(f'<video src="{target}"></video>'))
            (item,) = process(site.url(name), RunOptions(out=tmp_path / name)).items
            errors.append(item.error.replace(target, "URL"))
    assert errors[0] == errors[1] and "bytes" not in errors[0] and "no such" not in errors[0]


def test_a_saved_article_may_use_local_media_only_in_its_own_folder(media, tmp_path: Path) -> None:
    site = tmp_path / "saved"
    (site / "clips").mkdir(parents=True)
    shutil.copy(media.narrated.path, site / "clips" / "own.mp4")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    shutil.copy(media.narrated.path, elsewhere / "other.mp4")
    (site / "sneaky.mp4").symlink_to(elsewhere / "other.mp4")      # inside by name, outside in fact
    page = site / "page.html"
    page.write_text(_page('<video src="clips/own.mp4"></video><video src="../elsewhere/other.mp4"></video>'
                          '<video src="sneaky.mp4"></video>'))
    manifest = process(str(page), RunOptions(out=tmp_path / "out"))
    status = {Path(i.url).name: (i.status, i.error or "") for i in manifest.items}
    assert status["own.mp4"][0] == "ok"
    for name in ("other.mp4", "sneaky.mp4"):
        assert status[name][0] == "failed" and "only use local media inside its own folder" in status[name][1]
    allowed = process(str(page), RunOptions(out=tmp_path / "out2", security=SecurityOptions(allow_local_files=True)))
    assert all(i.status == "ok" for i in allowed.items)


def test_a_media_link_redirecting_to_file_fails_that_item_only(public, evidence, media, tmp_path) -> None:
    with FileServer(media.root, host=PUBLIC_HOST) as site:
        site.fault("moved.mp4", "redirect", to=(evidence / "clip.mp4").as_uri())
        site.add("page.html", _page(f'<video src="{site.url("moved.mp4")}"></video>'
                                    f'<video src="{site.url("report.mp4")}"></video>'))
        manifest = process(site.url("page.html"), RunOptions(out=tmp_path / "out"))
    status = {Path(i.url).name: i for i in manifest.items}
    assert status["moved.mp4"].status == "failed" and "\n" not in status["moved.mp4"].error
    assert status["report.mp4"].status == "ok" and manifest.status == "partial", status["report.mp4"].error
    assert (tmp_path / "out" / manifest.article_id / "report.html").is_file()
    _intact(evidence)


# --- 3. a playlist in disguise cannot make ffmpeg read local files ---------------------------------------

def _secret_media(tmp_path: Path, media) -> Path:
    secret = tmp_path / "private"
    secret.mkdir()
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-i", str(media.narrated.path), "-c", "copy",
                    "-f", "mpegts", str(secret / "seg.ts")], check=True)
    shutil.copy(media.narrated.path, secret / "talk.mp4")
    return secret


def test_a_playlist_served_as_mp4_is_refused_and_reads_nothing_local(public, media, tmp_path) -> None:
    secret = _secret_media(tmp_path, media)
    playlist = (f"#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:5,\n{secret}/seg.ts\n#EXTINF:5,\n"
                f"file://{secret}/talk.mp4\n#EXT-X-ENDLIST\n")
    with FileServer(host=PUBLIC_HOST) as site:
        site.add("x.mp4", playlist, "video/mp4")
        site.add("page.html", _page(f'<video src="{site.url("x.mp4")}"></video>'))
        manifest = process(site.url("page.html"), RunOptions(out=tmp_path / "out"))
    (item,) = manifest.items
    assert item.status == "failed" and "HLS playlist" in item.error and "not a media file" in item.error
    assert "transcribe" not in item.stages and not list((tmp_path / "out").rglob("transcript.*"))


def test_an_hls_link_whose_segments_are_local_files_is_refused(public, media, tmp_path) -> None:
    secret = _secret_media(tmp_path, media)
    with FileServer(host=PUBLIC_HOST) as site:
        site.add("live.m3u8", f"#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:5,\nfile://{secret}/seg.ts\n"
                              "#EXT-X-ENDLIST\n")
        with pytest.raises(DownloadError):
            download(site.url("live.m3u8"), DownloadOptions(timeout=2, retries=0), cache=Cache.at(tmp_path / "c"),
                     allowed=frozenset({"public"}))


def test_ffmpeg_refuses_playlists_and_scripts_where_plain_media_is_expected(media, tmp_path: Path) -> None:
    """Both our own calls and the shim yt-dlp's ffmpeg runs go through: a playlist named .mp4 opens nothing."""
    from mediaproc import _ffmpeg
    from mediaproc.errors import MediaError

    fake = tmp_path / "fake.mp4"
    fake.write_text(f"#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:5,\n{media.narrated.path}\n#EXT-X-ENDLIST\n")
    concat = tmp_path / "list.mp4"
    concat.write_text(f"ffconcat version 1.0\nfile '{media.narrated.path}'\n")
    for path in (fake, concat):
        with pytest.raises(MediaError, match="not a plain media file"):
            _ffmpeg.probe(path)
    shim = _ffmpeg.shim_dir(tmp_path / "cache")
    probe = subprocess.run([str(shim / "ffprobe"), "-v", "error", "-show_format", str(fake)],
                           capture_output=True, text=True)
    assert probe.returncode != 0 and "not on whitelist" in probe.stderr
    convert = subprocess.run([str(shim / "ffmpeg"), "-nostdin", "-v", "error", "-i", f"file:{fake}", "-c", "copy",
                              str(tmp_path / "out.mp4")], capture_output=True, text=True)
    assert convert.returncode != 0 and not (tmp_path / "out.mp4").exists()
    ok = subprocess.run([str(shim / "ffprobe"), "-v", "error", "-show_format", str(media.narrated.path)],
                        capture_output=True, text=True)
    assert ok.returncode == 0 and "format_name=mov" in ok.stdout          # plain media still works


# --- 4. no requests to internal services -----------------------------------------------------------------

@pytest.mark.parametrize("address, expected", [
    ("8.8.8.8", "public"), ("127.0.0.1", "loopback"), ("::1", "loopback"), ("0.0.0.0", "loopback"),
    ("10.1.2.3", "private"), ("192.168.0.9", "private"), ("172.16.5.5", "private"), ("fc00::1", "private"),
    ("100.64.0.1", "private"), ("169.254.169.254", "link-local"), ("fe80::1", "link-local"),
    ("::ffff:127.0.0.1", "loopback"), ("::ffff:10.0.0.1", "private"), ("224.0.0.1", "reserved"),
])
def test_address_classes(address: str, expected: str) -> None:
    assert _net.address_class(address) == expected


def test_which_classes_a_page_may_reach() -> None:
    strict = _net.Policy()
    assert _net.allowed_classes(Origin("network", address_class="public"), strict) == {"public"}
    assert _net.allowed_classes(Origin("network", address_class="loopback"), strict) == {"public", "loopback"}
    assert _net.allowed_classes(Origin("local", root=Path("/x")), strict) is None          # the user's own files
    assert _net.allowed_classes(Origin("network", address_class="public"),
                                _net.Policy(allow_private_hosts=True)) is None


def test_a_public_page_cannot_reach_loopback_or_names_that_resolve_there(public, sentinel, tmp_path) -> None:
    port = sentinel.base_url.rsplit(":", 1)[1].rstrip("/")
    with FileServer(host=PUBLIC_HOST) as site:
        site.add("page.html", _page(f'<video src="{sentinel.url("secret.mp4")}"></video>'
                                    f'<video src="http://localhost:{port}/admin.mp4"></video>'))
        manifest = process(site.url("page.html"), RunOptions(out=tmp_path / "out"))
    assert [i.status for i in manifest.items] == ["failed", "failed"]
    for item in manifest.items:
        assert "refused to connect to a loopback address" in item.error and "--allow-private-hosts" in item.error
        assert "401" not in item.error and "open" not in item.error
    assert sentinel.requests == []


def test_a_redirect_into_the_machine_is_refused_at_the_redirect(public, sentinel, tmp_path) -> None:
    with FileServer(host=PUBLIC_HOST) as site:
        site.fault("clip.mp4", "redirect", to=sentinel.url("secret.mp4"))
        site.add("page.html", _page(f'<video src="{site.url("clip.mp4")}"></video>'))
        manifest = process(site.url("page.html"), RunOptions(out=tmp_path / "out"))
    (item,) = manifest.items
    assert item.status == "failed" and "refused to connect to a loopback address" in item.error
    assert sentinel.requests == []


def test_allow_private_hosts_lets_it_through(public, sentinel, tmp_path) -> None:
    with FileServer(host=PUBLIC_HOST) as site:
        site.add("page.html", _page(f'<video src="{sentinel.url("secret.mp4")}"></video>'))
        process(site.url("page.html"), RunOptions(out=tmp_path / "out",
                                                  security=SecurityOptions(allow_private_hosts=True)))
    assert sentinel.requests                                       # reached (and rejected: not media)


def test_a_loopback_page_may_use_loopback_media(server, tmp_path) -> None:
    server.add("page.html", _page(f'<video src="{server.url("report.mp4")}"></video>'))
    (item,) = process(server.url("page.html"), RunOptions(out=tmp_path / "out")).items
    assert item.stages["download"].status == "ok"


# --- 5. damaged cache blobs and frames are noticed and repaired --------------------------------------------

def _run_two(server, tmp_path: Path, cache: Path) -> tuple[Path, Path]:
    """Two articles linking the same clip; returns their media files."""
    files = []
    for name in ("one", "two"):
        page = tmp_path / f"{name}.md"
        page.write_text(f"# {name}\n\nThe council met on Tuesday to discuss the new bridge.\n\n{server.url('report.mp4')}\n")
        m = process(str(page), RunOptions(out=tmp_path / "out", cache=CacheOptions(cache_dir=cache)))
        assert m.items[0].stages["download"].status in ("ok", "cached"), m.items[0].error
        files.append(tmp_path / "out" / m.article_id / m.items[0].path)
    return files[0], files[1]


def _blob(cache: Path) -> Path:
    (blob,) = (cache / "media" / "blobs").rglob("*.mp4")
    return blob


def test_editing_one_articles_file_changes_no_other(server, media, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    one, two = _run_two(server, tmp_path, cache)
    with open(one, "r+b") as f:          # the user edits (or a tool rewrites) one article's copy in place
        f.seek(100)
        f.write(b"\0" * 64)
    original = media.narrated.path.read_bytes()
    assert two.read_bytes() == original and _blob(cache).read_bytes() == original


@pytest.mark.parametrize("damage", ["truncate", "same-size"])
def test_a_damaged_blob_is_refetched_not_used(server, media, tmp_path: Path, damage: str) -> None:
    cache = tmp_path / "cache"
    _run_two(server, tmp_path, cache)
    blob = _blob(cache)
    if damage == "truncate":
        blob.write_bytes(blob.read_bytes()[: blob.stat().st_size // 2])
    else:
        data = bytearray(blob.read_bytes())
        data[len(data) // 2] ^= 0xFF
        blob.write_bytes(bytes(data))
    gets = server.full_gets("report.mp4")
    page = tmp_path / "three.md"
    page.write_text(f"# three\n\nThe council met on Tuesday to discuss the bridge.\n\n{server.url('report.mp4')}\n")
    m = process(str(page), RunOptions(out=tmp_path / "out", cache=CacheOptions(cache_dir=cache)))
    (item,) = m.items
    assert item.status == "ok" and not item.from_cache and server.full_gets("report.mp4") == gets + 1
    assert (tmp_path / "out" / m.article_id / item.path).read_bytes() == media.narrated.path.read_bytes()
    assert _blob(cache).read_bytes() == media.narrated.path.read_bytes()      # and the cache is repaired


def test_refresh_repairs_a_same_size_corruption(server, media, tmp_path: Path) -> None:
    o = DownloadOptions(retries=0)
    url = server.url("report.mp4")
    download(url, o, cache=Cache.at(tmp_path / "c"))
    blob = _blob(tmp_path / "c")
    data = bytearray(blob.read_bytes())
    data[1000] ^= 0xFF
    blob.write_bytes(bytes(data))
    download(url, o, cache=Cache.at(tmp_path / "c", read=False))              # --refresh
    assert _blob(tmp_path / "c").read_bytes() == media.narrated.path.read_bytes()


def test_a_truncated_article_copy_is_not_resumed_as_ok(server, tmp_path: Path) -> None:
    from mediaproc.batch import is_complete
    one, _ = _run_two(server, tmp_path, tmp_path / "cache")
    article = one.parents[2]
    assert is_complete(article)
    one.write_bytes(one.read_bytes()[:1000])
    assert not is_complete(article)


def test_damaged_or_missing_cached_keyframes_are_redone(server, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    _run_two(server, tmp_path, cache)
    entry = next((cache / "keyframes").iterdir())
    frames = sorted((entry / "keyframes").iterdir())
    frames[0].write_bytes(b"not a jpeg")
    frames[-1].unlink()
    page = tmp_path / "four.md"
    page.write_text(f"# four\n\nThe council met on Tuesday to discuss the bridge.\n\n{server.url('report.mp4')}\n")
    m = process(str(page), RunOptions(out=tmp_path / "out", cache=CacheOptions(cache_dir=cache)))
    assert m.items[0].stages["keyframes"].status == "ok"                      # redone, not "cached"
    media_dir = tmp_path / "out" / m.article_id / "media" / m.items[0].id
    kf = json.loads((media_dir / "keyframes.json").read_text())
    for frame in kf["frames"]:
        assert _fs.sha256_file(media_dir / frame["path"]) == frame["sha256"]
    repaired = next((cache / "keyframes").iterdir())
    assert all((repaired / f["path"]).is_file() for f in kf["frames"])


# --- 6. a failure inside one item fails that item, in one line ------------------------------------------

@pytest.mark.parametrize("error", ["UnavailableVideoError", "RequestError", "RuntimeError"])
def test_any_exception_in_one_download_fails_only_that_item(server, tmp_path, monkeypatch, error) -> None:
    import yt_dlp

    from mediaproc import downloads as dl

    exc = {"UnavailableVideoError": yt_dlp.utils.UnavailableVideoError("gone"),
           "RequestError": yt_dlp.networking.exceptions.RequestError("broken pipe"),
           "RuntimeError": RuntimeError("a bug")}[error]
    real = dl._Job.fetch

    def flaky(self, url, workdir):
        if "webm" in url:
            raise exc
        return real(self, url, workdir)

    monkeypatch.setattr(dl._Job, "fetch", flaky)
    page = tmp_path / "p.html"
    page.write_text(_page(f'<video src="{server.url("report.webm")}"></video>'
                          f'<video src="{server.url("report.mp4")}"></video>'))
    manifest = process(str(page), RunOptions(out=tmp_path / "out"))
    bad, good = manifest.items
    assert bad.status == "failed" and "\n" not in bad.error and good.status == "ok"
    assert (tmp_path / "out" / manifest.article_id / "report.html").is_file()


# --- 7. deadlines and permanent errors ------------------------------------------------------------------

def test_a_trickling_server_is_cut_off_by_the_stall_detector(server) -> None:
    server.fault("report.mp4", "trickle", rate=1)
    started = time.monotonic()
    with pytest.raises(DownloadError, match="timed out") as err:
        download(server.url("report.mp4"), DownloadOptions(timeout=2, retries=1), cache=Cache.at(None, read=False))
    assert time.monotonic() - started < 15, err.value                   # 150 s and more before


def test_the_total_deadline_holds_even_when_data_keeps_coming(server) -> None:
    server.fault("report.mp4", "trickle", rate=20_000)                  # steady, but too slow for the deadline
    started = time.monotonic()
    with pytest.raises(DownloadError, match="deadline"):
        download(server.url("report.mp4"), DownloadOptions(timeout=5, deadline=2, retries=3),
                 cache=Cache.at(None, read=False))
    assert time.monotonic() - started < 10


def test_an_article_page_that_trickles_is_given_up_at_its_timeout(tmp_path) -> None:
    with FileServer() as site:
        site.add("slow.html", _page("<p>" + "word " * 5000 + "</p>"))
        site.fault("slow.html", "trickle", rate=50)
        started = time.monotonic()
        proc = mediaproc("-q", "run", site.url("slow.html"), "-o", str(tmp_path / "out"), "--timeout", "3")
    assert proc.returncode == 1 and "timed out" in _one_line(proc.stderr)
    assert time.monotonic() - started < 30


@pytest.mark.parametrize("what", ["dns", "403"])
def test_permanent_errors_are_not_retried(server, what) -> None:
    url = "http://no-such-host.invalid/clip.mp4" if what == "dns" else server.url("report.mp4")
    if what == "403":
        server.fault("report.mp4", "status", code=403)
    started = time.monotonic()
    with pytest.raises(DownloadError) as err:
        download(url, DownloadOptions(timeout=2, retries=5), cache=Cache.at(None, read=False))
    assert time.monotonic() - started < 5                    # five retries with backoff take 15 s and more
    if what == "403":
        assert "403" in str(err.value) and server.log("report.mp4", "GET") == []
    else:
        assert "does not resolve" in str(err.value) and "not retried" in str(err.value)


# --- 8. Ctrl-C -----------------------------------------------------------------------------------------------

def _batch(articles: Path, out: Path, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "mediaproc", "-q", "batch", str(articles), "-o", str(out),
                             "--cache-dir", str(out.parent / "cache"), "--json", *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)


def _wait_for(condition, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "the run never got there"
        time.sleep(0.05)


def _interrupt(proc: subprocess.Popen[str], *, twice: bool = False) -> tuple[float, str, str]:
    import signal
    started = time.monotonic()
    proc.send_signal(signal.SIGINT)
    if twice:
        time.sleep(0.5)
        proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    return time.monotonic() - started, out, err


def _no_leftovers(out: Path) -> None:
    assert not [p for p in out.rglob("*") if p.name.startswith(".mediaproc-") or p.name.endswith(".tmp")]


def test_ctrl_c_mid_download_stops_within_five_seconds_and_lists_the_interrupted(server, tmp_path) -> None:
    articles = tmp_path / "articles"
    articles.mkdir()
    for i in range(3):
        server.add(f"slow{i}.mp4", server.root.joinpath("report.mp4").read_bytes())
        server.fault(f"slow{i}.mp4", "trickle", rate=2000)
        (articles / f"a{i}.md").write_text(f"# A{i}\n\nThe council met on Tuesday about the bridge.\n\n"
                                           f"{server.url(f'slow{i}.mp4')}\n")
    out = tmp_path / "out"
    proc = _batch(articles, out)
    _wait_for(lambda: server.log("slow0.mp4", "GET"))
    seconds, stdout, stderr = _interrupt(proc)
    assert seconds < 5 and proc.returncode == 1, (seconds, stderr)
    assert "Traceback" not in stderr
    summary = json.loads(stdout)
    assert summary["interrupted"] is True
    assert {a["status"] for a in summary["articles_detail"]} == {"interrupted"}
    _no_leftovers(out)


def _huge_html(path: Path) -> Path:
    para = "<p>" + "The council met again on Tuesday to talk about the bridge, the budget and the school. " * 8 + "</p>"
    path.write_text("<html><head><title>Long</title></head><body><article>" + para * 15000 + "</article></body></html>")
    return path


def test_ctrl_c_mid_parse_stops_within_five_seconds_and_a_second_exits_at_once(tmp_path) -> None:
    articles = tmp_path / "articles"
    articles.mkdir()
    _huge_html(articles / "long.html")
    for twice in (False, True):
        out = tmp_path / f"out-{twice}"
        proc = _batch(articles, out)
        _wait_for(lambda: any(p.name.startswith(".mediaproc-article-") for p in out.glob(".*")))
        time.sleep(0.5)                                                      # inside the HTML parser now
        seconds, stdout, stderr = _interrupt(proc, twice=twice)
        assert "Traceback" not in stderr
        if twice:
            assert proc.returncode == 130 and seconds < 2 and "interrupted again" in stderr
        else:
            assert proc.returncode == 1 and seconds < 5, (seconds, stderr)
            assert json.loads(stdout)["interrupted"] is True


@pytest.mark.slow
def test_ctrl_c_mid_transcription_stops_within_five_seconds(tmp_path) -> None:
    long = synth.audio_only(tmp_path / "long.wav", ["The bridge over the river stays closed until the engineers "
                                                    "have inspected every one of its pillars."] * 12)
    articles = tmp_path / "articles"
    articles.mkdir()
    (articles / "a.md").write_text(f"# Bridge\n\nThe bridge over the river stays closed.\n\n[talk]({long.path.as_uri()})\n")
    out = tmp_path / "out"
    proc = _batch(articles, out, "--allow-local-files")
    _wait_for(lambda: list(out.glob(".mediaproc-article-*/media/*/keyframes.json")), 300)
    time.sleep(1.0)
    seconds, stdout, stderr = _interrupt(proc)
    assert proc.returncode == 1 and seconds < 5, (seconds, stderr)
    assert json.loads(stdout)["articles_detail"][0]["status"] == "interrupted"
    _no_leftovers(out)


def test_an_interrupted_rerun_leaves_the_earlier_outputs_whole(server, tmp_path) -> None:
    articles = tmp_path / "articles"
    articles.mkdir()
    (articles / "a.md").write_text(f"# Bridge\n\nThe council met on Tuesday about the bridge.\n\n{server.url('silent.mp4')}\n")
    out = tmp_path / "out"
    first = _batch(articles, out)
    first.communicate(timeout=300)
    (art,) = [p for p in out.iterdir() if p.is_dir()]
    before = {p.relative_to(art): p.read_bytes() for p in art.rglob("*") if p.is_file()}
    server.fault("silent.mp4", "trickle", rate=500)
    again = _batch(articles, out, "--force", "--refresh")
    _wait_for(lambda: len(server.log("silent.mp4", "GET")) >= 2)
    _interrupt(again)
    after = {p.relative_to(art): p.read_bytes() for p in art.rglob("*") if p.is_file()}
    assert after == before                             # nothing half replaced, nothing of the new run mixed in
    _no_leftovers(out)


# --- 9. damaged media are never "ok" ---------------------------------------------------------------------

def test_a_video_with_a_damaged_middle_is_partial_and_retried(media, tmp_path: Path) -> None:
    from mediaproc.batch import is_complete
    damaged = tmp_path / "damaged.mp4"
    data = bytearray(media.narrated.path.read_bytes())
    middle = len(data) // 2
    data[middle:middle + len(data) // 5] = os.urandom(len(data) // 5)
    damaged.write_bytes(bytes(data))
    manifest = process(str(damaged), RunOptions(out=tmp_path / "out"))
    (item,) = manifest.items
    assert item.stages["keyframes"].status == "partial"
    assert item.status == "partial" and "keyframes" in item.error and manifest.status == "partial"
    assert not is_complete(tmp_path / "out" / manifest.article_id)          # so a batch retries it


# --- 10. a full disk ends cleanly -------------------------------------------------------------------------

def _on_full_disk(size: str, script: str) -> subprocess.CompletedProcess[str]:
    """Run ``script`` (sh) with $FULL a fresh tmpfs of ``size``, in a mount namespace of its own."""
    if shutil.which("unshare") is None:
        pytest.fail("util-linux's unshare is missing (scripts/setup.sh installs it)")
    body = f'mkdir -p "$FULL" && mount -t tmpfs -o size={size} tmpfs "$FULL" && {script}'
    return subprocess.run(["unshare", "-rm", "sh", "-c", body], capture_output=True, text=True, timeout=300,
                          env={**ENV, "FULL": os.environ["FULL"]})


@pytest.mark.parametrize("where", ["out", "cache"])
def test_a_full_disk_is_one_line_with_a_summary_and_nothing_left_behind(server, tmp_path, where) -> None:
    big = tmp_path / "big.mp4"
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc2=s=640x360:d=8",
                    "-f", "lavfi", "-i", "sine=d=8", "-c:v", "libx264", "-b:v", "3M", "-shortest", str(big)], check=True)
    server.add("big.mp4", big.read_bytes())
    articles = tmp_path / "articles"
    articles.mkdir()
    (articles / "a.md").write_text(f"# Bridge\n\nThe council met on Tuesday about the bridge.\n\n{server.url('big.mp4')}\n")
    full = tmp_path / "full"
    out = full / "out" if where == "out" else tmp_path / "out"
    cache = tmp_path / "cache" if where == "out" else full / "cache"
    os.environ["FULL"] = str(full)
    try:
        proc = _on_full_disk("2m", f'{sys.executable} -m mediaproc -q batch {articles} -o {out} --cache-dir {cache} '
                                   f'--json; echo "exit=$?"; echo LISTING >&2; ls -laR "$FULL" >&2')
    finally:
        del os.environ["FULL"]
    assert "exit=1" in proc.stdout, proc.stderr
    assert "Traceback" not in proc.stderr
    summary = json.loads(proc.stdout.rsplit("exit=", 1)[0])
    assert summary["failed"] == 1 and "no space left" in json.dumps(summary["failures"]), summary
    listing = proc.stderr.split("LISTING", 1)[1].split("\n")
    assert not [ln for ln in listing if ".tmp" in ln or ".mediaproc-" in ln or ".part" in ln], proc.stderr


# --- 11. huge input stays linear -------------------------------------------------------------------------

def test_sentence_splitting_never_hands_pysbd_a_long_text(monkeypatch) -> None:
    from mediaproc import article

    seen = []
    real = article._segmenter("en")

    class Spy:
        def segment(self, text):
            seen.append(len(text))
            return real.segment(text)

    monkeypatch.setattr(article, "_segmenter", lambda lang: Spy())
    text = " ".join(f"Line {i} of the report says the bridge is closed." for i in range(6_000))
    sentences = article.split_sentences(text)
    assert len(sentences) == 6_000 and max(seen) <= article._SPLIT_CHUNK
    assert all(text[s.start:s.end] == s.text for s in sentences[::997])


@pytest.mark.timeout(120)
def test_a_million_line_text_file_is_refused_at_the_documented_limit(tmp_path: Path) -> None:
    from mediaproc.article import MAX_SENTENCES
    path = tmp_path / "huge.txt"
    with open(path, "w") as f:
        f.write("# Huge\n\n")
        for i in range(1_000_000):
            f.write(f"Line {i}.\n")
    proc = mediaproc("run", str(path), "-o", str(tmp_path / "out"), timeout=110)
    assert proc.returncode == 1
    failed = [ln for ln in _one_line(proc.stderr).splitlines() if ln.startswith("FAILED")]
    assert len(failed) == 1 and f"more than the {MAX_SENTENCES:,} an article may have" in failed[0]


def test_an_article_just_under_the_limit_is_split_in_full(tmp_path: Path) -> None:
    from mediaproc.article import read_article
    path = tmp_path / "long.txt"
    path.write_text("# Long\n\n" + "\n".join(f"Line {i} is here." for i in range(12_000)) + "\n")
    article = read_article(str(path))
    assert len(article.sentences()) == 12_000           # quadratic splitting took 50 s for 10,000 lines


# --- 12. a page without text says so ---------------------------------------------------------------------

def test_an_html_file_without_text_or_media_says_so(tmp_path: Path) -> None:
    page = tmp_path / "empty.html"
    page.write_text("<html><head><title>x</title></head><body><nav><a href='/'>Home</a></nav></body></html>")
    proc = mediaproc("run", str(page), "-o", str(tmp_path / "out"), "--json")
    assert proc.returncode == 1
    (line,) = [ln for ln in _one_line(proc.stderr).splitlines() if ln.startswith("FAILED")]
    assert "no article text found" in line and "no media links found: nothing to do" in line
    assert json.loads(proc.stdout)["failed"] == 1
    (art,) = [p for p in (tmp_path / "out").iterdir() if p.is_dir()]
    assert json.loads((art / "manifest.json").read_text())["status"] == "failed"


# --- found by attacking the build (each was broken once) -----------------------------------------------

def test_an_article_url_that_answers_with_media_keeps_the_page_rules(public, sentinel, tmp_path) -> None:
    playlist = f"#EXTM3U\n#EXT-X-TARGETDURATION:5\n#EXTINF:5,\n{sentinel.url('secret.mp4')}\n#EXT-X-ENDLIST\n"
    with FileServer(host=PUBLIC_HOST) as site:
        site.add("story", playlist, "video/mp4")                          # no extension: looks like an article
        site.fault("clip.mp4", "redirect", to=sentinel.url("secret.mp4"))   # a named .mp4 that redirects inside
        for url in (site.url("story"), site.url("clip.mp4")):
            (item,) = process(url, RunOptions(out=tmp_path / "out")).items
            assert item.status == "failed", item
    assert sentinel.requests == []


def test_proxy_settings_cannot_carry_a_request_into_the_machine(public, sentinel, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("http_proxy", sentinel.base_url)               # the "proxy" is the internal service
    monkeypatch.setenv("HTTP_PROXY", sentinel.base_url)
    with FileServer(host=PUBLIC_HOST) as site:
        site.add("page.html", _page('<video src="http://127.0.0.1:9/x.mp4"></video>'))
        manifest = process(site.url("page.html"), RunOptions(out=tmp_path / "out"))
    assert manifest.items and manifest.items[0].status == "failed"
    assert sentinel.requests == []


def test_formats_that_would_run_another_program_are_not_chosen(public, tmp_path, monkeypatch) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    marker = tmp_path / "rtmpdump-ran"
    (bin_dir / "rtmpdump").write_text(f"#!/bin/sh\ntouch {marker}\n")
    (bin_dir / "rtmpdump").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    with FileServer(host=PUBLIC_HOST) as site:
        site.add("watch.html", "<html><body><video><source src='rtmp://127.0.0.1:1935/live/internal' "
                               "type='video/mp4'></video></body></html>")
        with pytest.raises(DownloadError):
            download(site.url("watch.html"), DownloadOptions(retries=0, timeout=3), cache=Cache.at(tmp_path / "c"),
                     allowed=frozenset({"public"}))
    assert not marker.exists()


def test_an_article_folder_that_is_a_link_is_never_replaced(server, tmp_path) -> None:
    page = tmp_path / "a.md"
    page.write_text(f"# Bridge\n\nThe council met on Tuesday about the bridge.\n\n{server.url('silent.mp4')}\n")
    out = tmp_path / "out"
    first = process(str(page), RunOptions(out=out))
    case = tmp_path / "case-folder"
    (out / first.article_id).rename(case)
    (case / "notes.txt").write_text("the investigator's own notes\n")
    (out / first.article_id).symlink_to(case, target_is_directory=True)
    again = process(str(page), RunOptions(out=out))
    assert again.status == "failed" and "refusing to replace" in again.error
    assert (case / "notes.txt").read_text() == "the investigator's own notes\n" and (case / "manifest.json").is_file()


def test_an_edited_cache_entry_cannot_point_outside_the_cache(server, media, tmp_path) -> None:
    victim = tmp_path / "victim.mp4"
    shutil.copy(media.silent, victim)
    url = server.url("report.mp4")
    download(url, DownloadOptions(), cache=Cache.at(tmp_path / "c"))
    (entry,) = (tmp_path / "c" / "media" / "urls").glob("*.json")
    data = json.loads(entry.read_text())
    data.update(blob=os.path.relpath(victim, tmp_path / "c"), sha256=_fs.sha256_file(victim),
                size=victim.stat().st_size)
    entry.write_text(json.dumps(data))
    again = download(url, DownloadOptions(), cache=Cache.at(tmp_path / "c"), into=tmp_path / "article")
    assert not again.from_cache and again.path.read_bytes() == media.narrated.path.read_bytes()


def test_an_edited_keyframe_entry_cannot_write_outside(server, tmp_path) -> None:
    cache = tmp_path / "cache"
    _run_two(server, tmp_path, cache)
    entry = next((cache / "keyframes").iterdir())
    data = json.loads((entry / "keyframes.json").read_text())
    outside = tmp_path / "victim.txt"
    outside.write_text("keep me")
    data["frames"][0]["path"] = "../../../victim.txt"
    (entry / "keyframes.json").write_text(json.dumps(data))
    page = tmp_path / "five.md"
    page.write_text(f"# five\n\nThe council met on Tuesday to discuss the bridge.\n\n{server.url('report.mp4')}\n")
    m = process(str(page), RunOptions(out=tmp_path / "out", cache=CacheOptions(cache_dir=cache)))
    assert m.items[0].stages["keyframes"].status == "ok" and outside.read_text() == "keep me"


def test_another_programs_cache_directory_is_refused(tmp_path) -> None:
    from mediaproc.errors import OptionsError
    cargo = tmp_path / "target"
    cargo.mkdir()
    (cargo / "CACHEDIR.TAG").write_text("Signature: 8a477f597d28d172789f06886806bc55\n# created by cargo\n")
    (cargo / "debug").mkdir()
    with pytest.raises(OptionsError, match="is not a mediaproc cache"):
        Cache.at(cargo)


def test_align_does_not_write_into_a_folder_of_the_users(tmp_path) -> None:
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "transcript.corrected.srt").write_text("my own subtitles\n")
    (folder / "thesis.docx").write_text("x")
    article = tmp_path / "a.md"
    article.write_text("# T\n\nThe council met on Tuesday.\n")
    transcript = tmp_path / "t.json"
    transcript.write_text(json.dumps({"language": "en", "segments": []}))
    proc = mediaproc("align", str(article), str(transcript), "-o", str(folder))
    assert proc.returncode == 1 and "mediaproc did not write" in proc.stderr
    assert (folder / "transcript.corrected.srt").read_text() == "my own subtitles\n"


def test_a_same_size_substitution_in_an_output_is_not_resumed(server, tmp_path) -> None:
    from mediaproc.batch import is_complete
    one, _ = _run_two(server, tmp_path, tmp_path / "cache")
    article = one.parents[2]
    assert is_complete(article)
    data = bytearray(one.read_bytes())
    data[-100] ^= 0xFF
    one.write_bytes(bytes(data))                          # same size, other bytes
    assert not is_complete(article)


def test_colliding_ids_share_nothing(server, tmp_path, monkeypatch) -> None:
    from mediaproc import pipeline
    from mediaproc.batch import is_complete
    monkeypatch.setattr(pipeline, "media_id", lambda url: "same-id")
    page = tmp_path / "p.html"
    page.write_text(_page(f'<video src="{server.url("report.mp4")}"></video><video src="{server.url("silent.mp4")}">'
                          '</video>'))
    manifest = process(str(page), RunOptions(out=tmp_path / "out"))
    ids = [i.id for i in manifest.items]
    assert len(set(ids)) == 2
    for item in manifest.items:
        assert _fs.sha256_file(tmp_path / "out" / manifest.article_id / item.path) == item.sha256
    assert not is_complete(tmp_path / "out" / manifest.article_id, "https://elsewhere.example/other.html")


def test_unclosed_markdown_markers_cost_linear_time(tmp_path) -> None:
    from mediaproc.article import read_article
    path = tmp_path / "hostile.md"
    path.write_text("# Title\n\nThe council met. " + "[*_`" * 50_000 + " end of it.\n")
    started = time.monotonic()
    read_article(str(path))
    assert time.monotonic() - started < 20                  # minutes, quadratically, before


def test_deeply_nested_json_is_not_a_crash(public, tmp_path) -> None:
    deep = "[" * 200_000 + "]" * 200_000
    with FileServer(host=PUBLIC_HOST) as site:
        site.add("page.html", _page(f'<video data-setup=\'{deep}\'></video>',
                                    f'<script type="application/ld+json">{deep}</script>'))
        proc = mediaproc("links", site.url("page.html"))
        manifest = process(site.url("page.html"), RunOptions(out=tmp_path / "out"))
    assert "Traceback" not in proc.stderr and proc.returncode == 0
    assert (tmp_path / "out" / manifest.article_id / "report.html").is_file()


def test_a_nul_byte_in_a_link_fails_that_item_only(media, tmp_path) -> None:
    site = tmp_path / "saved"
    site.mkdir()
    shutil.copy(media.narrated.path, site / "clip.mp4")
    page = site / "page.html"
    page.write_text(_page('<video src="clip%00.mp4"></video><video src="clip.mp4"></video>'))
    manifest = process(str(page), RunOptions(out=tmp_path / "out"))
    bad, good = manifest.items
    assert bad.status == "failed" and "not a valid file path" in bad.error and good.status == "ok"


def test_ctrl_c_in_the_keyframes_command_stops_a_download(server, tmp_path) -> None:
    import signal
    server.add("slowest.mp4", server.root.joinpath("report.mp4").read_bytes())
    server.fault("slowest.mp4", "trickle", rate=3000)
    proc = subprocess.Popen([sys.executable, "-m", "mediaproc", "keyframes", server.url("slowest.mp4"), "-o",
                             str(tmp_path / "out"), "--cache-dir", str(tmp_path / "cache")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)
    _wait_for(lambda: server.log("slowest.mp4", "GET"))
    started = time.monotonic()
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)
    assert time.monotonic() - started < 5 and proc.returncode == 1 and "Traceback" not in stderr


def test_escape_sequences_from_a_page_never_reach_the_terminal(server, tmp_path) -> None:
    page = tmp_path / "a.md"
    page.write_text("# Bridge\n\nThe council met on Tuesday about the bridge.\n\n"
                    f"{server.url('gone.mp4')}?\x1b]52;c;cHduZWQ=\x07\n")
    proc = mediaproc("run", str(page), "-o", str(tmp_path / "out"))
    assert "\x1b" not in proc.stderr + proc.stdout and "\x07" not in proc.stderr + proc.stdout


def test_a_batch_neither_follows_links_out_of_its_folder_nor_reads_its_own_outputs(tmp_path) -> None:
    from mediaproc.batch import discover
    articles = tmp_path / "articles"
    articles.mkdir()
    (articles / "story.txt").write_text("# Story\n\nThe council met on Tuesday.\n")
    secret = tmp_path / "private.txt"
    secret.write_text("bank PIN 1234\n")
    (articles / "readme.txt").symlink_to(secret)
    (articles / "out" / "x").mkdir(parents=True)
    (articles / "out" / "x" / "report.html").write_text("<html></html>")
    assert discover(articles, skip=articles / "out") == [str(articles / "story.txt")]


def test_a_redirect_loop_on_the_article_is_one_line_and_a_planted_lock_link_too(tmp_path) -> None:
    with FileServer() as site:
        site.fault("a.html", "redirect", to="b.html")
        site.fault("b.html", "redirect", to="a.html")
        proc = mediaproc("run", site.url("a.html"), "-o", str(tmp_path / "out"))
    failed = [ln for ln in proc.stderr.splitlines() if ln.startswith("FAILED")]
    assert len(failed) == 1 and "redirect" in failed[0] and "Traceback" not in proc.stderr
    out = tmp_path / "locked"
    out.mkdir()
    (tmp_path / "victim").write_text("keep")
    (out / ".mediaproc.lock").symlink_to(tmp_path / "victim")
    proc = mediaproc("batch", str(tmp_path), "--pattern", "*.nothing", "-o", str(out))
    assert proc.returncode == 1 and "Traceback" not in proc.stderr and (tmp_path / "victim").read_text() == "keep"
