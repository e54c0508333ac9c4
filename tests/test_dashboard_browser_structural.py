"""The structural actions through the page, in Debian's Chromium (as test_dashboard_browser.py):
add-strategy writes the config only after the operator types the generated id into the prompt,
with "restart now" off by default; a refusal at confirm is shown; the ratchet-alert default is
written. Skipped without /usr/bin/chromium or playwright, with the reason."""

from __future__ import annotations

import json
import os

import pytest
from conftest import Daemon, base_env, fake_strategy, free_port, write_config

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync"]
WAIT_MS = 30_000

sync_api = pytest.importorskip(
    "playwright.sync_api", reason="playwright (the test extra) is not installed"
)
if not os.path.exists(CHROMIUM):
    pytest.skip(
        f"{CHROMIUM} is missing: scripts/setup.sh installs it as root (apt-get install chromium)",
        allow_module_level=True,
    )


@pytest.fixture(scope="module")
def rig(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("browser-structural")
    cfg = write_config(
        tmp,
        [fake_strategy("alpha", "hold", "BTC/USDT"), fake_strategy("beta", "hold", "ETH/USDT")],
        interval_seconds=3600,
    )
    d = Daemon(cfg, base_env(tmp), free_port(), tmp / "daemon.log")
    d.wait_status(lambda s: s["cycle_count"] >= 1 and not s["cycle_in_progress"])
    yield d, cfg
    d.stop()


@pytest.fixture
def page(rig):
    d, _cfg = rig
    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            p = b.new_context().new_page()
            p.errors = []  # type: ignore[attr-defined]
            p.on("console", lambda m: p.errors.append(m.text) if m.type == "error" else None)
            p.on("pageerror", lambda e: p.errors.append(str(e)))
            p.goto(f"http://127.0.0.1:{d.port}/dashboard?token={d.token}")
            p.wait_for_function("() => document.body.dataset.loaded === 'alpha'", timeout=WAIT_MS)
            yield p
        finally:
            b.close()


def wait_text(page, node: str, text: str) -> None:
    page.wait_for_function(
        "([n, t]) => document.getElementById(n).textContent.includes(t)",
        arg=[node, text],
        timeout=WAIT_MS,
    )


def test_a_refusal_at_confirm_is_shown(page):
    page.locator("#struct-gate").click()  # alpha is spot: no gate
    wait_text(page, "struct-msg", "perps or futures")
    # Chromium logs the 409 itself as "Failed to load resource"; nothing else may show
    errors = [e for e in page.errors if "Failed to load resource" not in e]  # type: ignore[attr-defined]
    assert errors == []


def test_ratchet_alert_default_is_written(rig, page):
    _d, cfg = rig
    page.select_option("#notify-default", "false")
    page.locator("#notify-apply").click()
    wait_text(page, "notify-msg", "SIGHUP")
    assert json.loads(cfg.read_text())["notify_ratchet_triggers"] is False
    page.select_option("#notify-default", "")
    page.evaluate("document.getElementById('notify-msg').textContent = ''")
    page.locator("#notify-apply").click()
    wait_text(page, "notify-msg", "SIGHUP")
    assert "notify_ratchet_triggers" not in json.loads(cfg.read_text())


def test_add_strategy_needs_the_typed_phrase(rig, page):
    """Last: the written strategy waits for a restart, which refuses later reloaded writes."""
    _d, cfg = rig
    before = cfg.read_bytes()
    assert not page.locator("#add-restart").is_checked()  # "restart now" is off by default
    page.fill("#add-name", "sma")
    page.select_option("#add-platform", "hyperliquid")
    page.fill("#add-asset", "btc")
    prompts: list[str] = []
    answer = {"text": "hl-sma-btc"}  # wrong: the phrase is exactly the generated id

    def on_dialog(dialog) -> None:
        prompts.append(dialog.message)
        dialog.accept(answer["text"])

    page.on("dialog", on_dialog)
    page.locator("#add-go").click()
    wait_text(page, "add-msg", "not confirmed")
    assert cfg.read_bytes() == before
    assert "Type hl-sma-BTC to confirm" in prompts[0] and "sma_crossover" in prompts[0]
    answer["text"] = "hl-sma-BTC"
    page.locator("#add-go").click()
    page.wait_for_function(
        "() => window.goTraderDashboard.lastStructural !== null", timeout=WAIT_MS
    )
    result = page.evaluate("window.goTraderDashboard.lastStructural")
    assert result["ok"] and result["restart_required"] and not result["restarting"], result
    wait_text(page, "add-msg", "restart go-trader")
    entry = json.loads(cfg.read_text())["strategies"][-1]
    assert entry["id"] == "hl-sma-BTC" and entry["args"][-1] == "--mode=paper"
    assert page.errors == []  # type: ignore[attr-defined]
