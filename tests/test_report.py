"""The built-in demo end to end, and its report in a real headless browser (Debian's chromium)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mediaproc.testing.server import FileServer

pytestmark = pytest.mark.slow
CHROMIUM = shutil.which("chromium")


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("demo")
    proc = subprocess.run([sys.executable, "-m", "mediaproc", "demo", "-o", str(out)],
                          capture_output=True, text=True, timeout=600)
    return out, proc


def test_demo_prints_transcript_and_report(demo) -> None:
    out, proc = demo
    assert proc.returncode == 0, proc.stderr + proc.stdout
    assert "transcript:" in proc.stdout and "millbrook" in proc.stdout.lower()
    (report,) = out.glob("*/report.html")
    assert f"report: {report}" in proc.stdout
    alignment = json.loads(next(out.glob("*/media/*/alignment.json")).read_text())
    status = {s["text"]: s["status"] for s in alignment["sentences"]}
    assert status["Schools are expected to reopen on Monday."] == "not_spoken"
    assert status["Flood waters began to recede on Tuesday in the river town of Millbrook."] == "spoken"
    assert status["The regional government promised emergency funds for repairs."] == "paraphrased"
    assert any("million" in v["text"] for v in alignment["video_only"])


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (scripts/test.sh installs it)")
def test_report_in_headless_chromium(demo, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    out, _ = demo
    (report,) = out.glob("*/report.html")
    alignment = json.loads(next(report.parent.glob("media/*/alignment.json")).read_text())
    expected = {(s["paragraph"], s["index"]): s["status"] for s in alignment["sentences"]
                if s["status"] in ("spoken", "paraphrased")}
    errors: list[str] = []
    with FileServer(report.parent) as srv, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run", "--autoplay-policy=no-user-gesture-required"])
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.on("console", lambda msg: msg.type == "error" and errors.append(f"{msg.text} {msg.location}"))
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(srv.url("report.html"))
        page.wait_for_function("document.querySelector('video').readyState >= 1")
        shown = page.eval_on_selector_all(
            "span.s[data-status]", "els => els.map(e => [+e.dataset.p, +e.dataset.s, e.dataset.status])")
        assert {(p, s): st for p, s, st in shown} == expected
        chip = page.locator("button.chip").nth(1)
        target = float(chip.get_attribute("data-seek"))
        chip.click()
        page.wait_for_function(f"Math.abs(document.querySelector('video').currentTime - {target}) < 0.5")
        page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
        browser.close()
    assert errors == []
    assert (tmp_path / "report.png").stat().st_size > 10_000
