"""The batch on a real Dask cluster: a scheduler and two workers started with Dask's own commands."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import article_outputs

pytestmark = pytest.mark.slow
distributed = pytest.importorskip("distributed")
BIN = Path(sys.executable).parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def cluster(tmp_path: Path):
    """``dask scheduler`` and two ``dask worker`` processes on loopback (real TCP)."""
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    env = dict(os.environ, DASK_DISTRIBUTED__WORKER__DAEMON="False")
    procs = [subprocess.Popen([str(BIN / "dask"), "scheduler", "--host", "127.0.0.1", "--port", str(port),
                               "--no-dashboard"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True, env=env)]
    for _ in range(2):
        procs.append(subprocess.Popen([str(BIN / "dask"), "worker", address, "--nthreads", "1",
                                       "--no-dashboard", "--no-nanny"],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                      start_new_session=True, env=env))
    with distributed.Client(address, timeout=60) as client:
        client.wait_for_workers(2, timeout=60)
    yield address, procs
    for p in reversed(procs):           # workers first, then the scheduler
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGTERM)
        try:
            p.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()


def _batch(articles: Path, out: Path, cache: Path, address: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "mediaproc", "-q", "batch", str(articles), "-o", str(out),
                             "--cache-dir", str(cache), "--executor", "dask", "--scheduler", address, "--json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_dask_batch_matches_single_process(batch_site, cluster, tmp_path: Path) -> None:
    srv, articles = batch_site
    address, _ = cluster
    local = subprocess.run([sys.executable, "-m", "mediaproc", "-q", "batch", str(articles), "-o",
                            str(tmp_path / "local"), "--json"], capture_output=True, text=True, timeout=900)
    gets = srv.full_gets("shared.mp4")
    proc = _batch(articles, tmp_path / "dask", tmp_path / "cache", address)
    stdout, stderr = proc.communicate(timeout=900)
    assert proc.returncode == 1, stderr
    summary = json.loads(stdout)
    assert (summary["articles"], summary["ok"], summary["failed"]) == (12, 10, 2)
    assert srv.full_gets("shared.mp4") == gets + 1        # the shared clip: once for the whole cluster
    assert json.loads(local.stdout)["ok"] == 10
    assert article_outputs(tmp_path / "dask") == article_outputs(tmp_path / "local")


def test_killed_worker_loses_no_article(batch_site, cluster, tmp_path: Path) -> None:
    _, articles = batch_site
    address, procs = cluster
    out = tmp_path / "out"
    proc = _batch(articles, out, tmp_path / "cache", address)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and not list(out.glob("*/.complete")):
        time.sleep(0.1)
    os.killpg(procs[1].pid, signal.SIGKILL)          # one worker dies mid-run
    stdout, stderr = proc.communicate(timeout=900)
    summary = json.loads(stdout)
    assert (summary["articles"], summary["ok"], summary["failed"]) == (12, 10, 2), stderr
    assert len(list(out.glob("*/.complete"))) == 12
