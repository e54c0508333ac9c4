"""The options strategy registry: name -> evaluator, read by check_options.py, the backtest and
``go-trader init`` (which, like the open registry, asks a child process:
``python -m shared_strategies.options.registry --list-json``; the supervisor never imports
this package).

Upstream's live map (``STRATEGY_MAP``, reference §1.4 step 8) has exactly these six names.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable

from shared_strategies.options import strategies as s
from shared_strategies.options.legs import Context, Decision

__all__ = ["DESCRIPTIONS", "REGISTRY", "SHORT_NAMES", "Evaluator", "evaluate", "get", "names"]

Evaluator = Callable[[Context], Decision]

REGISTRY: dict[str, Evaluator] = {
    "momentum_options": s.momentum_options,
    "vol_mean_reversion": s.vol_mean_reversion,
    "protective_puts": s.protective_puts,
    "covered_calls": s.covered_calls,
    "wheel": s.wheel,
    "butterfly": s.butterfly,
}

DESCRIPTIONS = {
    "momentum_options": "ROC(14) 4h cross of +-5%: buy a 1.02x call / 0.98x put, 37 DTE",
    "vol_mean_reversion": "rank > 75 sell a 1.10x/0.90x strangle, < 25 buy an ATM straddle, 30 DTE",
    "protective_puts": "buy a 0.88x put, 45 DTE, one at a time",
    "covered_calls": "sell a 1.12x call, 21 DTE, one at a time",
    "wheel": "sell a 0.94x put (37 DTE); once assigned, sell a 1.10x call (21 DTE)",
    "butterfly": "30 <= rank <= 70: long call butterfly 0.95x / 2x 1.00x / 1.05x, 30 DTE",
}


# the middle word of the seed's strategy ids (<platform|rh>-<short>-<asset>, e.g. deribit-vol-btc)
SHORT_NAMES = {
    "momentum_options": "momentum",
    "vol_mean_reversion": "vol",
    "protective_puts": "puts",
    "covered_calls": "calls",
    "wheel": "wheel",
    "butterfly": "butterfly",
}


def names() -> list[str]:
    """Registered names in upstream's order."""
    return list(REGISTRY)


def get(name: str) -> Evaluator | None:
    return REGISTRY.get(name)


def evaluate(name: str, ctx: Context) -> Decision:
    """Run ``name`` on ``ctx`` (KeyError for an unknown name)."""
    return s.guarded(REGISTRY[name], ctx)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args != ["--list-json"]:
        print("usage: python -m shared_strategies.options.registry --list-json", file=sys.stderr)
        return 2
    doc = [
        {"id": n, "name": n, "short_name": SHORT_NAMES[n], "description": DESCRIPTIONS[n]}
        for n in REGISTRY
    ]
    print(json.dumps(doc))
    return 0


if __name__ == "__main__":
    sys.exit(main())
