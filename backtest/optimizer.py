"""Parameter sweeps and walk-forward optimization over the registry's declared ranges.

Each strategy declares ``ranges`` next to its defaults (``@register(..., ranges=...)``);
:func:`param_grid` expands their cartesian product and drops combos the strategy's own
constraints reject (``fast_period < slow_period`` ...). :func:`sweep` backtests every combo
(in-process, over local cores, or on a Dask cluster; see :mod:`backtest.parallel`) and
:func:`walk_forward` picks the best combo on each fold's training bars and scores it on the
bars that follow, which is the figure worth believing.
"""

from __future__ import annotations

import itertools
import json
import math
import statistics
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from backtest.backtester import BacktestSettings, strategy_registry
from backtest.close_stacks import CloseStack
from backtest.metrics import LIQUIDATED_FLOOR
from backtest.parallel import Job, OptimizerError, Runner
from shared_strategies.open import registry

__all__ = [
    "METRICS",
    "Fold",
    "OptimizerError",
    "WalkForwardResult",
    "best_index",
    "fold_bounds",
    "param_grid",
    "score",
    "sweep",
    "walk_forward",
]

METRICS = ("sharpe", "total_return_pct", "dd_adjusted_return")
MIN_BLOCK, MIN_TRAIN, MIN_TEST = 50, 30, 10  # bars, as upstream's walk-forward


def param_grid(
    strategy: str, platform: str = "spot", ranges: dict[str, list] | None = None
) -> list[dict]:
    """Every combo of the strategy's declared ranges its constraints accept, in declaration
    order (last param varies fastest). Without ranges: one combo, the platform defaults.

    ``ranges`` replaces the declared values of the params it names (or adds a param the
    strategy takes but declares no range for): a tuning run narrows the grid with it
    (backtest/tune_live.py). A param the strategy does not take raises OptimizerError."""
    spec = registry.get(strategy, platform)
    declared = {k: list(v) for k, v in spec.ranges.items()}
    for key, values in (ranges or {}).items():
        if key not in declared and key not in spec.default_params:
            raise OptimizerError(f"{strategy}: no param {key!r} to narrow")
        if not values:
            raise OptimizerError(f"{strategy}: param {key!r} needs at least one value")
        declared[key] = list(values)
    if not declared:
        return [dict(spec.default_params)]
    keys = list(declared)
    grid = []
    for values in itertools.product(*declared.values()):
        combo = dict(zip(keys, values, strict=True))
        try:
            registry.merged_params(strategy, combo, platform)
        except ValueError:
            continue  # e.g. fast_period >= slow_period
        grid.append(combo)
    return grid


def _check_metric(metric: str) -> None:
    if metric not in METRICS:
        raise OptimizerError(f"unknown metric {metric!r} (use one of {', '.join(METRICS)})")


def score(m: dict[str, Any], metric: str = "sharpe") -> float:
    """The number combos are ranked by; undefined -> -inf so it never wins.

    ``dd_adjusted_return`` is return / |max drawdown| with |DD| floored at 1 point (a run with
    almost no drawdown would otherwise win on noise); a liquidated run scores -100, as upstream.
    """
    _check_metric(metric)
    if m.get("error"):
        return -math.inf
    if metric == "dd_adjusted_return":
        ret, dd = m.get("total_return_pct"), m.get("max_drawdown_pct")
        if ret is None:
            return -math.inf
        final = m.get("final_equity")
        if m.get("sharpe") == LIQUIDATED_FLOOR or (final is not None and final <= 0):
            return LIQUIDATED_FLOOR
        value = ret / max(abs(dd or 0.0), 1.0)
    else:
        value = m.get(metric)
    if value is None or not math.isfinite(float(value)):
        return -math.inf
    return float(value)


def _finite(value: float) -> float | None:
    """A score as stored in a metrics dict: None when undefined (JSON has no -inf)."""
    return value if math.isfinite(value) else None


def best_index(rows: list[dict[str, Any]], metric: str = "sharpe") -> int:
    """Index of the best-scoring metrics dict; ties go to the earliest (grid order)."""
    scores = [score(m, metric) for m in rows]
    return max(range(len(scores)), key=lambda i: (scores[i], -i))


def _all_failed(rows: list[dict[str, Any]], strategy: str) -> None:
    if rows and all(m.get("error") for m in rows):
        raise OptimizerError(f"{strategy}: every backtest failed, e.g. {rows[0]['error']}")


def sweep(
    df: pd.DataFrame,
    strategy: str,
    grid: list[dict],
    settings: BacktestSettings,
    since: pd.Timestamp | None = None,
    workers: int | None = None,
    dask_address: str | None = None,
    progress: bool = False,
    metric: str = "sharpe",
) -> list[tuple[dict, dict]]:
    """``(params, metrics)`` per combo, in grid order. Each metrics dict also carries ``score``
    (by ``metric``; None when undefined) and, for a combo that raised, ``error``."""
    _check_metric(metric)
    registry.get(strategy, strategy_registry(settings))  # an unknown name fails here, once
    if not grid:
        return []
    jobs: list[Job] = [(dict(p), None, since, None) for p in grid]
    with Runner(df, strategy, settings, workers, dask_address) as runner:
        rows = runner.map(jobs, progress, f"{strategy}: {len(jobs)} combos")
    _all_failed(rows, strategy)
    for m in rows:
        m["score"] = _finite(score(m, metric))
    return [(dict(p), m) for p, m in zip(grid, rows, strict=True)]


# ------------------------------------------------------------------ walk-forward


@dataclass
class Fold:
    """One train/test window: bar positions are [lo, hi) into the frame; times are the first
    and last bar open times of each part, taken from the frame's index as they are (aware UTC
    for loaded candles)."""

    index: int
    train: tuple[pd.Timestamp, pd.Timestamp]
    test: tuple[pd.Timestamp, pd.Timestamp]
    train_bars: int
    test_bars: int
    best_params: dict = field(default_factory=dict)
    close_stack: str = ""  # --sweep-close: the label of the fold's best close stack
    in_sample: dict = field(default_factory=dict)
    out_of_sample: dict = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "train": [self.train[0].isoformat(), self.train[1].isoformat()],
            "test": [self.test[0].isoformat(), self.test[1].isoformat()],
            "train_bars": self.train_bars,
            "test_bars": self.test_bars,
            "best_params": self.best_params,
            "close_stack": self.close_stack,
            "in_sample": self.in_sample,
            "out_of_sample": self.out_of_sample,
        }


@dataclass
class WalkForwardResult:
    strategy: str
    metric: str
    folds: list[Fold]
    summary: dict[str, Any]
    skipped: list[str] = field(default_factory=list)  # one line per fold too short to use

    def to_dict(self) -> dict[str, Any]:
        return {
            "strategy": self.strategy,
            "metric": self.metric,
            "folds": [f.to_dict() for f in self.folds],
            "summary": self.summary,
            "skipped": list(self.skipped),
        }


def fold_bounds(
    n_bars: int, n_splits: int = 5, train_pct: float = 0.7
) -> tuple[list[tuple[int, int, int, int, int]], list[str]]:
    """``(fold, train_lo, train_hi, test_lo, test_hi)`` bar positions of back-to-back blocks
    (the last takes the remainder), plus a line for each block too short to use."""
    if n_splits < 1:
        raise OptimizerError(f"--splits must be at least 1, got {n_splits}")
    if not 0.0 < train_pct < 1.0:
        raise OptimizerError(f"train_pct must be between 0 and 1, got {train_pct}")
    size = n_bars // n_splits
    bounds, skipped = [], []
    for k in range(n_splits):
        lo = k * size
        hi = n_bars if k == n_splits - 1 else lo + size
        mid = lo + int((hi - lo) * train_pct)
        train, test = mid - lo, hi - mid
        if hi - lo < MIN_BLOCK:
            skipped.append(f"fold {k + 1}: {hi - lo} bars < {MIN_BLOCK}")
        elif train < MIN_TRAIN or test < MIN_TEST:
            skipped.append(
                f"fold {k + 1}: {train} train / {test} test bars (need {MIN_TRAIN} / {MIN_TEST})"
            )
        else:
            bounds.append((k + 1, lo, mid, mid, hi))
    return bounds, skipped


def _first_bar(index: pd.Index, since: pd.Timestamp | None) -> int:
    """Position of the first bar at or after ``since`` (0 when None).

    Candles carry an aware UTC index; a naive ``since`` means UTC (as everywhere in backtest/),
    so it is localized rather than the index stripped. Comparing the two as they are would
    raise ``TypeError``.
    """
    if since is None:
        return 0
    ts = pd.Timestamp(since)
    tz = getattr(index, "tz", None)
    if tz is not None:
        ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert(tz)
    elif ts.tzinfo is not None:  # a naive index holds UTC times
        ts = ts.tz_convert("UTC").tz_localize(None)
    return int(index.searchsorted(ts))


def walk_forward(
    df: pd.DataFrame,
    strategy: str,
    settings: BacktestSettings,
    grid: list[dict] | None = None,
    n_splits: int = 5,
    train_pct: float = 0.7,
    metric: str = "sharpe",
    workers: int | None = None,
    dask_address: str | None = None,
    progress: bool = False,
    since: pd.Timestamp | None = None,
    close_stacks: list[CloseStack] | None = None,
    on_advance: Callable[[int], None] | None = None,
) -> WalkForwardResult:
    """Grid-search each fold's training bars, then backtest the winner on its test bars.

    The folds cover the bars from ``since`` (all when None). Bars before a part's first bar
    stay in the frame to warm the indicators up (the engine trades only from its ``since``);
    bars after it are cut off, so nothing peeks ahead. With ``close_stacks`` (--sweep-close)
    every param combo is tried with every stack and the best pair wins each fold.
    ``on_advance(n)`` is told as backtests finish (a tuning run's progress file).
    """
    _check_metric(metric)
    params_grid = param_grid(strategy, strategy_registry(settings)) if grid is None else list(grid)
    if not params_grid:
        raise OptimizerError(f"{strategy}: the parameter grid is empty")
    stacks: list[CloseStack | None] = list(close_stacks) if close_stacks else [None]
    combos = [(p, st) for p in params_grid for st in stacks]
    start = _first_bar(df.index, since)
    bounds, skipped = fold_bounds(len(df) - start, n_splits, train_pct)
    bounds = [(k, *(start + b for b in rest)) for k, *rest in bounds]
    if not bounds:
        raise OptimizerError(
            f"walk-forward: no fold is long enough ({len(df) - start} bars in {n_splits} "
            f"splits; {'; '.join(skipped)}); load more bars or use fewer --splits"
        )
    idx = df.index
    train_jobs: list[Job] = [
        _job(p, st, t_hi, idx[t_lo]) for _, t_lo, t_hi, _, _ in bounds for p, st in combos
    ]
    with Runner(df, strategy, settings, workers, dask_address, on_advance) as runner:
        train_rows = runner.map(train_jobs, progress, f"{strategy}: train {len(bounds)} folds")
        _all_failed(train_rows, strategy)
        folds = []
        for n, (k, t_lo, t_hi, s_lo, s_hi) in enumerate(bounds):
            rows = train_rows[n * len(combos) : (n + 1) * len(combos)]
            best = best_index(rows, metric)
            best_stack = combos[best][1]
            folds.append(
                Fold(
                    index=k,
                    train=(idx[t_lo], idx[t_hi - 1]),
                    test=(idx[s_lo], idx[s_hi - 1]),
                    train_bars=t_hi - t_lo,
                    test_bars=s_hi - s_lo,
                    best_params=dict(combos[best][0]),
                    close_stack=best_stack.label if best_stack else "",
                    in_sample=rows[best],
                )
            )
        by_label = {st.label: st for st in stacks if st is not None}
        test_jobs: list[Job] = [
            _job(f.best_params, by_label.get(f.close_stack), s_hi, idx[s_lo])
            for f, (_, _, _, s_lo, s_hi) in zip(folds, bounds, strict=True)
        ]
        test_rows = runner.map(test_jobs, progress, f"{strategy}: test {len(bounds)} folds")
    for fold, m in zip(folds, test_rows, strict=True):
        fold.in_sample["score"] = _finite(score(fold.in_sample, metric))
        m["score"] = _finite(score(m, metric))
        fold.out_of_sample = m
    return WalkForwardResult(strategy, metric, folds, _summary(folds), skipped)


def _job(params: dict, stack: CloseStack | None, stop: int, since: pd.Timestamp) -> Job:
    """One backtest job; a close stack rides along as settings overrides."""
    return (dict(params), stop, since, stack.overrides() if stack else None)


def _values(rows: list[dict], key: str) -> list[float]:
    return [float(m[key]) for m in rows if m.get(key) is not None]


def _summary(folds: list[Fold]) -> dict[str, Any]:
    """Out-of-sample figures across folds (in-sample means beside them for the overfit gap)."""
    oos = [f.out_of_sample for f in folds]
    ins = [f.in_sample for f in folds]
    rets, sharpes, dds = (
        _values(oos, k) for k in ("total_return_pct", "sharpe", "max_drawdown_pct")
    )
    is_rets, is_sharpes = _values(ins, "total_return_pct"), _values(ins, "sharpe")
    # Most common winner; Counter keeps first-seen order on ties, so the earliest fold decides.
    keys = [json.dumps(f.best_params, sort_keys=True) for f in folds]
    common, count = Counter(keys).most_common(1)[0]
    return {
        "folds": len(folds),
        "oos_mean_return_pct": statistics.fmean(rets) if rets else None,
        "oos_median_return_pct": statistics.median(rets) if rets else None,
        "oos_std_return_pct": statistics.stdev(rets) if len(rets) > 1 else None,
        "oos_mean_sharpe": statistics.fmean(sharpes) if sharpes else None,
        "oos_worst_drawdown_pct": min(dds) if dds else None,
        "oos_total_trades": sum(int(m.get("trade_count") or 0) for m in oos),
        "is_mean_return_pct": statistics.fmean(is_rets) if is_rets else None,
        "is_mean_sharpe": statistics.fmean(is_sharpes) if is_sharpes else None,
        "most_common_params": dict(folds[keys.index(common)].best_params),
        "most_common_count": count,
        "most_common_close_stack": Counter(f.close_stack for f in folds).most_common(1)[0][0],
    }
