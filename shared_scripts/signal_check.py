"""The signal check every spot, perps and futures worker runs, parameterised by its venue.

``check_strategy.py`` (spot on any ccxt venue) and the venue scripts (``check_hyperliquid.py``,
``check_okx.py``, ``check_topstep.py``, ``check_robinhood.py``, ``check_luno.py``) differ only in
a few facts, which a :class:`Venue` states: which venue's candles they read and report as
``platform``, which strategy registry product they evaluate (spot, perps or futures), and a few
hooks (funding for perps, CME session hours and the contract spec for futures, the live mid for
Hyperliquid). Everything else (argv, names checked offline, the closed-bar decision, the
open/close composition, the regime and HTF filters, the output document) is this one module, so
the scripts cannot drift apart.

It lives beside the scripts rather than in ``shared_tools`` because it calls the strategies,
and the tools are leaves. pandas and the strategies are imported inside the functions, so a
script's start (and ``--help``) stays cheap; ``--probe-only`` imports them through
:func:`prepare`.
"""

from __future__ import annotations

import argparse
import functools
import importlib
import json
import sys
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import platforms  # noqa: F401  (registers the venues' feeds with the market door; light)
from shared_tools.check_argv import SIGNAL_FAMILY, add_check_arguments, script_name
from shared_tools.worker import ContractParser, UsageError, WorkerSpec, run_worker

__all__ = ["MIN_CANDLES", "LIVE_UNSUPPORTED", "Venue", "main"]

MIN_CANDLES = 30
LIVE_UNSUPPORTED = "live trading is not supported by this build yet"
STAMP = "%Y-%m-%dT%H:%M:%SZ"

Hook = Callable[[argparse.Namespace], Any]


@dataclass(frozen=True)
class Venue:
    """What one check script knows about its venue.

    ``name`` None means the venue comes from ``--platform`` (check_strategy.py); a venue script
    names its own and accepts ``--platform`` only when it agrees. ``product``/``data_venue``
    may depend on argv (OKX's ``--inst-type``); ``funding`` says whether the product's frame
    carries a ``funding_rate`` column for the strategies that read it.
    """

    script: str
    description: str
    name: str | None = None
    product: str | Hook = "spot"
    data_venue: str | Hook | None = None  # candles/prices venue when it differs from ``name``
    funding: bool | Hook = False
    paper_only: bool = False  # refuse --mode=live (no live execution in this build)
    mark_is_price: bool = False  # --mark-price overrides the reported price (Hyperliquid)
    check_symbol: Hook | None = None  # raise ValueError for a symbol the venue cannot trade
    extra: Hook | None = None  # extra output keys (TopStep: contract_spec)
    is_open: Callable[[datetime], bool] | None = None  # session hours; closed -> hold

    def platform(self, ns: argparse.Namespace) -> str:
        return self.name or ns.platform

    def product_of(self, ns: argparse.Namespace) -> str:
        return self.product(ns) if callable(self.product) else self.product

    def market_venue(self, ns: argparse.Namespace) -> str:
        if self.data_venue is None:
            return self.platform(ns)
        return self.data_venue(ns) if callable(self.data_venue) else self.data_venue

    def with_funding(self, ns: argparse.Namespace) -> bool:
        return bool(self.funding(ns) if callable(self.funding) else self.funding)


# ------------------------------------------------------------------------------- argv


def build_parser(venue: Venue, epilog: Callable[[], str] | None = None) -> ContractParser:
    """The worker's argv, built from the spec the supervisor parses config args with."""
    p = ContractParser(
        prog=venue.script,
        description=venue.description,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    if epilog is None:

        def epilog() -> str:
            return accepted_names(venue.product if isinstance(venue.product, str) else "perps")

    return add_check_arguments(p, epilog=epilog, script=venue.script)  # type: ignore[return-value]


def accepted_names(product: str) -> str:
    """Strategies and timeframes for --help only (imports pandas, so never on a plain start)."""
    from shared_strategies.open import registry
    from shared_tools.market.common import TIMEFRAMES

    names = textwrap.fill(", ".join(registry.names(product)), 78, subsequent_indent="  ")
    return f"strategies ({product}):\n  {names}\ntimeframes:\n  {', '.join(TIMEFRAMES)}"


def validate_positionals(ns: argparse.Namespace) -> None:
    if not (ns.strategy and ns.symbol and ns.timeframe):
        raise UsageError("the following arguments are required: strategy, symbol, timeframe")


def validate(venue: Venue, ns: argparse.Namespace) -> None:
    """Argv that parses but this script cannot run (exit 2)."""
    validate_positionals(ns)
    validate_platform(venue, ns)


def validate_platform(venue: Venue, ns: argparse.Namespace) -> None:
    """A venue script takes ``--platform`` only when it names the script's own venue."""
    if venue.name is not None and ns.platform != venue.name:
        raise UsageError(
            f"--platform={ns.platform} names another venue; {venue.script} trades on "
            f"{venue.name} only (drop --platform or use the script for {ns.platform})"
        )


# ------------------------------------------------------------------- names, offline


def _refs(ns: argparse.Namespace):
    from shared_strategies import composition

    return composition.parse_strategy_refs(ns.strategy_refs)


def _open_name(ns: argparse.Namespace, refs) -> str:
    """The open strategy: the refs' open name when given, else the positional (upstream §5.2)."""
    return (refs.open_name if refs is not None and refs.open_name else "") or ns.strategy


def _params(ns: argparse.Namespace, refs=None) -> dict | None:
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


def _composed(ns: argparse.Namespace, refs) -> bool:
    """The open/close model is on when closes are configured or a position is described.

    An open-only refs (the supervisor's carrier for open params) keeps the plain answer: a
    flat composition would print the same signal, and no ``close_fraction`` key means "all"
    to a scheduler that holds a position it did not describe.
    """
    return bool(refs is not None and refs.close_names) or bool(ns.position_side)


def check_names(venue: Venue, ns: argparse.Namespace, refs) -> tuple:
    """Names, params and closes checked offline (shared by handle and --probe-only)."""
    from shared_strategies import composition
    from shared_strategies.open import registry
    from shared_tools import market, regime

    if venue.paper_only and ns.mode == "live":
        raise ValueError(f"{LIVE_UNSUPPORTED} (remove --mode=live to paper trade)")
    if venue.check_symbol is not None:
        venue.check_symbol(ns)
    product = venue.product_of(ns)
    name = _open_name(ns, refs)
    spec = registry.get(name, product)
    registry.ensure_live(name)
    market.timeframe_seconds(ns.timeframe)  # unknown timeframe -> ValueError
    if spec.needs_pair and not ns.symbol_b:
        raise ValueError(f"strategy '{name}' needs a second symbol (symbol_b)")
    params = _params(ns, refs)
    registry.merged_params(name, params, product)  # reject unknown keys before fetching
    if _composed(ns, refs):
        composition.validate_close_names(list(refs.close_names) if refs else [name], product)
    if ns.regime_enabled and ns.regime_payload_json is None:
        regime.parse_windows_spec_json(ns.regime_windows_spec_json)
    return name, spec, params


# ------------------------------------------------------------------------- funding


def reads_funding(spec) -> bool:
    """True for the strategies that read a ``funding_rate`` column (the funding family)."""
    return spec.needs_funding


def with_funding(df, symbol: str, venue: str, timeframe_s: int):
    """``df`` plus a ``funding_rate`` column (hourly rate in force at each bar's open).

    The history comes from the market door (simulated, or the venue); when it cannot be read
    the frame is returned unchanged and the cause goes to stderr: the funding strategies then
    hold, as upstream's do without records, instead of the whole check failing.
    """
    import pandas as pd

    from shared_strategies.open.funding import funding_column
    from shared_tools import market
    from shared_tools.text import one_line

    if df.empty:
        return df
    first = int(pd.Timestamp(df.index[0]).value // 1_000_000)
    last = int(pd.Timestamp(df.index[-1]).value // 1_000_000)
    lookback = max(8 * 3_600_000, timeframe_s * 1000)  # one funding interval before bar 0
    try:
        records = market.fetch_funding_history(symbol, first - lookback, last, venue=venue)
    except Exception as exc:  # soft: a check without funding still answers
        print(one_line(f"funding: no funding history for {symbol} ({exc})"), file=sys.stderr)
        return df
    out = df.copy()
    out["funding_rate"] = funding_column(out.index, records).to_numpy()
    return out


# --------------------------------------------------------------------------- check


def _doc(venue: Venue, ns: argparse.Namespace, now: datetime, **fields: Any) -> dict:
    doc = {
        "strategy": ns.strategy,
        "symbol": ns.symbol,
        "timeframe": ns.timeframe,
        "signal": fields.pop("signal"),
        "price": fields.pop("price"),
        "indicators": fields.pop("indicators"),
        "regime": fields.pop("regime"),
        "mode": ns.mode,
        "platform": venue.platform(ns),
        "bar_time": fields.pop("bar_time"),
        "timestamp": now.strftime(STAMP),
    }
    doc.update(fields)
    return doc


def _mark(venue: Venue, ns: argparse.Namespace) -> float | None:
    mark = getattr(ns, "mark_price", None)
    return float(mark) if venue.mark_is_price and mark is not None and mark > 0 else None


def _closed_doc(venue: Venue, ns: argparse.Namespace, now: datetime) -> dict:
    """Outside session hours: hold, without fetching candles (the last bar would be stale)."""
    print(f"{venue.platform(ns)}: market closed at {now.strftime(STAMP)}; holding", file=sys.stderr)
    doc = _doc(
        venue,
        ns,
        now,
        signal=0,
        price=_mark(venue, ns),
        indicators={},
        regime="",
        bar_time=None,
    )
    if venue.extra is not None:
        doc.update(venue.extra(ns))
    doc["market_open"] = False
    return doc


def handle(venue: Venue, ns: argparse.Namespace, _stdin: Any = None) -> dict:
    """One signal check: fetch closed bars, evaluate, compose, report."""
    from shared_strategies import composition, signal_report
    from shared_strategies.open import registry
    from shared_tools import htf_filter, market, regime

    refs = _refs(ns)
    name, spec, params = check_names(venue, ns, refs)
    product = venue.product_of(ns)
    data_venue = venue.market_venue(ns)

    now = market.now_utc()
    if venue.is_open is not None and not venue.is_open(now):
        return _closed_doc(venue, ns, now)

    df = market.fetch_ohlcv(ns.symbol, ns.timeframe, ns.ohlcv_limit, venue=data_venue, now=now)
    if spec.needs_pair:
        other = market.fetch_ohlcv(
            ns.symbol_b, ns.timeframe, ns.ohlcv_limit, venue=data_venue, now=now
        )
        df = df.join(other[["close"]].rename(columns={"close": "close_b"}), how="inner")
    if len(df) < MIN_CANDLES:
        raise ValueError(
            f"only {len(df)} closed {ns.timeframe} candles for {ns.symbol}; need {MIN_CANDLES}"
        )
    if venue.with_funding(ns) and reads_funding(spec):
        df = with_funding(df, ns.symbol, data_venue, market.timeframe_seconds(ns.timeframe))

    # the regime snapshot is upstream's params["regime"]; merged_params strips it, so no
    # registered strategy reads it and it is not passed
    reg = regime.prepare_check_regime(
        df,
        enabled=ns.regime_enabled,
        windows_spec_json=ns.regime_windows_spec_json,
        atr_window=ns.regime_atr_window,
        payload_json=ns.regime_payload_json,
    )
    frame = registry.evaluate(name, df, params, product)
    signal = composition.normalize_signal(frame["signal"].iloc[-1])

    htf: dict = {}
    if ns.htf_filter and name not in htf_filter.SKIP_STRATEGIES:

        def fetch(symbol: str, timeframe: str, limit: int):
            return market.fetch_ohlcv(symbol, timeframe, limit, venue=data_venue, now=now)

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
            platform=product,
            open_frame=frame,
        )
        decision = composition.finalize_decision(evaluation, position.get("side", ""), signal)
        signal = decision["signal"]

    indicators = signal_report.report_indicators(frame, df, atr_method=ns.atr_method)
    indicators.update(htf_filter.numeric_indicators(htf))
    mark = _mark(venue, ns)
    doc = _doc(
        venue,
        ns,
        now,
        signal=signal,
        price=mark if mark is not None else round(float(df["close"].iloc[-1]), 8),
        indicators=indicators,
        regime=reg.output if ns.regime_enabled else signal_report.regime_label(df),
        bar_time=signal_report.bar_time(df),
    )
    if decision is not None:
        doc.update(decision)
    if ns.symbol_b:
        doc["symbol_b"] = ns.symbol_b
    if venue.extra is not None:
        doc.update(venue.extra(ns))
    if venue.is_open is not None:
        doc["market_open"] = True
    return doc


def prepare(venue: Venue, ns: argparse.Namespace) -> None:
    """Import what a real check needs and check its names offline (used by --probe-only)."""
    from shared_strategies import composition, signal_report  # noqa: F401
    from shared_tools import htf_filter, regime  # noqa: F401
    from shared_tools.market import funding, ohlcv  # noqa: F401  (the paths a real check loads)

    check_names(venue, ns, _refs(ns))


# --------------------------------------------------------------------- ATR on demand


def fetch_atr(ns: argparse.Namespace, venue: str) -> dict:
    """``{"atr": float, "candles": int}`` of ``--symbol`` at ``--timeframe`` (a manual query)."""
    from shared_tools import indicators, market

    symbol, timeframe, period = ns.symbol_opt, ns.timeframe_opt, ns.period
    if not (symbol and timeframe):
        raise ValueError("--fetch-atr needs --symbol and --timeframe (e.g. --symbol=BTC)")
    market.timeframe_seconds(timeframe)
    limit = max(ns.ohlcv_limit, 3 * period + 1)
    df = market.fetch_ohlcv(symbol, timeframe, limit, venue=venue, now=market.now_utc())
    if len(df) < period + 1:
        raise ValueError(
            f"only {len(df)} closed {timeframe} candles for {symbol}; need {period + 1}"
        )
    series = indicators.atr(df, period, ns.atr_method).dropna()
    value = float(series.iloc[-1]) if len(series) else float("nan")
    if not value > 0:
        raise ValueError(f"no usable ATR for {symbol} {timeframe} (got {value})")
    return {"atr": round(value, 8), "candles": int(len(df))}


# ---------------------------------------------------------------------------- entry


def spec(
    venue: Venue,
    *,
    parser: ContractParser | None = None,
    handler: Callable[[argparse.Namespace, Any], dict] | None = None,
    validator: Callable[[argparse.Namespace], None] | None = None,
    preparer: Callable[[argparse.Namespace], None] | None = None,
) -> WorkerSpec:
    """The worker for ``venue``; the hooks let a script add a mode (HL's --fetch-atr)."""
    return WorkerSpec(
        parser or build_parser(venue),
        handler or (lambda ns, stdin: handle(venue, ns, stdin)),
        validator or (lambda ns: validate(venue, ns)),
        preparer or (lambda ns: prepare(venue, ns)),
    )


@functools.cache
def route(script: str) -> WorkerSpec | None:
    """The worker of a sibling signal-check script, for a batch that mixes venues."""
    name = script_name(script)
    if name not in SIGNAL_FAMILY:
        return None
    module = importlib.import_module(f"shared_scripts.{name.removesuffix('.py')}")
    own = getattr(module, "worker_spec", None)
    return own() if own is not None else spec(module.VENUE)


def main(venue: Venue, *, argv: list[str] | None = None, **hooks: Any) -> int:
    """Run the worker for ``venue``; its ``--batch`` also serves the sibling scripts' jobs."""
    s = spec(venue, **hooks)
    return run_worker(
        s.parser, s.handle, validate=s.validate, prepare=s.prepare, argv=argv, route=route
    )
