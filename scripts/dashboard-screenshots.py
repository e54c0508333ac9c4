"""Screenshots of the dashboard for the README: light, dark and phone, in docs/img/.

    .venv/bin/python scripts/dashboard-screenshots.py

Runs the browser tests' rig (tests/dashboard_rig.py: fake flipping strategies on the simulated
market, a daemon that then stands still) and Debian's /usr/bin/chromium through Playwright.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

from dashboard_rig import IDS, start_still_daemon  # noqa: E402
from playwright.sync_api import sync_playwright  # noqa: E402

OUT = REPO / "docs" / "img"
SHOTS = [
    ("dashboard-light.png", {"width": 1280, "height": 900}, "light", False),
    ("dashboard-dark.png", {"width": 1280, "height": 900}, "dark", False),
    ("dashboard-phone.png", {"width": 390, "height": 844}, "dark", True),
]


def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="dash-shots-"))
    d, _db = start_still_daemon(tmp)
    OUT.mkdir(parents=True, exist_ok=True)
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(
                executable_path="/usr/bin/chromium",
                args=["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"],
            )
            for name, viewport, scheme, mobile in SHOTS:
                ctx = browser.new_context(
                    viewport=viewport, color_scheme=scheme, is_mobile=mobile, device_scale_factor=1
                )
                page = ctx.new_page()
                page.goto(f"http://127.0.0.1:{d.port}/dashboard?token={d.token}")
                page.wait_for_function(
                    "id => document.body.dataset.loaded === id", arg=IDS[0], timeout=60_000
                )
                page.wait_for_timeout(500)  # the sparklines
                page.screenshot(path=str(OUT / name), full_page=not mobile)
                ctx.close()
                print(f"wrote {OUT / name}")
            browser.close()
    finally:
        d.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
