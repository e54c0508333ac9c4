"""risk_per_trade_pct: one sizing rule for the supervisor and the backtester (upstream #1268).

notional = min(cash * pct / 100 / stop distance * price, cash * leverage), the stop distance
being the one the guard arms at this open; no distance refuses a fresh open and turns a flip
into a close only. The formula is written out here, independently of the book.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from conftest import base_env, run_cli, write_config
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from backtest import data as bd
from backtest import run_backtest
from backtest.backtester import BacktestSettings, rules_for, run, run_signals
from shared_tools.book import Position, Protection, Rules, apply_signal, open_position
from shared_tools.book.instruments import Instrument
from shared_tools.book.sizing import NO_STOP
from shared_tools.config.load import load_config
from shared_tools.config.model import ConfigError

NOW = "2026-01-01T00:00:00Z"


@dataclass
class Account:
    """The book's Account protocol, bare."""

    id: str
    cash: float
    positions: dict[str, Position] = field(default_factory=dict)
    trade_count: int = 0


ANY_SIZE = Instrument("test", "BTC", "perps", min_notional=0.0)  # every size books
STOPS = (
    "stop_loss_pct",
    "stop_loss_margin_pct",
    "stop_loss_atr_mult",
    "trailing_stop_pct",
    "trailing_stop_atr_mult",
)


def rules(pct: float = 1.0, leverage: float = 3.0, **stop: float) -> Rules:
    return Rules(
        kind="perps",
        platform="hyperliquid",
        fee_rate=0.0,
        direction="both",
        leverage=leverage,
        risk_per_trade_pct=pct,
        protection=Protection(**stop),
        instrument=ANY_SIZE,
    )


def expected_distance(key: str, value: float, price: float, atr: float, leverage: float) -> float:
    """The stop distance of each stop key, written out from the config docs."""
    return {
        "stop_loss_pct": price * value / 100,
        "stop_loss_margin_pct": price * value / 100 / leverage,
        "stop_loss_atr_mult": value * atr,
        "trailing_stop_pct": price * value / 100,
        "trailing_stop_atr_mult": value * atr,
    }[key]


@settings(max_examples=300, deadline=None)
@given(
    cash=st.floats(10, 1e6),
    price=st.floats(0.01, 1e5),
    pct=st.floats(0.01, 10),
    leverage=st.floats(1, 50),
    key=st.sampled_from(STOPS),
    value=st.floats(0.1, 20),
    atr_share=st.floats(0.0005, 0.2),
    side=st.sampled_from(["long", "short"]),
)
def test_notional_is_the_risk_over_the_stop_distance_capped_at_leverage(
    cash, price, pct, leverage, key, value, atr_share, side
):
    atr = price * atr_share
    dist = expected_distance(key, value, price, atr, leverage)
    assume(dist < price * 0.95)  # a long's stop stays above zero
    acct = Account("s", cash)
    trade, action = open_position(
        acct, rules(pct, leverage, **{key: value}), "BTC", side, price, NOW, entry_atr=atr
    )
    assert trade is not None, action
    want = min(cash * pct / 100 / dist * price, cash * leverage)
    assert trade.value == pytest.approx(want, rel=1e-9)
    pos = acct.positions["BTC"]
    assert pos.quantity == pytest.approx(want / price, rel=1e-9)
    sign = 1 if side == "long" else -1
    assert pos.guard.stop == pytest.approx(price - sign * dist, rel=1e-9)  # the stop it sized on
    if want < cash * leverage * (1 - 1e-9):  # uncapped: a stop hit loses pct % of cash
        loss = pos.quantity * abs(price - pos.guard.stop)
        assert loss == pytest.approx(cash * pct / 100, rel=1e-9)


@pytest.mark.parametrize("key", ["stop_loss_atr_mult", "trailing_stop_atr_mult"])
def test_no_entry_atr_refuses_the_open(key):
    acct = Account("s", 1000.0)
    trade, action = open_position(acct, rules(**{key: 2.0}), "BTC", "long", 100.0, NOW)
    assert trade is None and action == f"skip long ({NO_STOP})"
    assert action == "skip long (risk_per_trade_pct: no stop distance to size from)"
    assert not acct.positions and acct.cash == 1000.0


def test_no_stop_at_all_refuses_the_open_and_an_absurd_atr_counts_as_none():
    acct = Account("s", 1000.0)
    assert open_position(acct, rules(), "BTC", "short", 100.0, NOW)[0] is None
    bad_atr = open_position(
        acct, rules(stop_loss_atr_mult=1), "BTC", "long", 100.0, NOW, entry_atr=60
    )
    assert bad_atr == (None, f"skip long ({NO_STOP})")


def test_a_flip_without_a_stop_distance_only_closes():
    acct = Account("s", 1000.0)
    r = rules(stop_loss_atr_mult=2.0)
    trade, _ = open_position(acct, r, "BTC", "short", 100.0, NOW, entry_atr=1.0)
    assert trade is not None and trade.value == pytest.approx(1000 * 0.01 / 2.0 * 100)
    trades, action = apply_signal(acct, r, "BTC", 1, 95.0, NOW)  # no ATR this time
    assert [t.side for t in trades] == ["buy"]  # the short's close, nothing opened
    assert "BTC" not in acct.positions
    assert action.endswith(f"; skip long ({NO_STOP})")
    trades, _ = apply_signal(acct, r, "BTC", 1, 95.0, NOW, entry_atr=1.0)
    assert len(trades) == 1 and acct.positions["BTC"].side == "long"  # with a distance: opens


def test_the_other_modes_are_unchanged():
    for extra, want in (({}, 3000.0), ({"margin_per_trade_usd": 200.0}, 600.0)):
        acct = Account("s", 1000.0)
        r = Rules(kind="perps", fee_rate=0.0, leverage=3, instrument=ANY_SIZE, **extra)
        trade, _ = open_position(acct, r, "BTC", "long", 100.0, NOW)
        assert trade is not None and trade.value == pytest.approx(want)


# ------------------------------------------------------------------------------- config


def perp(sid: str = "hl-a", **extra) -> dict:
    entry = {
        "id": sid,
        "type": "perps",
        "platform": "hyperliquid",
        "script": "shared_scripts/check_hyperliquid.py",
        "args": ["sma_crossover", "BTC", "1h", "--mode=paper"],
        "capital": 1000,
        "leverage": 3,
    }
    entry.update(extra)
    return entry


def errors(tmp_path, entry: dict) -> list[str]:
    with pytest.raises(ConfigError) as exc:
        load_config(write_config(tmp_path, [entry]))
    return [line for line in exc.value.lines if "risk_per_trade_pct" in line]


def test_config_loads_it_on_hyperliquid_perps_with_the_automatic_stop(tmp_path):
    cfg = load_config(write_config(tmp_path, [perp(risk_per_trade_pct=2)]))
    sc = cfg.strategies[0]
    assert sc.rules.risk_per_trade_pct == 2.0 and sc.rules.protection.stop_loss_atr_mult > 0
    assert not [w for w in cfg.warnings if "risk_per_trade_pct" in w]


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        ({"risk_per_trade_pct": 11}, "risk_per_trade_pct must be"),
        ({"risk_per_trade_pct": -1}, "risk_per_trade_pct must be"),
        ({"risk_per_trade_pct": 1, "sizing_leverage": 2}, "sizing_leverage sizes another way"),
        ({"risk_per_trade_pct": 1, "margin_per_trade_usd": 50}, "margin_per_trade_usd sizes"),
        ({"risk_per_trade_pct": 1, "allow_scale_in": True}, "allow_scale_in sizes another way"),
        ({"risk_per_trade_pct": 1, "stop_loss_pct": 0}, "needs a stop to size from"),
        (
            {"risk_per_trade_pct": 1, "platform": "okx", "script": "shared_scripts/check_okx.py"},
            "Hyperliquid perps only, not platform okx",
        ),
        (
            {"risk_per_trade_pct": 1, "type": "spot", "args": ["sma_crossover", "BTC/USDT", "1h"]},
            "applies to type perps only",
        ),
    ],
)
def test_config_refuses_it_with_one_line(tmp_path, extra, words):
    lines = errors(tmp_path, perp(**extra))
    assert len(lines) == 1 and words in lines[0], lines
    assert lines[0].startswith("strategy[hl-a]") or "hl-a" in lines[0]


# ------------------------------------------------------------------------------- backtester


def candles(n: int = 200, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    opens = np.r_[100.0, close[:-1]]
    return pd.DataFrame(
        {
            "open": opens,
            "high": np.maximum(opens, close) * 1.004,
            "low": np.minimum(opens, close) * 0.996,
            "close": close,
            "volume": 1.0,
        },
        index=pd.date_range("2025-01-01", periods=n, freq="1h", tz="UTC"),
    )


def test_backtester_sizes_through_the_same_book():
    df = candles()
    sig = np.zeros(len(df))
    sig[50] = 1
    base = BacktestSettings(
        instrument="perps",
        platform="hyperliquid",
        symbol="BTC",
        leverage=3,
        direction="both",
        stop_loss_pct=2.0,
    )
    flat = run_signals(df, sig, base)
    risk = run_signals(df, sig, BacktestSettings(**{**base.__dict__, "risk_per_trade_pct": 1.0}))
    entry = flat.trades[0].entry_price
    assert risk.trades[0].entry_price == entry
    assert flat.trades[0].quantity == pytest.approx(1000 * 3 / entry)
    # risk 1 % of cash over a 2 % stop: a notional of half the cash
    assert risk.trades[0].quantity == pytest.approx(
        1000 * 0.01 / (entry * 0.02)
    )  # qty = risk / distance
    assert (
        rules_for(
            BacktestSettings(**{**base.__dict__, "risk_per_trade_pct": 1.0})
        ).risk_per_trade_pct
        == 1.0
    )


def test_backtester_refuses_risk_sizing_without_a_stop_or_off_perps():
    with pytest.raises(ValueError, match="risk_per_trade_pct"):
        rules_for(BacktestSettings(instrument="perps", risk_per_trade_pct=1.0))
    with pytest.raises(ValueError, match="risk_per_trade_pct"):
        rules_for(BacktestSettings(risk_per_trade_pct=1.0, stop_loss_pct=2.0))


def test_run_backtest_flag_reaches_the_settings():
    args = run_backtest.build_parser().parse_args(
        [
            "--strategy",
            "sma_crossover",
            "--mode",
            "single",
            "--instrument",
            "perps",
            "--stop-loss-pct",
            "2",
            "--risk-per-trade-pct",
            "1.5",
        ]
    )
    run_backtest._check_args(args)
    job = run_backtest.build_job(args)
    assert job.settings.risk_per_trade_pct == 1.5


# ------------------------------------------------- supervisor and backtester, same candles

OPEN_AT = datetime(2026, 11, 19, 17, tzinfo=UTC)  # the simulated market's sma cross: a short


def hl_sma(**extra) -> dict:
    return perp(
        "hl-sz",
        open_strategy={"name": "sma_crossover", "params": {"fast_period": 2, "slow_period": 5}},
        direction="both",
        stop_loss_atr_mult=2.0,
        allow_deprecated=True,
        **extra,
    )


def supervisor_open(tmp_path, **extra) -> tuple[float, float, float]:
    """(quantity, price, entry ATR) of the open one `go-trader --once` books at OPEN_AT."""
    tmp_path.mkdir()
    cfg = write_config(tmp_path, [hl_sma(**extra)])
    env = base_env(tmp_path, GO_TRADER_NOW=OPEN_AT.strftime("%Y-%m-%dT%H:%M:%SZ"))
    env.pop("GO_TRADER_SIM_SEED", None)
    proc = run_cli(["--config", str(cfg), "--once"], env)
    assert proc.returncode == 0, proc.stderr
    with sqlite3.connect(tmp_path / "state.db") as db:
        qty, price = db.execute("SELECT quantity, price FROM trades WHERE side = 'sell'").fetchone()
        (atr,) = db.execute("SELECT entry_atr FROM positions").fetchone()
    return qty, price, atr


def backtest_open(tmp_path, monkeypatch, risk: float | None) -> tuple[float, float]:
    """(quantity, price) of the backtester's first open on the same simulated candles."""
    monkeypatch.setenv("GO_TRADER_OHLCV_CACHE", str(tmp_path / "bt-ohlcv.db"))
    monkeypatch.delenv("GO_TRADER_SIM_SEED", raising=False)
    since = OPEN_AT - timedelta(hours=5)
    candles = bd.load_candles(
        "BTC",
        "1h",
        since,
        OPEN_AT + timedelta(hours=2),
        source="simulated",
        platform="hyperliquid",
        instrument="perps",
    )
    s = BacktestSettings(
        platform="hyperliquid",
        instrument="perps",
        direction="both",
        leverage=3,
        stop_loss_atr_mult=2.0,
        symbol="BTC",
        risk_per_trade_pct=risk,
    )
    result = run(
        candles.df, "sma_crossover", {"fast_period": 2, "slow_period": 5}, s, candles.since
    )
    first = result.trades[0]
    assert first.entry_time == pd.Timestamp(OPEN_AT) and first.side == "short"
    return first.quantity, first.entry_price


def test_the_key_resizes_the_supervisors_open_and_the_backtesters_alike(tmp_path, monkeypatch):
    qty, price, atr = supervisor_open(tmp_path / "plain")
    risk_qty, risk_price, risk_atr = supervisor_open(tmp_path / "risk", risk_per_trade_pct=1)
    assert (price, atr) == (risk_price, risk_atr) and atr > 0  # the same candles and cycle
    assert qty * price == pytest.approx(1000 * 3)  # cash x leverage
    assert risk_qty * price == pytest.approx(min(1000 * 0.01 / (2 * atr) * price, 3000))
    assert risk_qty < qty
    bt_qty, bt_price = backtest_open(tmp_path, monkeypatch, None)
    bt_risk_qty, _ = backtest_open(tmp_path, monkeypatch, 1.0)
    assert bt_price == pytest.approx(price, rel=1e-12)
    assert (bt_qty, bt_risk_qty) == pytest.approx((qty, risk_qty), rel=1e-9)
