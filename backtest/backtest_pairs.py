"""Research backtest of a two-leg, beta-hedged pairs trade on a log-spread z-score (perps).

    python backtest/backtest_pairs.py --symbol-a ETH/USDT --symbol-b BTC/USDT --timeframe 1h \\
        --lookback 168 --entry-z 2 --exit-z 0.5 --beta 1.2 --base-notional 1000 --leverage 20 \\
        --data simulated [--json]

* spread = ln A - ln B; z = (spread - rolling mean) / rolling std over ``--lookback`` bars,
  closed bars only;
* z >= entry: short A, long B; z <= -entry: long A, short B; while in, |z| <= exit closes.
  A decision on bar N fills at bar N+1's open;
* notional A = base notional, B = base notional x beta; each leg posts notional / leverage
  as isolated margin and pays the taker fee (``--use-maker`` for the maker fee) on each fill;
* per-leg liquidation by the paper book's margin model (``shared_tools.book.margin``): each
  leg is an isolated account holding its margin; when its equity at the bar's worst price (its
  low for a long, high for a short) falls to the maintenance margin (``--maintenance-margin``
  x notional at that price), the leg is closed at its liquidation price (at the open when the
  bar opens past it), its loss capped at its margin; the surviving leg is closed at that bar's
  close (the hedge is gone);
* optional funding per hour per leg (``--funding-a-per-hour``; positive: longs pay shorts).
"""

from __future__ import annotations

import argparse
import math
import sys
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from backtest import options_common as oc  # noqa: E402
from shared_tools import market  # noqa: E402
from shared_tools.book import Position, Rules, margin  # noqa: E402
from shared_tools.book.instruments import instrument  # noqa: E402

PROG = "backtest_pairs.py"
TAKER_FEE = 0.000432
MAKER_FEE = 0.000144


@dataclass(frozen=True)
class PairsSettings:
    capital: float = 1000.0
    base_notional: float = 1000.0
    beta: float = 1.2
    leverage: float = 20.0
    maintenance_margin: float = 0.02
    lookback: int = 168
    entry_z: float = 2.0
    exit_z: float = 0.5
    fee_rate: float = TAKER_FEE
    funding_a_per_hour: float = 0.0
    funding_b_per_hour: float = 0.0
    bar_hours: float = 1.0


@dataclass
class Leg:
    name: str  # "a" | "b"
    sign: int  # +1 long, -1 short
    qty: float
    entry: float
    notional: float
    margin: float
    funding: float = 0.0
    pnl: float = 0.0  # realized gross once closed
    exit: float = 0.0
    liquidated: bool = False

    def pnl_at(self, price: float) -> float:
        return self.sign * self.qty * (price - self.entry)

    def worst(self, high: float, low: float) -> float:
        return low if self.sign > 0 else high


@dataclass
class Pair:
    side: str  # "long_a" | "short_a"
    opened: int  # bar index of the entry fill
    legs: list[Leg]
    fees: float = 0.0
    closed: int = -1
    reason: str = ""
    trades: list = field(default_factory=list)

    @property
    def net(self) -> float:
        return sum(leg.pnl + leg.funding for leg in self.legs) - self.fees


def zscores(close_a, close_b, lookback: int):
    """Rolling z of the log spread (a pandas Series; NaN until ``lookback`` bars exist)."""
    import numpy as np

    spread = np.log(close_a) - np.log(close_b)
    mean = spread.rolling(lookback).mean()
    std = spread.rolling(lookback).std()
    return (spread - mean) / std.where(std > 0)


def leg_rules(s: PairsSettings) -> Rules:
    """The book's terms for a leg: Hyperliquid perps at the run's fee and maintenance rate."""
    inst = replace(instrument("hyperliquid", "", "perps"), maint_margin_rate=s.maintenance_margin)
    return Rules(
        kind="perps",
        platform="hyperliquid",
        fee_rate=s.fee_rate,
        direction="both",
        leverage=s.leverage,
        instrument=inst,
    )


@dataclass
class Isolated:
    """One leg's isolated margin account, in the shape the book's margin model reads."""

    id: str
    cash: float
    positions: dict[str, Position]
    trade_count: int = 0


def leg_account(leg: Leg) -> Isolated:
    """The leg as an isolated account: its margin (and the funding it carried) as cash."""
    pos = Position(
        symbol=leg.name,
        position_id=leg.name,
        quantity=leg.qty,
        initial_quantity=leg.qty,
        avg_cost=leg.entry,
        cost_basis=leg.notional,
        side="long" if leg.sign > 0 else "short",
        kind="perps",
        margin=leg.margin,
    )
    return Isolated("pairs", leg.margin + leg.funding, {leg.name: pos})


class PairsRun:
    def __init__(self, a, b, s: PairsSettings) -> None:
        self.a, self.b, self.s = a, b, s
        self.z = zscores(a["close"], b["close"], s.lookback).to_list()
        self.cash = s.capital
        self.pair: Pair | None = None
        self.pairs: list[Pair] = []
        self.equity: list[float] = []
        self.liquidations = 0

    def px(self, frame, col: str, i: int) -> float:
        return float(frame[col].iat[i])

    def open(self, i: int, side: str) -> None:
        s, sign_a = self.s, (1 if side == "long_a" else -1)
        legs = []
        for name, frame, sign, notional in (
            ("a", self.a, sign_a, s.base_notional),
            ("b", self.b, -sign_a, s.base_notional * s.beta),
        ):
            price = self.px(frame, "open", i)
            legs.append(Leg(name, sign, notional / price, price, notional, notional / s.leverage))
        self.pair = Pair(side, i, legs)
        fee = sum(leg.notional for leg in legs) * s.fee_rate
        self.pair.fees += fee
        self.cash -= fee

    def close_leg(self, leg: Leg, price: float) -> None:
        leg.exit = price
        leg.pnl = leg.pnl_at(price)
        fee = leg.qty * price * self.s.fee_rate
        self.pair.fees += fee
        self.cash += leg.pnl - fee

    def finish(self, i: int, reason: str) -> None:
        self.pair.closed, self.pair.reason = i, reason
        self.pairs.append(self.pair)
        self.pair = None

    def carry(self, i: int) -> None:
        """Funding for bar ``i`` on the open legs."""
        for leg, frame, rate in (
            (self.pair.legs[0], self.a, self.s.funding_a_per_hour),
            (self.pair.legs[1], self.b, self.s.funding_b_per_hour),
        ):
            if rate:
                amount = -leg.sign * leg.qty * self.px(frame, "close", i) * rate * self.s.bar_hours
                leg.funding += amount
                self.cash += amount

    def check_liquidation(self, i: int) -> None:
        """Each leg through the book's margin model on its own isolated margin."""
        frames = {"a": self.a, "b": self.b}
        rules = leg_rules(self.s)
        hit = []
        for leg in self.pair.legs:
            f = frames[leg.name]
            worst = leg.worst(self.px(f, "high", i), self.px(f, "low", i))
            trades = margin.liquidate(
                leg_account(leg),
                rules,
                {leg.name: worst},
                f.index[i].isoformat(),
                seen={leg.name: self.px(f, "open", i)},
            )
            if trades:
                hit.append((leg, trades[0]))
        if not hit:
            return
        for leg, trade in hit:
            leg.liquidated = True
            leg.exit, leg.pnl = trade.price, trade.realized_pnl
            self.pair.fees += trade.fee
            self.cash += trade.realized_pnl - trade.fee
            self.liquidations += 1
        for leg in self.pair.legs:
            if not leg.liquidated:
                self.close_leg(leg, self.px(frames[leg.name], "close", i))
        self.finish(i, "liquidation_" + "+".join(leg.name for leg, _t in hit))

    def mark(self, i: int) -> float:
        if self.pair is None:
            return self.cash
        frames = {"a": self.a, "b": self.b}
        return self.cash + sum(
            leg.pnl_at(self.px(frames[leg.name], "close", i)) for leg in self.pair.legs
        )

    def run(self, start: int) -> None:
        pending = ""  # "long_a" | "short_a" | "exit": filled at the next bar's open
        n = len(self.a)
        for i in range(start, n):
            if pending == "exit" and self.pair is not None:
                for leg, frame in zip(self.pair.legs, (self.a, self.b), strict=True):
                    self.close_leg(leg, self.px(frame, "open", i))
                self.finish(i, "exit_signal")
            elif pending in ("long_a", "short_a") and self.pair is None:
                self.open(i, pending)
            pending = ""
            if self.pair is not None:
                self.carry(i)
                self.check_liquidation(i)
            self.equity.append(self.mark(i))
            z = self.z[i]
            if i + 1 >= n or z is None or not math.isfinite(z):
                continue
            if self.pair is None and abs(z) >= self.s.entry_z:
                pending = "short_a" if z > 0 else "long_a"
            elif self.pair is not None and abs(z) <= self.s.exit_z:
                pending = "exit"
        if self.pair is not None:
            for leg, frame in zip(self.pair.legs, (self.a, self.b), strict=True):
                self.close_leg(leg, self.px(frame, "close", n - 1))
            self.finish(n - 1, "end")
            self.equity[-1] = self.cash


def simulate(a, b, s: PairsSettings, start: int) -> dict:
    """Backtest on aligned frames ``a``/``b`` (bars before ``start`` warm the z-score up)."""
    run = PairsRun(a, b, s)
    run.run(start)
    return report(run, start)


def report(run: PairsRun, start: int) -> dict:
    s, idx = run.s, run.a.index
    eq = run.equity
    final = eq[-1] if eq else s.capital
    trades = [
        {
            "side": p.side,
            "entry_time": idx[p.opened].isoformat(),
            "exit_time": idx[p.closed].isoformat(),
            "bars": p.closed - p.opened,
            "reason": p.reason,
            "legs": [
                {
                    "leg": leg.name,
                    "side": "long" if leg.sign > 0 else "short",
                    "qty": leg.qty,
                    "entry": leg.entry,
                    "exit": leg.exit,
                    "notional": leg.notional,
                    "margin": leg.margin,
                    "pnl": leg.pnl,
                    "funding": leg.funding,
                    "liquidated": leg.liquidated,
                }
                for leg in p.legs
            ],
            "fees": p.fees,
            "pnl": p.net,
        }
        for p in run.pairs
    ]
    total_margin = s.base_notional * (1 + abs(s.beta)) / s.leverage
    return {
        "strategy": "pairs_zscore",
        "settings": asdict(s),
        "start": idx[start].isoformat(),
        "end": idx[-1].isoformat(),
        "bars": len(idx) - start,
        "capital": s.capital,
        "final_equity": final,
        "return_pct": (final / s.capital - 1.0) * 100.0,
        "sharpe": oc.sharpe(eq, 24 * 365 / s.bar_hours),
        "max_drawdown_pct": oc.max_drawdown_pct(eq),
        "trades": len(trades),
        "win_rate_pct": (
            sum(1 for t in trades if t["pnl"] > 0) / len(trades) * 100.0 if trades else None
        ),
        "avg_hold_bars": sum(t["bars"] for t in trades) / len(trades) if trades else None,
        "fees": sum(p.fees for p in run.pairs),
        "funding": sum(leg.funding for p in run.pairs for leg in p.legs),
        "liquidations": run.liquidations,
        "margin_exceeds_capital": total_margin > s.capital,
        "trade_list": trades,
    }


def build_parser() -> oc.OneLineParser:
    p = oc.OneLineParser(prog=PROG, description="two-leg pairs backtest on a log-spread z-score")
    # Upstream's flag names first (operators' scripts use them); the short ones stay as aliases.
    p.add_argument(
        "--symbol-a",
        "--a",
        dest="a",
        metavar="SYMBOL",
        default="ETH/USDT",
        help="leg A symbol (default ETH/USDT)",
    )
    p.add_argument(
        "--symbol-b",
        "--b",
        dest="b",
        metavar="SYMBOL",
        default="BTC/USDT",
        help="leg B symbol (default BTC/USDT)",
    )
    p.add_argument("--timeframe", default="1h", choices=list(market.TIMEFRAMES))
    p.add_argument("--lookback", type=oc.positive(int), default=168, help="z-score bars")
    p.add_argument("--entry-z", type=oc.positive(float), default=2.0)
    p.add_argument("--exit-z", type=float, default=0.5)
    p.add_argument("--beta", type=oc.positive(float), default=1.2, help="notional B / A")
    p.add_argument("--base-notional", type=oc.positive(float), default=1000.0)
    p.add_argument("--leverage", type=oc.positive(float), default=20.0)
    p.add_argument("--maintenance-margin", type=float, default=0.02)
    p.add_argument(
        "--initial-capital", "--capital", dest="capital", type=oc.positive(float), default=1000.0
    )
    p.add_argument("--taker-fee", type=float, default=TAKER_FEE, help="fraction per fill")
    p.add_argument("--maker-fee", type=float, default=MAKER_FEE)
    p.add_argument("--use-maker", action="store_true")
    p.add_argument("--funding-a-per-hour", type=float, default=0.0, help="e.g. 0.0000125")
    p.add_argument("--funding-b-per-hour", type=float, default=0.0)
    oc.add_data_flags(p, since_default="30")
    return p


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = build_parser()
    args = p.parse_args(argv)
    if not 0 <= args.exit_z < args.entry_z:
        p.error(f"--exit-z must be in [0, --entry-z), got {args.exit_z:g}")
    if args.leverage < 1:
        p.error(f"--leverage must be at least 1, got {args.leverage:g}")
    if not 0 <= args.maintenance_margin < 1 / args.leverage:
        p.error(f"--maintenance-margin must be in [0, 1/leverage), got {args.maintenance_margin:g}")
    for flag in ("taker_fee", "maker_fee", "funding_a_per_hour", "funding_b_per_hour"):
        value = getattr(args, flag)
        if not math.isfinite(value) or (flag.endswith("fee") and not 0 <= value < 0.1):
            p.error(f"--{flag.replace('_', '-')} is out of range: {value!r}")
    if args.a.strip() == args.b.strip():
        p.error("--symbol-a and --symbol-b must be different symbols")
    return args


def settings_from(args) -> PairsSettings:
    return PairsSettings(
        capital=args.capital,
        base_notional=args.base_notional,
        beta=args.beta,
        leverage=args.leverage,
        maintenance_margin=args.maintenance_margin,
        lookback=args.lookback,
        entry_z=args.entry_z,
        exit_z=args.exit_z,
        fee_rate=args.maker_fee if args.use_maker else args.taker_fee,
        funding_a_per_hour=args.funding_a_per_hour,
        funding_b_per_hour=args.funding_b_per_hour,
        bar_hours=market.timeframe_seconds(args.timeframe) / 3600.0,
    )


def load(args):
    """Aligned candles of both legs and the index of the first traded bar."""
    now = market.now_utc()
    start = oc.since_start(args.since, now)
    frames = [
        oc.load_candles(
            sym,
            args.timeframe,
            start,
            args.lookback + 1,
            source=oc.source_or_env(args.data),
            venue=args.exchange,
            now=now,
        )
        for sym in (args.a, args.b)
    ]
    common = frames[0].index.intersection(frames[1].index)
    a, b = frames[0].loc[common], frames[1].loc[common]
    first = int((common < start).sum())
    first = max(first, args.lookback)
    if first >= len(common) - 1:
        raise ValueError(
            f"only {len(common)} common {args.timeframe} bars of {args.a} and {args.b}; "
            f"need {args.lookback} of warm-up plus two to trade"
        )
    return a, b, first


def text(rep: dict, args) -> str:
    f = oc.fmt
    lines = [
        f"pairs {args.a} vs {args.b} ({args.timeframe}): {rep['start']} .. {rep['end']}",
        f"  capital ${f(rep['capital'])} -> ${f(rep['final_equity'])}  "
        f"return {f(rep['return_pct'], '%', True)}",
        f"  Sharpe {f(rep['sharpe'])}  max DD {f(rep['max_drawdown_pct'], '%')}  "
        f"trades {rep['trades']}  win rate {f(rep['win_rate_pct'], '%')}  "
        f"avg hold {f(rep['avg_hold_bars'])} bars",
        f"  fees ${f(rep['fees'])}  funding ${f(rep['funding'], sign=True)}  "
        f"liquidations {rep['liquidations']}",
    ]
    if rep["margin_exceeds_capital"]:
        lines.append("  note: the two legs' margin exceeds the capital (runs as if it were free)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    try:
        a, b, first = load(args)
    except (market.MarketDataError, ValueError) as exc:
        return oc.fail(PROG, str(exc))
    rep = simulate(a, b, settings_from(args), first)
    if args.json:
        oc.emit_json(rep)
    else:
        oc.out(text(rep, args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
