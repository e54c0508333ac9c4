"""The dashboard in a real browser: Debian's Chromium driven by Playwright, against a daemon on
the simulated market (tests/dashboard_rig.py). The page loads without a console error, takes the
token once from ?token= (then drops it from the address bar), draws candles with exactly the
book's trades as markers, switches strategies, works as a phone-sized drawer, and every POST
without the token or from a foreign Origin is refused.

The browser is /usr/bin/chromium (``apt-get install chromium``, done by scripts/setup.sh as root),
never a Playwright download; without it the test is skipped with the reason.
"""

from __future__ import annotations

import os

import pytest
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
    d, db = start_still_daemon(tmp)
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
    assert page.locator("#overview tbody tr").count() == len(IDS)
    assert page.locator("#trades tbody tr").count() == len(book_trades(db, IDS[0]))
    page.wait_for_function(
        "() => document.querySelectorAll('#strategy-list polyline').length === 2",
        timeout=WAIT_MS,
    )  # the equity sparklines

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
