"""Screenshots of the dashboard and its pages for the README, in docs/img/.

    .venv/bin/python scripts/dashboard-screenshots.py

Runs the browser tests' rig (tests/dashboard_rig.py: fake flipping strategies on the simulated
market, a daemon that then stands still) and Debian's /usr/bin/chromium through Playwright
(scripts/setup.sh installs both; never Playwright's own browser download). Shots, light and dark:
the dashboard (detail view), its table view with the panels, the tuning page, the strategy audit
report, and the dashboard on a phone. A page the daemon does not serve yet (404, e.g. /tuning on
an older tree) or a view without its toggle is skipped with a note, never a failure.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

from dashboard_rig import IDS, start_still_daemon  # noqa: E402
from playwright.sync_api import Page, sync_playwright  # noqa: E402

OUT = REPO / "docs" / "img"
DESKTOP = {"width": 1280, "height": 900}
WIDE = {"width": 1440, "height": 900}
PHONE = {"width": 390, "height": 844}
WAIT_MS = 60_000
# selectors a Detail/Table view toggle may use (the table view is added beside this script)
TABLE_TOGGLES = ('[data-view="table"]', "#view-table", "#view-toggle")


def _dashboard(page: Page, base: str, token: str) -> None:
    page.goto(f"{base}/dashboard?token={token}")
    page.wait_for_function("id => document.body.dataset.loaded === id", arg=IDS[0], timeout=WAIT_MS)
    page.wait_for_timeout(500)  # the sparklines


def shot_dashboard(page: Page, base: str, token: str) -> bool:
    _dashboard(page, base, token)
    return True


def shot_table(page: Page, base: str, token: str) -> bool:
    """The table view with its panels: the view toggle if the page has one, else the overview
    and ops cards of the one-page layout, with the leaderboard panel loaded."""
    _dashboard(page, base, token)
    toggle = next((s for s in TABLE_TOGGLES if page.locator(s).count()), None)
    if toggle:
        page.locator(toggle).first.click()
    if page.locator("#ops-panel").count() and page.locator("#ops-load").is_visible():
        page.select_option("#ops-panel", "leaderboard")
        page.locator("#ops-load").click()
        page.wait_for_function(
            "() => document.querySelectorAll('#ops-table tr').length > 1", timeout=WAIT_MS
        )
    if not toggle:
        page.locator("#overview").scroll_into_view_if_needed()
    page.wait_for_timeout(500)
    return True


def shot_tuning(page: Page, base: str, token: str) -> bool:
    _dashboard(page, base, token)  # stores the token for the tuning page
    resp = page.goto(f"{base}/tuning")
    if resp is None or resp.status == 404:
        print("skip: /tuning is not served by this tree (404)")
        return False
    page.wait_for_load_state("networkidle", timeout=WAIT_MS)
    page.wait_for_timeout(1000)
    return True


def shot_audit(page: Page, base: str, token: str) -> bool:
    resp = page.goto(f"{base}/reports/strategy-audit?token={token}")
    if resp is None or resp.status == 404:
        print("skip: /reports/strategy-audit is not served by this tree (404)")
        return False
    page.wait_for_function(
        "() => document.body.dataset.loaded === 'strategy-audit'", timeout=WAIT_MS
    )
    return True


Shot = Callable[[Page, str, str], bool]
# (file, viewport, colour scheme, phone, full page, what to show)
SHOTS: list[tuple[str, dict, str, bool, bool, Shot]] = [
    ("dashboard-light.png", DESKTOP, "light", False, True, shot_dashboard),
    ("dashboard-dark.png", DESKTOP, "dark", False, True, shot_dashboard),
    ("dashboard-phone.png", PHONE, "dark", True, False, shot_dashboard),
    ("dashboard-table-light.png", DESKTOP, "light", False, False, shot_table),
    ("dashboard-table-dark.png", DESKTOP, "dark", False, False, shot_table),
    ("tuning-light.png", DESKTOP, "light", False, True, shot_tuning),
    ("tuning-dark.png", DESKTOP, "dark", False, True, shot_tuning),
    ("reports-audit-light.png", WIDE, "light", False, True, shot_audit),
    ("reports-audit-dark.png", WIDE, "dark", False, True, shot_audit),
]


def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="dash-shots-"))
    d, _db = start_still_daemon(tmp)
    base = f"http://127.0.0.1:{d.port}"
    OUT.mkdir(parents=True, exist_ok=True)
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(
                executable_path="/usr/bin/chromium",
                args=["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"],
            )
            for name, viewport, scheme, mobile, full, shoot in SHOTS:
                ctx = browser.new_context(
                    viewport=viewport, color_scheme=scheme, is_mobile=mobile, device_scale_factor=1
                )
                page = ctx.new_page()
                if shoot(page, base, d.token or ""):
                    page.screenshot(path=str(OUT / name), full_page=full)
                    print(f"wrote {OUT / name}")
                ctx.close()
            browser.close()
    finally:
        d.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
