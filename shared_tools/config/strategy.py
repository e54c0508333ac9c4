"""Check one ``strategies[]`` entry of the config and build its :class:`StrategyConfig`.

A strategy's ``args`` are parsed by the worker's own argv spec (``shared_tools/check_argv.py``),
so the supervisor marks, charges and checks the same symbol and venue the worker trades; the
trading keys (direction, leverage, stops, futures, regime gate) and the fit of type, script and
platform are :mod:`shared_tools.config.trading`; the script, the args and the strategy refs
are checked by :mod:`shared_tools.config.worker_args`. Every problem is appended to the caller's ``errors`` (or ``warnings``) as one line naming the strategy
and the key, so all of them are reported at once.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from shared_tools import strategy_status
from shared_tools.check_argv import (
    CheckArgs,
    script_venue,
    without_flag,
)
from shared_tools.config import schema, worker_args
from shared_tools.config.checks import (
    ID_PATTERN,
    STRATEGY_KEYS,
    STRATEGY_KEYS_NOT_YET,
    in_range,
    is_int,
    range_text,
    show_key,
    text_problem,
    unbuilt_key,
    unknown_key_line,
)
from shared_tools.config.hedge import hedge_settings
from shared_tools.config.live import live_refusal
from shared_tools.config.manual import MANUAL, manual_entry, manual_key_problems
from shared_tools.config.model import (
    StrategyConfig,
    StrategyRef,
    infer_platform,
    prefix_platform,
)
from shared_tools.config.options import options_settings
from shared_tools.config.sizing_keys import capital_fields, capital_pct, scale_in_terms
from shared_tools.config.trading import (
    TradingContext,
    leverage_warnings,
    trading_fields,
    venue_problems,
)
from shared_tools.config.user_defaults import UserDefaults, inject_close_defaults, manual_sources
from shared_tools.text import show

__all__ = ["KNOWN_TYPES", "SUPPORTED_TYPES", "parse_strategy"]

SUPPORTED_TYPES = ("spot", "options", "perps", "futures", "manual")
# Types whose args follow the signal checks' argv (check_argv.py); options have their own.
SIGNAL_TYPES = ("spot", "perps", "futures", "manual")
KNOWN_TYPES = schema.row(schema.STRATEGY, "type").choices
MAX_CAPITAL = schema.MAX_CAPITAL
MAX_COOLDOWN_MINUTES = schema.MAX_COOLDOWN_MINUTES
MAX_LOSS_STREAK = int(schema.bounds(schema.STRATEGY, "cb_loss_streak_threshold")[1])
MAX_ARGS = 64
MAX_ARG_CHARS = 4096
MAX_REFS_CHARS = 16384  # --strategy-refs JSON, well under the kernel's 128 KiB per argv item
PLATFORM_PATTERN = re.compile(r"[A-Za-z0-9._-]{1,32}")

# Type defaults for max_drawdown_pct, as upstream.
DEFAULT_MAX_DRAWDOWN = {"options": 40.0, "perps": 50.0, "futures": 45.0, "manual": 50.0}
DEFAULT_MAX_DRAWDOWN_OTHER = 60.0


@dataclass
class _Entry:
    """One strategy entry being checked; problems go to the caller's lists as they are found."""

    raw: dict
    where: str
    errors: list[str]
    warnings: list[str]

    def opt(self, key: str, default=None):
        """``key`` checked against its schema row; its default (the schema's unless given)."""
        row = schema.row(schema.STRATEGY, key)
        lo, hi = schema.bounds(schema.STRATEGY, key)
        integer, lo_open = row.integer, row.lo_open
        default = row.default if default is None else default
        value = self.raw.get(key, default)
        if not in_range(value, lo, hi, integer=integer, lo_open=lo_open):
            expect = range_text(lo, hi, integer=integer, lo_open=lo_open)
            self.errors.append(f"{self.where}: {key} must be {expect}, got {show(value)}")
            return default
        return value

    def flag(self, key: str) -> bool:
        default = bool(schema.default(schema.STRATEGY, key))
        value = self.raw.get(key, default)
        if not isinstance(value, bool):
            self.errors.append(f"{self.where}: {key} must be true or false, got {show(value)}")
            return default
        return value

    def check_keys(self) -> None:
        where = self.where
        for key in self.raw:
            if key in STRATEGY_KEYS:
                continue
            if key in STRATEGY_KEYS_NOT_YET:
                unbuilt_key(schema.STRATEGY, where, key, self.raw[key], self.errors, self.warnings)
                continue
            self.errors.append(unknown_key_line(where, key, STRATEGY_KEYS | STRATEGY_KEYS_NOT_YET))

    def stype(self) -> str:
        where, stype = self.where, self.raw.get("type")
        if stype not in KNOWN_TYPES:
            self.errors.append(
                f"{where}: type must be one of {', '.join(KNOWN_TYPES)}, got {show(stype)}"
            )
        elif stype not in SUPPORTED_TYPES:
            self.errors.append(
                f"{where}: type '{stype}' is not supported by this build yet (supported: "
                f"{', '.join(SUPPORTED_TYPES)})"
            )
        return str(stype) if stype in KNOWN_TYPES else ""

    def declared_platform(self, sid: str) -> tuple[str | None, str]:
        """The platform the entry names (platform key, else id prefix) and which one named it."""
        declared = self.raw.get("platform")
        declared_by = "platform key"
        if declared is None or declared == "":
            declared, declared_by = prefix_platform(sid), "id prefix"
        elif not isinstance(declared, str) or not PLATFORM_PATTERN.fullmatch(declared):
            self.errors.append(
                f"{self.where}: platform must match [A-Za-z0-9._-]+ (at most 32 characters), "
                f"got {show(declared)}"
            )
            declared = None
        return declared, declared_by

    def script(self) -> tuple[object, bool]:
        allow_external = self.raw.get("allow_external_script", False)
        if not isinstance(allow_external, bool):
            self.errors.append(
                f"{self.where}: allow_external_script must be true or false, "
                f"got {show(allow_external)}"
            )
            allow_external = False
        script = self.raw.get("script")
        worker_args.check_script(script, allow_external, self.where, self.errors)
        return script, allow_external

    def args(self, stype: str, script: object) -> tuple[list, CheckArgs, dict | None]:
        """The args as configured, parsed by the worker's rules, and their --params object."""
        where, errors = self.where, self.errors
        args = self.raw.get("args", [])
        parsed, extra_params = CheckArgs(), None
        if not isinstance(args, list):
            errors.append(f"{where}: args must be a list of strings, got {show(args)}")
            args = []
        elif len(args) > MAX_ARGS:
            errors.append(f"{where}: args must have at most {MAX_ARGS} items, got {len(args)}")
            args = []
        else:
            bad = [(j, p) for j, a in enumerate(args) if (p := text_problem(a, MAX_ARG_CHARS))]
            for j, problem in bad[:3]:
                errors.append(f"{where}: args[{j}] {problem}")
            if bad:
                args = []
            elif stype in SIGNAL_TYPES:
                name = script if isinstance(script, str) else ""
                parsed, extra_params = worker_args.parse_args(args, name, where, errors)
        return args, parsed, extra_params

    def platform(
        self,
        sid: str,
        stype: str,
        declared: str | None,
        declared_by: str,
        parsed: CheckArgs,
        script: object,
    ) -> tuple[str, str]:
        """The venue and what named it: --platform in args must agree with the declared one;
        else the venue script's own venue, else inferred from the id and type."""
        platform = declared
        if parsed.platform is not None:
            if not PLATFORM_PATTERN.fullmatch(parsed.platform):
                self.errors.append(
                    f"{self.where}: --platform in args is not a platform name: "
                    f"{show(parsed.platform)}"
                )
            elif declared is not None and parsed.platform != declared:
                self.errors.append(
                    f"{self.where}: args say --platform={parsed.platform} but the {declared_by} "
                    f"says {declared}; make them agree"
                )
            else:
                platform, declared_by = parsed.platform, "--platform in args"
        if platform is None:
            venue = script_venue(script) if isinstance(script, str) else None
            return venue or infer_platform(sid, stype), "inferred"
        return platform, declared_by

    def interval(self, global_interval: int) -> Any:
        interval = self.raw.get("interval_seconds", 0)
        if interval != 0 or not is_int(interval):
            interval = self.opt("interval_seconds")
            if interval > global_interval:
                self.warnings.append(
                    f"{self.where}: interval_seconds {interval} is longer than the global "
                    f"{global_interval}"
                )
        return interval

    def open_ref(
        self, parsed: CheckArgs, extra_params: dict | None, args: list
    ) -> tuple[StrategyRef, list]:
        """open_strategy, with --params from args folded in (and removed from the args)."""
        where = self.where
        open_ref = worker_args.ref(
            self.raw.get("open_strategy"), where, "open_strategy", self.errors
        )
        if open_ref is None:
            open_ref = StrategyRef(parsed.strategy or "", {})
        elif parsed.strategy and open_ref.name != parsed.strategy:
            self.errors.append(
                f"{where}: open_strategy.name '{open_ref.name}' differs from the strategy in "
                f"args {show(parsed.strategy)}"
            )
        if extra_params is not None:
            # The worker applies --params over open_strategy.params; fold them into one place so
            # a reload sees a params change as such, and refuse a key set twice differently.
            clash = sorted(k for k, v in extra_params.items() if open_ref.params.get(k, v) != v)
            if clash:
                shown = ", ".join(show_key(k) for k in clash[:3])
                self.errors.append(
                    f"{where}: --params in args and open_strategy.params set {shown} "
                    "differently; keep one"
                )
            open_ref = StrategyRef(open_ref.name, {**open_ref.params, **extra_params})
            args = without_flag(args, "--params")
        return open_ref, args

    def closes(self) -> list[StrategyRef]:
        where, entry, errors = self.where, self.raw, self.errors
        closes: list[StrategyRef] = []
        if "close_strategy" in entry:
            ref = worker_args.ref(entry["close_strategy"], where, "close_strategy", errors)
            closes = [ref] if ref else []
        if "close_strategies" in entry:
            raw_closes = entry["close_strategies"]
            if not isinstance(raw_closes, list):
                errors.append(f"{where}: close_strategies must be a list, got {show(raw_closes)}")
            else:
                for j, item in enumerate(raw_closes[:MAX_ARGS]):
                    ref = worker_args.ref(item, where, f"close_strategies[{j}]", errors)
                    if ref:
                        closes.append(ref)
                if len(raw_closes) > MAX_ARGS:
                    errors.append(f"{where}: close_strategies must have at most {MAX_ARGS} items")
        return closes

    def check_status(self, name: str, allow_deprecated: bool) -> None:
        """Backtest-only strategies cannot run live; deprecated ones warn unless allowed."""
        if name in strategy_status.BACKTEST_ONLY:
            self.errors.append(
                f"{self.where}: strategy {show(name)} is backtest-only; run it with "
                "backtest/run_backtest.py, not the supervisor"
            )
        elif name in strategy_status.DEPRECATED and not allow_deprecated:
            self.warnings.append(
                f"{self.where}: strategy {show(name)} is deprecated upstream (M5 fee audit); "
                'set "allow_deprecated": true to keep it without this warning'
            )

    def check_refs_size(self, open_ref: StrategyRef, closes: list[StrategyRef]) -> None:
        refs = {"open": open_ref.as_json(), "closes": [c.as_json() for c in closes]}
        if len(json.dumps(refs)) > MAX_REFS_CHARS:
            self.errors.append(
                f"{self.where}: strategy params are too large (over {MAX_REFS_CHARS} characters "
                "as JSON)"
            )

    def atr_method(self, default: str) -> str:
        """The strategy's own atr_method, else ``default`` (the top-level one); "" is unset,
        as upstream's Go zero value."""
        row = schema.row(schema.STRATEGY, "atr_method")
        atr_method = self.raw.get("atr_method")
        if atr_method is None or atr_method == "":
            return default
        if atr_method not in row.choices:
            self.errors.append(
                f"{self.where}: atr_method must be {' or '.join(row.choices)}, "
                f"got {show(atr_method)}"
            )
            return default
        return str(atr_method)


def parse_strategy(
    entry: object,
    index: int,
    label: str,
    global_interval: int,
    errors: list[str],
    warnings: list[str],
    ctx: TradingContext | None = None,
) -> StrategyConfig | None:
    """``strategies[index]`` checked and defaulted, or None when it has any problem.

    ``ctx`` holds the top-level settings the trading keys default from.
    """
    if not isinstance(entry, dict):
        errors.append(f"config {label}: strategies[{index}] must be an object, got {show(entry)}")
        return None
    sid = entry.get("id")
    if not isinstance(sid, str) or not ID_PATTERN.fullmatch(sid):
        errors.append(
            f"config {label}: strategies[{index}]: id must match [A-Za-z0-9._-]+ "
            f"(at most 64 characters), got {show(sid)}"
        )
        return None
    e = _Entry(entry, f"config {label}: strategy[{sid}]", errors, warnings)
    n_errors = len(errors)
    if entry.get("type") == "options":  # upstream's own rules (config/options.py)
        declared, _by = e.declared_platform(sid)
        opts = options_settings(entry, e.where, sid, declared, errors)
    elif entry.get("theta_harvest") not in (None, False):
        errors.append(f"{e.where}: theta_harvest applies to type options only; remove it")

    e.check_keys()
    sources: dict[str, str] = {}
    if entry.get("type") == MANUAL:  # upstream's load-time defaults (config/manual.py)
        before = entry
        entry = e.raw = manual_entry(entry, e.where, errors, ctx.manual if ctx else None)
        sources.update(manual_sources(before, entry, ctx.user if ctx else UserDefaults()))
    else:
        errors.extend(manual_key_problems(entry, e.where))
    if ctx is not None:  # user_defaults.close, before the checks (config/user_defaults.py)
        entry = e.raw = inject_close_defaults(entry, ctx.user.close, sources)
    stype = e.stype()
    kind = "perps" if stype == MANUAL else stype  # a manual book is a perps book
    declared, declared_by = e.declared_platform(sid)
    script, allow_external = e.script()
    args, parsed, extra_params = e.args(stype, script)
    platform, platform_by = e.platform(sid, stype, declared, declared_by, parsed, script)
    if stype == "options":
        platform, platform_by = opts.platform, "options"
    if stype in SIGNAL_TYPES and isinstance(script, str):
        inst_type = parsed.inst_type if parsed.strategy else ""  # "": args did not parse
        for problem in venue_problems(kind, script, platform, inst_type, platform_by):
            errors.append(f"{e.where}: {problem}")
        if parsed.mode == "live" and live_refusal(str(platform), kind):
            errors.append(f"{e.where}: {live_refusal(str(platform), kind)}")
    trading: dict = {}
    if stype in SIGNAL_TYPES:
        ctx = ctx or TradingContext()
        trading = trading_fields(entry, e.where, kind, platform, ctx, errors, warnings)
        if kind == "perps" and parsed.symbol:
            warnings.extend(leverage_warnings(e.where, str(platform), parsed.symbol, trading))
        live = parsed.mode == "live"
        trading["scale_in"] = scale_in_terms(entry, e.where, kind, platform, live, trading, errors)
    pct = capital_pct(entry, e.where, (ctx or TradingContext()).capital_pct, errors, warnings)
    capital, initial = capital_fields(entry, e.where, pct, errors)
    default_dd = DEFAULT_MAX_DRAWDOWN.get(stype, DEFAULT_MAX_DRAWDOWN_OTHER)
    max_dd = e.opt("max_drawdown_pct", default_dd)
    interval = e.interval(global_interval)
    if stype == "options":
        open_ref, closes = StrategyRef(opts.strategy, {}), []
        trading["options"] = opts
    else:
        open_ref, args = e.open_ref(parsed, extra_params, args)
        closes = e.closes()
    e.check_refs_size(open_ref, closes)
    cb = e.flag("circuit_breaker")
    cb_dd = e.opt("cb_drawdown_cooldown_minutes")
    cb_n = e.opt("cb_loss_streak_threshold")
    cb_ls = e.opt("cb_loss_streak_cooldown_minutes")
    atr_method = e.atr_method(ctx.atr_method if ctx else TradingContext.atr_method)
    paused = e.flag("paused")
    allow_deprecated = e.flag("allow_deprecated")
    htf_filter = e.flag("htf_filter")
    e.check_status(open_ref.name, allow_deprecated)
    hedge = hedge_settings(
        entry.get("hedge"),
        e.where,
        kind=kind,
        platform=str(platform),
        direction=str(trading.get("direction", "long")),
        live=parsed.mode == "live",
        errors=errors,
    )

    if len(errors) > n_errors:
        return None
    return StrategyConfig(
        id=sid,
        type=stype,
        platform=str(platform),
        script=str(script),
        args=list(args),
        capital=float(capital),
        initial_capital=float(initial),
        capital_pct=pct,
        max_drawdown_pct=float(max_dd),
        interval_seconds=int(interval),
        open_strategy=open_ref,
        close_strategies=closes,
        circuit_breaker=cb,
        cb_drawdown_cooldown_minutes=float(cb_dd),
        cb_loss_streak_threshold=int(cb_n),
        cb_loss_streak_cooldown_minutes=float(cb_ls),
        atr_method=atr_method,
        paused=paused,
        allow_external_script=allow_external,
        allow_deprecated=allow_deprecated,
        htf_filter=htf_filter,
        sources=sources,
        hedge=hedge,
        **trading,
    )
