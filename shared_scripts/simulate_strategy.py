"""The tuner's what-if preview: the backtester on the chart's candles, as configured and with
the operator's overrides, as chart markers.

    simulate_strategy.py --config FILE --strategy-id ID   (stdin: {"candles": [...], "overrides": {...}})

Prints ``{"markers": {"live": [...], "simulated": [...]}}`` (upstream's labels and marker
styles). The strategy is read with the supervisor's loader and mapped field by field by
``backtest.cli_settings.from_config``, and run by ``backtest.backtester.run``: the one
implementation the backtester and the supervisor share. Overrides are the tuner's keys
(supervisor/http/tuner.py); ``htf_filter`` is previewed as configured (the preview frame has no
higher-timeframe column). Fewer than 3 candles give no markers, as upstream.
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from shared_tools.worker import ContractParser, run_worker  # noqa: E402

PARAM_PREFIX = "open_strategy.params."
SETTINGS_KEYS = ("direction", "invert_signal", "leverage", "stop_loss_pct", "stop_loss_atr_mult")
MIN_CANDLES = 3


def build_parser() -> ContractParser:
    p = ContractParser(prog="simulate_strategy.py", description="what-if markers for the tuner")
    p.add_argument("--config", required=True, help="the live config file")
    p.add_argument("--strategy-id", required=True, help="the strategy to simulate")
    p.reads_stdin = True  # type: ignore[attr-defined]
    return p


def markers(trades: list) -> list[dict]:
    """Entry and exit markers of backtest trades, oldest first, in the dashboard's styles."""
    out = []
    for t in trades:
        buy = t.side == "long"
        out.append(
            {
                "time": int(t.entry_time.timestamp()),
                "position": "belowBar" if buy else "aboveBar",
                "color": "#059669" if buy else "#dc2626",
                "shape": "arrowUp" if buy else "arrowDown",
                "text": "BUY" if buy else "SELL",
                "price": float(t.entry_price),
            }
        )
        out.append(
            {
                "time": int(t.exit_time.timestamp()),
                "position": "aboveBar",
                "color": "#2563eb",
                "shape": "circle",
                "text": "CLOSE",
                "price": float(t.exit_price),
                "realized_pnl": float(t.pnl),
            }
        )
    out.sort(key=lambda m: m["time"])
    return out


def handle(ns, doc) -> dict:
    import pandas as pd

    from backtest import backtester
    from backtest.cli_settings import from_config

    doc = doc if isinstance(doc, dict) else {}
    bars = doc.get("candles") or []
    overrides = doc.get("overrides") or {}
    if len(bars) < MIN_CANDLES:
        return {"markers": {"live": [], "simulated": []}}
    df = pd.DataFrame(bars)
    df.index = pd.to_datetime(df["time"], unit="s", utc=True)
    df = df[["open", "high", "low", "close", *(["volume"] if "volume" in df else [])]].astype(float)
    job = from_config(ns.config, ns.strategy_id, backtester.BacktestSettings)
    live = backtester.run(df, job.strategy, job.params, job.settings)
    params = dict(job.params)
    changes = {}
    for key, value in overrides.items():
        if key.startswith(PARAM_PREFIX):
            params[key.removeprefix(PARAM_PREFIX)] = value
        elif key in SETTINGS_KEYS:
            changes[key] = (value or None) if key.startswith("stop_loss") else value
    settings = replace(job.settings, **changes) if changes else job.settings
    simulated = backtester.run(df, job.strategy, params, settings)
    return {"markers": {"live": markers(live.trades), "simulated": markers(simulated.trades)}}


if __name__ == "__main__":
    sys.exit(run_worker(build_parser(), handle))
