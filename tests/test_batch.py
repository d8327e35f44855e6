"""Batch over a directory of articles on a loopback server: sharing, resuming, locking, killing."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import article_outputs
from mediaproc.batch import OutputLock, discover
from mediaproc.errors import LockedError
pytestmark = pytest.mark.slow


def batch(*args: str, **kw) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mediaproc", "-q", "batch", *args],
                          capture_output=True, text=True, timeout=900, **kw)


@pytest.fixture(scope="module")
def first_run(batch_site, tmp_path_factory: pytest.TempPathFactory):
    srv, articles = batch_site
    out = tmp_path_factory.mktemp("out")
    proc = batch(str(articles), "-o", str(out), "--json")
    return srv, articles, out, proc


def test_discover_finds_all_kinds_recursively(batch_site) -> None:
    _, articles = batch_site
    assert len(discover(articles)) == 12


def test_first_run_counts_are_exact(first_run) -> None:
    srv, _, out, proc = first_run
    assert proc.returncode == 1, proc.stderr
    summary = json.loads(proc.stdout)
    assert (summary["articles"], summary["ok"], summary["failed"], summary["partial"]) == (12, 10, 2, 0)
    assert summary["media_failed"] == 2
    assert summary["media_downloaded"] + summary["media_cached"] == 9
    assert summary["transcripts_cached"] == 2            # the shared clip: transcribed once, reused twice
    assert srv.full_gets("shared.mp4") == 1               # and fetched once
    assert summary["audio_seconds"] > 0
    assert json.loads((out / "batch-summary.json").read_text())["failed"] == 2
    errors = {f.get("url", "").rsplit("/", 1)[-1]: f["error"] for f in summary["failures"]}
    assert "404" in errors["removed.mp4"] and "html" in errors["error-page.mp4"].lower()


def test_second_run_does_no_work_and_fails_the_same(first_run) -> None:
    srv, articles, out, _ = first_run
    gets = srv.full_gets("shared.mp4")
    proc = batch(str(articles), "-o", str(out), "--json")
    assert proc.returncode == 1
    summary = json.loads(proc.stdout)
    assert summary["resumed"] == 10 and summary["articles"] == 2 and summary["failed"] == 2
    assert summary["audio_seconds"] == 0 and summary["media_downloaded"] == 0
    assert srv.full_gets("shared.mp4") == gets


def test_rerun_redoes_only_a_deleted_article(first_run) -> None:
    import shutil
    _, articles, out, _ = first_run
    victim = next(p for p in out.iterdir() if p.name.startswith("c-"))
    shutil.rmtree(victim)
    proc = batch(str(articles), "-o", str(out), "--json")
    summary = json.loads(proc.stdout)
    assert summary["resumed"] == 9 and summary["ok"] == 1
    assert (victim / ".complete").exists() and (victim / "report.html").exists()


def test_sigkill_half_way_resumes_to_the_same_outputs(first_run, tmp_path: Path) -> None:
    _, articles, out, _ = first_run
    killed = tmp_path / "killed"
    cache = tmp_path / "cache"       # cold cache: the killed run really has work in flight
    cmd = [sys.executable, "-m", "mediaproc", "-q", "batch", str(articles), "-o", str(killed),
           "--cache-dir", str(cache)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and len(list(killed.glob("*/.complete"))) < 4:
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    done_before = len(list(killed.glob("*/.complete")))
    assert 4 <= done_before < 12
    resumed = batch(str(articles), "-o", str(killed), "--cache-dir", str(cache), "--json")
    summary = json.loads(resumed.stdout)
    assert summary["resumed"] >= done_before - 2      # failed articles are retried, not resumed
    assert article_outputs(killed) == article_outputs(out)


def test_lock_refuses_a_second_writer_and_takes_over_a_stale_one(tmp_path: Path) -> None:
    with OutputLock(tmp_path):
        with pytest.raises(LockedError, match=f"pid {os.getpid()}"):
            with OutputLock(tmp_path):
                pass
    # A lock file left by a dead process holds no flock: it is simply taken over.
    (tmp_path / ".mediaproc.lock").write_text("pid 999999 on elsewhere\n")
    with OutputLock(tmp_path):
        pass


def test_ctrl_c_stops_cleanly(batch_site, tmp_path: Path) -> None:
    _, articles = batch_site
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "mediaproc", "-q", "batch", str(articles), "-o", str(out),
                             "--cache-dir", str(tmp_path / "cache"), "--json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not list(out.glob("*/.complete")):
        time.sleep(0.1)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 1, stderr
    assert "Traceback" not in stderr
    summary = json.loads(stdout)
    assert summary["interrupted"] is True
    assert not list(out.rglob("*.tmp"))
