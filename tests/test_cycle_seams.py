"""Money where the cycle's features meet: funding before closes, liquidation, the day's loss.

The same candles go through the supervisor's paper book (scripted answers and marks, one
cycle per bar close, on the book's pinned clock) and through the backtester; funding totals
and liquidations must agree, because both call the same book functions.
"""

from __future__ import annotations

import json
import sqlite3

import pandas as pd
import pytest
from test_cycle_perps import HOUR, perp, say

from backtest.backtester import BacktestSettings, run_signals
from supervisor.cycle import STEPS

T0 = 1_763_683_200  # 2025-11-21T00:00:00Z, a multiple of 8 hours


def pin(monkeypatch, t: float) -> None:
    monkeypatch.setenv("GO_TRADER_NOW", str(int(t)))


def write_marks(tmp, symbol: str, price: float, funding: float | None = None) -> None:
    doc: dict = {symbol: price}
    if funding is not None:
        doc["_funding"] = {symbol: funding}
    (tmp / "marks.json").write_text(json.dumps(doc))


def continuous_bars(closes: list[float]) -> pd.DataFrame:
    """Hourly bars whose open is the previous close: a market order at a cycle (the previous
    close) and at the next bar's open (the backtester's fill) get the same price."""
    opens = [closes[0], *closes[:-1]]
    index = pd.date_range(pd.Timestamp(T0, unit="s", tz="UTC"), periods=len(closes), freq="1h")
    return pd.DataFrame(
        {
            "open": opens,
            "high": [max(o, c) for o, c in zip(opens, closes, strict=True)],
            "low": [min(o, c) for o, c in zip(opens, closes, strict=True)],
            "close": closes,
            "volume": 1.0,
        },
        index=index,
    )


def funding_rows(tmp) -> list[float]:
    con = sqlite3.connect(tmp / "state.db")
    return [r[0] for r in con.execute("SELECT realized_pnl FROM trades WHERE side = 'funding'")]


def test_the_cycle_runs_its_steps_in_the_documented_order():
    assert STEPS == (
        "marks",
        "reconcile",
        "funding",
        "liquidation",
        "portfolio",
        "protect",
        "signals",
        "hedge",
        "risk",
        "audit",
        "transitions",
    )


def test_a_position_closed_in_the_cycle_that_crosses_a_funding_hour_pays_that_hour(
    tmp_path, sup_for, monkeypatch
):
    sup = sup_for([perp("f", "f")])
    pin(monkeypatch, T0)
    write_marks(tmp_path, "BTC", 100.0, funding=0.001)
    say(tmp_path, "f", 1, 100.0)
    sup.run_cycle(sup.config.strategies)
    qty = sup.app.strategies["f"].positions["BTC"].quantity
    pin(monkeypatch, T0 + HOUR + 60)  # one funding hour crossed, and the check closes
    write_marks(tmp_path, "BTC", 100.0, funding=0.001)
    say(tmp_path, "f", -1, 100.0)
    sup.run_cycle(sup.config.strategies)
    assert not sup.app.strategies["f"].positions
    assert funding_rows(tmp_path) == pytest.approx([-qty * 100.0 * 0.001])


@pytest.mark.parametrize(
    "platform, symbol, extra",
    [
        ("hyperliquid", "BTC", {}),
        ("okx", "BTC", {"platform": "okx"}),
    ],
)
def test_paper_book_and_backtester_pay_the_same_funding(
    tmp_path, sup_for, monkeypatch, platform, symbol, extra
):
    n, enter, leave = 40, 2, 33  # signals on these bars' closes; fills at the next bar
    closes = [100.0 + 0.4 * ((k * 7) % 5) - 0.02 * k for k in range(n)]
    rates = [(-1) ** k * 1e-4 * (1 + k % 3) for k in range(n)]  # hourly, per bar
    df = continuous_bars(closes)
    df["funding"] = rates
    signal = pd.Series(0, index=df.index)
    signal.iloc[enter], signal.iloc[leave] = 1, -1
    settings = BacktestSettings(
        capital=1000.0,
        platform=platform,
        instrument="perps",
        direction="long",
        leverage=3,
        symbol=symbol,
    )
    result = run_signals(df, signal, settings)

    sup = sup_for(
        [perp("p", "p", symbol, leverage=3, direction="long", **extra)],
        portfolio_risk={"max_drawdown_pct": 90},
    )
    for k in range(1, n):  # the cycle at bar k's open sees bar k-1 closed
        pin(monkeypatch, T0 + k * HOUR)
        write_marks(tmp_path, symbol, closes[k - 1], funding=rates[k - 1])
        sig = {enter: 1, leave: -1}.get(k - 1, 0)
        say(tmp_path, "p", sig, closes[k - 1])
        sup.run_cycle(sup.config.strategies)
    paid = funding_rows(tmp_path)
    assert paid, "the paper book paid no funding"
    assert sum(paid) == pytest.approx(result.funding_pnl, abs=1e-9)
    strat = sup.app.strategies["p"]
    assert not strat.positions and len(result.trades) == 1
    assert strat.cash == pytest.approx(result.final_equity, abs=1e-9)
    if platform == "okx":  # every 8 hours: 00:00, 08:00, 16:00, 24:00 while held
        assert len(paid) == 4
    else:
        assert len(paid) == leave - enter


def test_a_20x_long_is_liquidated_at_the_same_bar_and_price_in_both(
    tmp_path, sup_for, monkeypatch, fake_chat
):
    fake_chat.down()
    closes = [100.0, 100.0, 100.0, 99.0, 98.5, 98.0, 97.0, 90.0, 89.0]
    gap = 7  # bar 7 opens at 90, far below the liquidation price: a gap
    df = continuous_bars(closes)
    df.iloc[gap, df.columns.get_loc("open")] = closes[gap]
    df.iloc[gap, df.columns.get_loc("high")] = closes[gap]
    signal = pd.Series(0, index=df.index)
    signal.iloc[2] = 1
    settings = BacktestSettings(
        capital=1000.0,
        platform="hyperliquid",
        instrument="perps",
        direction="long",
        leverage=20,
        symbol="BTC",
    )
    result = run_signals(df, signal, settings)
    [leg] = result.trades
    assert leg.reason == "liquidation"
    bt_bar = df.index.get_loc(leg.exit_time)

    discord = {"enabled": True, "channels": {"perps": "c-perps"}}
    sup = sup_for(
        [perp("x", "x", leverage=20, direction="long", max_drawdown_pct=99)],
        discord=discord,
        portfolio_risk={"max_drawdown_pct": 99},
    )
    liquidated_at = None
    for k in range(1, len(closes)):
        pin(monkeypatch, T0 + k * HOUR)
        write_marks(tmp_path, "BTC", closes[k - 1])
        say(tmp_path, "x", 1 if k - 1 == 2 else 0, closes[k - 1])
        sup.run_cycle(sup.config.strategies)
        strat = sup.app.strategies["x"]
        assert strat.cash >= 0.0
        if liquidated_at is None and not strat.positions and k > 3:
            liquidated_at = k - 1  # the bar whose close this cycle saw
    assert liquidated_at == bt_bar == gap
    con = sqlite3.connect(tmp_path / "state.db")
    [(price, reason)] = con.execute(
        "SELECT price, reason FROM trades WHERE is_close = 1"
    ).fetchall()
    assert reason == "liquidation" and price == pytest.approx(leg.exit_price)
    assert result.final_equity >= 0.0
    assert sup.app.strategies["x"].cash == pytest.approx(result.final_equity, abs=1e-9)
    alerts = con.execute("SELECT body FROM outbox WHERE body LIKE '%LIQUIDATED%'").fetchall()
    assert alerts


def test_the_days_loss_counts_fees_and_funding(tmp_path, sup_for, monkeypatch):
    sup = sup_for([perp("d", "d")])
    pin(monkeypatch, T0)
    write_marks(tmp_path, "BTC", 100.0, funding=0.002)
    say(tmp_path, "d", 1, 100.0)
    sup.run_cycle(sup.config.strategies)
    strat = sup.app.strategies["d"]
    open_fee = 1000.0 - strat.cash
    assert open_fee > 0 and strat.risk.daily_pnl == pytest.approx(-open_fee)
    pin(monkeypatch, T0 + 2 * HOUR)
    say(tmp_path, "d", 0, 100.0)
    sup.run_cycle(sup.config.strategies)
    # flat price: the day's loss is exactly the open fee plus two hours of funding
    assert strat.risk.daily_pnl == pytest.approx(strat.cash - 1000.0)
    assert strat.risk.daily_pnl < -open_fee
