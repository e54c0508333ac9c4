"""``hedge`` (issue 20 item 5): a perps leg on a second coin opposite the primary, reconciled
each cycle against a watermark of the primary quantity (reference C.9); trade type ``hedge``,
in the day's P&L, never in the loss streak; paper only (live refused, exit 78)."""

from __future__ import annotations

import json
import math
import sqlite3

import pytest
from conftest import REPO, write_config
from test_cycle import answer, marks
from test_cycle_perps import perp

from shared_tools.book.hedge import HedgeLeg, reconcile_hedge
from shared_tools.book.model import Position
from shared_tools.config.load import load_config
from shared_tools.config.model import ConfigError
from shared_tools.domain import Kind, Side
from supervisor.http.views import build_status
from supervisor.state.models import StrategyState

HEDGE = {"enabled": True, "symbol": "ETH", "ratio": 0.5}


def _say(tmp, signal: int, price: float) -> None:
    answer(tmp, "p", {"symbol": "BTC", "signal": signal, "price": price, "indicators": {"atr": 2}})


def _hedged(**extra) -> dict:
    return perp("p", "p", direction="long", **{"hedge": HEDGE, **extra})


# -- the cycle: the same config with and without the key -------------------------------------


def _run_open(tmp_path, sup_for, entry: dict):
    sup = sup_for([entry])
    marks(tmp_path, BTC=100.0, ETH=50.0)
    _say(tmp_path, 1, 100.0)
    report = sup.run_cycle(sup.config.strategies)
    return sup, report


def test_an_open_primary_gets_an_opposite_hedge_sized_by_the_ratio(tmp_path, sup_for):
    sup, report = _run_open(tmp_path, sup_for, _hedged())
    strat = sup.app.strategies["p"]
    btc, eth = strat.positions["BTC"], strat.positions["ETH"]
    assert btc.side == "long" and not btc.hedge_for
    assert eth.side == "short" and eth.hedge_for == "BTC" and eth.hedge_basis == btc.quantity
    assert eth.quantity == pytest.approx(btc.quantity * 100.0 * 0.5 / 50.0)
    assert eth.leverage == 1.0 and eth.guard.stop == 0 and not eth.guard.targets  # no SL/TP
    hedge_rows = [t for t in report.trades if t.trade_type == "hedge"]
    assert [(t.symbol, t.side, t.is_close) for t in hedge_rows] == [("ETH", "sell", False)]
    view = build_status(sup.app)["strategies"]["p"]  # cash + positions = value, hedge included
    assert math.isclose(view["portfolio_value"], strat.value({"BTC": 100.0, "ETH": 50.0}))


def test_without_the_key_there_is_no_hedge_leg(tmp_path, sup_for):
    sup, report = _run_open(tmp_path, sup_for, perp("p", "p", direction="long"))
    assert list(sup.app.strategies["p"].positions) == ["BTC"]
    assert not [t for t in report.trades if t.trade_type == "hedge"]


def test_a_flat_primary_closes_the_hedge_in_the_daily_pnl_not_the_streak(tmp_path, sup_for):
    sup, _ = _run_open(tmp_path, sup_for, _hedged())
    strat = sup.app.strategies["p"]
    marks(tmp_path, BTC=101.0, ETH=55.0)  # the short hedge loses, the primary gains
    _say(tmp_path, -1, 101.0)  # direction long: a sell closes the primary
    report = sup.run_cycle(sup.config.strategies)
    assert strat.positions == {}
    legs = [(t.symbol, t.trade_type, t.reason) for t in report.trades if t.is_close]
    assert legs == [("BTC", Kind.PERPS, "signal"), ("ETH", "hedge", "hedge_primary_flat")]
    hedge = next(t for t in report.trades if t.symbol == "ETH")
    assert hedge.net_pnl < 0
    assert strat.risk.consecutive_losses == 0  # the primary's close won; the hedge never counts
    day = sum(t.net_pnl for t in report.trades)
    assert strat.risk.daily_pnl == pytest.approx(day + _open_fees(tmp_path))
    rows = sqlite3.connect(tmp_path / "state.db").execute(
        "SELECT trade_type, COUNT(*) FROM trades GROUP BY trade_type ORDER BY trade_type"
    )
    assert dict(rows.fetchall()) == {"hedge": 2, "perps": 2}


def _open_fees(tmp) -> float:
    con = sqlite3.connect(tmp / "state.db")
    return -sum(r[0] for r in con.execute("SELECT fee FROM trades WHERE is_close = 0"))


def test_a_missing_hedge_mark_blocks_and_a_tiny_hedge_is_deferred(tmp_path, sup_for):
    sup = sup_for([_hedged(hedge={**HEDGE, "ratio": 0.005})])
    marks(tmp_path, BTC=100.0)  # no ETH mark
    _say(tmp_path, 1, 100.0)
    report = sup.run_cycle(sup.config.strategies)
    assert "[p] hedge blocked: no mark for ETH" in report.notes
    assert "ETH" not in sup.app.strategies["p"].positions
    marks(tmp_path, BTC=100.0, ETH=50.0)
    _say(tmp_path, 0, 100.0)
    report = sup.run_cycle(sup.config.strategies)  # 10 BTC x 100 x 0.005 = $5 < $10
    assert any("under the $10 minimum: deferred" in n for n in report.notes)
    assert "ETH" not in sup.app.strategies["p"].positions


def test_the_hedge_leg_survives_a_restart(tmp_path, sup_for):
    sup, _ = _run_open(tmp_path, sup_for, _hedged())
    sup.shutdown()
    from supervisor.state.db import StateDB

    eth = StateDB(tmp_path / "state.db").load().strategies["p"].positions["ETH"]
    assert eth.hedge_for == "BTC" and eth.hedge_basis > 0


# -- the reconciler's rules (the book) -------------------------------------------------------


def _acct(primary_qty: float, hedge_qty: float = 0.0, basis: float = 0.0) -> StrategyState:
    s = StrategyState(id="s", type="perps", platform="hyperliquid", cash=1000, initial_capital=1000)
    if primary_qty:
        s.positions["BTC"] = Position(
            "BTC", "b", primary_qty, primary_qty, 100.0, 100 * primary_qty
        )
        s.positions["BTC"].kind = Kind.PERPS
    if hedge_qty:
        h = Position("ETH", "h", hedge_qty, hedge_qty, 50.0, 50 * hedge_qty, side=Side.SHORT)
        h.kind, h.hedge_for, h.hedge_basis = Kind.PERPS, "BTC", basis
        s.positions["ETH"] = h
    return s


LEG = HedgeLeg("ETH", ratio=1.0, leverage=2.0, fee_rate=0.0)
MARKS = {"BTC": 100.0, "ETH": 50.0}


def test_growth_hedges_only_the_added_quantity_at_todays_notional():
    acct = _acct(3.0, hedge_qty=4.0, basis=2.0)  # primary grew from 2 to 3
    trades, _ = reconcile_hedge(acct, "BTC", LEG, {"BTC": 120.0, "ETH": 60.0}, "t")
    assert [t.quantity for t in trades] == [pytest.approx(1.0 * 120.0 / 60.0)]
    eth = acct.positions["ETH"]
    assert eth.quantity == pytest.approx(6.0) and eth.hedge_basis == 3.0
    assert eth.avg_cost == pytest.approx((4 * 50.0 + 2 * 60.0) / 6)


def test_shrink_cuts_the_hedge_by_the_same_fraction():
    acct = _acct(1.5, hedge_qty=4.0, basis=2.0)  # primary cut by a quarter
    trades, note = reconcile_hedge(acct, "BTC", LEG, MARKS, "t")
    assert [t.quantity for t in trades] == [pytest.approx(1.0)] and "hedge_shrink" in note
    assert acct.positions["ETH"].quantity == pytest.approx(3.0)
    assert acct.positions["ETH"].hedge_basis == 1.5


def test_a_shrink_under_ten_dollars_waits_with_the_basis_held():
    acct = _acct(1.98, hedge_qty=4.0, basis=2.0)  # a 1% cut: 0.04 ETH = $2
    trades, note = reconcile_hedge(acct, "BTC", LEG, MARKS, "t")
    assert trades == [] and "deferred (basis 2 held)" in note
    assert acct.positions["ETH"].hedge_basis == 2.0  # the cuts add up until one is worth it


def test_a_hedge_on_the_wrong_side_is_closed():
    acct = _acct(2.0, hedge_qty=4.0, basis=2.0)
    acct.positions["ETH"].side = Side.LONG  # the primary is long too
    trades, note = reconcile_hedge(acct, "BTC", LEG, MARKS, "t")
    assert [t.reason for t in trades] == ["hedge_wrong_side"] and "ETH" not in acct.positions


def test_a_missing_primary_mark_blocks_without_falling_back_to_the_entry():
    acct = _acct(2.0, hedge_qty=4.0, basis=1.0)
    assert reconcile_hedge(acct, "BTC", LEG, {"ETH": 50.0}, "t") == (
        [],
        "hedge blocked: no mark for BTC",
    )


# -- the loader ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("entry", "says"),
    [
        (perp("p", "p", direction="both", hedge=HEDGE), "not with direction both"),
        (perp("p", "p", hedge={**HEDGE, "ratio": 11}), "hedge.ratio must be a number in (0, 10]"),
        (perp("p", "p", hedge={**HEDGE, "leverage": 51}), "hedge.leverage must be"),
        (perp("p", "p", hedge={**HEDGE, "side": "same"}), 'hedge.side must be "" or "inverse"'),
        (perp("p", "p", hedge={**HEDGE, "margin_mode": "x"}), "margin_mode must be isolated"),
        (perp("p", "p", hedge={**HEDGE, "size": 1}), 'hedge: unknown key "size"'),
        (perp("p", "p", hedge={**HEDGE, "symbol": "BTC"}), "hedge.symbol BTC is the primary"),
        (
            perp("p", "p", hedge=HEDGE, args=["p", "BTC", "1h", "--mode=live"]),
            "live hedge orders are not built yet",
        ),
    ],
)
def test_bad_hedges_are_refused_with_one_line(tmp_path, entry, says):
    with pytest.raises(ConfigError) as err:
        load_config(write_config(tmp_path, [entry]))
    assert any(says in line and "strategy[p]" in line for line in err.value.lines), err.value


def test_two_hedges_on_one_coin_and_a_spot_hedge_are_refused(tmp_path):
    from conftest import fake_strategy

    two = [perp("a", "a", hedge=HEDGE), perp("b", "b", "SOL", hedge=HEDGE)]
    with pytest.raises(ConfigError, match="also strategy\\[a\\]'s hedge coin"):
        load_config(write_config(tmp_path, two))
    spot = fake_strategy("s", "hold", hedge=HEDGE)
    with pytest.raises(ConfigError, match="a hedge needs a Hyperliquid perps strategy"):
        load_config(write_config(tmp_path, [spot]))


def test_a_disabled_hedge_loads_and_does_nothing(tmp_path):
    cfg = load_config(write_config(tmp_path, [perp("p", "p", hedge={"enabled": False})]))
    assert cfg.strategies[0].hedge is not None and not cfg.strategies[0].hedge.enabled
    assert not [w for w in cfg.warnings if "hedge" in w]


def test_a_hedge_change_while_holding_is_refused_on_reload(tmp_path, sup_for, capsys):
    sup, _ = _run_open(tmp_path, sup_for, _hedged())
    write_config(tmp_path, [_hedged(hedge={**HEDGE, "ratio": 1.0})])
    assert not sup.reload()
    assert "hedge changed" in capsys.readouterr().err


def test_the_backtester_says_it_does_not_model_the_hedge(tmp_path, capsys):
    from backtest.backtester import BacktestSettings
    from backtest.cli_settings import from_config

    cfg = json.loads((REPO / "examples" / "offline-perps.json").read_text())
    entry = next(s for s in cfg["strategies"] if s["id"] == "hl-sma-btc-long")
    entry["hedge"] = {"enabled": True, "symbol": "DOGE"}
    cfg["strategies"] = [entry]
    path = tmp_path / "c.json"
    path.write_text(json.dumps(cfg))
    from_config(str(path), "hl-sma-btc-long", BacktestSettings)
    err = capsys.readouterr().err
    assert "hedge not modelled by the backtester" in err


# -- the simulated market: the example strategy with and without a hedge ---------------------


@pytest.fixture
def market_env(tmp_path, monkeypatch):
    """The config's simulated market reaches the workers; the clock is pinned and moved."""
    monkeypatch.setenv("GO_TRADER_OHLCV_CACHE", str(tmp_path / "ohlcv.db"))
    monkeypatch.delenv("GO_TRADER_MARKET_DATA", raising=False)
    monkeypatch.delenv("GO_TRADER_SIM_SEED", raising=False)

    def at(when) -> None:
        monkeypatch.setenv("GO_TRADER_NOW", when.strftime("%Y-%m-%dT%H:%M:%SZ"))

    return at


def _simulated(tmp_path, market_env, hedge: dict | None) -> tuple[list, dict]:
    import io
    from datetime import timedelta

    from test_offline_perps import START, _check_book

    from supervisor.daemon import Supervisor

    cfg = json.loads((REPO / "examples" / "offline-perps.json").read_text())
    entry = next(s for s in cfg["strategies"] if s["id"] == "hl-sma-btc-long")
    if hedge is not None:
        entry["hedge"] = hedge
    cfg["strategies"], cfg["db_file"] = [entry], str(tmp_path / "perps.db")
    path = tmp_path / "perps.json"
    path.write_text(json.dumps(cfg))
    market_env(START)
    sup = Supervisor(load_config(path), once=True, out=io.StringIO())
    assert sup.start() == 0
    db = sqlite3.connect(tmp_path / "perps.db")
    db.row_factory = sqlite3.Row
    trades = []
    try:
        for i in range(10):
            market_env(START + timedelta(hours=i))
            report = sup.run_cycle(sup.config.strategies)
            assert not [o for o in report.outcomes if o.error], report.outcomes
            _check_book(sup, db)  # value = cash + positions, fees, net P&L: hedge included
            trades += report.trades
            held = sup.app.strategies["hl-sma-btc-long"].positions
            if "BTC" in held and hedge is not None:
                assert held["SOL"].side == "short" and held["SOL"].hedge_basis == pytest.approx(
                    held["BTC"].quantity
                )
            if "BTC" not in held:
                assert "SOL" not in held  # the hedge never outlives its primary
    finally:
        sup.shutdown()
    return trades, dict(held)


def test_on_the_simulated_market_the_hedge_follows_the_primary(tmp_path, market_env):
    with_hedge, _ = _simulated(tmp_path, market_env, {"enabled": True, "symbol": "SOL"})
    kinds = {(t.symbol, t.trade_type, t.is_close) for t in with_hedge}
    assert ("SOL", "hedge", False) in kinds and ("SOL", "hedge", True) in kinds
    primary = [
        (t.side, t.quantity) for t in with_hedge if t.symbol == "BTC" and t.trade_type != "funding"
    ]
    assert primary


def test_on_the_simulated_market_without_the_key_only_the_primary_trades(tmp_path, market_env):
    plain, _ = _simulated(tmp_path, market_env, None)
    assert plain and {t.symbol for t in plain} == {"BTC"}


def test_a_latch_holds_hedge_growth_but_not_its_close():
    acct = _acct(3.0, hedge_qty=4.0, basis=2.0)
    assert reconcile_hedge(acct, "BTC", LEG, MARKS, "t", may_open=False) == (
        [],
        "hedge held: a latch holds new exposure",
    )
    del acct.positions["BTC"]
    trades, _ = reconcile_hedge(acct, "BTC", LEG, MARKS, "t", may_open=False)
    assert [t.reason for t in trades] == ["hedge_primary_flat"]


def test_a_leg_no_hedge_block_asks_for_is_closed_after_a_restart(tmp_path, sup_for):
    sup, _ = _run_open(tmp_path, sup_for, _hedged())
    sup.shutdown()
    later = sup_for([perp("p", "p", direction="long")])  # the block removed, then a restart
    marks(tmp_path, BTC=100.0, ETH=50.0)
    _say(tmp_path, 0, 100.0)
    report = later.run_cycle(later.config.strategies)
    assert [(t.symbol, t.trade_type, t.reason) for t in report.trades] == [
        ("ETH", "hedge", "hedge_removed")
    ]
    assert list(later.app.strategies["p"].positions) == ["BTC"]


def test_a_version_7_db_gains_the_hedge_columns(tmp_path, sup_for):
    from supervisor.state.db import StateDB
    from supervisor.state.migrations import SCHEMA_VERSION

    sup = sup_for([perp("p", "p", direction="long")])
    marks(tmp_path, BTC=100.0)
    _say(tmp_path, 1, 100.0)
    sup.run_cycle(sup.config.strategies)
    sup.shutdown()
    con = sqlite3.connect(tmp_path / "state.db")
    con.execute("ALTER TABLE positions DROP COLUMN hedge_for")
    con.execute("ALTER TABLE positions DROP COLUMN hedge_basis")
    con.execute("UPDATE meta SET value='7' WHERE key='schema_version'")
    con.commit()
    con.close()
    db = StateDB(tmp_path / "state.db")
    assert db.schema_version() == SCHEMA_VERSION >= 8
    btc = db.load().strategies["p"].positions["BTC"]
    assert btc.hedge_for == "" and btc.hedge_basis == 0.0  # an old position is no hedge leg
