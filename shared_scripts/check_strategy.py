"""Spot signal check: one strategy on one symbol (or a pair) at one timeframe -> one JSON document.

    check_strategy.py <strategy> <symbol> <timeframe> [symbol_b] [--params JSON] [--atr-method=simple|wilder]
        [--strategy-refs JSON] [--position-side long|short --position-avg-cost F ...]
        [--regime-enabled [--regime-windows-spec-json J] [--regime-atr-window W]
         [--regime-payload-json RAW]] [--htf-filter]

With ``--strategy-refs`` closes or a ``--position-side`` the check composes open and close
decisions (shared_strategies/composition.py) and adds ``open_strategy``, ``close_strategies``,
``open_action``, ``close_fraction`` and ``close_strategy``; ``signal`` is then the composed one.

The argv is declared once in shared_tools/check_argv.py; the supervisor parses a strategy's
config ``args`` with the same spec, so both agree on the symbol, the params and the venue.
``--help`` lists the strategies and timeframes this tree accepts.

The decision is made on the last CLOSED bar, so a restart or a second process asking at the
same clock gets the same answer. See shared_tools/worker.py for the exit-code/batch contract.
"""

from __future__ import annotations

import argparse
import json
import sys
import textwrap
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from shared_tools.check_argv import add_check_arguments  # noqa: E402
from shared_tools.worker import ContractParser, UsageError, run_worker  # noqa: E402

MIN_CANDLES = 30
PLATFORM = "binanceus"


def build_parser() -> ContractParser:
    """The worker's argv, built from the spec the supervisor parses config args with."""
    p = ContractParser(
        prog="check_strategy.py",
        description="Spot strategy signal check",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    return add_check_arguments(p, epilog=_accepted_names)  # type: ignore[return-value]


def _accepted_names() -> str:
    """Strategies and timeframes for --help only (imports pandas, so never on a plain start)."""
    from shared_strategies.open import registry
    from shared_tools.market.common import TIMEFRAMES

    names = textwrap.fill(", ".join(registry.names("spot")), 78, subsequent_indent="  ")
    return f"strategies (spot):\n  {names}\ntimeframes:\n  {', '.join(TIMEFRAMES)}"


def validate(ns) -> None:
    if not (ns.strategy and ns.symbol and ns.timeframe):
        raise UsageError("the following arguments are required: strategy, symbol, timeframe")


def _refs(ns):
    from shared_strategies import composition

    return composition.parse_strategy_refs(ns.strategy_refs)


def _open_name(ns, refs) -> str:
    """The open strategy: the refs' open name when given, else the positional (upstream §5.2)."""
    return (refs.open_name if refs is not None and refs.open_name else "") or ns.strategy


def _params(ns, refs=None) -> dict | None:
    """Open params: the refs' open params, with ``--params`` over them (the supervisor folds
    ``--params`` into the refs and never sends both, so the order only matters by hand)."""
    params: dict = {}
    if refs is not None and refs.open_params:
        params.update(refs.open_params)
    if ns.params:
        extra = json.loads(ns.params)
        if not isinstance(extra, dict):
            raise ValueError("--params must be a JSON object")
        params.update(extra)
    return params or None


def _composed(ns, refs) -> bool:
    """The open/close model is on when closes are configured or a position is described.

    An open-only refs (the supervisor's carrier for open params) keeps the plain answer: a
    flat composition would print the same signal, and no ``close_fraction`` key means "all"
    to a scheduler that holds a position it did not describe.
    """
    return bool(refs is not None and refs.close_names) or bool(ns.position_side)


def _check_names(ns, refs) -> tuple:
    """Names, params and closes checked offline (shared by handle and --probe-only)."""
    from shared_strategies import composition
    from shared_strategies.open import registry
    from shared_tools import market, regime

    name = _open_name(ns, refs)
    spec = registry.get(name, "spot")
    registry.ensure_live(name)
    market.timeframe_seconds(ns.timeframe)  # unknown timeframe -> ValueError
    if spec.needs_pair and not ns.symbol_b:
        raise ValueError(f"strategy '{name}' needs a second symbol (symbol_b)")
    params = _params(ns, refs)
    registry.merged_params(name, params, "spot")  # reject unknown keys before fetching
    if _composed(ns, refs):
        composition.validate_close_names(list(refs.close_names) if refs else [name], "spot")
    if ns.regime_enabled and ns.regime_payload_json is None:
        regime.parse_windows_spec_json(ns.regime_windows_spec_json)
    return name, spec, params


def handle(ns, _stdin) -> dict:
    from shared_strategies import composition, signal_report
    from shared_strategies.open import registry
    from shared_tools import htf_filter, market, regime

    refs = _refs(ns)
    name, spec, params = _check_names(ns, refs)

    now = market.now_utc()
    df = market.fetch_ohlcv(ns.symbol, ns.timeframe, ns.ohlcv_limit, venue=ns.platform, now=now)
    if spec.needs_pair:
        other = market.fetch_ohlcv(
            ns.symbol_b, ns.timeframe, ns.ohlcv_limit, venue=ns.platform, now=now
        )
        df = df.join(other[["close"]].rename(columns={"close": "close_b"}), how="inner")
    if len(df) < MIN_CANDLES:
        raise ValueError(
            f"only {len(df)} closed {ns.timeframe} candles for {ns.symbol}; need {MIN_CANDLES}"
        )

    # the regime snapshot is upstream's params["regime"]; merged_params strips it, so no
    # registered strategy reads it and it is not passed
    reg = regime.prepare_check_regime(
        df,
        enabled=ns.regime_enabled,
        windows_spec_json=ns.regime_windows_spec_json,
        atr_window=ns.regime_atr_window,
        payload_json=ns.regime_payload_json,
    )
    frame = registry.evaluate(name, df, params, "spot")
    signal = composition.normalize_signal(frame["signal"].iloc[-1])

    htf: dict = {}
    if ns.htf_filter and name not in htf_filter.SKIP_STRATEGIES:

        def fetch(symbol: str, timeframe: str, limit: int):
            return market.fetch_ohlcv(symbol, timeframe, limit, venue=ns.platform, now=now)

        htf = htf_filter.htf_trend(ns.symbol, ns.timeframe, fetch)
        filtered = htf_filter.apply_htf_filter(signal, htf["htf_trend"])
        if filtered != signal:
            print(f"HTF filter: {signal} -> {filtered} (trend {htf['htf_trend']})", file=sys.stderr)
        signal = filtered

    atr = signal_report.standard_atr(df, atr_method=ns.atr_method)
    decision = None
    if _composed(ns, refs):
        position = composition.position_context(ns)
        evaluation = composition.evaluate_open_close(
            df,
            name,
            params,
            refs.close_names if refs else (),
            refs.close_params if refs else None,
            position=position,
            market=composition.market_context(df, frame, atr, reg.live_label),
            platform="spot",
            open_frame=frame,
        )
        decision = composition.finalize_decision(evaluation, position.get("side", ""), signal)
        signal = decision["signal"]

    indicators = signal_report.report_indicators(frame, df, atr_method=ns.atr_method)
    indicators.update(htf_filter.numeric_indicators(htf))
    doc = {
        "strategy": ns.strategy,
        "symbol": ns.symbol,
        "timeframe": ns.timeframe,
        "signal": signal,
        "price": round(float(df["close"].iloc[-1]), 8),
        "indicators": indicators,
        "regime": reg.output if ns.regime_enabled else signal_report.regime_label(df),
        "mode": ns.mode,
        "platform": ns.platform,
        "bar_time": signal_report.bar_time(df),
        "timestamp": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    if decision is not None:
        doc.update(decision)
    if ns.symbol_b:
        doc["symbol_b"] = ns.symbol_b
    return doc


def prepare(ns) -> None:
    """Import what a real check needs and check its names offline (used by --probe-only)."""
    from shared_strategies import composition, signal_report  # noqa: F401
    from shared_tools import htf_filter, regime  # noqa: F401
    from shared_tools.market import ohlcv  # noqa: F401  (the candle path a real check loads)

    _check_names(ns, _refs(ns))


if __name__ == "__main__":
    sys.exit(run_worker(build_parser(), handle, validate=validate, prepare=prepare))
