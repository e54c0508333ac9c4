"""A tuning run: walk-forward the param grid of live strategies and say which suggestions survive.

    tune_live.py --config FILE --strategy ID [ID ...] --out-dir DIR --json DIR/results.json
                 [--overrides FILE] [--bars N] [--splits K] [--min-trades N] [--dd-margin-pct X]

Started by the daemon's tuning queue (supervisor/http/tuning.py) at the lowest CPU priority, one
at a time; it can also be run by hand. For each strategy, read with the supervisor's own loader
(``backtest.cli_settings.from_config``):

1. The grid is the registry's ranges (``backtest.optimizer.param_grid``), narrowed by the run's
   overrides (``{id: {"params": {name: [values]}, "freeze": [names]}}``: a listed param takes
   only those values, a frozen one only its live value); a live param without a range keeps its
   live value.
2. ``backtest.optimizer.walk_forward`` picks the best combo on each fold's training bars. The
   distinct fold winners are the suggestions.
3. The baseline (the live params) and every suggestion are then scored out of sample on the SAME
   test windows (``walk_forward`` again, with a one-combo grid, so no second fold logic exists).

**Survivor rule** (a suggestion may be applied from the dashboard only if it is a survivor; every
rule it breaks is one line of its ``reasons``):

- its mean out-of-sample return across the folds is above the baseline's, and it beats the
  baseline's return in at least half of the folds;
- it makes at least ``--min-trades`` (default 3) out-of-sample trades in total;
- its worst out-of-sample drawdown is not worse than the baseline's by more than
  ``--dd-margin-pct`` percentage points (default 5).

The baseline row (key ``baseline``) is never a survivor. Rows are ranked survivors first, then by
mean out-of-sample return. Each row carries ``patch.open_strategy``: the strategy's
``open_strategy`` block with the suggestion's params over the live ones (only the keys that
differ are added). ``promotion_baseline`` (shared_tools/promotion.py) records the blocks the
suggestion was measured against, so an apply can refuse once they changed.

Progress goes to ``DIR/tune_live.progress.json``: per strategy its status, the walk-forwards
done, and the backtests done of about how many (rewritten atomically as backtests finish, at
most once a second, and after each walk-forward); results to the ``--json`` file, ``schema_version`` 2. Exit 0 when at least one
strategy was tuned, 1 when none could be, 2 for bad arguments.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: the repo root on the path
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

SCHEMA_VERSION = 2
DEFAULT_BARS, DEFAULT_SPLITS = 1500, 3
MIN_TRADES, DD_MARGIN_PCT = 3, 5.0
PROGRESS_FILE = "tune_live.progress.json"
PROG = "tune_live.py"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=PROG, description="walk-forward tuning of live strategies")
    p.add_argument("--config", required=True, help="the live config file")
    p.add_argument("--strategy", nargs="+", action="extend", required=True, help="strategy ids")
    p.add_argument("--out-dir", required=True, help="where the progress file goes")
    p.add_argument("--json", required=True, help="the results file")
    p.add_argument("--overrides", help='JSON file {id: {"params": {...}, "freeze": [...]}}')
    p.add_argument("--bars", type=int, default=DEFAULT_BARS, help="bars tuned on (after warm-up)")
    p.add_argument("--splits", type=int, default=DEFAULT_SPLITS, help="walk-forward folds")
    p.add_argument("--metric", default="sharpe", help="what each fold's training picks by")
    p.add_argument("--min-trades", type=int, default=MIN_TRADES)
    p.add_argument("--dd-margin-pct", type=float, default=DD_MARGIN_PCT)
    return p


def write_json(path: Path, doc: Any) -> None:
    """``doc`` at ``path`` all or nothing (a reader never sees half a file)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(doc, indent=1, default=str) + "\n")
    os.replace(tmp, path)


def row_key(params: dict) -> str:
    """A short stable name for a param set (the apply request names a row by it)."""
    text = json.dumps(params, sort_keys=True, separators=(",", ":"), default=str)
    return "p-" + hashlib.sha256(text.encode()).hexdigest()[:12]


class Progress:
    """``tune_live.progress.json``: per strategy, its status and walk-forwards done."""

    def __init__(self, out_dir: Path, ids: list[str]) -> None:
        self.path = out_dir / PROGRESS_FILE
        self.doc: dict[str, Any] = {
            "strategies": {sid: {"status": "queued", "steps_done": 0, "steps": 0} for sid in ids}
        }
        self.write()

    def update(self, sid: str, **fields: Any) -> None:
        self.doc["strategies"][sid].update(fields)
        self.write()

    def advance(self, sid: str, n: int) -> None:
        """``n`` more backtests done; written at most once a second."""
        entry = self.doc["strategies"][sid]
        entry["backtests_done"] = entry.get("backtests_done", 0) + n
        if time.monotonic() - self._written >= 1.0:
            self.write()

    def write(self) -> None:
        self._written = time.monotonic()
        self.doc["updated_at"] = datetime.now(UTC).isoformat().replace("+00:00", "Z")
        write_json(self.path, self.doc)


def narrowed(spec: Any, live: dict, ov: dict) -> dict[str, list]:
    """The grid's ranges after the overrides; a live param without a range keeps its value."""
    out: dict[str, list] = {k: [v] for k, v in live.items() if k not in spec.ranges}
    out.update({k: list(v) for k, v in (ov.get("params") or {}).items()})
    for name in ov.get("freeze") or []:
        if name not in live:
            raise ValueError(f"freeze: {name!r} is not a param of {spec.name}")
        out[name] = [live[name]]
    return out


def oos_figures(wf: Any) -> dict[str, Any]:
    """A one-combo walk-forward's out-of-sample figures (per fold and summed up)."""
    s = wf.summary
    return {
        "folds": s["folds"],
        "oos_mean_return_pct": s["oos_mean_return_pct"],
        "oos_mean_sharpe": s["oos_mean_sharpe"],
        "oos_worst_drawdown_pct": s["oos_worst_drawdown_pct"],
        "oos_total_trades": s["oos_total_trades"],
        "oos_fold_returns_pct": [f.out_of_sample.get("total_return_pct") for f in wf.folds],
    }


def verdict(m: dict, base: dict, min_trades: int, dd_margin: float) -> list[str]:
    """The survivor rule's broken parts, one line each (empty: a survivor)."""
    reasons = []
    ret, bret = m["oos_mean_return_pct"], base["oos_mean_return_pct"]
    if ret is None or bret is None or ret <= bret:
        reasons.append(
            f"out-of-sample mean return {_pct(ret)} is not above the baseline's {_pct(bret)}"
        )
    pairs = zip(m["oos_fold_returns_pct"], base["oos_fold_returns_pct"], strict=True)
    beaten = sum(1 for a, b in pairs if a is not None and b is not None and a > b)
    if beaten * 2 < m["folds"]:
        reasons.append(
            f"beats the baseline in {beaten} of {m['folds']} folds (needs at least half)"
        )
    if m["oos_total_trades"] < min_trades:
        reasons.append(f"{m['oos_total_trades']} out-of-sample trades (needs {min_trades})")
    dd, bdd = m["oos_worst_drawdown_pct"] or 0.0, base["oos_worst_drawdown_pct"] or 0.0
    if dd < bdd - dd_margin:
        reasons.append(
            f"worst drawdown {dd:.2f}% is worse than the baseline's {bdd:.2f}% by more than "
            f"{dd_margin:g} points"
        )
    return reasons


def _rank(row: dict) -> tuple[bool, float]:
    """Survivors first, then the higher mean out-of-sample return (undefined last)."""
    ret = row["metrics"]["oos_mean_return_pct"]
    return row["verdict"] != "survivor", -ret if ret is not None else float("inf")


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}%"


def load(settings: Any, market_data: str | None, bars: int) -> Any:
    """The last ``bars`` closed bars (plus warm-up) from the config's market, with the
    higher-timeframe trend column when the strategy filters on it (as run_backtest loads)."""
    from backtest import data as bd
    from backtest import htf_bars
    from shared_tools import htf_filter
    from shared_tools.market.common import TIMEFRAMES, timeframe_seconds

    until = datetime.now(UTC)
    since = until - timedelta(seconds=timeframe_seconds(settings.timeframe) * bars)
    where = {
        "source": bd.resolve_source(None, market_data),
        "platform": settings.platform,
        "instrument": settings.instrument,
    }
    candles = bd.load_candles(settings.symbol, settings.timeframe, since, until, **where)
    if settings.htf_filter:
        tf = htf_filter.htf_timeframe(settings.timeframe)
        htf = None  # live: an HTF the market does not serve is a 0 trend
        if tf in TIMEFRAMES:
            first = candles.df.index[0].to_pydatetime()
            htf = bd.load_candles(
                settings.symbol, tf, first, until, warmup=htf_filter.HTF_CANDLES, **where
            ).df
        candles.df = htf_bars.attach(candles.df, settings.timeframe, htf)
    return candles


def tune_one(args: argparse.Namespace, raw: dict, sid: str, ov: dict, progress: Progress) -> dict:
    """The results block of one strategy (raises ValueError-like errors for the caller)."""
    from backtest import optimizer
    from backtest.backtester import BacktestSettings, strategy_registry
    from backtest.cli_settings import from_config
    from shared_strategies.open import registry
    from shared_tools.promotion import promotion_baseline

    job = from_config(args.config, sid, BacktestSettings)
    settings, name = job.settings, job.strategy
    reg = strategy_registry(settings)
    live = registry.merged_params(name, job.params, reg)
    grid = optimizer.param_grid(name, reg, narrowed(registry.get(name, reg), live, ov))
    candles = load(settings, job.market_data, args.bars)

    def wf(combos: list[dict]) -> Any:
        return optimizer.walk_forward(
            candles.df, name, settings, grid=combos, n_splits=args.splits,
            metric=args.metric, workers=1, since=candles.since,
            on_advance=lambda n: progress.advance(sid, n),
        )  # fmt: skip

    per_eval = 2 * args.splits  # a one-combo walk-forward: train and test per fold
    total = (len(grid) + 1) * args.splits + per_eval
    progress.update(sid, status="running", steps=2, steps_done=0, backtests=total)
    search = wf(grid)
    winners: list[dict] = []
    for fold in search.folds:
        params = {**live, **fold.best_params}
        if params != live and params not in winners:
            winners.append(params)
    total += per_eval * len(winners)
    progress.update(
        sid, steps=2 + len(winners), steps_done=1, folds=len(search.folds), backtests=total
    )
    base = oos_figures(wf([live]))
    progress.update(sid, steps_done=2)
    rows = [_row("baseline", live, base, ["the live params (baseline)"], raw, sid)]
    for n, params in enumerate(winners):
        m = oos_figures(wf([params]))
        reasons = verdict(m, base, args.min_trades, args.dd_margin_pct)
        rows.append(_row(row_key(params), params, m, reasons, raw, sid, live))
        progress.update(sid, steps_done=3 + n)
    rows.sort(key=_rank)
    return {
        "strategy_id": sid,
        "open_strategy": name,
        "symbol": settings.symbol,
        "timeframe": settings.timeframe,
        "live_params": live,
        "grid_size": len(grid),
        "folds": [
            {k: f.to_dict()[k] for k in ("index", "train", "test", "best_params")}
            for f in search.folds
        ],
        "skipped_folds": search.skipped,
        "ranked": rows,
        "promotion_baseline": promotion_baseline(raw, sid),
    }


def _row(
    key: str,
    params: dict,
    m: dict,
    reasons: list[str],
    raw: dict,
    sid: str,
    live: dict | None = None,
) -> dict:
    from shared_tools.promotion import strategy_entry

    row: dict[str, Any] = {"key": key, "params": params, "metrics": m}
    if key == "baseline":
        row.update(verdict="rejected", reasons=reasons)
        return row
    row["verdict"] = "rejected" if reasons else "survivor"
    row["reasons"] = reasons or [
        f"out-of-sample mean return {_pct(m['oos_mean_return_pct'])} above the baseline's, "
        f"{m['oos_total_trades']} trades, drawdown within the margin"
    ]
    block = (strategy_entry(raw, sid) or {}).get("open_strategy")
    block = dict(block) if isinstance(block, dict) else {}
    old = dict(block.get("params") or {})
    changed = {k: v for k, v in params.items() if (live or {}).get(k) != v}
    block["name"] = block.get("name") or _name_of(raw, sid)
    block["params"] = {**old, **changed}
    row["patch"] = {"open_strategy": block}
    return row


def _name_of(raw: dict, sid: str) -> str:
    from shared_tools.promotion import strategy_entry

    entry = strategy_entry(raw, sid) or {}
    args = entry.get("args") or [""]
    return str(args[0])


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    out_dir, out = Path(args.out_dir), Path(args.json)
    try:
        raw = json.loads(Path(args.config).read_text())
        overrides = json.loads(Path(args.overrides).read_text()) if args.overrides else {}
    except (OSError, ValueError) as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 2
    if args.splits < 1 or args.bars < 50:
        print(f"{PROG}: --splits must be >= 1 and --bars >= 50", file=sys.stderr)
        return 2
    out_dir.mkdir(parents=True, exist_ok=True)
    ids = list(dict.fromkeys(args.strategy))
    progress = Progress(out_dir, ids)
    blocks, done = [], 0
    for sid in ids:
        try:
            block = tune_one(args, raw, sid, overrides.get(sid) or {}, progress)
            progress.update(sid, status="completed")
            done += 1
        except Exception as exc:  # one strategy's failure is reported; the others still run
            line = f"{type(exc).__name__}: {exc}".splitlines()[0][:500]
            print(f"{PROG}: {sid}: {line}", file=sys.stderr)
            block = {"strategy_id": sid, "error": line, "ranked": []}
            progress.update(sid, status="failed", error=line)
        blocks.append(block)
    write_json(
        out,
        {
            "schema_version": SCHEMA_VERSION,
            "generated_at": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
            "rule": {"min_trades": args.min_trades, "dd_margin_pct": args.dd_margin_pct},
            "splits": args.splits,
            "bars": args.bars,
            "strategies": blocks,
        },
    )
    return 0 if done else 1


if __name__ == "__main__":
    sys.exit(main())
