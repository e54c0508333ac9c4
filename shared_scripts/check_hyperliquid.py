"""Hyperliquid perps signal check (paper/signal mode), and the manual ATR query.

    check_hyperliquid.py <strategy> <coin> <timeframe> [--mode=paper|live] [--mark-price=MID]
        [--params JSON] [--strategy-refs JSON] [--position-side ... ] [--regime-enabled ...]
        [--htf-filter] [--atr-method=simple|wilder]
    check_hyperliquid.py --fetch-atr --symbol=BTC --timeframe=1h --period=14 --atr-method=wilder

The signal check evaluates a perps strategy on the coin's last closed bar (upstream-contract
§1.2 keys, ``platform`` "hyperliquid"); ``--mark-price`` (the cycle's mid) replaces only the
reported ``price``. The funding strategies get a ``funding_rate`` column from the venue's
funding history. With ``--mode=live`` the signal check is the same read-only evaluation (the
supervisor sends the orders through the live modes below).

The live side-effect and account modes (``--execute``, ``--sync-protection``,
``--update-stop-loss``, ``--limit-open``, ``--limit-status``, ``--cancel-order``,
``--order-status``, ``--account-state``) are routed by their sentinel flag to
``shared_scripts/hl_live`` (see its package docstring); each needs ``--mode=live``.

``--fetch-atr`` prints ``{"atr": F, "candles": N}`` and always exits 0, also when it can only
report ``{"error": ...}`` (go-trader's manual ATR contract). Market data comes from
``GO_TRADER_MARKET_DATA`` (exchange: hyperliquid-python-sdk; simulated; replay:<dir>).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from shared_scripts import signal_check  # noqa: E402
from shared_tools.worker import UsageError, error_message  # noqa: E402

VENUE = signal_check.Venue(
    script="check_hyperliquid.py",
    description="Hyperliquid perps signal check (paper), or --fetch-atr",
    name="hyperliquid",
    product="perps",
    funding=True,
    paper_only=False,  # live orders: shared_scripts/hl_live (the signal check is read-only)
    mark_is_price=True,
)
_ATR_ONLY = ("symbol_opt", "timeframe_opt")


def validate(ns) -> None:
    if ns.fetch_atr:
        if ns.strategy or ns.symbol or ns.timeframe:
            raise UsageError("--fetch-atr takes --symbol and --timeframe, not positionals")
        signal_check.validate_platform(VENUE, ns)
        return
    given = [f"--{d.removesuffix('_opt')}" for d in _ATR_ONLY if getattr(ns, d)]
    if given:
        verb = "goes" if len(given) == 1 else "go"
        raise UsageError(
            f"{'/'.join(given)} {verb} only with --fetch-atr (the signal check takes "
            "<strategy> <coin> <timeframe>)"
        )
    signal_check.validate(VENUE, ns)


def handle(ns, stdin=None) -> dict:
    if ns.fetch_atr:
        try:
            return signal_check.fetch_atr(ns, VENUE.name)
        except Exception as exc:  # reported, never raised: the manual query always exits 0
            return {"error": error_message(exc)}
    return signal_check.handle(VENUE, ns, stdin)


def prepare(ns) -> None:
    if ns.fetch_atr:
        from shared_tools import indicators, market  # noqa: F401
        from shared_tools.market import ohlcv  # noqa: F401

        if not (ns.symbol_opt and ns.timeframe_opt):
            raise ValueError("--fetch-atr needs --symbol and --timeframe (e.g. --symbol=BTC)")
        market.timeframe_seconds(ns.timeframe_opt)
        return
    signal_check.prepare(VENUE, ns)


def worker_spec():
    """This script's worker (with --fetch-atr), also for batches hosted by a sibling."""
    return signal_check.spec(VENUE, handler=handle, validator=validate, preparer=prepare)


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    from shared_scripts.hl_live import cli as live

    if live.wants_live_mode(args) and "--batch" not in args:
        return live.main(args)
    code = signal_check.main(VENUE, handler=handle, validator=validate, preparer=prepare, argv=args)
    single_atr = "--fetch-atr" in args and "--batch" not in args
    return 0 if single_atr and code == 1 else code  # its errors are reports, exit 0


if __name__ == "__main__":
    sys.exit(main())
