"""An options strategy (default vol_mean_reversion) with and without theta harvest, side by side.

    python backtest/backtest_theta.py --underlying BTC --since 180 --data simulated [--json]

Three runs on the same candles and the same rules as ``backtest_options.py``; they differ only
in when a *sold* option is bought back early at its Black-Scholes mark:

=============  =============  ==========  =============
variant        profit target  stop        min_dte_close
=============  =============  ==========  =============
No Harvest     -              -           -
Conservative   60% captured   200% loss   2 days
Aggressive     40% captured   150% loss   3 days
=============  =============  ==========  =============

Strikes use the venue grid (upstream's theta script rounded to $100), buy-backs pay the venue
fee, and the premium is counted once (see backtest_options.py).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from backtest import options_common as oc  # noqa: E402
from backtest.backtest_options import (  # noqa: E402
    Harvest,
    daily_closes,
    parse,
    settings_from,
    simulate,
)
from shared_tools import market  # noqa: E402

PROG = "backtest_theta.py"
VARIANTS = (
    Harvest("No Harvest"),
    Harvest("Conservative", profit_target_pct=60.0, stop_loss_pct=200.0, min_dte_close=2.0),
    Harvest("Aggressive", profit_target_pct=40.0, stop_loss_pct=150.0, min_dte_close=3.0),
)
SUMMARY_KEYS = (
    "final_equity",
    "return_pct",
    "annualized_pct",
    "max_drawdown_pct",
    "sharpe",
    "win_rate_pct",
    "legs",
    "premium_collected",
    "premium_paid",
    "fees",
)


def compare(closes: list[float], dates: list[str], args, first: int) -> list[dict]:
    """One report per variant, in VARIANTS order."""
    out = []
    for harvest in VARIANTS:
        rep = simulate(closes, dates, settings_from(args, harvest), first)
        rep["variant"] = harvest.name
        rep["early_closes"] = sum(
            1 for t in rep["trades"] if t.get("reason") in ("profit_target", "stop_loss", "min_dte")
        )
        out.append(rep)
    return out


def table(reports: list[dict]) -> str:
    f = oc.fmt
    head = reports[0]
    lines = [
        f"theta harvest on {head['strategy']} {head['underlying']} ({head['platform']}): "
        f"{head['start']} .. {head['end']}, buy&hold {f(head['buy_hold_pct'], '%', True)}",
        "",
        f"  {'variant':13} {'final $':>11} {'return':>9} {'max DD':>8} {'Sharpe':>7} "
        f"{'win':>7} {'legs':>5} {'early':>6} {'fees $':>8}",
    ]
    for r in reports:
        lines.append(
            f"  {r['variant']:13} {f(r['final_equity']):>11} {f(r['return_pct'], '%', True):>9} "
            f"{f(r['max_drawdown_pct'], '%'):>8} {f(r['sharpe']):>7} "
            f"{f(r['win_rate_pct'], '%'):>7} {r['legs']:>5} {r['early_closes']:>6} "
            f"{f(r['fees']):>8}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv, PROG, "an options strategy with three theta-harvest variants")
    try:
        closes, dates, first = daily_closes(args)
    except (market.MarketDataError, ValueError) as exc:
        return oc.fail(PROG, str(exc))
    reports = compare(closes, dates, args, first)
    if args.json:
        oc.emit_json(
            {
                "strategy": args.strategy,
                "underlying": args.underlying,
                "platform": args.platform,
                "start": reports[0]["start"],
                "end": reports[0]["end"],
                "buy_hold_pct": reports[0]["buy_hold_pct"],
                "variants": [
                    {"variant": r["variant"], "harvest": r["harvest"]}
                    | {k: r[k] for k in SUMMARY_KEYS}
                    | {"early_closes": r["early_closes"], "trades": r["trades"]}
                    for r in reports
                ],
            }
        )
    else:
        oc.out(table(reports))
    return 0


if __name__ == "__main__":
    sys.exit(main())
