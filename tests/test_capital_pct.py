"""capital_pct: capital = venue balance x pct, resolved at startup and every cycle (upstream §C.2).

Live Hyperliquid reads the account's accountValue (the desk's own --account-state read);
paper, or a failed read, keeps the previous capital, else the configured capital, with one
WARN. The resolved capital is what a strategy is deposited with when it joins; it never moves
a running strategy's baseline. A capital that still resolves to 0 skips the strategy.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import write_config
from live_rig import T0, Rig, strategy
from test_cycle import ANSWER, answer, marks

from backtest.backtester import BacktestSettings, run_signals
from shared_tools.config.load import load_config
from shared_tools.config.model import ConfigError
from supervisor.risk import capital_pct
from supervisor.state.models import AppState, StrategyState

REPO = Path(__file__).resolve().parent.parent


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
    return {k: v for k, v in entry.items() if v is not None}


# ---------------------------------------------------------------------------------- config


def test_config_per_strategy_and_top_level(tmp_path):
    cfg = load_config(
        write_config(
            tmp_path,
            [perp("a", capital_pct=0.5, capital=None), perp("b"), perp("c", capital_pct=1)],
            capital_pct=0.2,
        )
    )
    pcts = {sc.id: (sc.capital_pct, sc.capital, sc.initial_capital) for sc in cfg.strategies}
    assert pcts == {"a": (0.5, 0.0, 0.0), "b": (0.2, 1000.0, 0.0), "c": (1.0, 1000.0, 0.0)}
    warned = [w for w in cfg.warnings if "capital_pct takes priority" in w]
    assert len(warned) == 2 and not [w for w in cfg.warnings if "ignored" in w]


@pytest.mark.parametrize(
    ("entry", "top", "words"),
    [
        (perp(capital_pct=1.5), {}, "capital_pct must be a number in (0, 1]"),
        (perp(capital_pct=-0.1), {}, "capital_pct must be a number in (0, 1]"),
        (perp(capital_pct="half"), {}, "capital_pct must be a number in (0, 1]"),
        (perp(), {"capital_pct": 2}, "capital_pct must be a number in (0, 1]"),
        (perp(capital=None), {}, "capital must be a number"),
    ],
)
def test_config_refuses_with_one_line(tmp_path, entry, top, words):
    with pytest.raises(ConfigError) as exc:
        load_config(write_config(tmp_path, [entry], **top))
    assert len(exc.value.lines) == 1 and words in exc.value.lines[0], exc.value.lines


# -------------------------------------------------------------------------------- resolver


def test_resolution_fallbacks_warn_once_and_a_zero_capital_is_skipped(tmp_path):
    live = perp("live", capital_pct=0.25, args=["sma_crossover", "BTC", "1h", "--mode=live"])
    cfg = load_config(
        write_config(tmp_path, [live, perp("paper", capital_pct=0.5), perp("none")]),
    )
    app, lines = AppState(), []
    capital_pct.resolve(app, cfg, {"hyperliquid": 8000.0}, lines.append)
    got = {sid: capital_pct.view(app, sid) for sid in ("live", "paper")}
    assert got["live"]["capital"] == 2000.0 and "balance 8,000.00 x 0.25" in got["live"]["source"]
    assert got["paper"]["capital"] == 1000.0 and got["paper"]["source"].startswith("config capital")
    assert len(lines) == 1 and "WARN paper" in lines[0]  # paper has no balance: one WARN
    capital_pct.resolve(app, cfg, {"hyperliquid": None}, lines.append)  # the read failed
    assert capital_pct.view(app, "live")["capital"] == 2000.0  # the previous one stays
    assert capital_pct.view(app, "live")["source"].startswith("previous")
    assert len(lines) == 2 and "WARN live" in lines[1]
    capital_pct.resolve(app, cfg, {"hyperliquid": None}, lines.append)
    assert len(lines) == 2  # still failing: no second WARN
    capital_pct.resolve(app, cfg, {"hyperliquid": 10000.0}, lines.append)
    assert capital_pct.view(app, "live")["capital"] == 2500.0
    none = [sc for sc in cfg.strategies if sc.id == "none"]
    assert capital_pct.tradable(app, none, lines.append) == none  # not a capital_pct strategy


def test_a_strategy_resolving_to_zero_is_skipped_and_funded_once_it_resolves(tmp_path):
    cfg = load_config(write_config(tmp_path, [perp("z", capital_pct=0.5, capital=None)]))
    app, lines = AppState(), []
    app.strategies["z"] = StrategyState("z", "perps", "hyperliquid", 0.0, 0.0)
    capital_pct.resolve(app, cfg, {}, lines.append)
    assert capital_pct.tradable(app, cfg.strategies, lines.append, "2026-01-01T00:00:00Z") == []
    assert "skipped: capital_pct capital resolves to 0" in lines[-1]
    assert app.strategies["z"].last_run == "2026-01-01T00:00:00Z"  # due again after its interval
    capital_pct.view(app, "z")  # paper strategies never get a balance: stays skipped
    app.extra["capital_pct"]["z"] = {"capital": 0.0, "source": "x", "balance": 0.0}
    capital_pct._fund_once(app, cfg.strategies[0], 700.0, lines.append)
    strat = app.strategies["z"]
    assert (strat.cash, strat.initial_capital) == (700.0, 700.0)
    assert app.extra["cashflows"][-1]["reason"] == "capital_pct"  # through the capital change


def test_paper_falls_back_to_capital_through_the_cycle(tmp_path, sup_for):
    sc = {
        "id": "pp",
        "type": "perps",
        "platform": "hyperliquid",
        "script": ANSWER,
        "allow_external_script": True,
        "args": ["pp", "BTC", "1h"],
        "capital": 600,
        "capital_pct": 0.5,
        "stop_loss_atr_mult": 0,
    }
    marks(tmp_path, BTC=100.0)
    answer(tmp_path, "pp", {"symbol": "BTC", "signal": 1, "price": 100.0})
    sup = sup_for([sc])
    strat = sup.app.strategies["pp"]
    assert strat.initial_capital == 600.0  # deposited with the fallback capital
    sup.run_cycle(sup.config.strategies)
    assert strat.positions["BTC"].quantity == pytest.approx(600.0 / 100.0)
    assert capital_pct.view(sup.app, "pp")["source"].startswith("config capital")


# ---------------------------------------------- live balance: the supervisor and the backtester

COIN = "ETH"


def live_open(tmp: Path, **extra) -> tuple[float, dict]:
    """(quantity, app extra) of the live open one cycle books on the local venue."""
    tmp.mkdir()
    rig = Rig(tmp, [strategy(margin_per_trade_usd=0, **extra)])
    try:
        rig.at(T0 + 3600)
        rig.signal("hl-live", COIN, 1)
        proc = rig.cycle()
        assert proc.returncode == 0, proc.stderr[-3000:]
        ((_side, qty, _g),) = rig.book()["positions"].values()
        inspect = subprocess.run(
            [
                sys.executable,
                "-m",
                "supervisor.cli",
                "inspect",
                "--config",
                str(rig.config),
                "hl-live",
            ],
            cwd=REPO,
            env=rig.env(),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert inspect.returncode == 0, inspect.stderr
        return qty, {"inspect": inspect.stdout, "cash": rig.book()["cash"]["hl-live"]}
    finally:
        rig.close()


def test_the_balance_sizes_the_live_open_and_the_backtest_alike(tmp_path):
    plain, _ = live_open(tmp_path / "plain", capital=4000)
    scaled, seen = live_open(tmp_path / "pct", capital=4000, capital_pct=0.25)
    # the venue account holds $10,000: capital 2,500 instead of 4,000 (notional = cash x 2)
    assert scaled / plain == pytest.approx(2500 / 4000, rel=2e-3)
    assert (
        "capital_pct: resolved capital 2,500.00 from hyperliquid balance 10,000.00 x 0.25"
        in (seen["inspect"])
    )
    df = _candles()
    sig = np.zeros(len(df))
    sig[5] = 1
    base = BacktestSettings(
        capital=10_000.0, platform="hyperliquid", instrument="perps", symbol="ETH", leverage=2
    )
    without = run_signals(df, pd.Series(sig, index=df.index), base)
    with_pct = run_signals(
        df,
        pd.Series(sig, index=df.index),
        BacktestSettings(**{**base.__dict__, "capital_pct": 0.25}),
    )
    assert with_pct.trades[0].quantity / without.trades[0].quantity == pytest.approx(0.25)
    assert with_pct.settings.capital == 2500.0


def _candles() -> pd.DataFrame:
    close = 3000.0 + np.arange(30.0)
    return pd.DataFrame(
        {"open": close, "high": close + 5, "low": close - 5, "close": close, "volume": 1.0},
        index=pd.date_range("2026-01-01", periods=30, freq="1h", tz="UTC"),
    )


def test_status_shows_the_resolution(tmp_path, sup_for):
    from supervisor.http.views import build_status

    sc = perp("st", capital_pct=0.5)
    sup = sup_for([sc])
    view = build_status(sup.app)["strategies"]["st"]
    assert view["capital_pct"]["capital"] == 1000.0
    assert json.dumps(view["capital_pct"])  # JSON-able for /status


def test_reload_capital_pct_is_structural_and_capital_no_longer_a_cashflow(tmp_path):
    from supervisor import reload

    old = load_config(write_config(tmp_path, [perp(capital_pct=0.5)]))
    pct = load_config(write_config(tmp_path, [perp(capital_pct=0.4)]))
    top = load_config(write_config(tmp_path, [perp()], capital_pct=0.5))
    assert "strategy[hl-a]: capital_pct changed" in reload.structural_changes(old, pct)
    assert "strategy[hl-a]: capital_pct changed" in reload.structural_changes(old, old) + [
        *reload.structural_changes(load_config(write_config(tmp_path, [perp()])), top)
    ]
    app = AppState()
    app.strategies["hl-a"] = StrategyState("hl-a", "perps", "hyperliquid", 2500.0, 2500.0)
    cap = load_config(write_config(tmp_path, [perp(capital_pct=0.5, capital=300)]))
    assert reload.capital_problems(cap, app) == []
    reload.apply_reload(old, cap, app)
    assert app.strategies["hl-a"].initial_capital == 2500.0  # the resolved baseline stays
