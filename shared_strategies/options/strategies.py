"""Upstream's six options strategies, rule for rule (upstream-options reference §3.2-3.7).

Each evaluator is a pure function of its :class:`Context` (the chain included): the same
function serves ``check_options.py``, the backtest (over a chain made of its own bars) and
the tests (over fixed chains). Constants are upstream's code constants, not config (§6.12).

Like upstream, an evaluator that fails (the venue cannot answer) proposes nothing; unlike
upstream, a structure with a leg the venue quotes at <= 0 is skipped whole rather than opened
without that leg (docs/options.md).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from shared_strategies.options.legs import Context, Decision, NoQuote, option_leg

__all__ = [
    "ROC_PERIOD",
    "ROC_THRESHOLD",
    "butterfly",
    "covered_calls",
    "momentum_options",
    "protective_puts",
    "vol_mean_reversion",
    "wheel",
]

ROC_PERIOD = 14  # momentum: rate of change over 14 4h closes, in percent
ROC_THRESHOLD = 5.0
MOMENTUM_MIN_BARS = 30  # upstream's _fetch_ohlcv_df(min_len=30)


def _has(positions: Sequence[dict[str, Any]], action: str, option_type: str) -> bool:
    return any(
        str(p.get("action", "")).lower() == action
        and str(p.get("option_type", "")).lower() == option_type
        for p in positions
    )


def _roc(closes: Sequence[float], end: int) -> float:
    """Percent change from ``closes[end - 14]`` to ``closes[end]`` (``end`` negative)."""
    base = closes[end - ROC_PERIOD]
    return (closes[end] - base) / base * 100.0


def momentum_options(ctx: Context) -> Decision:
    """ROC(14) on 4h closes crossing +-5%: buy a 1.02x call (up) or 0.98x put (down), 37 DTE."""
    closes = ctx.closes_4h()
    if closes is None or len(closes) < max(MOMENTUM_MIN_BARS, ROC_PERIOD + 2):
        return Decision(iv_rank=ctx.iv_rank, note="no 4h candles")
    now, before = _roc(closes, -1), _roc(closes, -2)
    if now > ROC_THRESHOLD and before <= ROC_THRESHOLD:
        signal, kind, mult = 1, "call", 1.02
    elif now < -ROC_THRESHOLD and before >= -ROC_THRESHOLD:
        signal, kind, mult = -1, "put", 0.98
    else:
        return Decision(iv_rank=ctx.iv_rank, note=f"ROC {now:.2f}% (prev {before:.2f}%): no cross")
    expiry, dte = ctx.chain.real_expiry(ctx.underlying, 37)
    leg = option_leg(ctx, expiry, dte, kind, "buy", ctx.spot * mult)
    return Decision(signal, [leg], ctx.iv_rank)


def vol_mean_reversion(ctx: Context) -> Decision:
    """Rank > 75: sell a 1.10x call + 0.90x put; rank < 25: buy an ATM straddle; 30 DTE."""
    expiry, dte = ctx.chain.real_expiry(ctx.underlying, 30)
    if ctx.iv_rank > 75:
        legs = [
            option_leg(ctx, expiry, dte, "call", "sell", ctx.spot * 1.10),
            option_leg(ctx, expiry, dte, "put", "sell", ctx.spot * 0.90),
        ]
        return Decision(-1, legs, ctx.iv_rank)
    if ctx.iv_rank < 25:
        atm = ctx.chain.real_strike(ctx.underlying, expiry, "call", ctx.spot)
        legs = [
            option_leg(ctx, expiry, dte, "call", "buy", ctx.spot, strike=atm),
            option_leg(ctx, expiry, dte, "put", "buy", ctx.spot, strike=atm),
        ]
        return Decision(1, legs, ctx.iv_rank)
    return Decision(iv_rank=ctx.iv_rank, note=f"iv_rank {ctx.iv_rank} within 25..75")


def protective_puts(ctx: Context) -> Decision:
    """Buy a 0.88x put, 45 DTE, unless a bought put is open."""
    if _has(ctx.option_positions, "buy", "put"):
        return Decision(iv_rank=ctx.iv_rank, note="a bought put is open")
    expiry, dte = ctx.chain.real_expiry(ctx.underlying, 45)
    return Decision(1, [option_leg(ctx, expiry, dte, "put", "buy", ctx.spot * 0.88)], ctx.iv_rank)


def covered_calls(ctx: Context) -> Decision:
    """Sell a 1.12x call, 21 DTE, unless a sold call is open (upstream never checks spot)."""
    if _has(ctx.option_positions, "sell", "call"):
        return Decision(iv_rank=ctx.iv_rank, note="a sold call is open")
    expiry, dte = ctx.chain.real_expiry(ctx.underlying, 21)
    leg = option_leg(ctx, expiry, dte, "call", "sell", ctx.spot * 1.12)
    return Decision(-1, [leg], ctx.iv_rank)


def _holds_spot(ctx: Context) -> bool:
    und = ctx.underlying.upper()
    for p in ctx.spot_positions:
        try:
            qty = float(p.get("quantity", 0) or 0)
        except (TypeError, ValueError):
            continue
        if str(p.get("symbol", "")).upper() == und and p.get("side") == "long" and qty > 0:
            return True
    return False


def wheel(ctx: Context) -> Decision:
    """Phase 1 (no assigned spot): sell a 0.94x put, 37 DTE. Phase 2 (spot held after an
    assignment): sell a 1.10x call, 21 DTE. One sold leg of the phase's type at a time."""
    if _holds_spot(ctx):
        if _has(ctx.option_positions, "sell", "call"):
            return Decision(iv_rank=ctx.iv_rank, note="phase 2: a sold call is open")
        expiry, dte = ctx.chain.real_expiry(ctx.underlying, 21)
        leg = option_leg(ctx, expiry, dte, "call", "sell", ctx.spot * 1.10, wheel_phase=2)
        return Decision(-1, [leg], ctx.iv_rank)
    if _has(ctx.option_positions, "sell", "put"):
        return Decision(iv_rank=ctx.iv_rank, note="phase 1: a sold put is open")
    expiry, dte = ctx.chain.real_expiry(ctx.underlying, 37)
    leg = option_leg(ctx, expiry, dte, "put", "sell", ctx.spot * 0.94, wheel_phase=1)
    return Decision(-1, [leg], ctx.iv_rank)


def butterfly(ctx: Context) -> Decision:
    """30 <= rank <= 70: long call butterfly 0.95x / 2 x 1.00x / 1.05x, 30 DTE."""
    if not 30 <= ctx.iv_rank <= 70:
        return Decision(iv_rank=ctx.iv_rank, note=f"iv_rank {ctx.iv_rank} outside 30..70")
    expiry, dte = ctx.chain.real_expiry(ctx.underlying, 30)
    legs = [
        option_leg(ctx, expiry, dte, "call", "buy", ctx.spot * 0.95),
        option_leg(ctx, expiry, dte, "call", "sell", ctx.spot * 1.00, quantity=2.0),
        option_leg(ctx, expiry, dte, "call", "buy", ctx.spot * 1.05),
    ]
    return Decision(1, legs, ctx.iv_rank)


def guarded(fn: Callable[[Context], Decision], ctx: Context) -> Decision:
    """Run an evaluator; a leg without a positive premium skips the whole structure."""
    try:
        return fn(ctx)
    except NoQuote as exc:
        return Decision(iv_rank=ctx.iv_rank, note=f"no usable premium: {exc}")
