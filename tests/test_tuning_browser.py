"""The /tuning page in a real browser (Debian's Chromium via Playwright) against a daemon on the
simulated market: it loads without a console error, launches a run that completes, and applies
a stored survivor through the typed confirm phrase; the daemon reloads the new params."""

from __future__ import annotations

import json
import os
import time

import pytest
from conftest import base_env, write_config
from tuning_rig import GAMMA, gamma, seed_run

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"]
WAIT_MS = 60_000

sync_api = pytest.importorskip(
    "playwright.sync_api", reason="playwright (the test extra) is not installed"
)
if not os.path.exists(CHROMIUM):
    pytest.skip(f"{CHROMIUM} is missing: scripts/setup.sh installs it", allow_module_level=True)


def test_launch_list_detail_and_apply(tmp_path, daemons):
    cfg = write_config(
        tmp_path, [gamma()], interval_seconds=3600, tuning={"lookback_bars": 400, "splits": 2}
    )
    seeded = seed_run(tmp_path / "tuning_runs", json.loads(cfg.read_text()))
    d = daemons(cfg, base_env(tmp_path))
    d.wait_status(lambda s: s["cycle_count"] >= 1 and not s["cycle_in_progress"])
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            page = browser.new_page()
            errors: list[str] = []
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(f"http://127.0.0.1:{d.port}/dashboard?token={d.token}")
            page.locator('a[href="/tuning"]').click()  # the sidebar's link
            page.wait_for_selector("#app:not([hidden])", timeout=WAIT_MS)
            page.wait_for_selector(f'#runs tr[data-id="{seeded}"]', timeout=WAIT_MS)
            # launch a run from the form; it completes on the simulated market
            page.select_option("#launch-ids", GAMMA)
            page.fill("#launch-overrides", json.dumps({GAMMA: {"freeze": ["slow_period"]}}))
            page.locator("#launch button").click()
            page.wait_for_function(
                "() => document.querySelectorAll('#runs tbody tr').length === 2", timeout=WAIT_MS
            )
            page.wait_for_function(
                "() => [...document.querySelectorAll('#runs tbody tr td:nth-child(2)')]"
                ".every(td => td.textContent === 'completed')",
                timeout=WAIT_MS,
            )
            # the seeded run: its rows, the param diff, and Apply on the survivor only
            page.locator(f'#runs tr[data-id="{seeded}"]').click()
            page.wait_for_function(  # the launched run's detail was open until now
                "id => document.getElementById('detail-title').textContent.includes(id)"
                " && document.getElementById('detail-body').textContent.includes("
                "'fast_period=10 (was 20)')",
                arg=seeded,
                timeout=WAIT_MS,
            )
            buttons = page.locator("#detail-body button")
            assert buttons.count() == 2  # p-good and p-bad; the baseline has none
            assert buttons.nth(0).is_enabled() and buttons.nth(1).is_disabled()
            page.on("dialog", lambda dialog: dialog.accept(GAMMA))  # the typed phrase
            buttons.nth(0).click()
            page.wait_for_function(
                "() => document.getElementById('detail-body').textContent.includes('applied 2')",
                timeout=WAIT_MS,
            )
            assert errors == []
        finally:
            browser.close()
    entry = json.loads(cfg.read_text())["strategies"][0]
    assert entry["open_strategy"]["params"] == {"fast_period": 10}
    deadline = time.time() + 30
    while f"[reload] applied: {GAMMA}" not in d.log() and time.time() < deadline:
        time.sleep(0.2)
    assert f"[reload] applied: {GAMMA}" in d.log()
