"""The loopback fault server itself: what it serves, how it misbehaves, how it stops."""

from __future__ import annotations

import http.client
import threading
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from mediaproc.testing.server import FileServer

BODY = bytes(range(256)) * 40          # 10240 bytes


@pytest.fixture
def srv(tmp_path: Path):
    (tmp_path / "v").mkdir()
    (tmp_path / "v" / "clip.mp4").write_bytes(BODY)
    (tmp_path / "secret.txt").write_text("outside")
    with FileServer(tmp_path / "v") as server:
        yield server


def _get(url: str, headers: dict[str, str] | None = None):
    return urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=5)


def test_serves_files_with_type_length_and_ranges(srv):
    with _get(srv.url("clip.mp4")) as r:
        assert r.status == 200 and r.read() == BODY
        assert r.headers["Content-Type"] == "video/mp4" and r.headers["Accept-Ranges"] == "bytes"
        assert int(r.headers["Content-Length"]) == len(BODY)
    with _get(srv.url("clip.mp4"), {"Range": "bytes=100-199"}) as r:
        assert r.status == 206 and r.read() == BODY[100:200]
        assert r.headers["Content-Range"] == f"bytes 100-199/{len(BODY)}"
    with _get(srv.url("clip.mp4"), {"Range": "bytes=-10"}) as r:
        assert r.read() == BODY[-10:]
    with pytest.raises(urllib.error.HTTPError) as err:
        _get(srv.url("clip.mp4"), {"Range": f"bytes={len(BODY)}-"})
    assert err.value.code == 416
    log = srv.log("clip.mp4")
    assert [(r.status, r.range_start, r.full) for r in log] == [
        (200, None, True), (206, 100, False), (206, len(BODY) - 10, False), (416, len(BODY), False)]


def test_head_and_in_memory_bodies(srv):
    url = srv.add("page.html", "<html>hi</html>")
    conn = http.client.HTTPConnection(url.split("/")[2], timeout=5)
    conn.request("HEAD", "/page.html")
    r = conn.getresponse()
    assert r.status == 200 and r.read() == b"" and r.headers["Content-Type"].startswith("text/html")
    assert srv.log("page.html")[0].method == "HEAD"


@pytest.mark.parametrize("path", ["../secret.txt", "%2e%2e/secret.txt", "nope.mp4"])
def test_no_escape_from_root(srv, path):
    with pytest.raises(urllib.error.HTTPError) as err:
        _get(srv.base_url + path)
    assert err.value.code == 404


def test_faults(srv):
    srv.fault("clip.mp4", "status", code=503, times=1)
    with pytest.raises(urllib.error.HTTPError) as err:
        _get(srv.url("clip.mp4"))
    assert err.value.code == 503
    srv.fault("clip.mp4", "drop", at=0.25)
    with pytest.raises(http.client.IncompleteRead) as cut:
        _get(srv.url("clip.mp4")).read()
    assert len(cut.value.partial) == len(BODY) // 4
    assert _get(srv.url("clip.mp4")).read() == BODY          # each fault used up, normal again
    srv.fault("x.mp4", "redirect", to="clip.mp4")
    with _get(srv.url("x.mp4")) as r:
        assert r.read() == BODY
    srv.fault("clip.mp4", "content_type", type="text/html")
    with _get(srv.url("clip.mp4")) as r:
        assert r.headers["Content-Type"] == "text/html"
    srv.clear_faults()
    srv.fault("clip.mp4", "no_length")
    with _get(srv.url("clip.mp4")) as r:
        assert "Content-Length" not in r.headers and r.read() == BODY


def test_close_is_prompt_with_a_stalled_client(srv):
    srv.fault("clip.mp4", "stall", seconds=600, at=0.5)
    r = _get(srv.url("clip.mp4"))
    assert len(r.read(len(BODY) // 2)) == len(BODY) // 2
    closer = threading.Thread(target=srv.close)
    closer.start()
    closer.join(timeout=10)
    assert not closer.is_alive()
    r.close()
