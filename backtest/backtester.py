"""The backtest engine: a strategy's signals replayed bar by bar through the paper book.

One accounting module, two consumers: every fill here is booked through
``shared_tools.book`` (``decide`` for the direction rules, the instrument's ``Book`` for the
open and close legs, the guard for stops and targets), the same code the supervisor books
paper trades with. This file holds the public contract (``BacktestSettings``, ``run``,
``run_signals``) and turns the walk's bookkeeping into a ``BacktestResult``; the walk itself
(which bars to visit, what fills where) is in :mod:`backtest.engine_walk`.

Fill model (the README's backtest section has the full text): a decision on bar N's close
fills at bar N+1's open, slippage against the trade on every fill, the venue's taker fee (or
``fee_pct``) on every fill; stops and targets are checked inside each bar, the stop first when
both are touched, a stop gapped through fills at the open; margin-style positions are
liquidated by the book's margin model (``shared_tools.book.margin``) when their equity falls to
the venue's maintenance margin.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from backtest import htf_bars, regime_bars
from backtest.engine_walk import Walk, WalkInput
from shared_strategies.close import registry as close_registry
from shared_strategies.open import registry
from shared_tools.book import Protection, Rules
from shared_tools.book.guard import stop_after_from_closes, tiers_from_closes
from shared_tools.book.instruments import instrument
from shared_tools.book.rules import DIRECTIONS
from shared_tools.book.scale_in import ScaleIn
from shared_tools.book.venues import CONTRACT_SPECS, taker_fee
from shared_tools.regime_policy import DirectionalPolicy, load_certifications

__all__ = [
    "BacktestAdd",
    "BacktestResult",
    "BacktestSettings",
    "BacktestTrade",
    "rules_for",
    "run",
    "run_signals",
    "strategy_registry",
]

INSTRUMENTS = ("spot", "perps", "futures")
INTRABAR = ("ohlc_walk", "bar_close")
REGISTRIES = ("spot", "futures")
ATR_PERIOD = 14  # the checks' entry ATR: shared_tools.regime.standard_atr(df, 14, atr_method)
REGIME_PERIOD = 14
REGIME_ADX_THRESHOLD = 20.0
# Close refs the guard handles inside the bar (resting targets), as the supervisor arms them.
GUARD_CLOSES = ("tiered_tp_pct", "tiered_tp_atr", "tp_at_pct")
# Hourly funding rate per bar (positive: longs pay): ``funding``, else the ``funding_rate``
# column the funding strategies read.
FUNDING_COLUMNS = ("funding", "funding_rate")


@dataclass(frozen=True)
class BacktestSettings:
    capital: float = 1000.0
    platform: str = "binanceus"  # fee table key, see shared_tools/book/venues.py
    instrument: str = "spot"  # "spot" | "perps" | "futures"
    fee_pct: float | None = None  # percent per fill (0.1 means 0.1%); None -> the venue table
    slippage_bps: float = 0.0  # against the trade on every fill
    direction: str = "long"  # "long" | "short" | "both"
    invert_signal: bool = False
    leverage: float = 1.0  # perps sizing leverage
    risk_per_trade_pct: float | None = None  # perps: size from the stop distance (book/sizing.py)
    capital_pct: float | None = None  # (0, 1]: the book starts with capital x this
    scale_in: ScaleIn | None = None  # perps: allow_scale_in + scale_in (book/scale_in.py)
    close_strategies: tuple = ()  # close evaluator refs: ({"name": ..., "params": {...}}, ...)
    stop_loss_pct: float | None = None
    stop_loss_atr_mult: float | None = None
    trailing_stop_pct: float | None = None
    trailing_stop_atr_mult: float | None = None
    regime_enabled: bool = False
    allowed_regimes: tuple = ()
    # The regime section and policies, as the live check and the supervisor read them
    # (backtest/regime_bars.py, shared_tools/regime_policy.py).
    regime_period: int = REGIME_PERIOD  # the default ADX window (no regime_windows)
    regime_adx_threshold: float = REGIME_ADX_THRESHOLD
    regime_atr_window: str = ""  # the window whose label is stamped ("" = the gate's)
    stop_loss_atr_regime: tuple = ()  # ((label, ATR multiple), ...)
    trailing_stop_atr_regime: tuple = ()
    directional_policy: DirectionalPolicy = DirectionalPolicy()
    symbol: str = "BTC/USDT"
    timeframe: str = "1h"
    fee_per_contract: float = 0.0  # futures: dollars per contract per fill
    max_contracts: int = 0  # futures: 0 = no cap
    atr_method: str = "simple"  # the strategy's effective atr_method, as its live check reads ATR
    # issue 20 (upstream's run_backtest flags and config keys the engine now models):
    intrabar_resolution: str = "ohlc_walk"  # | "bar_close": stops judged on the close (legacy)
    htf_filter: bool = False  # the live HTF filter; the frame carries htf_bars.COLUMN
    margin_per_trade_usd: float | None = None  # perps: notional = min(this, cash) * leverage
    regime_windows: str = ""  # the check's --regime-windows-spec-json ("" = one ADX 14/20)
    regime_gate_window: str = ""  # the window the entry gate reads ("" = the primary one)
    registry: str = ""  # open-strategy registry: spot | futures ("" = by instrument)
    defaults: str = "system"  # --defaults system | user (user_defaults injection, see README)


@dataclass
class BacktestTrade:  # one row per closing leg (a partial close is its own row)
    entry_time: pd.Timestamp
    exit_time: pd.Timestamp
    side: str
    entry_price: float
    exit_price: float
    quantity: float
    fee: float  # entry fee share + exit fee of this leg
    pnl: float  # net of both fees
    reason: str  # signal, stop_loss, trailing_stop, take_profit, close:<name>, end


@dataclass
class BacktestResult:
    strategy: str
    params: dict
    settings: BacktestSettings
    equity: pd.Series  # mark-to-market equity at each bar's close from `since` (index: bar open)
    closes: pd.Series  # close prices of the same bars
    position: pd.Series  # signed quantity held at each bar's close
    trades: list[BacktestTrade]
    final_equity: float
    funding_pnl: float = 0.0  # perps funding received (+) or paid (-), already in the equity
    notes: list[str] = field(default_factory=list)  # e.g. guard arming problems
    adds: list[BacktestAdd] = field(default_factory=list)  # scale-in legs, in order


@dataclass
class BacktestAdd:  # one scale-in leg (it adds to the held position; no P&L of its own)
    time: pd.Timestamp
    side: str
    price: float  # the fill (slippage included)
    quantity: float
    notional: float
    fee: float
    count: int  # the position's adds so far, this one included
    avg_cost: float  # the blended average after it


# --------------------------------------------------------------------------- settings


def _close_refs(settings: BacktestSettings) -> list[tuple[str, dict]]:
    """(name, params) of every configured close ref; a bare string is a name without params."""
    refs = []
    for ref in settings.close_strategies:
        if isinstance(ref, str):
            refs.append((ref, {}))
        elif isinstance(ref, Mapping) and str(ref.get("name") or "").strip():
            refs.append((str(ref["name"]).strip(), dict(ref.get("params") or {})))
        else:
            raise ValueError(f"close_strategies: {ref!r} is not a name or {{name, params}} ref")
    return refs


def _guard_tiers(refs: list[tuple[str, dict]]):
    """The take-profit ladders the guard arms at open (``tp_at_pct`` rewritten to its rung)."""
    rewritten = []
    for name, params in refs:
        if name == "tp_at_pct":
            pct = params.get("pct", close_registry.TP_AT_PCT_DEFAULT)
            params = {"tp_tiers": [{"profit_pct": pct, "close_fraction": 1.0}]}
            name = "tiered_tp_pct"
        rewritten.append((name, params))
    return tiers_from_closes(rewritten), stop_after_from_closes(rewritten)


def _is_guard_close(name: str, params: dict) -> bool:
    if name == "tiered_tp_atr":
        return params.get("atr_source", "entry") == "entry"
    return name in GUARD_CLOSES


def strategy_registry(settings: BacktestSettings) -> str:
    """The open-strategy registry the run looks names up in (``--registry``, else by instrument)."""
    if settings.registry and settings.registry not in REGISTRIES:
        raise ValueError(f"registry must be spot or futures, got {settings.registry!r}")
    return settings.registry or settings.instrument


def rules_for(settings: BacktestSettings) -> Rules:
    """The book's trading terms for a backtest, as the supervisor builds them from a config."""
    s = settings
    if s.instrument not in INSTRUMENTS:
        raise ValueError(
            f"instrument must be one of {', '.join(INSTRUMENTS)}, got {s.instrument!r}"
        )
    if s.direction not in DIRECTIONS:
        raise ValueError(f"direction must be one of {', '.join(DIRECTIONS)}, got {s.direction!r}")
    if s.instrument == "spot" and s.direction != "long":
        raise ValueError(
            f"direction {s.direction!r} needs instrument perps or futures (spot is long-only)"
        )
    if not (s.capital > 0):
        raise ValueError(f"capital must be positive, got {s.capital!r}")
    stops = [
        k
        for k in (
            "stop_loss_pct",
            "stop_loss_atr_mult",
            "trailing_stop_pct",
            "trailing_stop_atr_mult",
            "stop_loss_atr_regime",
            "trailing_stop_atr_regime",
        )
        if getattr(s, k)
    ]
    regime_stop = s.stop_loss_atr_regime or s.trailing_stop_atr_regime
    if (regime_stop or s.directional_policy) and not s.regime_enabled:
        raise ValueError("regime stops and regime_directional_policy need regime_enabled")
    if regime_stop and s.risk_per_trade_pct:
        raise ValueError("a regime ATR stop cannot size risk_per_trade_pct; use a scalar stop")
    if len(stops) > 1:
        raise ValueError(f"set at most one stop, got {', '.join(stops)}")
    risk = s.risk_per_trade_pct or 0.0
    if risk and (s.instrument != "perps" or not 0 < risk <= 10 or not stops):
        raise ValueError(
            f"risk_per_trade_pct {risk:g} needs instrument perps, a value in (0, 10] and a stop "
            "to size from"
        )
    if s.capital_pct is not None and not 0 < s.capital_pct <= 1:
        raise ValueError(f"capital_pct must be in (0, 1], got {s.capital_pct!r}")
    scale_in = s.scale_in or ScaleIn()
    if scale_in.enabled and (s.instrument != "perps" or risk):
        raise ValueError("scale_in needs instrument perps and excludes risk_per_trade_pct")
    margin_usd = s.margin_per_trade_usd or 0.0
    if margin_usd and (s.instrument != "perps" or not margin_usd > 0 or risk):
        raise ValueError(
            f"margin_per_trade_usd {margin_usd:g} needs instrument perps, a positive value and "
            "no risk_per_trade_pct"
        )
    if s.intrabar_resolution not in INTRABAR:
        raise ValueError(
            f"intrabar_resolution must be one of {', '.join(INTRABAR)}, "
            f"got {s.intrabar_resolution!r}"
        )
    (atr_tiers, pct_tiers), stop_after = _guard_tiers(_close_refs(s))
    protection = Protection(
        stop_loss_pct=s.stop_loss_pct or 0.0,
        stop_loss_atr_mult=s.stop_loss_atr_mult or 0.0,
        trailing_stop_pct=s.trailing_stop_pct or 0.0,
        trailing_stop_atr_mult=s.trailing_stop_atr_mult or 0.0,
        stop_loss_atr_regime=tuple(s.stop_loss_atr_regime),
        trailing_stop_atr_regime=tuple(s.trailing_stop_atr_regime),
        tp_atr_tiers=atr_tiers,
        tp_pct_tiers=pct_tiers,
        tp_stop_after=stop_after,
    )
    fee = s.fee_pct / 100.0 if s.fee_pct is not None else taker_fee(s.platform, s.instrument)
    contract = None
    if s.instrument == "futures":
        contract = CONTRACT_SPECS.get(s.symbol.split("/")[0].strip().upper())
    return Rules(
        kind=s.instrument,
        platform=s.platform,
        fee_rate=fee,
        direction=s.direction,
        invert_signal=s.invert_signal,
        leverage=max(s.leverage, 1.0),
        risk_per_trade_pct=risk,
        scale_in=scale_in,
        margin_per_trade_usd=margin_usd,
        fee_per_contract=s.fee_per_contract,
        max_contracts=s.max_contracts,
        contract=contract,
        protection=protection,
        instrument=instrument(s.platform, s.symbol, s.instrument),
    )


# --------------------------------------------------------------------------- inputs


def _check_frame(df: pd.DataFrame) -> None:
    missing = [c for c in ("open", "high", "low", "close") if c not in df.columns]
    if missing:
        raise ValueError(f"backtest frame lacks column(s) {', '.join(missing)}")
    if not isinstance(df.index, pd.DatetimeIndex):
        raise ValueError("backtest frame needs a DatetimeIndex of bar open times")


def _since_index(df: pd.DataFrame, since: pd.Timestamp | None) -> int:
    if since is None:
        return 0
    ts = pd.Timestamp(since)
    if ts.tzinfo is None and df.index.tz is not None:
        ts = ts.tz_localize("UTC")
    return int(df.index.searchsorted(ts, side="left"))


def _regime_labels(df: pd.DataFrame) -> np.ndarray:
    """ADX regime label of every bar (the check's default classifier, warm-up -> ranging)."""
    spec = {"classifier": "adx", "period": REGIME_PERIOD, "adx_threshold": REGIME_ADX_THRESHOLD}
    return regime_bars.window_labels(df, spec)


def _regimes(df: pd.DataFrame, settings: BacktestSettings, evaluators: list) -> dict:
    """Label arrays per consumer: the gate's window, the ATR window (the position's stamp and
    the close evaluators' live label) and the directional policy's window."""
    s = settings
    if not (s.regime_enabled or any("regime" in n for n, _p in evaluators)):
        return {}
    wanted = {
        "gate": s.regime_gate_window,
        "atr": s.regime_atr_window or s.regime_gate_window,
        "policy": s.directional_policy.window,
    }
    if not s.regime_windows:  # one ADX window, as the check without a windows spec
        spec = {"classifier": "adx", "period": s.regime_period}
        labels = regime_bars.window_labels(df, {**spec, "adx_threshold": s.regime_adx_threshold})
        return dict.fromkeys(wanted, labels)
    by: dict[str, np.ndarray] = {}
    for name in set(wanted.values()):
        by[name] = regime_bars.gate_labels(df, s.regime_windows, name)
    return {use: by[name] for use, name in wanted.items()}


def _zscore(close: pd.Series, lookback: int) -> np.ndarray:
    mean = close.rolling(lookback).mean()
    std = close.rolling(lookback).std(ddof=1)
    return ((close - mean) / std).to_numpy(float)


def _evaluator_inputs(
    df: pd.DataFrame, refs: list[tuple[str, dict]], platform: str, open_frame: pd.DataFrame | None
):
    """Per-bar market columns the close evaluators read, and open-as-close signal arrays."""
    evaluators, open_closes = [], []
    extra: dict[str, np.ndarray] = {}
    known = set(close_registry.names())
    for name, params in refs:
        canonical = close_registry.canonical(name)
        if _is_guard_close(name, params):
            continue
        if canonical in known:
            evaluators.append((name, params))
            if canonical == "zscore_target" and int(params.get("lookback") or 0) > 0:
                extra[f"zscore:{name}"] = _zscore(df["close"], int(params["lookback"]))
        elif name in registry.names(platform):  # an open strategy used as a close
            sig = registry.signals(name, df, params or None, platform).to_numpy(np.int64)
            open_closes.append((name, sig))
        else:
            raise ValueError(
                f"close_strategies: {name!r} is neither a close evaluator "
                f"({', '.join(sorted(known))}) nor an open strategy on {platform}"
            )
    if open_frame is not None and "avwap" in open_frame.columns:
        extra["avwap"] = open_frame["avwap"].to_numpy(float)
    return evaluators, open_closes, extra


# --------------------------------------------------------------------------- runs


def run(
    df: pd.DataFrame,
    strategy: str,
    params: dict | None = None,
    settings: BacktestSettings = BacktestSettings(),
    since: pd.Timestamp | None = None,
) -> BacktestResult:
    """Signals from shared_strategies.open.registry.signals on the whole df (bars before `since`
    warm the indicators up); trades only from `since` on. Signal on bar N fills at bar N+1's open."""
    _check_frame(df)
    platform = strategy_registry(settings)
    wants_avwap = any(
        close_registry.canonical(n) == "avwap_stop" for n, _p in _close_refs(settings)
    )
    if wants_avwap:
        frame = registry.evaluate(strategy, df, params, platform)
        signal = frame["signal"]
    else:
        frame = None
        signal = registry.signals(strategy, df, params, platform)
    merged = registry.merged_params(strategy, params, platform)
    return _run(df, signal, settings, since, strategy, merged, frame)


def run_signals(
    df: pd.DataFrame,
    signal: pd.Series,
    settings: BacktestSettings = BacktestSettings(),
    since: pd.Timestamp | None = None,
    strategy: str = "custom",
    params: dict | None = None,
) -> BacktestResult:
    """The same engine on a ready signal Series (-1/0/1 aligned to df)."""
    _check_frame(df)
    if len(signal) != len(df):
        raise ValueError(f"signal has {len(signal)} rows, the frame {len(df)}")
    return _run(df, signal, settings, since, strategy, dict(params or {}), None)


def _run(df, signal, settings, since, strategy, params, open_frame) -> BacktestResult:
    rules = rules_for(settings)
    if settings.capital_pct:  # upstream: capital = balance x pct; here --capital is the balance
        settings = replace(settings, capital=settings.capital * settings.capital_pct)
        settings = replace(settings, capital_pct=None)
    refs = _close_refs(settings)
    evaluators, open_closes, extra = _evaluator_inputs(
        df, refs, strategy_registry(settings), open_frame
    )
    prot = rules.protection
    needs_atr = bool(
        prot.stop_loss_atr_mult
        or prot.trailing_stop_atr_mult
        or prot.stop_loss_atr_regime
        or prot.trailing_stop_atr_regime
        or prot.tp_atr_tiers
        or evaluators
        or rules.scale_in.add_spacing_atr
    )
    atr = None
    if needs_atr:
        from shared_tools.regime import standard_atr

        atr = standard_atr(df, ATR_PERIOD, settings.atr_method).to_numpy(float)
    regimes = _regimes(df, settings, evaluators)
    funding = None
    column = next((c for c in FUNDING_COLUMNS if c in df.columns), None)
    if settings.instrument == "perps" and column is not None:
        funding = np.nan_to_num(pd.to_numeric(df[column], errors="coerce").to_numpy(float))
    sig = np.sign(np.nan_to_num(np.asarray(signal, dtype=float))).astype(np.int64)
    if settings.htf_filter:
        sig = htf_bars.filter_signals(sig, df, strategy)
    walk = Walk(
        WalkInput(
            times=df.index,
            open=df["open"].to_numpy(float),
            high=df["high"].to_numpy(float),
            low=df["low"].to_numpy(float),
            close=df["close"].to_numpy(float),
            signal=sig,
            start=_since_index(df, since),
            rules=rules,
            capital=float(settings.capital),
            symbol=settings.symbol,
            slippage=settings.slippage_bps / 1e4,
            composed=bool(refs),
            evaluators=evaluators,
            open_closes=open_closes,
            extra=extra,
            atr=atr,
            regimes=regimes.get("gate"),
            allowed_regimes=tuple(settings.allowed_regimes) if settings.regime_enabled else None,
            atr_regimes=regimes.get("atr"),
            policy_regimes=regimes.get("policy") if settings.directional_policy else None,
            policy=settings.directional_policy,
            certs=load_certifications() if settings.directional_policy else None,
            timeframe=settings.timeframe,
            funding=funding,
            bar_close=settings.intrabar_resolution == "bar_close",
        )
    )
    walk.run()
    return _result(df, walk, settings, strategy, params)


def _result(df, walk: Walk, settings, strategy: str, params: dict) -> BacktestResult:
    start = walk.inp.start
    index = df.index[start:]
    close = walk.inp.close[start:]
    states = walk.states()
    equity = pd.Series(states[:, 0] + states[:, 1] * close, index=index, name="equity")
    position = pd.Series(states[:, 2], index=index, name="position")
    closes = pd.Series(close, index=index, name="close")
    bars = np.array([(leg.entry_bar, leg.exit_bar) for leg in walk.legs], dtype=np.int64)
    entries = list(df.index[bars[:, 0]]) if len(bars) else []
    exits = list(df.index[bars[:, 1]]) if len(bars) else []
    trades = [
        BacktestTrade(
            entry_time=entry,
            exit_time=exit_,
            side=leg.side,
            entry_price=leg.entry_price,
            exit_price=leg.exit_price,
            quantity=leg.quantity,
            fee=leg.fee,
            pnl=leg.pnl,
            reason=leg.reason,
        )
        for leg, entry, exit_ in zip(walk.legs, entries, exits, strict=True)
    ]
    adds = [
        BacktestAdd(pd.Timestamp(t.timestamp), a, t.price, t.quantity, t.value, t.fee, n, avg)
        for t, a, n, avg in walk.adds
    ]
    final = float(equity.iloc[-1]) if len(equity) else float(settings.capital)
    return BacktestResult(
        strategy=strategy,
        params=dict(params),
        settings=settings,
        equity=equity,
        closes=closes,
        position=position,
        trades=trades,
        final_equity=final,
        funding_pnl=walk.funding_pnl,
        notes=sorted(set(walk.notes)),
        adds=adds,
    )
