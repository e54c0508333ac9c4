"""Research backtest of an options strategy on daily closes (Black-Scholes priced).

    python backtest/backtest_options.py --underlying BTC --since 90 --capital 10000 \\
        --max-positions 2 --check-interval 1 --platform deribit --data simulated \\
        [--strategy vol_mean_reversion] [--json]

Every ``--check-interval`` days, at the daily close:

1. legs whose expiry date has come settle at the expiry day's close: in the money at intrinsic
   value, out of the money worthless;
2. open legs are marked at Black-Scholes at the 14-day realized vol (log returns, sqrt 365),
   which stands in for the market's implied vol;
3. with theta harvest (``backtest_theta.py``) sold legs are bought back early at their mark;
4. the live check runs: shared_strategies/options/check.py with the strategy's rules and
   upstream's scoring against the open legs, over a chain made of these bars
   (backtest/options_bars_chain.py: synthetic expiries, the venue's strike grid). For
   vol_mean_reversion: the realized-vol rank over 90 closes > 75 sells a 1.10x call + 0.90x put
   strangle, < 25 buys an ATM straddle, 30 DTE;
5. what it proposes opens when every leg fits under ``--max-positions`` (counted in legs) and,
   for a structure of bought legs only, when it costs at most half the cash (the research
   script's rule).

One implementation: the rules, the rank and the scoring are the live ones (upstream's research
script kept its own copy, ranked over 61 windows instead of the live ~76, and scored nothing).
Trades are booked through shared_tools/book/options.py, so the premium is counted once (not
again at expiry, as upstream's research script did), venue fees are charged on every fill
and the contract multiplier applies. Legs still open after the last bar are closed at their
mark (reason ``end``). ``momentum_options`` needs 4h candles and is not offered here; a wheel
never reaches phase 2 (the book cash-settles, so no spot is assigned).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from backtest import options_common as oc  # noqa: E402
from backtest.options_bars_chain import BarsChain  # noqa: E402
from shared_strategies.options import check, registry  # noqa: E402
from shared_tools import market  # noqa: E402
from shared_tools.book.options import OPTION_VENUES, OptionsAccount, OptionsBook  # noqa: E402

WARMUP_DAYS = 90  # daily bars before --since: the live rank reads 90 closes
PROG = "backtest_options.py"
STRATEGIES = tuple(n for n in registry.names() if n != "momentum_options")  # daily bars only


@dataclass(frozen=True)
class Harvest:
    """Early buy-back of sold options (upstream's theta_harvest; 0 turns a rule off)."""

    name: str = "No Harvest"
    profit_target_pct: float = 0.0  # buy back once this % of the premium is captured
    stop_loss_pct: float = 0.0  # ... or once the loss reaches this % of the premium
    min_dte_close: float = 0.0  # ... or once 0 < DTE <= this


@dataclass(frozen=True)
class Settings:
    underlying: str = "BTC"
    capital: float = 10_000.0
    max_positions: int = 2
    check_interval: int = 1
    platform: str = "deribit"
    quantity: float = 1.0  # contracts per leg (times the strategy's own, e.g. a butterfly's 2)
    strategy: str = "vol_mean_reversion"
    vol_window: int = 14
    max_straddle_cash_share: float = 0.5
    risk_free: float = 0.05
    harvest: Harvest = field(default_factory=Harvest)


SIDE = {"buy": "long", "sell": "short"}


def _quiet(_text: str) -> None:
    """The live check's why-nothing notes: one per bar would drown a backtest's output."""


class Run:
    """One backtest: the account, the book and what the report needs."""

    def __init__(self, settings: Settings, closes: list[float], dates: list[str]) -> None:
        self.s = settings
        self.closes = closes
        self.dates = dates
        self.close_on = dict(zip(dates, closes, strict=True))
        self.vols = oc.vol_series(closes, settings.vol_window)
        self.chain = BarsChain(
            settings.platform, settings.underlying, closes, dates, self.vols, settings.risk_free
        )
        self.book = OptionsBook(settings.platform)
        self.acct = OptionsAccount("options-backtest", settings.capital)
        self.rows: list = []
        self.legs: dict[str, dict] = {}  # leg id -> its trade-list entry
        self.deltas: dict[str, float] = {}  # leg id -> long-option delta at the last mark
        self.equity: list[tuple[str, float]] = []

    # ---- one check ----------------------------------------------------------------------
    def step(self, i: int, *, may_open: bool) -> None:
        today, spot = self.dates[i], self.closes[i]
        self.chain.at(i)
        for leg in list(self.acct.legs.values()):
            if leg.expiry <= today:
                at = self.close_on.get(leg.expiry, spot)
                self._book(self.book.settle(self.acct, leg.leg_id, at, today)[0])
        for leg in self.acct.legs.values():
            q = self.chain.quote(leg.underlying, leg.option_type, leg.strike, leg.expiry)
            self.book.mark(self.acct, leg.leg_id, q.premium_usd)
            self.deltas[leg.leg_id] = q.greeks["delta"]
        self._harvest(today)
        if may_open:
            self._enter(today, spot)
        self.equity.append((today, self.acct.value))

    def _harvest(self, today: str) -> None:
        h = self.s.harvest
        for leg in list(self.acct.legs.values()):
            if leg.side != "short":
                continue
            profit_pct = (leg.entry_premium - leg.mark) / leg.entry_premium * 100.0
            dte = leg.dte(today)
            reason = ""
            if h.profit_target_pct > 0 and profit_pct >= h.profit_target_pct:
                reason = "profit_target"
            elif h.stop_loss_pct > 0 and -profit_pct >= h.stop_loss_pct:
                reason = "stop_loss"
            elif h.min_dte_close > 0 and 0 < dte <= h.min_dte_close:
                reason = "min_dte"
            if reason:
                self._book(self.book.close(self.acct, leg.leg_id, leg.mark, today, 1.0, reason)[0])

    def _positions(self) -> list[dict[str, Any]]:
        """The open legs on check_options' wire (what the supervisor would send)."""
        return [
            {
                "id": leg.leg_id,
                "underlying": leg.underlying,
                "option_type": leg.option_type,
                "strike": leg.strike,
                "expiry": leg.expiry,
                "action": "buy" if leg.side == "long" else "sell",
                "quantity": leg.quantity,
                "multiplier": leg.multiplier,
                "entry_premium_unit_usd": leg.entry_premium,
                "delta": self.deltas.get(leg.leg_id, 0.0),
            }
            for leg in self.acct.legs.values()
        ]

    def _affordable(self, actions: list[dict[str, Any]]) -> bool:
        """A debit structure (bought legs only) may cost at most half the cash."""
        if any(a["action"] != "buy" for a in actions):
            return True
        venue, s = self.book.venue, self.s
        cost = 0.0
        for a in actions:
            qty = s.quantity * float(a.get("quantity", 1.0))
            mult = float(a["multiplier"])
            cost += a["premium_usd"] * qty * mult + venue.fee(a["premium_usd"], qty, mult)
        return cost <= s.max_straddle_cash_share * self.acct.cash

    def _enter(self, today: str, spot: float) -> None:
        s = self.s
        if self.acct.value <= 0:
            return  # the account is ruined: no venue would take another order
        req = check.Request(s.strategy, s.underlying, s.platform, self._positions(), [])
        doc = check.run(req, lambda: self.chain, now_iso=today, log=_quiet).doc
        actions = doc["actions"]
        if not actions or len(self.acct.legs) + len(actions) > s.max_positions:
            return
        if not self._affordable(actions):
            return
        for a in actions:
            self._open(a, today, spot, doc["iv_rank"])

    def _open(self, a: dict[str, Any], today: str, spot: float, rank: float) -> None:
        s = self.s
        side, qty = SIDE[a["action"]], s.quantity * float(a.get("quantity", 1.0))
        kind, strike, expiry, premium = a["option_type"], a["strike"], a["expiry"], a["premium_usd"]
        row, _ = self.book.open(
            self.acct, s.underlying, kind, strike, expiry, side, qty, premium, today
        )
        if row is None:
            return
        self.rows.append(row)
        self.deltas[row.position_id] = a["greeks"]["delta"]
        self.legs[row.position_id] = {
            "symbol": row.symbol,
            "opened": today,
            "type": kind,
            "side": side,
            "strike": strike,
            "expiry": expiry,
            "quantity": qty,
            "spot": spot,
            "vol_pct": self.chain.vol * 100.0,
            "iv_rank": rank,
            "score": a["score"],
            "entry_premium": premium,
            "premium_usd": row.value,
            "pnl": -row.fee,
            "fees": row.fee,
        }

    def _book(self, row) -> None:
        if row is None:
            return
        self.rows.append(row)
        entry = self.legs[row.position_id]
        entry["pnl"] += row.net_pnl
        entry["fees"] += row.fee
        entry.update(closed=row.timestamp[:10], exit_premium=row.price, reason=row.reason)

    def finish(self) -> None:
        """Close what is still open at its last mark."""
        if not self.acct.legs:
            return
        today = self.dates[-1]
        for leg in list(self.acct.legs.values()):
            self._book(self.book.close(self.acct, leg.leg_id, leg.mark, today, 1.0, "end")[0])
        self.equity[-1] = (today, self.acct.value)


def simulate(closes: list[float], dates: list[str], settings: Settings, start: int) -> dict:
    """Run from bar ``start`` (earlier bars warm the vol up) and report."""
    run = Run(settings, closes, dates)
    last = len(closes) - 1
    for i in range(start, len(closes), settings.check_interval):
        run.step(i, may_open=i < last)
    if run.equity and run.equity[-1][0] != dates[-1]:
        run.step(last, may_open=False)
    run.finish()
    return report(run, start)


def report(run: Run, start: int) -> dict:
    s = run.s
    values = [v for _, v in run.equity]
    final = values[-1] if values else s.capital
    first, last = run.dates[start], run.dates[-1]
    days = (date.fromisoformat(last) - date.fromisoformat(first)).days
    legs = list(run.legs.values())
    closed = [leg for leg in legs if "closed" in leg]
    wins = sum(1 for leg in closed if leg["pnl"] > 0)
    opens = [r for r in run.rows if not r.is_close]
    return {
        "strategy": s.strategy,
        "underlying": s.underlying,
        "platform": s.platform,
        "settings": {k: v for k, v in asdict(s).items() if k != "harvest"},
        "harvest": asdict(s.harvest),
        "start": first,
        "end": last,
        "days": days,
        "capital": s.capital,
        "final_equity": final,
        "return_pct": (final / s.capital - 1.0) * 100.0,
        "annualized_pct": oc.annualized_pct(final, s.capital, days),
        "buy_hold_pct": (run.closes[-1] / run.closes[start] - 1.0) * 100.0,
        "max_drawdown_pct": oc.max_drawdown_pct(values),
        "sharpe": oc.sharpe(values, 365.0 / s.check_interval),
        "win_rate_pct": wins / len(closed) * 100.0 if closed else None,
        "legs": len(legs),
        "premium_collected": sum(r.value for r in opens if r.side == "sell"),
        "premium_paid": sum(r.value for r in opens if r.side == "buy"),
        "fees": sum(r.fee for r in run.rows),
        "settlement_paid": sum(
            r.value for r in run.rows if r.reason == "expiry_itm" and r.side == "buy"
        ),
        "settlement_received": sum(
            r.value for r in run.rows if r.reason == "expiry_itm" and r.side == "sell"
        ),
        "trades": legs,
        "equity": [[d, v] for d, v in run.equity],
    }


def build_parser(prog: str = PROG, description: str = "options strategy backtest"):
    p = oc.OneLineParser(prog=prog, description=description)
    p.add_argument(
        "--strategy",
        default="vol_mean_reversion",
        choices=STRATEGIES,
        help="an options strategy of shared_strategies/options (default vol_mean_reversion)",
    )
    p.add_argument("--underlying", default="BTC", help="BTC, ETH, ... (candles: <U>/USDT)")
    p.add_argument("--capital", type=oc.positive(float), default=10_000.0)
    p.add_argument("--max-positions", type=oc.positive(int), default=2, help="legs, at least 2")
    p.add_argument("--check-interval", type=oc.positive(int), default=1, help="days")
    p.add_argument("--platform", default="deribit", choices=sorted(OPTION_VENUES))
    p.add_argument("--quantity", type=oc.positive(float), default=1.0, help="contracts per leg")
    oc.add_data_flags(p, since_default="90")
    return p


def parse(argv: list[str] | None, prog: str = PROG, description: str = "") -> argparse.Namespace:
    p = build_parser(prog, description or "options strategy backtest")
    args = p.parse_args(argv)
    if args.max_positions < 2:
        p.error("--max-positions must be at least 2 (a strangle or straddle is two legs)")
    venue = OPTION_VENUES[args.platform]
    if venue.whole_contracts and args.quantity != int(args.quantity):
        p.error(f"--quantity must be whole contracts on {args.platform}, got {args.quantity:g}")
    args.underlying = args.underlying.strip().upper()
    if not args.underlying.isalnum():
        p.error(f"--underlying must be a coin like BTC, got {args.underlying!r}")
    return args


def daily_closes(args) -> tuple[list[float], list[str], int]:
    """Daily closes and dates (warm-up included) and the index of the first traded day."""
    now = market.now_utc()
    start = oc.since_start(args.since, now)
    df = oc.load_candles(
        f"{args.underlying}/USDT",
        "1d",
        start,
        WARMUP_DAYS,
        source=oc.source_or_env(args.data),
        venue=args.exchange,
        now=now,
    )
    dates = [t.strftime("%Y-%m-%d") for t in df.index]
    closes = [float(x) for x in df["close"]]
    first = next((i for i, d in enumerate(dates) if d >= f"{start:%Y-%m-%d}"), len(dates))
    first = max(first, WARMUP_DAYS)
    if first >= len(dates) - 1:
        raise ValueError(
            f"only {len(dates)} daily {args.underlying}/USDT bars; need {WARMUP_DAYS} of "
            "warm-up plus two to trade"
        )
    return closes, dates, first


def settings_from(args, harvest: Harvest | None = None) -> Settings:
    return Settings(
        underlying=args.underlying,
        capital=args.capital,
        max_positions=args.max_positions,
        check_interval=args.check_interval,
        platform=args.platform,
        quantity=args.quantity,
        strategy=getattr(args, "strategy", "vol_mean_reversion"),
        harvest=harvest or Harvest(),
    )


def text(rep: dict) -> str:
    f = oc.fmt
    lines = [
        f"{rep['strategy']} {rep['underlying']} on {rep['platform']}: "
        f"{rep['start']} .. {rep['end']} ({rep['days']} days)",
        f"  capital ${f(rep['capital'])} -> ${f(rep['final_equity'])}",
        f"  return {f(rep['return_pct'], '%', True)}  annualized "
        f"{f(rep['annualized_pct'], '%', True)}  buy&hold {f(rep['buy_hold_pct'], '%', True)}",
        f"  max DD {f(rep['max_drawdown_pct'], '%')}  Sharpe {f(rep['sharpe'])}  "
        f"win rate {f(rep['win_rate_pct'], '%')} over {rep['legs']} legs",
        f"  premium collected ${f(rep['premium_collected'])}  paid ${f(rep['premium_paid'])}  "
        f"fees ${f(rep['fees'])}",
        f"  settlements paid ${f(rep['settlement_paid'])}  "
        f"received ${f(rep['settlement_received'])}",
    ]
    if rep["trades"]:
        lines.append("")
        lines.append(
            f"  {'opened':10} {'closed':10} {'side':5} {'type':4} {'strike':>9} "
            f"{'entry':>9} {'exit':>9} {'pnl':>10}  reason"
        )
        for t in rep["trades"]:
            lines.append(
                f"  {t['opened']:10} {t.get('closed', 'open'):10} {t['side']:5} {t['type']:4} "
                f"{t['strike']:>9,.0f} {t['entry_premium']:>9,.2f} "
                f"{t.get('exit_premium', float('nan')):>9,.2f} {t['pnl']:>+10,.2f}  "
                f"{t.get('reason', '')}"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    try:
        closes, dates, first = daily_closes(args)
    except (market.MarketDataError, ValueError) as exc:
        return oc.fail(PROG, str(exc))
    rep = simulate(closes, dates, settings_from(args), first)
    if args.json:
        oc.emit_json(rep)
    else:
        oc.out(text(rep))
    return 0


if __name__ == "__main__":
    sys.exit(main())
