"""OKX signal check (paper/signal mode): spot or USDT perpetual swap.

    check_okx.py <strategy> <symbol> <timeframe> [--inst-type=spot|swap] [--mode=paper]
        [--params JSON] [--strategy-refs JSON] [--position-side ...] [--regime-enabled ...]
        [--htf-filter] [--atr-method=simple|wilder]

``--inst-type`` (default swap, as upstream) picks the strategy registry (spot or perps) and the
instrument whose candles are read: ``BTC`` means BTC/USDT on spot and BTC/USDT:USDT on the swap
(ccxt in exchange mode). Swap checks give the funding strategies a ``funding_rate`` column
from OKX's funding history (made hourly). ``platform`` is "okx"; ``--mode=live`` is refused,
``--mark-price`` accepted and ignored (upstream-contract §1.1).

The live modes ``--execute`` and ``--order-status`` are routed by their sentinel flag to
``shared_scripts/okx_live`` (see :mod:`shared_scripts.okx_live.cli`); each needs ``--mode=live``.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from shared_scripts import signal_check  # noqa: E402


def _swap(ns) -> bool:
    return ns.inst_type != "spot"


def _help() -> str:
    return "\n".join(
        (
            "--inst-type=spot uses the spot list, --inst-type=swap (default) the perps list.",
            signal_check.accepted_names("spot"),
            signal_check.accepted_names("perps"),
        )
    )


VENUE = signal_check.Venue(
    script="check_okx.py",
    description="OKX spot or perpetual-swap signal check (paper)",
    name="okx",
    product=lambda ns: "perps" if _swap(ns) else "spot",
    data_venue=lambda ns: "okx-swap" if _swap(ns) else "okx",
    funding=_swap,
    paper_only=True,
)


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    from shared_scripts.okx_live import cli as live

    if live.wants_live_mode(args) and "--batch" not in args:
        return live.main(args)
    return signal_check.main(VENUE, parser=signal_check.build_parser(VENUE, _help), argv=args)


if __name__ == "__main__":
    sys.exit(main())
