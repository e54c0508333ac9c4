"""Options signal check: one strategy on one underlying -> one JSON document of scored legs.

    check_options.py <strategy> <UNDERLYING> [--platform=deribit|ibkr|okx|robinhood]
        [--regime-payload-json=RAW] [--iv-rank-source=realized|implied] [--probe-only] [--batch]

Upstream's argv (reference upstream-options §1.2), parsed by hand and tolerantly as upstream:
``--platform`` without ``=`` is ignored, unknown ``--flags`` are ignored (with a note on
stderr), an optional third positional is the positions JSON (legacy; stdin is then not read).
Open positions come on stdin as one JSON array (option legs and assigned spot entries; see
docs/options.md for the fields); malformed input counts as none, as upstream.

Exit codes as upstream (§1.4): 0 with ``skip_reason`` when the strategy already holds 4 option
legs (checked before anything else), 0 with ``error`` for an unknown strategy or an unreadable
spot, 1 with ``error`` for a usage error or any other failure. ``--probe-only`` (our worker
contract, docs/architecture.md) validates the strategy, the platform and the imports without
touching the network: 0, or 2 with one line on stderr. ``--batch`` runs ``[{"args": [...],
"stdin": [...]}, ...]`` through shared_tools/worker.py.

The venue's chain is ``platforms.options_chains.chain_for(platform)`` (market data source from
``GO_TRADER_MARKET_DATA``); the check itself is shared_strategies/options/check.py.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import platforms  # noqa: E402, F401  (registers the venues' feeds with the market door; light)
from shared_strategies.options import check, registry  # noqa: E402
from shared_tools.options_argv import OPTIONS_PLATFORMS as PLATFORMS  # noqa: E402
from shared_tools.options_argv import RANK_SOURCES, parse_options_argv  # noqa: E402
from shared_tools.options_chain import OptionsChain  # noqa: E402
from shared_tools.worker import ContractParser, UsageError, run_worker  # noqa: E402

PROG = "check_options.py"
USAGE = (
    "Usage: check_options.py <strategy> <underlying> [--platform=deribit|ibkr|okx|robinhood] "
    "[--regime-payload-json=RAW] [--iv-rank-source=realized|implied]"
)
# the 4h candles momentum_options and the inline regime read: (market door venue, symbol)
DATA_VENUE = {"deribit": "binanceus", "ibkr": "binanceus", "okx": "okx", "robinhood": "binanceus"}

# Tests (and only tests) set this to build a fake chain: platform -> OptionsChain.
CHAIN_FACTORY: Callable[[str], OptionsChain] | None = None


class OptionsArgv(ContractParser):
    """Upstream's hand-rolled, tolerant parser behind the worker contract's parser type."""

    reads_stdin = False  # read here, tolerantly (malformed -> []), not by the worker

    def __init__(self) -> None:
        super().__init__(prog=PROG, description="Options strategy check", add_help=False)

    def parse_args(self, args: Sequence[str] | None = None, namespace: Any = None) -> Any:  # type: ignore[override]
        parsed = parse_options_argv(list(sys.argv[1:] if args is None else args))
        for token in parsed.ignored:
            print(f"{PROG}: ignoring unknown flag {token!r}", file=sys.stderr)
        return argparse.Namespace(**vars(parsed))


def validate(ns: argparse.Namespace) -> None:
    """Flag values this script cannot run with (exit 2); missing positionals answer upstream's
    usage document instead (exit 1)."""
    if ns.iv_rank_source not in RANK_SOURCES:
        raise UsageError(f"--iv-rank-source must be one of {list(RANK_SOURCES)}")


def prepare(ns: argparse.Namespace) -> None:
    """The probe: names known and the chain factory importable, no network."""
    validate(ns)
    if len(ns.positionals) < 2:
        raise UsageError(USAGE)
    if registry.get(ns.strategy) is None:
        raise ValueError(f"unknown options strategy {ns.strategy!r}; one of {registry.names()}")
    if ns.platform not in PLATFORMS:
        raise ValueError(f"unknown options platform {ns.platform!r}; one of {list(PLATFORMS)}")
    if CHAIN_FACTORY is None:
        try:
            import platforms.options_chains  # noqa: F401
        except ImportError as exc:
            raise ValueError(f"options chains unavailable: {exc}") from None


def chain_for(platform: str) -> OptionsChain:
    """The venue's chain (lazy: platforms.options_chains loads ccxt/ib_async on demand)."""
    if CHAIN_FACTORY is not None:
        return CHAIN_FACTORY(platform)
    from platforms.options_chains import chain_for as factory

    return factory(platform)


def read_positions(ns: argparse.Namespace, stdin_doc: Any) -> Any:
    """The open positions: argv's legacy 3rd positional, a batch job's stdin, or stdin."""
    raw: Any = ns.positions_json if ns.positions_json is not None else stdin_doc
    if raw is None:
        try:
            raw = "" if sys.stdin is None or sys.stdin.isatty() else sys.stdin.read()
        except (OSError, ValueError):
            raw = ""
    if isinstance(raw, str):
        try:
            raw = json.loads(raw) if raw.strip() else []
        except ValueError:
            print(f"{PROG}: malformed positions JSON; treated as none", file=sys.stderr)
            raw = []
    return raw


def _closes_4h(platform: str, underlying: str) -> Callable[[], list[float] | None]:
    """The 4h closes (100, at least 30), fetched once per check and shared by momentum and
    the inline regime; None when the data door cannot answer (no signal, null regime)."""
    memo: dict[str, Any] = {}

    def frame() -> Any:
        if "df" not in memo:
            memo["df"] = None
            try:
                from shared_tools import market

                df = market.fetch_ohlcv(f"{underlying}/USDT", "4h", 100, venue=DATA_VENUE[platform])
                memo["df"] = df if len(df) >= 30 else None
            except Exception as exc:  # MarketDataError, no public data for the venue
                print(f"{PROG}: no 4h candles for {underlying}: {exc}", file=sys.stderr)
        return memo["df"]

    def closes() -> list[float] | None:
        df = frame()
        return None if df is None else [float(c) for c in df["close"]]

    closes.frame = frame  # type: ignore[attr-defined]
    return closes


def _regime(ns: argparse.Namespace, closes: Any) -> Callable[[], str | None]:
    def label() -> str | None:
        from shared_tools import regime

        if ns.regime_payload_json is not None:
            return regime.regime_from_payload(ns.regime_payload_json).live_label or None
        df = closes.frame()
        return None if df is None else str(regime.latest_regime(df)["regime"])

    return label


def _platform_extra(platform: str, doc: dict[str, Any]) -> None:
    if platform == "ibkr":  # upstream's informational CME fields (§1.5)
        doc["contract_type"] = "CME_MICRO"
        for action in doc.get("actions", []):
            action["contract_spec"] = "CME_MICRO"


def run_check(ns: argparse.Namespace, stdin_doc: Any) -> tuple[dict[str, Any], bool]:
    """``(document, soft)``: soft errors exit 0 as upstream."""
    from shared_tools import market

    now = market.now_utc().isoformat().replace("+00:00", "Z")
    if len(ns.positionals) < 2:
        return {"error": USAGE}, False
    opts, spot = check.split_positions(read_positions(ns, stdin_doc))
    req = check.Request(ns.strategy, ns.underlying, ns.platform, opts, spot, ns.iv_rank_source)
    if ns.platform not in PLATFORMS:
        doc = check._base(req, now)
        doc["error"] = f"unknown platform {ns.platform!r}; one of {list(PLATFORMS)}"
        return doc, False
    closes = _closes_4h(ns.platform, ns.underlying)
    try:
        res = check.run(
            req,
            lambda: chain_for(ns.platform),
            now_iso=now,
            closes_4h=closes,
            regime=_regime(ns, closes),
        )
    except Exception as exc:  # upstream §1.4 step 12: error document, exit 1
        import traceback

        traceback.print_exc(file=sys.stderr)
        doc = check._base(req, now)
        doc["error"] = f"{type(exc).__name__}: {exc}"
        return doc, False
    _platform_extra(ns.platform, res.doc)
    return res.doc, res.soft


def main(argv: list[str] | None = None) -> int:
    """Run the worker; exit codes as the module docstring says."""
    soft: list[bool] = []

    def handle(ns: argparse.Namespace, stdin_doc: Any) -> dict[str, Any]:
        doc, is_soft = run_check(ns, stdin_doc)
        soft.append(is_soft)
        return doc

    rc = run_worker(OptionsArgv(), handle, validate=validate, prepare=prepare, argv=argv)
    return 0 if rc == 1 and soft == [True] else rc


if __name__ == "__main__":
    sys.exit(main())
