"""Strategies that by design do not both buy and sell on a plain simulated market.

Shared by the generic strategy tests (test_strategies.py, test_workers.py); each strategy's own
rules are pinned bar by bar with hand-made frames in its family's test module.
"""

# Never or almost never trade on a plain simulated OHLCV market.
RARELY_OR_NEVER: dict[str, str] = {
    "hold": "upstream's placeholder: always 0",
    "range_scalper": "needs a Bollinger bandwidth under 0.8%, quieter than the simulated market",
    "anchored_vwap_channel": "needs a wick to reach a line while the channel is >= 1.5 ATR wide",
    "mean_reversion_pro": "its ADX < 25 gate is shut whenever z crosses back on this market",
}
# Buy but never sell on spot (their exits come from close evaluators).
LONG_ONLY_ON_SPOT: dict[str, str] = {
    "atr_band_revert": "allow_short is False on spot, and it emits no exit signal of its own",
}
