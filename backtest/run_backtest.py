"""Backtest open strategies on historical candles: one, all of them, many symbols, or walk-forward.

    python backtest/run_backtest.py --strategy momentum --symbol BTC/USDT --timeframe 1h --mode single
    python backtest/run_backtest.py --timeframe 1h --mode compare --since 90 --data simulated
    python backtest/run_backtest.py --strategy momentum --timeframe 4h --mode multi
    python backtest/run_backtest.py --strategy momentum --timeframe 1h --mode optimize --splits 5
    python backtest/run_backtest.py --config scheduler/config.json --strategy-id hl-btc-momentum

Also runnable as ``python -m backtest.run_backtest``. Candles come through shared_tools.market
(``--data exchange|simulated|replay:<dir>``; default: the config's market_data, else
GO_TRADER_MARKET_DATA, else exchange). ``--since`` is the first bar that may trade; 300 bars
before it are fetched to warm the indicators up. Exit status: 0 ok, 1 runtime error (no data,
engine failure), 2 usage. Errors are one line on stderr; reports go to stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any, NoReturn

if __package__ in (None, ""):  # run as a file: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from backtest import cli_settings as cs  # noqa: E402
from backtest import data as bd  # noqa: E402
from backtest import (
    htf_bars,  # noqa: E402
    reporter,  # noqa: E402
)
from backtest.metrics import metrics  # noqa: E402
from shared_strategies.open import registry as open_registry  # noqa: E402
from shared_tools import htf_filter  # noqa: E402
from shared_tools.book.scale_in import ScaleIn  # noqa: E402
from shared_tools.config.sizing_keys import scale_in_block  # noqa: E402
from shared_tools.market.common import TIMEFRAMES, MarketDataError, now_utc  # noqa: E402
from shared_tools.text import one_line  # noqa: E402

PROG = "run_backtest"
MODES = ("single", "compare", "multi", "optimize")
DEFAULT_SYMBOLS = ("BTC/USDT", "ETH/USDT", "SOL/USDT", "BNB/USDT")
MULTI_TOP = 10
STOP_KEYS = ("stop_loss_pct", "stop_loss_atr_mult", "trailing_stop_pct", "trailing_stop_atr_mult")


class RunError(RuntimeError):
    """A failure while running (no data, engine error): one line, exit status 1."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line, exit 2 (argparse prints usage too)
        raise cs.UsageError(message)


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog=PROG, description=__doc__.split("\n\n")[0])
    a = p.add_argument
    a("--strategy", "-s", help="open strategy (comma-separated in compare/multi/optimize)")
    a("--symbol", help="symbol (default BTC/USDT)")
    a("--symbols", nargs="+", help=f"multi mode symbols (default {' '.join(DEFAULT_SYMBOLS)})")
    a("--timeframe", "-tf", choices=list(TIMEFRAMES), help="bar size (default 1d)")
    a(
        "--since",
        help="first bar that may trade: a date, ISO time or days back (default 2022-01-01)",
    )
    a("--until", help="last bar's close: a date, ISO time or days back (default now)")
    a("--mode", choices=MODES, help="default compare (single with --config)")
    a("--platform", help="venue: fee table and exchange data (default binanceus)")
    a("--instrument", choices=("spot", "perps", "futures"), help="default spot")
    a("--params", help="open strategy params as a JSON object")
    a("--close-strategy", action="append", help="close evaluator: a name or JSON ref (repeatable)")
    a("--capital", type=float, help="starting capital (default 1000)")
    a("--fee-pct", type=float, help="percent per fill, 0.1 = 0.1%% (default: the venue's)")
    a("--slippage-bps", type=float, help="basis points against every fill (default 0)")
    a("--direction", choices=("long", "short", "both"), help="default long")
    a("--invert-signal", action="store_true", default=None, help="trade the opposite signal")
    a("--leverage", type=float, help="perps sizing leverage (default 1)")
    a(
        "--risk-per-trade-pct",
        type=float,
        help="perps: size so a stop hit loses this %% of cash (needs a stop flag)",
    )
    a(
        "--capital-pct",
        type=float,
        help="(0, 1]: trade with --capital x this (upstream: that share of the venue balance)",
    )
    a(
        "--scale-in",
        metavar="JSON",
        help='perps: allow_scale_in with this scale_in block, e.g. \'{"max_adds": 2, '
        '"add_spacing_atr": 1}\' ({} = unlimited adds)',
    )
    a("--stop-loss-pct", type=float)
    a("--stop-loss-atr-mult", type=float)
    a("--trailing-stop-pct", type=float)
    a("--trailing-stop-atr-mult", type=float)
    a("--regime-enabled", action="store_true", default=None, help="gate entries on the regime")
    a("--allowed-regimes", nargs="+", action="extend", choices=cs.REGIMES)
    a("--regime-period", type=int, help="the default ADX window's period (default 14)")
    a("--regime-adx-threshold", type=float, help="the default ADX window's threshold (20)")
    a(
        "--regime-windows-spec-json",
        help='regime windows as the check gets them: {"name": period | {classifier, period, ...}}',
    )
    a(
        "--registry",
        choices=("spot", "futures"),
        help="open-strategy registry to run and iterate (default spot; futures for perps/futures)",
    )
    a("--htf-filter", action="store_true", default=None, help="the live higher-timeframe filter")
    a(
        "--intrabar-resolution",
        choices=("ohlc_walk", "bar_close"),
        help="stops inside the bar (default ohlc_walk) or on the close, filled next open",
    )
    a("--atr-method", choices=("simple", "wilder"), help="ATR for stops and targets (simple)")
    a(
        "--defaults",
        choices=cs.DEFAULTS,
        help="user: the config's user_defaults apply (the default with --config, as the bot "
        "runs); system: the built-in defaults",
    )
    a("--sweep-close", action="store_true", help="optimize: co-optimise 25 close stacks")
    a("--close-stacks-json", help="optimize: the close stacks to sweep, a JSON array")
    a("--config", help="live config file (with --strategy-id): backtest that strategy as set")
    a("--strategy-id", help="the strategy id inside --config")
    a("--splits", type=int, default=5, help="optimize: walk-forward folds (default 5)")
    a(
        "--optimize-metric",
        default="sharpe",
        choices=("sharpe", "sharpe_ratio", "total_return_pct", "dd_adjusted_return"),
        help="optimize: what picks each fold's params (default sharpe)",
    )
    a("--workers", type=int, help="optimize: local worker processes")
    a("--dask", metavar="ADDRESS", help="optimize: a Dask scheduler address")
    a("--warmup", type=int, default=bd.DEFAULT_WARMUP, help="bars fetched before --since")
    a("--data", help="exchange | simulated | replay:<dir>")
    a("--html", metavar="FILE", help="single: also write an HTML report")
    a("--json", action="store_true", help="print one JSON document instead of tables")
    return p


# ---------------------------------------------------------------- settings


def _engine() -> Any:
    try:
        from backtest import backtester
    except ImportError as exc:  # pragma: no cover - only while the engine is missing
        raise RunError(f"backtest engine unavailable ({exc})") from None
    return backtester


def _check_args(args: argparse.Namespace) -> None:
    if args.config and args.strategy and not args.strategy_id:  # upstream: --config C --strategy ID
        args.strategy_id, args.strategy = args.strategy, None
    if args.optimize_metric == "sharpe_ratio":  # upstream's name
        args.optimize_metric = "sharpe"
    if args.config or args.strategy_id:
        if not (args.config and args.strategy_id):
            raise cs.UsageError("--config and --strategy-id go together")
        if args.mode != "single":
            raise cs.UsageError(f"--config: single mode only (got --mode {args.mode})")
        if args.strategy or args.params:
            raise cs.UsageError("--config: the strategy and params come from the config")
    if args.params and not args.config:
        if args.mode == "optimize":
            raise cs.UsageError(
                "--params: not used in optimize mode (the grid comes from the registry)"
            )
        if not args.strategy or "," in args.strategy:
            raise cs.UsageError("--params: needs exactly one --strategy")
    if args.html and args.mode != "single":
        raise cs.UsageError("--html: single mode only")
    if args.mode == "single" and not (args.strategy or args.config):
        raise cs.UsageError("--strategy is required in single mode")
    if args.mode == "single" and args.strategy and "," in args.strategy:
        raise cs.UsageError("--strategy: one strategy in single mode")
    if args.splits < 1:
        raise cs.UsageError("--splits must be at least 1")
    if args.capital is not None and not args.capital > 0:
        raise cs.UsageError("--capital must be positive")
    if args.warmup < 0:
        raise cs.UsageError("--warmup must be 0 or more")
    if args.mode == "optimize" and args.direction == "short":
        raise cs.UsageError("--direction short is not supported in optimize mode")
    cs.check_engine_flags(args)


def _scale_in(text: str | None) -> ScaleIn | None:
    """``--scale-in`` JSON, checked as the config's block is (config/sizing_keys.py)."""
    if text is None:
        return None
    try:
        block = json.loads(text)
    except ValueError as exc:
        raise cs.UsageError(f"--scale-in: not JSON ({exc})") from None
    errors: list[str] = []
    terms = scale_in_block(block, "--scale-in", errors)
    if errors:
        raise cs.UsageError(errors[0])
    return terms


def _flag_settings(args: argparse.Namespace) -> dict[str, Any]:
    """Settings the operator set by flag (None = not given: keep the config's or default)."""
    return {
        "capital": args.capital,
        "platform": args.platform,
        "instrument": args.instrument,
        "fee_pct": args.fee_pct,
        "slippage_bps": args.slippage_bps,
        "direction": args.direction,
        "invert_signal": args.invert_signal,
        "leverage": args.leverage,
        "risk_per_trade_pct": args.risk_per_trade_pct,
        "capital_pct": args.capital_pct,
        "scale_in": _scale_in(args.scale_in),
        "close_strategies": cs.close_refs(args.close_strategy) or None,
        "stop_loss_pct": args.stop_loss_pct,
        "stop_loss_atr_mult": args.stop_loss_atr_mult,
        "trailing_stop_pct": args.trailing_stop_pct,
        "trailing_stop_atr_mult": args.trailing_stop_atr_mult,
        "regime_enabled": args.regime_enabled,
        "allowed_regimes": tuple(args.allowed_regimes) if args.allowed_regimes else None,
        "regime_period": args.regime_period,
        "regime_adx_threshold": args.regime_adx_threshold,
        "regime_windows": args.regime_windows_spec_json,
        "symbol": args.symbol,
        "timeframe": args.timeframe,
        "registry": args.registry,
        "htf_filter": args.htf_filter,
        "intrabar_resolution": args.intrabar_resolution,
        "atr_method": args.atr_method,
        "defaults": args.defaults,
    }


def _check_regime_flags(settings: Any) -> None:
    """The --regime-* flags in the ranges the config allows; a bad windows spec is a usage error."""
    from shared_tools.regime import parse_windows_spec_json

    if not 2 <= settings.regime_period <= 500:
        raise cs.UsageError(f"--regime-period must be in [2, 500], got {settings.regime_period}")
    if not 0 < settings.regime_adx_threshold <= 100:
        raise cs.UsageError(
            f"--regime-adx-threshold must be in (0, 100], got {settings.regime_adx_threshold:g}"
        )
    try:
        parse_windows_spec_json(settings.regime_windows)
    except ValueError as exc:
        raise cs.UsageError(f"--regime-windows-spec-json: {exc}") from None


def build_job(args: argparse.Namespace) -> cs.Job:
    """The strategy, params and BacktestSettings the flags (and --config) describe."""
    settings_cls = _engine().BacktestSettings
    if args.config:
        job = cs.from_config(args.config, args.strategy_id, settings_cls)
    else:
        job = cs.Job(strategy=args.strategy or "", settings=settings_cls(timeframe="1d"))
    flags = _flag_settings(args)
    given_stops = [k for k in STOP_KEYS if flags[k] is not None]
    if len(given_stops) > 1:
        raise cs.UsageError(f"set at most one stop flag, got --{', --'.join(given_stops)}")
    try:
        if given_stops:  # a stop flag replaces the config's stop rather than adding a second
            job.settings = replace(job.settings, **dict.fromkeys(STOP_KEYS))
            job.settings = replace(
                job.settings, stop_loss_atr_regime=(), trailing_stop_atr_regime=()
            )
        job.settings = cs.override(job.settings, **flags)
    except TypeError as exc:
        raise cs.UsageError(f"settings: {exc}") from None
    if job.settings.instrument == "spot" and job.settings.direction != "long":
        raise cs.UsageError(
            f"--direction {job.settings.direction}: spot is long-only; "
            "add --instrument perps or futures"
        )
    if job.settings.allowed_regimes and not job.settings.regime_enabled:
        raise cs.UsageError("--allowed-regimes needs --regime-enabled")
    _check_regime_flags(job.settings)
    registry = cs.registry_for(job.settings.instrument, job.settings.registry)
    for name in _strategy_names(job.strategy, registry):
        cs.check_strategy(name, registry)
    if not args.config:
        single = job.strategy if job.strategy and "," not in job.strategy else None
        job.params = cs.parse_params(args.params, single, registry)
    if args.sweep_close:
        job.close_stacks = cs.close_stacks_from_json(args.close_stacks_json)
    cs.apply_defaults(job, closes_given=flags["close_strategies"] is not None)
    if args.defaults == "user" and not cs.user_defaults_to_apply(job):
        print(
            f"{PROG}: note: --defaults user: no user_defaults apply to this strategy; "
            "it runs with its own settings",
            file=sys.stderr,
        )
    return job


def _strategy_names(text: str, registry: str) -> list[str]:
    """Comma-separated --strategy names, or every discovery-visible strategy of the registry."""
    if text:
        return [n.strip() for n in text.split(",") if n.strip()]
    return [row["id"] for row in open_registry.list_json(registry)]


# ---------------------------------------------------------------- running


class Runner:
    """Loads candles once per symbol and runs the engine; knows the time range and source."""

    def __init__(self, args: argparse.Namespace, job: cs.Job) -> None:
        self.args = args
        self.job = job
        self.source = bd.resolve_source(args.data, job.market_data)
        now = now_utc()
        self.until = bd.parse_when(args.until, flag="--until", until=now) if args.until else None
        self.since = bd.parse_when(args.since or "2022-01-01", flag="--since", until=self.until)
        self._candles: dict[str, bd.Candles] = {}

    def candles(self, symbol: str) -> bd.Candles:
        if symbol not in self._candles:
            s = self.job.settings
            candles = bd.load_candles(
                symbol,
                s.timeframe,
                self.since,
                self.until,
                source=self.source,
                platform=s.platform,
                instrument=s.instrument,
                warmup=self.args.warmup,
            )
            if s.htf_filter:
                candles.df = htf_bars.attach(candles.df, s.timeframe, self._htf(symbol, candles))
            self._candles[symbol] = candles
        return self._candles[symbol]

    def _htf(self, symbol: str, candles: bd.Candles) -> Any:
        """The higher-timeframe candles the live filter reads, from the same source."""
        s = self.job.settings
        tf = htf_filter.htf_timeframe(s.timeframe)
        if tf not in TIMEFRAMES:  # live: an HTF the market does not serve is a 0 trend
            print(
                f"{PROG}: note: --htf-filter: no {tf} candles; every signal passes", file=sys.stderr
            )
            return None
        return bd.load_candles(
            symbol,
            tf,
            candles.df.index[0].to_pydatetime(),
            self.until,
            source=self.source,
            platform=s.platform,
            instrument=s.instrument,
            warmup=htf_filter.HTF_CANDLES,
        ).df

    def run(self, strategy: str, symbol: str, params: dict | None = None) -> Any:
        candles = self.candles(symbol)
        settings = replace(self.job.settings, symbol=symbol)
        return _engine().run(candles.df, strategy, params or {}, settings, since=candles.since)


def _json_out(doc: Any) -> None:
    print(json.dumps(reporter._clean(doc), indent=2, allow_nan=False))


def mode_single(runner: Runner) -> int:
    job, args = runner.job, runner.args
    result = runner.run(job.strategy, job.settings.symbol, job.params)
    m = metrics(result)
    if args.html:
        try:
            Path(args.html).write_text(reporter.html_report(result, m), encoding="utf-8")
        except OSError as exc:
            raise RunError(f"--html {args.html}: cannot write ({exc.strerror or exc})") from None
    if args.json:
        _json_out(reporter.json_document(result, m))
    else:
        print(reporter.text_report(result, m))
        if args.html:
            print(f"\nHTML report written to {args.html}")
    return 0


def _rows(runner: Runner, strategies: list[str], symbols: list[str]) -> list[dict]:
    rows = []
    params = runner.job.params if len(strategies) == 1 else {}
    for symbol in symbols:
        try:
            runner.candles(symbol)
        except MarketDataError as exc:  # one symbol without data fails its rows, not the run
            rows += [
                {"strategy": n, "symbol": symbol, "error": one_line(exc, 200)} for n in strategies
            ]
            continue
        for name in strategies:
            row: dict[str, Any] = {"strategy": name, "symbol": symbol}
            try:
                row.update(metrics(runner.run(name, symbol, params)))
            except (ValueError, RuntimeError, KeyError) as exc:
                row["error"] = one_line(exc, 200)
            rows.append(row)
    return rows


def mode_table(runner: Runner, multi: bool) -> int:
    registry = cs.registry_for(runner.job.settings.instrument, runner.job.settings.registry)
    strategies = _strategy_names(runner.job.strategy, registry)
    symbols = (
        list(runner.args.symbols or DEFAULT_SYMBOLS) if multi else [runner.job.settings.symbol]
    )
    rows = _rows(runner, strategies, symbols)
    if all(r.get("error") for r in rows):
        raise RunError(f"every run failed; first: {rows[0]['strategy']}: {rows[0]['error']}")
    if runner.args.json:
        _json_out({"mode": "multi" if multi else "compare", "rows": rows})
        return 0
    s = runner.job.settings
    where = ", ".join(symbols)
    print(f"{'Multi-asset' if multi else 'Comparison'}: {where} {s.timeframe} on {s.platform}")
    print(reporter.comparison_table(rows, limit=MULTI_TOP if multi else None))
    return 0


def mode_optimize(runner: Runner) -> int:
    try:
        from backtest import optimizer
    except ImportError as exc:
        raise RunError(f"optimizer unavailable ({exc})") from None
    args, job = runner.args, runner.job
    registry = cs.registry_for(job.settings.instrument, job.settings.registry)
    docs = []
    for name in _strategy_names(job.strategy, registry):
        candles = runner.candles(job.settings.symbol)
        wf = optimizer.walk_forward(
            candles.df,  # bars before --since warm the first fold's indicators up
            name,
            job.settings,
            n_splits=args.splits,
            metric=args.optimize_metric,
            workers=args.workers,
            dask_address=args.dask,
            progress=True,
            since=candles.since,
            close_stacks=job.close_stacks,
        )
        if args.json:
            doc = wf.to_dict()
            for fold in doc["folds"]:  # times as everywhere else: ISO-8601 with Z
                fold["train"] = [reporter.iso(t) for t in fold["train"]]
                fold["test"] = [reporter.iso(t) for t in fold["test"]]
            docs.append(doc)
        else:
            print(f"Walk-forward: {name} {job.settings.symbol} {job.settings.timeframe}")
            print(reporter.walk_forward_table(wf))
            print()
    if args.json:
        _json_out({"mode": "optimize", "results": docs})
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if args.mode is None:
            args.mode = "single" if args.config else "compare"
        _check_args(args)
        job = build_job(args)
        runner = Runner(args, job)
    except cs.UsageError as exc:
        print(f"{PROG}: error: {one_line(exc)}", file=sys.stderr)
        return 2
    except ValueError as exc:  # bad --since/--until/--data values
        print(f"{PROG}: error: {one_line(exc)}", file=sys.stderr)
        return 2
    except RunError as exc:
        print(f"{PROG}: {one_line(exc)}", file=sys.stderr)
        return 1
    try:
        if args.mode == "single":
            return mode_single(runner)
        if args.mode == "optimize":
            return mode_optimize(runner)
        return mode_table(runner, multi=args.mode == "multi")
    except bd.RangeError as exc:
        print(f"{PROG}: error: {one_line(exc)}", file=sys.stderr)
        return 2
    except (RunError, MarketDataError) as exc:
        print(f"{PROG}: {one_line(exc)}", file=sys.stderr)
        return 1
    except ValueError as exc:  # the engine refused the settings or the range
        print(f"{PROG}: {one_line(exc)}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # stdout closed early (| head): not an error worth a message
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - keep the interpreter's flush quiet
        return 0
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # an engine bug is still one line, never a traceback
        print(f"{PROG}: {type(exc).__name__}: {one_line(exc)}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
