"""The backtest walk: visit only the bars where something can fill, book each fill in the book.

Event-driven on purpose: a per-bar Python loop over 20k bars costs more than the whole
backtest should. The walk jumps from one *interesting* bar to the next:

* a bar whose previous bar carries a signal (it fills at this bar's open);
* while a position is held with a fixed stop or fixed targets, the first bar whose low/high
  crosses one (found with numpy over the bars up to the next signal fill);
* every bar while a position is held when the bar itself can change the book: a trailing
  stop (it moves with each bar), close evaluators (they answer at every close), funding.

Between visited bars the book cannot change, so the equity curve is rebuilt afterwards from
the book's state at each visited bar's close (``cash + slope * close`` per segment).

Order inside a visited bar: the held position's guard and the margin model against the open
(a gap through the stop or the liquidation price fills at the open), then the fill of the
previous bar's decision at the open, then the guard and the margin model inside the bar
(adverse extreme first, then the favourable one), then at the close funding and the close
evaluators (their answer fills at the next bar's open). Stops and liquidations fill with the
book's rules (``guard.fill_price``, ``margin.liquidate``): at the worse of the trigger and the
first price seen past it, which is the bar's open.

``bar_close`` (upstream's legacy ``intrabar_resolution``): stops and targets are judged on the
bar's close only and fill at the next bar's open; the margin model still liquidates inside
the bar (the venue does not wait for a close).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from shared_strategies.close import registry as close_registry
from shared_tools import regime_policy
from shared_tools.book import (
    Account,
    Hit,
    Position,
    Rules,
    Trade,
    accrue_funding,
    add_to_position,
    book_for,
    check,
    decide,
    fill_price,
    margin,
    open_position,
)
from shared_tools.regime_labels import gate_allows
from shared_tools.regime_policy import Certifications, DirectionalPolicy

SYMBOL_ACCOUNT = "backtest"


@dataclass
class WalkInput:
    times: pd.DatetimeIndex
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    signal: np.ndarray  # int64 in {-1, 0, 1}
    start: int  # first bar that may fill (the `since` bar)
    rules: Rules
    capital: float
    symbol: str
    slippage: float  # fraction of price, against the trade
    composed: bool  # close refs configured: the open signal only opens from flat
    evaluators: list[tuple[str, dict]] = field(default_factory=list)
    open_closes: list[tuple[str, np.ndarray]] = field(default_factory=list)
    extra: dict[str, np.ndarray] = field(default_factory=dict)  # avwap, zscore:<name>
    atr: np.ndarray | None = None
    regimes: np.ndarray | None = None  # the regime gate window's label per bar
    allowed_regimes: tuple | None = None  # None: no regime gate
    atr_regimes: np.ndarray | None = None  # regime_atr_window's: the position's stamp
    policy_regimes: np.ndarray | None = None  # regime_directional_window's
    policy: DirectionalPolicy = field(default_factory=DirectionalPolicy)
    certs: Certifications | None = None
    timeframe: str = ""
    funding: np.ndarray | None = None  # hourly funding rate per bar (perps)
    bar_close: bool = False  # intrabar_resolution bar_close: triggers judged on the close


@dataclass
class Leg:
    """A closing leg, with the entry fee share it carries."""

    entry_bar: int
    exit_bar: int
    side: str
    entry_price: float
    exit_price: float
    quantity: float
    fee: float
    pnl: float
    reason: str


@dataclass
class _Account:
    """The backtest's account, the shape the book needs (``shared_tools.book.Account``)."""

    id: str
    cash: float
    positions: dict[str, Position] = field(default_factory=dict)
    trade_count: int = 0


class Walk:
    def __init__(self, inp: WalkInput) -> None:
        self.inp = inp
        self.n = len(inp.open)
        self.acct: Account = _Account(SYMBOL_ACCOUNT, inp.capital)
        self.positions, self.sym = self.acct.positions, inp.symbol
        self.book = book_for(inp.rules)
        self.legs: list[Leg] = []
        self.adds: list[tuple[Trade, str, int, float]] = []  # scale-in: row, side, count, avg
        self.notes: list[str] = []
        self.funding_pnl = 0.0
        self.marks: dict[int, tuple[float, float, float]] = {}
        self.act_from = max(inp.start - 1, 0)  # first signal bar whose fill is at or after start
        hi = max(self.n - 1, self.act_from)
        self.fills: list[int] = (
            np.flatnonzero(inp.signal[self.act_from : hi]) + self.act_from + 1
        ).tolist()
        self.fill_at = 0
        self.entry: tuple[int, float, float] = (0, 0.0, 1.0)  # bar, fee, initial quantity
        self.pending: tuple[int, float, str] | None = None  # evaluator answer: bar, fraction, why
        self.exits: tuple[int, list[Hit]] | None = None  # bar_close: hits to fill at that open
        prot = inp.rules.protection
        # margin-style books (perps, futures) can lose more than the cash: they are liquidated
        self.guarded = not prot.empty or not self.book.holds_notional
        self.evaluates = bool(inp.evaluators or inp.open_closes)
        trailing = bool(
            prot.trailing_stop_pct or prot.trailing_stop_atr_mult or prot.trailing_stop_atr_regime
        )
        self.per_bar = bool(
            trailing or inp.evaluators or inp.open_closes or inp.funding is not None
        )
        secs = inp.times.as_unit("s").asi8 if self.n else np.zeros(0, np.int64)
        self.secs = secs
        self.bar_end = secs  # bar close times, only needed for funding
        if inp.funding is not None and self.n:
            step = int(np.median(np.diff(secs))) if self.n > 1 else 3600
            self.bar_end = np.append(secs[1:], secs[-1] + step)
        texts = np.datetime_as_string(self.secs[self.fills].astype("datetime64[s]"), unit="s")
        self.stamps = dict(zip(self.fills, [t + "Z" for t in texts.tolist()], strict=True))

    # ------------------------------------------------------------------ driver

    def run(self) -> None:
        start, n = self.inp.start, self.n
        if start >= n:
            return
        self.marks[start] = (self.inp.capital, 0.0, 0.0)
        if not self.guarded and not self.per_bar:
            for j in self.fills:  # nothing but signal fills can change the book
                self._visit(j)
            j = n
        else:
            j = start
        while j < n:
            j = self._next(j)
            if j >= n:
                break
            self._visit(j)
            j += 1
        if self.sym in self.positions:  # the last close ends the run (fee and slippage paid)
            self._close(n - 1, float(self.inp.close[n - 1]), 1.0, "end")
            self._record(n - 1)

    def _next(self, j: int) -> int:
        """The first bar from ``j`` on where the book may change."""
        if self.exits is not None:  # bar_close: a trigger seen on the last close fills now
            return self.exits[0]
        fills, k = self.fills, self.fill_at
        while k < len(fills) and fills[k] < j:  # j only grows: a moving pointer, no search
            k += 1
        self.fill_at = k
        nxt = fills[k] if k < len(fills) else self.n
        pos = self.positions.get(self.sym)
        if pos is None:
            return nxt
        if self.per_bar:
            return j
        return self._trigger(pos, j, nxt)

    def _trigger(self, pos: Position, j: int, k: int) -> int:
        """First bar in [j, k) whose range reaches the fixed stop or the nearest open target."""
        if k <= j:
            return k
        g, s = pos.guard, pos.sign
        liq = margin.liquidation_price(self.acct, pos, self.inp.rules)
        if not g.stop and not g.targets and not liq:
            return k
        lo, hi = self.inp.low[j:k], self.inp.high[j:k]
        adverse, favour = (lo, hi) if s > 0 else (hi, lo)
        seen = adverse  # where the stop is judged: inside the bar, or (bar_close) its close
        if self.inp.bar_close:
            seen = favour = self.inp.close[j:k]
        hit = np.zeros(k - j, dtype=bool)
        if g.stop > 0:
            hit |= (seen - g.stop) * s <= 0
        if liq:
            hit |= (adverse - liq) * s <= 0
        closed = 1.0 - pos.quantity / pos.initial_quantity
        open_targets = [p for p, cum in g.targets if cum - closed > 1e-9]
        if open_targets:
            nearest = min(open_targets, key=lambda p: p * s)
            hit |= (favour - nearest) * s >= 0
        i = int(np.argmax(hit))
        return j + i if hit[i] else k

    # ------------------------------------------------------------------ one bar

    def _visit(self, j: int) -> None:
        inp, positions, sym = self.inp, self.acct.positions, self.inp.symbol
        pos = positions.get(sym)
        was_held = pos is not None
        if was_held and self.guarded:
            if inp.bar_close:
                self._fill_exits(j)
            else:
                self._guard(j, pos, float(inp.open[j]))
            self._liquidate(j, float(inp.open[j]))
        pending, self.pending = self.pending, None
        if inp.composed and was_held:
            # the close refs answered at the last close; a held position never adds or
            # reverses, and an answer closes only (decide's composed rule; the check's composed
            # signal is 0 while holding, so scale-in never adds to a composed strategy)
            pos = positions.get(sym)
            if pending is not None and pending[0] == j and pos is not None:
                self._decision(j, -pos.sign, True, pending[1], pending[2])
        elif j - 1 >= self.act_from and inp.signal[j - 1] != 0:
            self._decision(j, int(inp.signal[j - 1]), inp.composed, 1.0, "signal")
        pos = positions.get(sym)
        if pos is not None and self.guarded and inp.bar_close:
            self._liquidate(j, float(inp.low[j] if pos.sign > 0 else inp.high[j]))
            pos = positions.get(sym)
            if pos is not None:  # the legacy mode: a trigger on the close fills at the next open
                hits = check(pos, float(inp.close[j]))
                self.exits = (j + 1, hits) if hits else None
        elif pos is not None and self.guarded:
            long = pos.sign > 0
            adverse = float(inp.low[j] if long else inp.high[j])
            favour = float(inp.high[j] if long else inp.low[j])
            # Stop and target in one bar: assume the adverse extreme came first, so the stop
            # fills and the target never does (the conservative reading of an OHLC bar).
            self._guard(j, pos, adverse)
            self._liquidate(j, adverse)
            pos = positions.get(sym)
            if pos is not None:
                self._guard(j, pos, favour)
            pos = positions.get(sym)
        if pos is not None:
            if inp.funding is not None:
                self._fund(j)
            if self.evaluates:
                self.pending = self._evaluate(j, pos)
        self._record(j)

    def _liquidate(self, j: int, mark: float) -> None:
        """The book's margin model at ``mark``: a liquidation fills at its trigger inside the
        bar, at the open when the bar opens beyond it (the first price seen past it)."""
        pos = self.positions.get(self.sym)
        if pos is None:
            return
        side, avg = pos.side, pos.avg_cost
        trades = margin.liquidate(
            self.acct,
            self.inp.rules,
            {self.sym: mark},
            self._stamp(j),
            seen={self.sym: float(self.inp.open[j])},
        )
        for trade in trades:
            self._leg(j, trade, side, avg)

    def _fill_exits(self, j: int) -> None:
        """bar_close: the stop or targets seen on the last close fill at this bar's open."""
        exits, self.exits = self.exits, None
        if exits is None or exits[0] != j:
            return
        for hit in exits[1]:
            if self.positions.get(self.sym) is None:
                break
            self._close(j, float(self.inp.open[j]), hit.fraction, hit.reason)

    def _guard(self, j: int, pos: Position, mark: float) -> None:
        """Book what the stop and targets trigger at ``mark`` (the book's guard decides).

        A stop fills at the worse of its trigger and the bar's open (a gap through it fills
        at the open); targets at their own price (a resting limit never fills worse).
        """
        seen = float(self.inp.open[j])
        for hit in check(pos, mark):
            if self.positions.get(self.sym) is None:
                break
            self._close(j, fill_price(hit, seen, pos.sign), hit.fraction, hit.reason)

    def _decision(self, j: int, signal: int, composed: bool, fraction: float, reason: str):
        """A decision from bar j-1, filled at bar j's open under the book's direction rules."""
        inp = self.inp
        pos = self.positions.get(self.sym)
        eff = self._directional(j, pos)
        rules = regime_policy.apply(inp.rules, eff)
        plan = decide(
            pos.side if pos else "", signal, rules, composed=composed, close_fraction=fraction
        )
        if plan.close_fraction > 0 and pos is not None:
            self._close(j, float(inp.open[j]), plan.close_fraction, reason)
        if plan.add and pos is not None:
            self._scale_in(j, signal)
        if plan.open_side and self.positions.get(self.sym) is None:
            label = _label(inp.regimes, j - 1)
            if inp.allowed_regimes is not None and not gate_allows(label, inp.allowed_regimes):
                return
            stamp = _label(inp.atr_regimes, j - 1) if inp.atr_regimes is not None else label
            self._open(j, plan.open_side, stamp, rules)
            # a fresh position's verdict is judged flat, never inherited from the position a
            # flip closed (upstream #1026), as the supervisor stamps it
            regime_policy.stamp(self.positions.get(self.sym), self._directional(j, None))

    def _directional(self, j: int, pos: Position | None) -> regime_policy.Effective:
        """regime_directional_policy at the decision bar (j-1), the supervisor's rule."""
        inp, r = self.inp, self.inp.rules
        return regime_policy.judge(
            r.direction,
            r.invert_signal,
            inp.policy,
            inp.symbol,
            inp.timeframe,
            _label(inp.policy_regimes, j - 1),
            pos,
            inp.certs,
        )

    def _scale_in(self, j: int, signal: int) -> None:
        """Add to the held position at bar j's open when bar j-1's signal is for its side and
        the book's scale-in gates let it (the regime gate holds adds as it holds opens)."""
        inp = self.inp
        pos = self.positions.get(self.sym)
        if pos is None or signal == 0:
            return
        plan = decide(pos.side, signal, inp.rules, composed=inp.composed)
        if not plan.add:
            return
        label = str(inp.regimes[j - 1]) if inp.regimes is not None and j > 0 else ""
        if inp.allowed_regimes is not None and not gate_allows(label, inp.allowed_regimes):
            return
        slip = inp.slippage if pos.sign > 0 else -inp.slippage
        price = float(inp.open[j]) * (1.0 + slip)
        trade, action = add_to_position(self.acct, inp.rules, self.sym, price, self._stamp(j))
        if trade is None:
            return
        bar, fee, initial = self.entry  # the legs share every entry fee by quantity
        self.entry = (bar, fee + trade.fee, initial + trade.quantity)
        self.adds.append((trade, str(pos.side), pos.scale_in_count, pos.avg_cost))

    # ------------------------------------------------------------------ fills

    def _open(self, j: int, side: str, regime: str, rules: Rules) -> None:
        inp = self.inp
        slip = inp.slippage if side == "long" else -inp.slippage
        price = float(inp.open[j]) * (1.0 + slip)
        atr = float(inp.atr[j - 1]) if inp.atr is not None and j > 0 else 0.0
        trade, action = open_position(
            self.acct,
            rules,
            inp.symbol,
            side,
            price,
            self._stamp(j),
            entry_atr=atr if math.isfinite(atr) else 0.0,
            regime=regime,
            now_s=float(self.secs[j]),
        )
        if trade is None:
            self.notes.append(action)
            return
        if "not armed" in action:
            self.notes.append(action[action.index("(") + 1 : -1])
        pos = self.positions.get(self.sym)
        self.entry = (j, trade.fee, pos.initial_quantity)

    def _close(self, j: int, raw: float, fraction: float, reason: str) -> None:
        pos = self.positions.get(self.sym)
        price = raw * (1.0 - self.inp.slippage) if pos.sign > 0 else raw * (1.0 + self.inp.slippage)
        side, avg = pos.side, pos.avg_cost
        trade, _ = self.book.close(
            self.acct, self.inp.symbol, price, self._stamp(j), fraction, reason
        )
        if trade is None:
            return
        self.acct.trade_count += 1
        self._leg(j, trade, side, avg)

    def _leg(self, j: int, trade: Trade, side: str, avg: float) -> None:
        """Record a closing trade as a leg carrying its share of the entry fee."""
        bar, entry_fee, initial = self.entry
        share = entry_fee * trade.quantity / initial
        pnl = trade.realized_pnl - trade.fee - share
        leg = Leg(
            bar, j, side, avg, trade.price, trade.quantity, share + trade.fee, pnl, trade.reason
        )
        self.legs.append(leg)

    def _fund(self, j: int) -> None:
        inp = self.inp
        trade = accrue_funding(
            self.acct,
            inp.rules,
            inp.symbol,
            float(inp.funding[j]),
            float(inp.close[j]),
            float(self.bar_end[j]),
            self._stamp(j),
        )
        if trade is not None:
            self.funding_pnl += trade.realized_pnl

    def _evaluate(self, j: int, pos: Position) -> tuple[int, float, str] | None:
        """The close refs' answer at bar j's close: the largest fraction (first on a tie)."""
        inp = self.inp
        position: dict[str, Any] = {
            "side": pos.side,
            "avg_cost": pos.avg_cost,
            "current_quantity": pos.quantity,
            "initial_quantity": pos.initial_quantity,
            "bars_held": j - self.entry[0] + 1,
        }
        if pos.entry_atr > 0:
            position["entry_atr"] = pos.entry_atr
        if pos.regime:
            position["regime"] = pos.regime
        market: dict[str, Any] = {"mark_price": float(inp.close[j])}
        if inp.atr is not None and inp.atr[j] > 0:
            market["atr"] = float(inp.atr[j])
        live = inp.atr_regimes if inp.atr_regimes is not None else inp.regimes
        if live is not None:
            market["regime"] = str(live[j])
        avwap = inp.extra.get("avwap")
        if avwap is not None and avwap[j] > 0:
            market["avwap"] = float(avwap[j])
        best, who = 0.0, ""
        for name, params in inp.evaluators:
            m = market
            z = inp.extra.get(f"zscore:{name}")
            if z is not None and math.isfinite(z[j]):
                m = {**market, "zscore": float(z[j])}
            out = close_registry.evaluate(name, position, m, params or None)
            if out["close_fraction"] > best:
                best, who = out["close_fraction"], name
        for name, sig in inp.open_closes:
            if sig[j] == -pos.sign and best < 1.0:
                best, who = 1.0, name
        return (j + 1, best, f"close:{who}") if best > 0 else None

    # ------------------------------------------------------------------ curves

    def _record(self, j: int) -> None:
        """The book's state at bar j's close: equity = level + slope * close."""
        pos = self.positions.get(self.sym)
        cash = self.acct.cash
        if pos is None:
            self.marks[j] = (cash, 0.0, 0.0)
            return
        slope = pos.sign * pos.quantity * pos.multiplier
        level = cash if self.book.holds_notional else cash - slope * pos.avg_cost
        self.marks[j] = (level, slope, pos.sign * pos.quantity)

    def states(self) -> np.ndarray:
        """(level, slope, signed quantity) at each bar's close from ``start``, one row a bar:
        the state recorded at the last visited bar at or before it (equity = level + slope *
        close). The walk records bars in increasing order, so the marks are sorted."""
        start = self.inp.start
        if start >= self.n:
            return np.zeros((0, 3))
        bars = np.fromiter(self.marks.keys(), dtype=np.int64, count=len(self.marks))
        values = np.array(list(self.marks.values()), dtype=float)
        at = np.searchsorted(bars, np.arange(start, self.n), side="right") - 1
        return values[at]

    def _stamp(self, j: int) -> str:
        """Bar j's open time as the book's ISO-8601 UTC text (signal fills: formatted at once)."""
        stamp = self.stamps.get(j)
        if stamp is None:
            stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(int(self.secs[j])))
        return stamp


def _label(labels: np.ndarray | None, i: int) -> str:
    return str(labels[i]) if labels is not None and 0 <= i < len(labels) else ""
