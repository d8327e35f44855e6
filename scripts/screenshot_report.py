"""Screenshot a report.html in headless chromium (for docs/report.png).

    .venv/bin/python scripts/screenshot_report.py mediaproc-out/<article-id>/report.html docs/report.png

The report is served over loopback (as a browser would load it from a site) and
the video is left at its first frame.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from playwright.sync_api import sync_playwright

from mediaproc.testing.server import FileServer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("report", type=Path)
    parser.add_argument("png", type=Path)
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=1000)
    args = parser.parse_args()
    chromium = shutil.which("chromium")
    if chromium is None:
        raise SystemExit("chromium is not installed (apt-get install chromium)")
    args.png.parent.mkdir(parents=True, exist_ok=True)
    with FileServer(args.report.parent) as srv, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run"])
        page = browser.new_page(viewport={"width": args.width, "height": args.height})
        page.goto(srv.url(args.report.name))
        page.wait_for_function("[...document.querySelectorAll('video')].every(v => v.readyState >= 2)")
        page.screenshot(path=str(args.png))
        browser.close()
    print(args.png)


if __name__ == "__main__":
    main()
