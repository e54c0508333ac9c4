"""allow_scale_in + scale_in: pyramiding as upstream's #873, one rule for supervisor and backtester.

The expected adds are written out here from the reference's formulas, independently of the
book: gating by add count, cumulative filled add notional (+ the request) against the cap,
signed ATR spacing from the last add price (or the average cost) with the frozen entry ATR;
avg = (q*avg + dq*px) / (q + dq); the first add freezes the risk anchor (the pre-blend average)
and the stop and targets stay at their triggers, only the size they close grows.
"""

from __future__ import annotations

import math
import sqlite3
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from conftest import write_config
from test_cycle import ANSWER, answer, marks

from backtest import data as bd
from backtest import run_backtest
from backtest.backtester import BacktestSettings, rules_for, run_signals
from shared_tools.book import Position, Protection, Rules, apply_signal, protect
from shared_tools.book.guard import arm
from shared_tools.book.instruments import Instrument
from shared_tools.book.scale_in import SCALE_IN, ScaleIn
from shared_tools.config.load import load_config
from shared_tools.config.model import ConfigError
from shared_tools.config.sizing_keys import scale_in_terms
from shared_tools.regime import standard_atr
from supervisor import reload
from supervisor.state.db import StateDB
from supervisor.state.models import AppState, StrategyState

NOW = "2026-01-01T00:00:00Z"
LIVE_ARGS = ["sma_crossover", "BTC", "1h", "--mode=live"]
ANY_SIZE = Instrument("test", "BTC", "perps", min_notional=0.0)


@dataclass
class Account:
    id: str
    cash: float
    positions: dict[str, Position] = field(default_factory=dict)
    trade_count: int = 0


def rules(scale: ScaleIn | None = None, fee: float = 0.001, **stop: float) -> Rules:
    return Rules(
        kind="perps",
        platform="hyperliquid",
        fee_rate=fee,
        direction="long",
        leverage=2.0,
        protection=Protection(**(stop or {"stop_loss_atr_mult": 2.0})),
        scale_in=scale or ScaleIn(),
        instrument=ANY_SIZE,
    )


def step(acct: Account, r: Rules, signal: int, price: float, atr: float = 2.0):
    return apply_signal(acct, r, "BTC", signal, price, NOW, entry_atr=atr)


# ------------------------------------------------------------------------------------ book


def test_without_it_a_same_side_signal_is_skipped():
    acct = Account("a", 1000.0)
    step(acct, rules(), 1, 100.0)
    trades, action = step(acct, rules(), 1, 110.0)
    assert trades == [] and action == "hold (already long)"


def test_an_add_blends_the_average_and_keeps_the_triggers_at_the_anchor():
    r = rules(ScaleIn(enabled=True, add_spacing_atr=1.0))
    acct = Account("a", 1000.0)
    step(acct, r, 1, 100.0)
    pos = acct.positions["BTC"]
    q0, stop0, cash0 = pos.quantity, pos.guard.stop, acct.cash
    assert stop0 == pytest.approx(96.0) and acct.trade_count == 1
    trades, action = step(acct, r, 1, 101.0)  # moved 1 < 1 x ATR 2: held
    assert trades == [] and "favourable move" in action
    (add,), action = step(acct, r, 1, 103.0)
    dq = cash0 * 2.0 / 103.0  # the normal open notional (cash x leverage) at the add's price
    assert add.trade_type == SCALE_IN and add.quantity == pytest.approx(dq)
    assert pos.avg_cost == pytest.approx((q0 * 100.0 + dq * 103.0) / (q0 + dq))
    assert pos.quantity == pytest.approx(q0 + dq) == pytest.approx(pos.initial_quantity)
    assert (pos.scale_in_count, pos.last_add_price, pos.risk_anchor_price) == (1, 103.0, 100.0)
    assert pos.added_notional_usd == pytest.approx(dq * 103.0)
    assert acct.cash == pytest.approx(cash0 - dq * 103.0 * 0.001)  # only the fee leaves cash
    assert acct.trade_count == 1  # an add is not a trade of #T
    assert pos.guard.stop == stop0  # the trigger did not move with the average
    arm(pos, r.protection)  # a re-arm (reload) builds from the anchor, not the blend
    assert pos.guard.stop == pytest.approx(stop0)
    (close,) = protect(acct, r, "BTC", 95.0, NOW)  # the stop closes the grown size
    assert close.reason == "stop_loss" and close.quantity == pytest.approx(q0 + dq)


def test_negative_spacing_averages_down():
    r = rules(ScaleIn(enabled=True, add_spacing_atr=-1.0), stop_loss_pct=20.0)
    acct = Account("a", 1000.0)
    step(acct, r, 1, 100.0)
    assert step(acct, r, 1, 104.0)[0] == []  # favourable: not an add when averaging down
    assert step(acct, r, 1, 98.5)[0] == []  # adverse 1.5 < 2
    (add,), _ = step(acct, r, 1, 98.0)
    assert add.price == 98.0 and acct.positions["BTC"].avg_cost < 100.0
    assert step(acct, r, 1, 97.0)[0] == []  # from the last add (98): adverse 1 < 2
    assert len(step(acct, r, 1, 96.0)[0]) == 1


def test_max_adds_and_the_added_notional_cap():
    r = rules(ScaleIn(enabled=True, max_adds=3, max_added_notional_usd=2500, add_notional_usd=1000))
    acct = Account("a", 1000.0)
    step(acct, r, 1, 100.0)
    assert len(step(acct, r, 1, 100.0)[0]) == 1
    assert len(step(acct, r, 1, 100.0)[0]) == 1
    trades, action = step(acct, r, 1, 100.0)  # 2000 + 1000 > 2500
    assert trades == [] and "max_added_notional_usd" in action
    r = rules(ScaleIn(enabled=True, max_adds=1, add_notional_usd=100))
    acct = Account("b", 1000.0)
    step(acct, r, 1, 100.0)
    assert len(step(acct, r, 1, 100.0)[0]) == 1
    assert "max_adds 1 reached" in step(acct, r, 1, 100.0)[1]


def test_spacing_needs_an_entry_atr_and_an_add_never_flips():
    r = rules(ScaleIn(enabled=True, add_spacing_atr=1.0), stop_loss_pct=5.0)
    acct = Account("a", 1000.0)
    step(acct, r, 1, 100.0, atr=0.0)
    assert "needs an entry ATR" in step(acct, r, 1, 150.0, atr=0.0)[1]
    both = Rules(**{**r.__dict__, "direction": "both"})
    trades, _ = step(acct, both, -1, 100.0)
    assert [t.trade_type for t in trades] == ["perps", "perps"]  # a flip: close, then open
    assert acct.positions["BTC"].side == "short" and acct.positions["BTC"].scale_in_count == 0


def test_gates_hold_an_add_like_an_open():
    acct = Account("a", 1000.0)
    r = rules(ScaleIn(enabled=True))
    step(acct, r, 1, 100.0)
    trades, action = apply_signal(acct, r, "BTC", 1, 101.0, NOW, may_open=False)
    assert trades == [] and action == "long scale-in entry held"


# ---------------------------------------------------------------------------------- config


def perp(sid: str = "hl-a", **extra) -> dict:
    entry = {
        "id": sid,
        "type": "perps",
        "platform": "hyperliquid",
        "script": "shared_scripts/check_hyperliquid.py",
        "args": ["sma_crossover", "BTC", "1h", "--mode=paper"],
        "capital": 1000,
    }
    entry.update(extra)
    return entry


def test_config_loads_the_keys_without_a_warning(tmp_path):
    block = {"max_adds": 2, "max_added_notional_usd": 900, "add_notional_usd": 300}
    cfg = load_config(
        write_config(
            tmp_path, [perp(allow_scale_in=True, scale_in={**block, "add_spacing_atr": -0.5})]
        )
    )
    sc = cfg.strategies[0]
    assert sc.rules.scale_in == ScaleIn(True, 2, 900.0, 300.0, -0.5)  # negative spacing: legal
    assert not [w for w in cfg.warnings if "scale_in" in w or "ignored" in w]


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        ({"scale_in": {"max_adds": 1}}, "scale_in is set but allow_scale_in is not true"),
        ({"allow_scale_in": "yes"}, "allow_scale_in must be true or false"),
        ({"allow_scale_in": True, "scale_in": {"max_adds": -1}}, "scale_in.max_adds must be"),
        ({"allow_scale_in": True, "scale_in": {"max_adds": 1.5}}, "scale_in.max_adds must be"),
        (
            {"allow_scale_in": True, "scale_in": {"add_notional_usd": -5}},
            "scale_in.add_notional_usd must be",
        ),
        (
            {"allow_scale_in": True, "scale_in": {"max_added_notional_usd": -5}},
            "scale_in.max_added_notional_usd must be",
        ),
        ({"allow_scale_in": True, "scale_in": {"adds": 2}}, "unknown key(s) 'adds'"),
        (
            {"allow_scale_in": True, "stop_loss_pct": 2, "args": LIVE_ARGS},
            "stop_loss_pct is a scalar stop",  # live: rejected at load
        ),
        (
            {"allow_scale_in": True, "stop_loss_atr_mult": 0, "args": LIVE_ARGS},
            "the drawdown backstop is not one",
        ),
        (
            {"allow_scale_in": True, "platform": "okx", "script": "shared_scripts/check_okx.py"},
            "Hyperliquid perps and manual strategies only",
        ),
    ],
)
def test_config_refuses_with_one_line(tmp_path, extra, words):
    with pytest.raises(ConfigError) as exc:
        load_config(write_config(tmp_path, [perp(**extra)]))
    lines = [line for line in exc.value.lines if "scale_in" in line]
    assert len(lines) == 1 and words in lines[0] and "hl-a" in lines[0], exc.value.lines


def test_live_needs_a_stop_that_can_be_resized():
    errors: list[str] = []
    fields = {"stop_loss_pct": 2.0}
    scale_in_terms({"allow_scale_in": True}, "s", "perps", "hyperliquid", True, fields, errors)
    assert len(errors) == 1 and "stop_loss_pct is a scalar stop" in errors[0]
    errors.clear()
    scale_in_terms({"allow_scale_in": True}, "s", "perps", "hyperliquid", True, {}, errors)
    assert "drawdown backstop is not one" in errors[0]
    errors.clear()
    ok = {"stop_loss_atr_mult": 2.0}
    terms = scale_in_terms({"allow_scale_in": True}, "s", "perps", "hyperliquid", True, ok, errors)
    assert errors == [] and terms == ScaleIn(enabled=True)
    # paper: the scalar stop is fine (the book's guard holds absolute triggers)
    scale_in_terms({"allow_scale_in": True}, "s", "perps", "hyperliquid", False, fields, errors)
    assert errors == []


def test_a_reload_changes_it_only_while_flat(tmp_path):
    old = load_config(write_config(tmp_path, [perp()]))
    new = load_config(write_config(tmp_path, [perp(allow_scale_in=True)]))
    app = AppState()
    app.strategies["hl-a"] = StrategyState("hl-a", "perps", "hyperliquid", 1000.0, 1000.0)
    assert reload.flat_only_problems(old, new, app) == []
    acct = app.strategies["hl-a"]
    apply_signal(acct, old.strategies[0].rules, "BTC", 1, 100.0, NOW, entry_atr=2.0)
    (line,) = reload.flat_only_problems(old, new, app)
    assert "scale_in changed" in line and "close the position first" in line


# ----------------------------------------------------------------------------------- state


def test_the_pyramiding_state_persists(tmp_path):
    app = AppState()
    strat = StrategyState("s", "perps", "hyperliquid", 1000.0, 1000.0)
    app.strategies["s"] = strat
    r = rules(ScaleIn(enabled=True, add_notional_usd=200))
    apply_signal(strat, r, "BTC", 1, 100.0, NOW, entry_atr=2.0)
    apply_signal(strat, r, "BTC", 1, 104.0, NOW, entry_atr=2.0)
    db = StateDB(tmp_path / "s.db")
    db.save(app)
    db.close()
    pos = StateDB(tmp_path / "s.db").load().strategies["s"].positions["BTC"]
    assert (pos.scale_in_count, pos.last_add_price, pos.risk_anchor_price) == (1, 104.0, 100.0)
    assert pos.added_notional_usd == pytest.approx(200.0)


def test_a_version_7_db_gains_the_columns(tmp_path):
    db = StateDB(tmp_path / "s.db")
    db.save(AppState())
    db.close()
    con = sqlite3.connect(tmp_path / "s.db")
    for col in ("scale_in_count", "last_add_price", "added_notional_usd", "risk_anchor_price"):
        con.execute(f"ALTER TABLE positions DROP COLUMN {col}")
    con.execute("UPDATE meta SET value='7' WHERE key='schema_version'")
    con.commit()
    con.close()
    db = StateDB(tmp_path / "s.db")
    cols = {r[1] for r in db.engine.connect().exec_driver_sql("PRAGMA table_info(positions)")}
    assert {"scale_in_count", "risk_anchor_price"} <= cols


# ------------------------------------------- supervisor and backtester on the same candles

START = datetime(2026, 10, 1, tzinfo=UTC)
TERMS = {"max_adds": 3, "add_notional_usd": 400, "add_spacing_atr": 0.5}


def sim_candles(tmp_path, monkeypatch, hours: int = 400) -> pd.DataFrame:
    """Real-looking 1h candles of the simulated market (no funding column: cash only moves by
    fees and P&L, so the test's own model can follow it)."""
    monkeypatch.setenv("GO_TRADER_OHLCV_CACHE", str(tmp_path / "bt-ohlcv.db"))
    monkeypatch.delenv("GO_TRADER_SIM_SEED", raising=False)
    got = bd.load_candles(
        "BTC",
        "1h",
        START,
        START + timedelta(hours=hours),
        source="simulated",
        platform="hyperliquid",
        instrument="perps",
        warmup=20,
    )
    return got.df[["open", "high", "low", "close", "volume"]]


def trend_signal(df: pd.DataFrame) -> np.ndarray:
    """+1 every 3rd bar while the close is above its 20-bar mean, -1 on the cross below: many
    same-direction signals on an open long (candidate adds), and closes."""
    sma = df["close"].rolling(20).mean().to_numpy()
    close = df["close"].to_numpy()
    above = close > sma
    sig = np.zeros(len(df), dtype=np.int64)
    for i in range(21, len(df)):
        if above[i] and i % 3 == 0:
            sig[i] = 1
        elif not above[i] and above[i - 1]:
            sig[i] = -1
    return sig


BT = BacktestSettings(
    capital=1000.0,
    platform="hyperliquid",
    instrument="perps",
    direction="long",
    symbol="BTC",
    fee_pct=0.045,
)


def expected_adds(df: pd.DataFrame, sig: np.ndarray, terms: dict, atr: np.ndarray) -> list:
    """§C.4 written out: (bar, price, qty, count, avg after) of every add, on the walk's fills
    (bar j fills bar j-1's signal at its open; long only, no stop, fixed add notional)."""
    fee = 0.045 / 100
    cash, pos = 1000.0, None
    out = []
    opens = df["open"].to_numpy()
    for j in range(1, len(df)):
        s, px = sig[j - 1], float(opens[j])
        if s == 0:
            continue
        if pos is None and s > 0:
            qty = cash * 1.0 / px
            cash -= qty * px * fee
            a = float(atr[j - 1])
            pos = {"q": qty, "avg": px, "last": 0.0, "n": 0, "added": 0.0, "atr": a}
        elif pos is not None and s < 0:
            cash += pos["q"] * (px - pos["avg"]) - pos["q"] * px * fee
            pos = None
        elif pos is not None and s > 0:
            notional = terms["add_notional_usd"]
            if terms.get("max_adds") and pos["n"] >= terms["max_adds"]:
                continue
            cap = terms.get("max_added_notional_usd", 0)
            if cap and pos["added"] + notional > cap:
                continue
            spacing = terms.get("add_spacing_atr", 0)
            if spacing:
                ref = pos["last"] or pos["avg"]
                move = px - ref if spacing > 0 else ref - px
                if not (pos["atr"] > 0 and move >= abs(spacing) * pos["atr"]):
                    continue
            dq = notional / px
            pos["avg"] = (pos["q"] * pos["avg"] + dq * px) / (pos["q"] + dq)
            pos["q"] += dq
            pos["n"] += 1
            pos["last"] = px
            pos["added"] += dq * px
            cash -= dq * px * fee
            out.append((j, px, dq, pos["n"], pos["avg"]))
    return out


def test_parity_every_add_equals_the_reference_formulas(tmp_path, monkeypatch):
    df = sim_candles(tmp_path, monkeypatch)
    sig = trend_signal(df)
    atr = standard_atr(df, 14, "simple").to_numpy(float)
    average_down = {"add_spacing_atr": -0.5, "add_notional_usd": 300, "max_adds": 2}
    for terms in (TERMS, {"max_added_notional_usd": 1000, "add_notional_usd": 300}, average_down):
        got = run_signals(df, pd.Series(sig, index=df.index), replace_si(BT, terms))
        want = expected_adds(df, sig, terms, atr)
        assert len(want) >= 3, "the candles should give this test adds to check"
        assert [(a.time, a.price, a.count) for a in got.adds] == [
            (df.index[j], px, n) for j, px, _q, n, _avg in want
        ]
        for a, (_j, _px, q, _n, avg) in zip(got.adds, want, strict=True):
            assert a.quantity == pytest.approx(q, rel=1e-12)
            assert a.avg_cost == pytest.approx(avg, rel=1e-12)
    plain = run_signals(df, pd.Series(sig, index=df.index), BT)
    assert plain.adds == []


def replace_si(s: BacktestSettings, terms: dict) -> BacktestSettings:
    return BacktestSettings(**{**s.__dict__, "scale_in": ScaleIn(enabled=True, **terms)})


def sup_strategy(**extra) -> dict:
    return {
        "id": "si",
        "type": "perps",
        "platform": "hyperliquid",
        "script": ANSWER,
        "allow_external_script": True,
        "args": ["si", "BTC", "1h"],
        "capital": 1000,
        "max_drawdown_pct": 90,
        "stop_loss_atr_mult": 0,
        "direction": "long",
        **extra,
    }


def replay(tmp_path, sup_for, monkeypatch, df, sig, atr, **extra) -> list[tuple]:
    """The supervisor on the same candles: at bar j's open (the backtester's fill) its check
    answers bar j-1's signal and ATR and the cycle's mark is bar j's open."""
    sup = sup_for([sup_strategy(**extra)])
    sc = sup.config.strategies
    for j in range(1, len(df)):
        if sig[j - 1] == 0:
            continue
        monkeypatch.setenv("GO_TRADER_NOW", str(int(df.index[j].timestamp())))
        px = float(df["open"].iloc[j])
        marks(tmp_path, BTC=px)
        doc = {"symbol": "BTC", "signal": int(sig[j - 1]), "price": px}
        answer(tmp_path, "si", {**doc, "indicators": {"atr": float(atr[j - 1])}})
        sup.run_cycle(sc)
    sup.shutdown()  # frees the state DB's lock for the run without the keys
    with sqlite3.connect(tmp_path / "state.db") as con:
        return con.execute(
            "SELECT timestamp, price, quantity, trade_type FROM trades "
            "WHERE trade_type = 'scale_in' ORDER BY rowid"
        ).fetchall()


def test_the_keys_change_the_supervisors_trades_and_the_backtesters_alike(
    tmp_path, sup_for, monkeypatch
):
    df = sim_candles(tmp_path, monkeypatch, hours=80)
    sig = trend_signal(df)
    atr = standard_atr(df, 14, "simple").to_numpy(float)
    adds = replay(tmp_path, sup_for, monkeypatch, df, sig, atr, allow_scale_in=True, scale_in=TERMS)
    bt = run_signals(df, pd.Series(sig, index=df.index), replace_si(BT, TERMS))
    assert adds and len(adds) == len(bt.adds)
    for (stamp, price, qty, kind), a in zip(adds, bt.adds, strict=True):
        assert pd.Timestamp(stamp) == a.time and kind == SCALE_IN
        assert price == pytest.approx(a.price, rel=1e-12)
        assert qty == pytest.approx(a.quantity, rel=1e-12)
    for stale in tmp_path.glob("state.db*"):
        stale.unlink()
    assert replay(tmp_path, sup_for, monkeypatch, df, sig, atr) == []  # without: no add
    assert run_signals(df, pd.Series(sig, index=df.index), BT).adds == []


def test_the_backtester_reads_the_config_and_the_flags(tmp_path):
    cfg = write_config(
        tmp_path,
        [perp(allow_scale_in=True, scale_in=TERMS, capital_pct=0.5, capital=800)],
    )
    args = run_backtest.build_parser().parse_args(
        ["--config", str(cfg), "--strategy-id", "hl-a", "--mode", "single"]
    )
    job = run_backtest.build_job(args)
    assert job.settings.scale_in == ScaleIn(True, 3, 0.0, 400.0, 0.5)
    assert (job.settings.capital, job.settings.capital_pct) == (800.0, 0.5)
    flags = [
        "--strategy",
        "sma_crossover",
        "--mode",
        "single",
        "--instrument",
        "perps",
        "--scale-in",
        '{"max_adds": 2}',
        "--capital-pct",
        "0.25",
    ]
    args = run_backtest.build_parser().parse_args(flags)
    run_backtest._check_args(args)
    job = run_backtest.build_job(args)
    assert job.settings.scale_in == ScaleIn(True, 2) and job.settings.capital_pct == 0.25
    assert rules_for(job.settings).scale_in.max_adds == 2
    bad = run_backtest.build_parser().parse_args([*flags[:6], "--scale-in", '{"max_adds": -1}'])
    with pytest.raises(Exception, match="max_adds must be"):
        run_backtest.build_job(bad)
    assert math.isfinite(job.settings.capital)


def test_backtest_stops_stay_at_the_anchor_after_adds(tmp_path, monkeypatch):
    """A position that scaled in is stopped at its first entry - 2 x entry ATR (the risk anchor),
    not at the blended average's: the same guard as the supervisor's."""
    df = sim_candles(tmp_path, monkeypatch)
    sig = trend_signal(df)
    atr = standard_atr(df, 14, "simple").to_numpy(float)
    down = {"add_spacing_atr": -0.5, "add_notional_usd": 300, "max_adds": 2}  # average down
    s = BacktestSettings(**{**replace_si(BT, down).__dict__, "stop_loss_atr_mult": 2.0})
    got = run_signals(df, pd.Series(sig, index=df.index), s)
    opens = df["open"].to_numpy()
    checked = 0
    for leg in got.trades:
        j0 = df.index.get_loc(leg.entry_time)
        if leg.reason != "stop_loss" or leg.entry_price == pytest.approx(opens[j0]):
            continue  # only stops of positions that scaled in (the leg's avg is the blend)
        trigger = opens[j0] - 2.0 * atr[j0 - 1]
        j1 = df.index.get_loc(leg.exit_time)
        assert leg.exit_price == pytest.approx(min(trigger, opens[j1]), rel=1e-12)
        checked += 1
    assert checked >= 1


def test_the_backtest_report_lists_the_adds(tmp_path, monkeypatch):
    import json

    from backtest import reporter
    from backtest.metrics import metrics

    df = sim_candles(tmp_path, monkeypatch)
    got = run_signals(df, pd.Series(trend_signal(df), index=df.index), replace_si(BT, TERMS))
    doc = reporter.json_document(got, metrics(got))
    assert json.dumps(doc) and len(doc["adds"]) == len(got.adds) > 0
    assert doc["settings"]["scale_in"]["max_adds"] == 3
    assert f"Scale-in   {len(got.adds)} adds" in reporter.text_report(got, metrics(got))


def test_parity_on_real_candles():
    """The same reference formulas on real Binance BTC/USDT 4h candles (tests/data, 2022; no
    real 1h candles ship with the repo, and the formulas do not depend on the bar size)."""
    from pathlib import Path

    raw = pd.read_csv(Path(__file__).resolve().parent / "data" / "btc_usdt_4h_2022.csv")
    raw.index = pd.to_datetime(raw.pop("time"), unit="ms", utc=True)
    df = raw.iloc[:900]
    sig = trend_signal(df)
    atr = standard_atr(df, 14, "simple").to_numpy(float)
    for terms in (TERMS, {"max_added_notional_usd": 1000, "add_notional_usd": 300}):
        got = run_signals(df, pd.Series(sig, index=df.index), replace_si(BT, terms))
        want = expected_adds(df, sig, terms, atr)
        assert len(want) >= 3, terms
        assert [(a.time, a.price, a.count) for a in got.adds] == [
            (df.index[j], px, n) for j, px, _q, n, _avg in want
        ]
        for a, (_j, _px, q, _n, avg) in zip(got.adds, want, strict=True):
            assert a.quantity == pytest.approx(q, rel=1e-12)
            assert a.avg_cost == pytest.approx(avg, rel=1e-12)
