"""The reports (issue 22, reference A.1/A.7): ``/reports`` and ``/reports/strategy-audit`` are
token-free page shells (GET/HEAD, 503 while draining), ``/api/reports/strategy-audit`` needs the
token and answers the audit computed from the book (never a hard-coded table, unlike upstream),
as JSON or the same rows as CSV; ``go-trader audit`` prints the same audit.

The figures are checked against a book the test builds: realized P&L is the sum of the trades'
net P&L (and StateDB.realized_pnl), win rate and Sharpe are the overview's, a strategy whose last
trade is older than ``dead_days`` is flagged dead, a latched breaker too.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner
from conftest import fake_strategy
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_dashboard_http import AUTH, TOKEN, request

from supervisor.http import api, audit
from supervisor.http.routes import REPORT_PAGES
from supervisor.http.server import StatusServer

T0 = datetime(2026, 3, 2, 0, 0, 30, tzinfo=UTC)
AUDIT = "/api/reports/strategy-audit"


# -- the route table ------------------------------------------------------------------------------
@pytest.fixture
def srv():
    state: dict = {"draining": False, "pages": []}

    def page(name: str = "dashboard") -> bytes:
        state["pages"].append(name)
        return f"<!doctype html><p>{name}</p>".encode()

    server = StatusServer(
        status=lambda: {},
        health=lambda: (200, {"status": "ok"}),
        history=lambda q: {},
        api=lambda path, query: (200, {"path": path}),
        page=page,
        draining=lambda: state["draining"],
        token=TOKEN,
    )
    assert server.start(0)
    server.state = state  # type: ignore[attr-defined]
    yield server
    server.stop()


def test_report_pages_need_no_token_and_keep_the_csp(srv):
    for path, name in REPORT_PAGES.items():
        for variant in (path, path + "/"):
            code, body, headers = request(srv.port, "GET", variant)
            assert code == 200 and body == f"<!doctype html><p>{name}</p>".encode()
            assert headers["content-type"].startswith("text/html")
            assert "script-src 'self'" in headers["content-security-policy"]
            assert headers["referrer-policy"] == "no-referrer"
        code, body, headers = request(srv.port, "HEAD", path)
        assert code == 200 and body == b"" and int(headers["content-length"]) > 0
        code, _body, headers = request(srv.port, "POST", path, AUTH)
        assert code == 405 and headers["allow"] == "GET, HEAD"
    assert srv.state["pages"][:2] == ["reports", "reports"]
    assert request(srv.port, "GET", "/reports/nope")[0] == 404


def test_the_audit_api_needs_the_token(srv):
    assert request(srv.port, "GET", AUDIT)[0] == 401
    assert request(srv.port, "GET", AUDIT, {"Authorization": "Bearer nope"})[0] == 401
    code, body, _h = request(srv.port, "GET", AUDIT, AUTH)
    assert code == 200 and json.loads(body) == {"path": AUDIT}


def test_pages_and_api_answer_503_while_draining(srv):
    srv.state["draining"] = True
    for path in (*REPORT_PAGES, AUDIT):
        code, body, headers = request(srv.port, "GET", path, AUTH)
        assert (code, json.loads(body)) == (503, {"status": "draining"})
        assert headers["retry-after"] == "5"


# -- the audit against a book built here ---------------------------------------------------------
@pytest.fixture
def book(sup_for, monkeypatch):
    """``a`` flips (trades every cycle), ``idle`` holds (never trades), ``broken`` flips and
    then has its breaker latched; the cycles run at T0."""
    monkeypatch.setenv("GO_TRADER_NOW", T0.isoformat())
    sup = sup_for(
        [
            fake_strategy("a", "flip"),
            fake_strategy("idle", "hold", "ETH/USDT"),
            fake_strategy("broken", "flip", "ETH/USDT"),
        ]
    )
    for i in range(6):
        monkeypatch.setenv("GO_TRADER_NOW", (T0 + timedelta(hours=i)).isoformat())
        sup.run_cycle(sup.config.strategies)
    with sup.book_lock:
        risk = sup.app.strategies["broken"].risk
        risk.circuit_breaker, risk.circuit_breaker_reason = True, "max drawdown"
    return sup


def _rows(doc: dict) -> dict[str, dict]:
    return {r["id"]: r for r in doc["strategies"]}


def test_audit_figures_are_the_books(book, monkeypatch):
    sup = book
    monkeypatch.setenv("GO_TRADER_NOW", (T0 + timedelta(hours=6)).isoformat())
    code, doc = sup.board.api(AUDIT, {})
    assert code == 200 and set(doc) == {
        "generated_at",
        "rule",
        "dead_days",
        "min_trades",
        "strategies",
    }
    rows = _rows(doc)
    assert list(rows) == ["a", "idle", "broken"]  # config order
    overview = {r["id"]: r for r in sup.board.api("/api/strategies/overview", {})[1]["strategies"]}
    realized = sup.db.realized_pnl()
    stats = sup.db.close_stats()
    for sid, row in rows.items():
        trades, total = sup.db.trade_history(strategy=sid, limit=10_000)
        assert len(trades) == total
        # identity: the sum of the trades' net P&L is the strategy's realized P&L
        assert row["realized_pnl"] == pytest.approx(sum(api.net_pnl(t) for t in trades))
        assert row["realized_pnl"] == pytest.approx(realized.get(sid, 0.0))
        assert row["fees"] == pytest.approx(sum(t["fee"] for t in trades))
        assert row["trades"] == sum(1 for t in trades if t["side"] in ("buy", "sell"))
        closes = [api.net_pnl(t) for t in trades if t["is_close"]]
        assert row["closes"] == len(closes) == stats.get(sid, api.NO_CLOSES)[2]
        wins, losses = sum(n > 0 for n in closes), sum(n < 0 for n in closes)
        assert (row["wins"], row["losses"]) == (wins, losses)
        assert row["win_rate"] == overview[sid].get("win_rate")  # the overview's figure
        assert row["sharpe"] == pytest.approx(overview[sid].get("sharpe"))
        assert row["pnl_pct"] == pytest.approx(overview[sid]["pnl_pct"])
        assert sum(row["close_reasons"].values()) == len(closes)
        assert 0.0 <= row["max_drawdown_pct"] < 100.0
        # and with the open positions at the marks, the whole P&L (no capital changes here)
        assert row["pnl"] == pytest.approx(row["realized_pnl"] + row["unrealized_pnl"])
        assert row["mode"] == "paper" and row["type"] == "spot" and row["direction"] == "long"
    a = rows["a"]
    assert a["trades"] >= 5 and a["closes"] >= 2
    assert a["last_trade"] and a["days_since_last_trade"] == pytest.approx(1 / 24, abs=0.01)
    assert (a["verdict"], a["why"]) == ("new", f"{a['closes']} of 10 closes")
    assert rows["idle"]["trades"] == 0 and rows["idle"]["days_since_last_trade"] is None
    assert rows["idle"]["win_rate"] is None and rows["idle"]["verdict"] == "new"
    assert rows["broken"]["verdict"] == "dead"
    assert rows["broken"]["why"] == "circuit breaker: max drawdown"
    # the same rule as /api/strategies/dead
    dead = sup.board.api("/api/strategies/dead", {})[1]["dead"]
    assert [d["id"] for d in dead] == ["broken"]


def test_a_strategy_without_a_trade_for_dead_days_is_dead(book, monkeypatch):
    sup = book
    monkeypatch.setenv("GO_TRADER_NOW", (T0 + timedelta(days=30)).isoformat())
    rows = _rows(sup.board.api(AUDIT, {})[1])
    assert rows["a"]["verdict"] == "dead" and rows["a"]["why"] == "no trade for 30 days"
    assert rows["a"]["days_since_last_trade"] == pytest.approx(30 - 5 / 24)
    assert rows["idle"]["verdict"] == "new"  # never traded: no last trade to age
    # a longer threshold: not dead; fewer closes needed: judged (ok or review by its P&L)
    rows = _rows(sup.board.api(AUDIT, {"dead_days": "60", "min_trades": "1"})[1])
    want = "review" if rows["a"]["pnl"] < 0 else "ok"
    assert rows["a"]["verdict"] == want


@pytest.mark.parametrize(
    "query",
    [{"dead_days": "0"}, {"dead_days": "x"}, {"min_trades": "100001"}, {"format": "xml"}],
)
def test_bad_query_values_are_400(book, query):
    code, body = book.board.api(AUDIT, query)
    assert code == 400 and next(iter(query)) in body["error"]


def test_csv_is_the_json_rows(book):
    doc = book.board.api(AUDIT, {})[1]
    code, (data, ctype) = book.board.api(AUDIT, {"format": "csv"})
    assert code == 200 and ctype == "text/csv; charset=utf-8"
    got = list(csv.DictReader(io.StringIO(data.decode())))
    assert [list(r) for r in got] == [list(audit.COLUMNS)] * len(got)
    want = [
        {k: "" if v is None else str(v) for k, v in audit.flat(row).items()}
        for row in doc["strategies"]
    ]
    assert got == want
    a = next(r for r in got if r["id"] == "a")
    assert float(a["realized_pnl"]) == pytest.approx(_rows(doc)["a"]["realized_pnl"])


def test_the_cli_prints_the_same_audit(book, monkeypatch):
    from supervisor.cli import main

    sup = book
    cfg = str(sup.config.path)
    runner = CliRunner()
    out = runner.invoke(main, ["audit", "--config", cfg])
    assert out.exit_code == 0, out.output
    lines = out.output.splitlines()
    assert lines[0].split()[:3] == ["strategy", "verdict", "mode"]
    assert [ln.split()[0] for ln in lines[1:4]] == ["a", "idle", "broken"]
    assert "verdict rule: dead:" in out.output
    csv_out = runner.invoke(main, ["audit", "--csv", "--config", cfg])
    assert csv_out.exit_code == 0
    api_csv = sup.board.api(AUDIT, {"format": "csv"})[1][0].decode()
    assert csv_out.output.splitlines()[0] == api_csv.splitlines()[0]
    # the breaker latched in memory above is not committed: the CLI reads the last cycle
    got = {r["id"]: r for r in csv.DictReader(io.StringIO(csv_out.output))}
    want = {r["id"]: r for r in csv.DictReader(io.StringIO(api_csv))}
    assert got["a"]["realized_pnl"] == want["a"]["realized_pnl"]
    assert got["a"]["trades"] == want["a"]["trades"]


# -- pure parts -------------------------------------------------------------------------------------
def test_max_drawdown_is_the_largest_fall_from_a_peak():
    row = ("", "sell", True, 0.0, 0.0, "")
    ledger = [row[:3] + (pnl,) + row[4:] for pnl in (100.0, -300.0, 50.0)]
    # 1000 -> 1100 -> 800 -> 850, then 900 now: the fall 1100 -> 800 is 27.27%
    assert audit.max_drawdown_pct(1000.0, ledger, 900.0) == pytest.approx(300 / 1100 * 100)
    assert audit.max_drawdown_pct(1000.0, [], 1000.0) == 0.0
    assert audit.max_drawdown_pct(1000.0, [], 400.0) == pytest.approx(60.0)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.floats(-50, 50), max_size=15), st.floats(1, 2000))
def test_max_drawdown_is_a_percentage(pnls, value_now):
    ledger = [("", "sell", True, p, 0.0, "") for p in pnls]  # never below 250: a positive curve
    dd = audit.max_drawdown_pct(1000.0, ledger, value_now)
    assert 0.0 <= dd <= 100.0 + 1e-9


def test_verdict_rule_order():
    assert audit._verdict("breaker", None, 50, 10.0, 14, 10)[0] == "dead"
    assert audit._verdict("", 20.0, 50, 10.0, 14, 10)[0] == "dead"
    assert audit._verdict("", 1.0, 10, -0.01, 14, 10) == ("review", "P&L -0.01 over 10 closes")
    assert audit._verdict("", 1.0, 9, -5.0, 14, 10)[0] == "new"
    assert audit._verdict("", 1.0, 10, 0.0, 14, 10) == ("ok", "")


def test_the_pages_render_without_inline_script_or_data(sup_for):
    import re

    sup = sup_for([fake_strategy("a", "flip")])
    for name in ("reports", "strategy-audit", "dashboard"):
        html = sup.board.page(name).decode()
        assert html.startswith("<!doctype html>")
        scripts = re.findall(r"<script[^>]*>", html)
        assert scripts and all('src="/dashboard/' in s for s in scripts)  # CSP: no inline script
        assert "/dashboard/theme.js" in html  # the same pre-paint theme (goTraderDarkMode)
    assert 'href="/reports/strategy-audit"' in sup.board.page("reports").decode()
    assert 'href="/reports"' in sup.board.page("dashboard").decode()
    assert sup.board.page("reports") is sup.board.page("reports")  # rendered once, kept


def test_the_cli_refuses_a_bad_bound_and_runs_without_state(tmp_path):
    from conftest import write_config

    from supervisor.cli import main

    cfg = str(write_config(tmp_path, [fake_strategy("a", "flip")]))
    out = CliRunner().invoke(main, ["audit", "--config", cfg])
    assert out.exit_code == 0 and "nothing to audit" in out.output
    out = CliRunner().invoke(main, ["audit", "--dead-days", "0", "--config", cfg])
    assert out.exit_code == 2 and "--dead-days must be a whole number from 1 to 3650" in out.output
