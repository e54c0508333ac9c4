"""Which open strategies are deprecated, hidden from discovery or backtest-only (stdlib data).

Upstream keeps the same rosters in its Python registry and its Go scheduler; here the strategy
registry reads them, and so can the supervisor (which may not import the pandas-based registry)
to warn once at start-up about a deprecated strategy.
"""

from __future__ import annotations

# Upstream's "M5 fee audit" roster: still loadable, hidden from discovery, warned about at start.
DEPRECATED: frozenset[str] = frozenset(
    {
        "adx_trend", "amd_ifvg", "atr_breakout", "bollinger_bands", "consolidation_range",
        "ema_crossover", "funding_skew", "heikin_ashi_ema", "ichimoku_cloud", "macd",
        "mean_reversion", "momentum", "mtf_confluence", "order_blocks", "pairs_spread",
        "parabolic_sar", "range_scalper", "regime_adaptive", "rsi", "rsi_macd_combo",
        "sma_crossover", "squeeze_momentum", "stoch_rsi", "supertrend", "sweep_squeeze_combo",
        "tema_cross", "tema_cross_bd", "triple_ema", "triple_ema_bidir", "vol_momentum",
        "volume_weighted", "vwap_reversion",
    }
)  # fmt: skip
# Hidden from discovery (``--list-json`` without ``--all``) but loadable by name.
HIDDEN: frozenset[str] = DEPRECATED | {
    "amd_ifvg",
    "analog_retrieval",
    "donchian_breakout",
    "range_scalper",
    "session_breakout",
    "vol_momentum",
}
# Refused by every live check script (and as a close); the backtester runs them.
BACKTEST_ONLY: frozenset[str] = frozenset({"analog_retrieval"})


def status(name: str) -> str:
    """``backtest_only``, ``deprecated``, ``hidden`` or ``visible``."""
    if name in BACKTEST_ONLY:
        return "backtest_only"
    if name in DEPRECATED:
        return "deprecated"
    if name in HIDDEN:
        return "hidden"
    return "visible"
