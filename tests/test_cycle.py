"""One cycle in-process against hostile and awkward answers: the book stays finite and honest.

Marks come from ``fakes/fake_marks.py`` (a test writes ``marks.json``), signals from
``fakes/fake_answer.py`` (a test writes ``answer-<name>.json`` verbatim, NaN and all).
"""

from __future__ import annotations

import json
import math
import sqlite3
import time
from pathlib import Path

import pytest

from supervisor import cycle as cycle_mod
from supervisor.state.db import StateDB
from supervisor.state.models import Mark

FAKES = Path(__file__).resolve().parent / "fakes"
ANSWER = str(FAKES / "fake_answer.py")
MARKS = str(FAKES / "fake_marks.py")


def strat(sid: str, name: str, symbol: str = "BTC/USDT", **extra) -> dict:
    entry = {
        "id": sid,
        "type": "spot",
        "script": ANSWER,
        "allow_external_script": True,
        "args": [name, symbol, "1h"],
        "capital": 1000,
        "max_drawdown_pct": 50,
    }
    entry.update(extra)
    return entry


def answer(tmp: Path, name: str, text: str | dict) -> None:
    (tmp / f"answer-{name}.json").write_text(text if isinstance(text, str) else json.dumps(text))


def marks(tmp: Path, **prices: float) -> None:
    (tmp / "marks.json").write_text(json.dumps({k.replace("_", "/"): v for k, v in prices.items()}))


def buy(symbol: str = "BTC/USDT", price: float = 100.0, **extra) -> dict:
    return {"symbol": symbol, "signal": 1, "price": price, "indicators": {"atr": 1.0}, **extra}


def saved_trades(tmp: Path) -> list[tuple]:
    con = sqlite3.connect(tmp / "state.db")
    return con.execute(
        "SELECT strategy_id, side, price, mark_price, bar_price FROM trades ORDER BY rowid"
    ).fetchall()


@pytest.mark.parametrize(
    "text, why",
    [
        ('{"symbol": "BTC/USDT", "signal": 1, "price": 5e-324}', "outside the sane range"),
        ('{"symbol": "BTC/USDT", "signal": 1, "price": 1e-300}', "outside the sane range"),
        ('{"symbol": "BTC/USDT", "signal": 1, "price": 1e308}', "outside the sane range"),
        ('{"symbol": "BTC/USDT", "signal": 1, "price": NaN}', "finite number"),
        ('{"symbol": "BTC/USDT", "signal": 1, "price": Infinity}', "finite number"),
        ('{"symbol": "ETH/USDT", "signal": 1, "price": 2769.94}', "not this strategy's"),
        ('{"symbol": "BTC/USDT", "signal": 1, "price": 180.0}', "away from the cycle's mark"),
    ],
)
def test_a_poisoned_answer_costs_only_its_strategy(tmp_path, sup_for, text, why):
    marks(tmp_path, BTC_USDT=100.0)
    answer(tmp_path, "bad", text)
    answer(tmp_path, "good", buy())
    sup = sup_for([strat("bad", "bad"), strat("good", "good")])
    sup.run_cycle(sup.config.strategies)
    book = sup.app.strategies
    assert why in book["bad"].last_error
    assert book["bad"].cash == 1000 and not book["bad"].positions
    assert book["good"].positions and not sup.save_error
    assert all(math.isfinite(x) for s in book.values() for x in s.numbers())
    assert [t[0] for t in saved_trades(tmp_path)] == ["good"]


def test_a_non_finite_book_is_put_back_and_the_others_still_save(tmp_path, sup_for, monkeypatch):
    marks(tmp_path, BTC_USDT=100.0)
    answer(tmp_path, "a", buy())
    answer(tmp_path, "b", buy())
    sup = sup_for([strat("a", "a"), strat("b", "b")])
    real = cycle_mod.book.apply_signal

    def leaky(strat, *args, **kwargs):  # a future bug that lets a NaN slip into one book
        trades, action = real(strat, *args, **kwargs)
        if strat.id == "a":
            strat.cash = float("nan")
        return trades, action

    monkeypatch.setattr(cycle_mod.book, "apply_signal", leaky)
    sup.run_cycle(sup.config.strategies)
    a, b = sup.app.strategies["a"], sup.app.strategies["b"]
    assert a.cash == 1000 and not a.positions and "non-finite" in a.last_error
    assert b.positions and sup.save_error == ""
    assert [t[0] for t in saved_trades(tmp_path)] == ["b"]


def test_fills_happen_at_the_cycle_mark_and_record_both_prices(tmp_path, sup_for):
    marks(tmp_path, BTC_USDT=104.0)
    answer(tmp_path, "m", buy(price=100.0))  # the bar close lags the live price
    answer(tmp_path, "n", buy(symbol="SOL/USDT", price=20.0))  # no mark for SOL: bar close
    sup = sup_for([strat("m", "m"), strat("n", "n", "SOL/USDT")])
    report = sup.run_cycle(sup.config.strategies)
    assert saved_trades(tmp_path) == [
        ("m", "buy", 104.0, 104.0, 100.0),
        ("n", "buy", 20.0, 0.0, 20.0),
    ]
    assert any("no mark for SOL/USDT" in n for n in report.notes)
    assert sup.app.strategies["m"].positions["BTC/USDT"].avg_cost == 104.0


def test_marks_carry_their_time_and_survive_a_restart(tmp_path, sup_for):
    marks(tmp_path, BTC_USDT=100.0)
    answer(tmp_path, "m", buy())
    sup = sup_for([strat("m", "m")])
    before = time.time()
    sup.run_cycle(sup.config.strategies)
    sup.shutdown()
    stored = StateDB(tmp_path / "state.db").load().marks
    assert stored[("binanceus", "BTC/USDT")].price == 100.0
    assert before - 1 <= stored[("binanceus", "BTC/USDT")].at <= time.time()
    view = sup.status_view() if sup.ready else None
    assert view is None or "binanceus:BTC/USDT" in view["marks"]


def test_stale_marks_are_not_used_for_risk(tmp_path, sup_for):
    marks(tmp_path, BTC_USDT=100.0)
    answer(tmp_path, "m", buy())
    sup = sup_for([strat("m", "m", interval_seconds=3600)], interval_seconds=3600)
    sup.run_cycle(sup.config.strategies)
    assert sup.app.strategies["m"].positions
    # an old crash-level mark and no fresh one: risk must not act on it
    (tmp_path / "marks.json").write_text("{}")
    sup.app.marks[("binanceus", "BTC/USDT")] = Mark(1.0, time.time() - 7 * 86400)
    report = sup.run_cycle([])
    assert sup.app.strategies["m"].positions and not report.trades
    assert any("risk not judged" in n for n in report.notes)
    status = sup.status_view()
    assert status["marks"]["binanceus:BTC/USDT"]["fresh"] is False


def test_breakers_watch_strategies_that_are_not_due(tmp_path, sup_for):
    marks(tmp_path, BTC_USDT=100.0, ETH_USDT=50.0)
    answer(tmp_path, "slow", buy())
    answer(tmp_path, "fast", {"symbol": "ETH/USDT", "signal": 0, "price": 50.0})
    sup = sup_for(
        [strat("slow", "slow", interval_seconds=86400), strat("fast", "fast", "ETH/USDT")],
        interval_seconds=86400,
        portfolio_risk={"max_drawdown_pct": 99},  # the per-strategy breaker, not the kill switch
    )
    sup.run_cycle(sup.config.strategies)
    assert sup.app.strategies["slow"].positions
    marks(tmp_path, BTC_USDT=40.0, ETH_USDT=50.0)  # -60%: past the 50% limit
    report = sup.run_cycle([sup.config.strategy("fast")])  # only the fast one is due
    slow = sup.app.strategies["slow"]
    assert not slow.positions and slow.risk.circuit_breaker
    (close,) = [t for t in report.trades if t.strategy_id == "slow"]
    assert close.price == 40.0 and "circuit_breaker" in close.details


def test_one_unpriced_symbol_does_not_blank_the_others(tmp_path, sup_for):
    marks(tmp_path, BTC_USDT=100.0)
    answer(tmp_path, "a", {"symbol": "BTC/USDT", "signal": 0, "price": 99.0})
    answer(tmp_path, "b", {"symbol": "XYZ/USDT", "signal": 0, "price": 5.0})
    sup = sup_for([strat("a", "a"), strat("b", "b", "XYZ/USDT")])
    report = sup.run_cycle(sup.config.strategies)
    assert sup.app.marks[("binanceus", "BTC/USDT")].price == 100.0
    assert ("binanceus", "XYZ/USDT") not in sup.app.marks
    assert any("no mark for XYZ/USDT" in n for n in report.notes)


def test_a_failed_save_backs_off_instead_of_retrying_every_second(tmp_path, sup_for, monkeypatch):
    from sqlalchemy.exc import OperationalError

    answer(tmp_path, "a", buy())
    sup = sup_for([strat("a", "a")])
    calls = {"n": 0}

    def failing(self, app, trades=(), messages=()):
        calls["n"] += 1
        raise OperationalError("INSERT", {}, Exception("disk I/O error"))

    monkeypatch.setattr(StateDB, "save", failing)
    sup.run_cycle(sup.config.strategies)
    assert calls["n"] == 1 and sup.retry_save_at > time.monotonic()
    for _ in range(5):  # a loop spinning on the paused book does not hammer the disk
        paused = sup.run_cycle(sup.config.strategies)
        assert all("not trading" in o.error for o in paused.outcomes)
    assert calls["n"] == 1
    sup.retry_save_at = 0.0  # the back-off has passed
    sup.run_cycle(sup.config.strategies)
    assert calls["n"] == 2 and sup.save_failures == 2
    assert sup.retry_save_at - time.monotonic() > 2.5  # 2 s, then 4 s, ...
