"""The dashboard in a real browser: Debian's Chromium driven by Playwright, against a daemon on
the simulated market (tests/dashboard_rig.py). The page loads without a console error, takes the
token once from ?token= (then drops it from the address bar), draws candles with exactly the
book's trades as markers, switches strategies, works as a phone-sized drawer, and every POST
without the token or from a foreign Origin is refused. The strategy audit page (a token-free
shell like the dashboard's) draws the API's audit and downloads its CSV.

The browser is /usr/bin/chromium (``apt-get install chromium``, done by scripts/setup.sh as root),
never a Playwright download; without it the test is skipped with the reason.
"""

from __future__ import annotations

import json
import os
import time

import pytest
from conftest import fake_strategy
from dashboard_rig import IDS, book_trades, start_still_daemon

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
WAIT_MS = 30_000
# perps, always long, with a wide stop that never fires here: the chart draws its stop line
HELD = fake_strategy("held", "buy", "SOL", type="perps", leverage=2, stop_loss_pct=40)

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
    tmp = tmp_path_factory.mktemp("browser")
    d, db = start_still_daemon(tmp, extra=(HELD,))
    yield d, db
    d.stop()


@pytest.fixture(scope="module")
def browser():
    # launch() gives the browser a fresh temporary profile (its own --user-data-dir) and
    # removes it on close; Playwright refuses the flag itself outside persistent contexts
    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def page(browser):
    context = browser.new_context()
    p = context.new_page()
    p.errors = []  # type: ignore[attr-defined]
    p.on(
        "console",
        lambda m: p.errors.append(f"console: {m.text}") if m.type == "error" else None,
    )
    p.on("pageerror", lambda e: p.errors.append(f"pageerror: {e}"))
    yield p
    context.close()


def base(d) -> str:
    return f"http://127.0.0.1:{d.port}"


def wait_loaded(page, sid: str) -> dict:
    page.wait_for_function("id => document.body.dataset.loaded === id", arg=sid, timeout=WAIT_MS)
    return page.evaluate(
        "() => { const s = window.goTraderDashboard;"
        " return {selected: s.selected, candles: s.candles, markers: s.markers,"
        " trades: s.trades}; }"
    )


def assert_markers_are_the_book(state: dict, book: list) -> None:
    assert [(t["side"], int(t["is_close"]), t["price"]) for t in state["trades"]] == [
        (side, close, price) for _ts, side, close, price in book
    ]
    assert len(state["markers"]) == len(book)
    candle_times = {c["time"] for c in state["candles"]}
    assert all(m["time"] in candle_times for m in state["markers"])  # drawn on a bar
    want = [
        "CLOSE" if close else ("BUY" if side == "buy" else "SELL") for _t, side, close, _p in book
    ]
    assert [m["text"] for m in state["markers"]] == want


def test_page_loads_draws_the_books_trades_and_switches(rig, page):
    d, db = rig
    page.goto(f"{base(d)}/dashboard?token={d.token}", wait_until="load")
    state = wait_loaded(page, IDS[0])
    assert "token" not in page.url  # taken once, then removed from the address bar
    assert page.evaluate("localStorage.getItem('goTraderStatusToken')") == d.token
    assert len(state["candles"]) == 400
    assert_markers_are_the_book(state, book_trades(db, IDS[0]))
    canvas = page.locator("#chart canvas").first
    box = canvas.bounding_box()
    assert box is not None and box["width"] > 100 and box["height"] > 100
    assert page.locator("#overview tbody tr").count() == len(IDS) + 1  # + HELD
    assert page.locator("#trades tbody tr").count() == len(book_trades(db, IDS[0]))
    page.wait_for_function(
        "() => document.querySelectorAll('#strategy-list polyline').length === 2",
        timeout=WAIT_MS,
    )  # the equity sparklines (HELD has closed nothing: one point, no line)

    page.locator(f'#strategy-list li[data-id="{IDS[1]}"]').click()
    state = wait_loaded(page, IDS[1])
    assert state["selected"] == IDS[1] and page.url.endswith(f"#{IDS[1]}")
    assert_markers_are_the_book(state, book_trades(db, IDS[1]))
    assert page.locator("#chart-title").inner_text().startswith(IDS[1])

    page.locator(f'#overview tbody tr[data-id="{IDS[0]}"]').click()
    wait_loaded(page, IDS[0])
    assert page.errors == []  # type: ignore[attr-defined]


def test_dark_mode_is_kept_and_the_token_stays_in_local_storage(rig, page):
    d, _db = rig
    page.goto(f"{base(d)}/dashboard?token={d.token}")
    wait_loaded(page, IDS[0])
    dark_before = page.evaluate("document.documentElement.classList.contains('dark')")
    page.locator("#theme").click()
    page.reload()
    wait_loaded(page, IDS[0])  # no ?token= this time: read from local storage
    assert page.evaluate("document.documentElement.classList.contains('dark')") != dark_before
    assert page.errors == []  # type: ignore[attr-defined]


def test_without_a_token_the_page_asks_for_one(rig, page):
    d, _db = rig
    page.goto(f"{base(d)}/dashboard")
    page.wait_for_selector("#login:not([hidden])", timeout=WAIT_MS)
    assert page.locator("#app").is_hidden()
    page.fill("#token", d.token)
    page.locator("#login-form button").click()
    wait_loaded(page, IDS[0])
    assert page.errors == []  # type: ignore[attr-defined]


def test_phone_layout_uses_a_drawer(rig, browser):
    d, _db = rig
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    try:
        p = context.new_page()
        p.goto(f"{base(d)}/dashboard?token={d.token}")
        wait_loaded(p, IDS[0])
        assert p.locator("#menu").is_visible()
        sidebar = p.locator("#sidebar")
        assert sidebar.bounding_box()["x"] < 0  # off-canvas
        p.locator("#menu").click()
        p.wait_for_function(
            "() => document.getElementById('sidebar').getBoundingClientRect().x >= 0",
            timeout=WAIT_MS,
        )
        p.locator(f'#strategy-list li[data-id="{IDS[1]}"]').click()
        wait_loaded(p, IDS[1])
        width = p.evaluate("document.documentElement.scrollWidth")
        assert width <= 390  # nothing wider than the phone
    finally:
        context.close()


POST_FROM_PAGE = """async ([path, headers]) => {
  const r = await fetch(path, {method: 'POST', headers: headers, body: '{"paused": true}'});
  return r.status;
}"""


def test_every_post_without_the_token_or_from_a_foreign_origin_is_refused(rig, page):
    d, _db = rig
    page.goto(f"{base(d)}/dashboard?token={d.token}")
    wait_loaded(page, IDS[0])
    auth = {"Authorization": f"Bearer {d.token}"}
    json_type = {"Content-Type": "application/json"}
    for action in ("pause", "close", "force-close", "config", "simulate"):
        path = f"/api/strategies/{IDS[0]}/{action}"
        # from the page itself (the browser sets a same-origin Origin)
        assert page.evaluate(POST_FROM_PAGE, [path, json_type]) == 401
        assert page.evaluate(POST_FROM_PAGE, [path, {**auth, "Content-Type": "text/plain"}]) == 415
        # from elsewhere: a foreign Origin, or none at all, is refused even with the token
        url = base(d) + path
        for origin in ({"Origin": "http://evil.example"}, {"Origin": "null"}, {}):
            resp = page.request.post(url, headers={**auth, **json_type, **origin}, data="{}")
            assert resp.status == 403, (action, origin)
        resp = page.request.post(url, headers={**json_type, "Origin": base(d)}, data="{}")
        assert resp.status == 401
    for path in ("/api/confirm", "/api/config/add-strategy", "/api/tuning/apply"):
        assert page.evaluate(POST_FROM_PAGE, [path, json_type]) == 401
    # the book did not change
    state = wait_loaded(page, IDS[0])
    assert state["selected"] == IDS[0]


# -- the acting side (panels.js): stop/target lines, pause, trade actions, the tuner ------------
def test_stop_and_target_lines_are_the_books_guard(rig, page):
    d, _db = rig
    page.goto(f"{base(d)}/dashboard?token={d.token}")
    page.locator('#strategy-list li[data-id="held"]').click()
    wait_loaded(page, "held")
    _code, status = d.get("/api/strategies/held/status")
    want = []
    for pos in status["positions"].values():
        if pos["stop"]:
            want.append({"kind": "stop", "price": pos["stop"]})
        want += [{"kind": "target", "price": t["price"]} for t in pos["targets"]]
    page.wait_for_function(
        "n => window.goTraderDashboard.priceLines.length === n", arg=len(want), timeout=WAIT_MS
    )
    assert page.evaluate("window.goTraderDashboard.priceLines") == want
    assert want, "the rig's strategies hold a position with a stop (dashboard_rig.py)"
    page.locator("#tuner-form [data-key='interval_seconds']").wait_for(timeout=WAIT_MS)
    assert page.errors == []  # type: ignore[attr-defined]


def test_trade_actions_are_refused_at_confirm_for_a_non_manual_strategy(rig, page):
    d, _db = rig
    page.goto(f"{base(d)}/dashboard?token={d.token}")
    wait_loaded(page, IDS[0])
    page.select_option("#action", "close")
    page.locator("#action-go").click()
    page.wait_for_function(
        "() => document.getElementById('action-msg').textContent.includes('manual strategy')",
        timeout=WAIT_MS,
    )
    # a made-up nonce is refused (403), and so is the same request again
    replay = """async ([path, nonce]) => {
      const r = await fetch(path, {method: 'POST', headers: {'Content-Type': 'application/json',
        'Authorization': 'Bearer ' + localStorage.getItem('goTraderStatusToken')},
        body: JSON.stringify({nonce: nonce, params: {}})});
      return r.status; }"""
    path = f"/api/strategies/{IDS[0]}/close"
    assert page.evaluate(replay, [path, "0" * 32]) == 403
    assert page.evaluate(replay, [path, "0" * 32]) == 403


def test_pause_through_the_page_is_written_and_reloaded(rig, page):
    d, db = rig
    page.goto(f"{base(d)}/dashboard?token={d.token}")
    wait_loaded(page, IDS[0])
    page.wait_for_function(
        "() => document.getElementById('pause-toggle').textContent === 'Pause'", timeout=WAIT_MS
    )
    page.locator("#pause-toggle").click()
    page.wait_for_function(
        "() => document.getElementById('tuner-msg').textContent.includes('paused')",
        timeout=WAIT_MS,
    )
    raw = json.loads((db.parent / "config.json").read_text())
    assert next(s for s in raw["strategies"] if s["id"] == IDS[0])["paused"] is True
    deadline = time.time() + 30
    while "paused False -> True" not in d.log() and time.time() < deadline:
        time.sleep(0.2)
    assert "paused False -> True" in d.log()
    page.reload()
    wait_loaded(page, IDS[0])
    page.wait_for_function(
        "() => document.getElementById('pause-toggle').textContent === 'Resume'", timeout=WAIT_MS
    )
    page.locator("#pause-toggle").click()
    page.wait_for_function(
        "() => document.getElementById('tuner-msg').textContent.includes('resumed')",
        timeout=WAIT_MS,
    )
    assert page.errors == []  # type: ignore[attr-defined]


# -- the reports (supervisor/http/reports.py): token-free shells reading the API with the token --
AUDIT_PAGE_STATE = "() => window.goTraderReports.doc"


def test_the_strategy_audit_page_shows_the_books_audit_and_its_csv(rig, page, tmp_path):
    d, db = rig
    page.goto(f"{base(d)}/reports/strategy-audit?token={d.token}")
    page.wait_for_function(
        "() => document.body.dataset.loaded === 'strategy-audit'", timeout=WAIT_MS
    )
    assert "token" not in page.url  # taken once, as the dashboard does
    shown = page.evaluate(AUDIT_PAGE_STATE)
    code, api_doc = d.get("/api/reports/strategy-audit")
    assert code == 200
    assert [r["id"] for r in shown["strategies"]] == [r["id"] for r in api_doc["strategies"]]
    rows = page.locator("#audit-table tbody tr")
    assert rows.count() == len(IDS) + 1  # + HELD
    for sid in IDS:  # the trades column is the book's buys and sells
        cell = page.locator(f'#audit-table tbody tr[data-id="{sid}"] td').nth(7)
        assert int(cell.inner_text()) == len(book_trades(db, sid))
    assert page.locator("#audit-rule").inner_text().startswith("dead:")
    with page.expect_download(timeout=WAIT_MS) as got:
        page.locator("#csv").click()
    path = tmp_path / "audit.csv"
    got.value.save_as(path)
    header, *lines = path.read_text().splitlines()
    assert header.startswith("id,verdict,why,") and len(lines) == len(IDS) + 1
    assert page.errors == []  # type: ignore[attr-defined]


def test_the_reports_index_links_the_audit_and_keeps_the_theme(rig, page):
    d, _db = rig
    page.goto(f"{base(d)}/reports/strategy-audit?token={d.token}")  # stores the token
    page.wait_for_function(
        "() => document.body.dataset.loaded === 'strategy-audit'", timeout=WAIT_MS
    )
    page.goto(f"{base(d)}/reports")
    page.wait_for_function("() => document.body.dataset.loaded === 'reports'", timeout=WAIT_MS)
    dark_before = page.evaluate("document.documentElement.classList.contains('dark')")
    page.locator("#theme").click()
    page.locator("#link-strategy-audit").click()
    page.wait_for_function(
        "() => document.body.dataset.loaded === 'strategy-audit'", timeout=WAIT_MS
    )  # no ?token= this time: the dashboard's local storage
    assert page.evaluate("document.documentElement.classList.contains('dark')") != dark_before
    assert page.evaluate("localStorage.getItem('goTraderDarkMode')") in ("0", "1")
    assert page.errors == []  # type: ignore[attr-defined]


def test_a_tuner_change_applied_through_the_page_is_used_by_the_next_cycle(rig, page):
    """Last in this file: the next cycle changes the book the tests above compare with."""
    d, db = rig
    page.goto(f"{base(d)}/dashboard?token={d.token}")
    wait_loaded(page, IDS[0])
    field = page.locator("#tuner-form [data-key='interval_seconds']")
    field.wait_for(timeout=WAIT_MS)
    before = d.get("/status")[1]["cycle_count"]
    field.fill("2")
    page.locator("#tuner-apply").click()
    page.wait_for_function("() => window.goTraderDashboard.lastAction !== null", timeout=WAIT_MS)
    result = page.evaluate("window.goTraderDashboard.lastAction")
    assert result["ok"] and "SIGHUP" in result["message"], result
    raw = json.loads((db.parent / "config.json").read_text())
    assert next(s for s in raw["strategies"] if s["id"] == IDS[0])["interval_seconds"] == 2
    # the loop reloads before its next cycle, which comes 2 s later instead of an hour
    d.wait_status(lambda s: s["cycle_count"] > before, timeout=60)
    assert f"{IDS[0]} interval_seconds 0 -> 2" in d.log()
