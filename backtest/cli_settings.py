"""run_backtest's flags and live config entries -> what the engine takes (BacktestSettings).

Two ways in: flags (``--platform --direction --close-strategy ...``), or ``--config <file>
--strategy-id <id>``, which reads a live strategy with the supervisor's own loader
(``shared_tools.config``, below both) and maps its
StrategyConfig field by field, so the backtest runs the strategy exactly as configured.
Problems raise :class:`UsageError` with one line naming the flag or config key.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field, replace
from typing import Any

from backtest import close_stacks
from backtest.close_stacks import STOP_KEYS
from shared_strategies.close import registry as close_registry
from shared_strategies.open import registry as open_registry

__all__ = ["Job", "UsageError", "close_refs", "from_config", "parse_params", "registry_for"]

REGIMES = ("trending_up", "trending_down", "ranging")
DEFAULTS = ("system", "user")


class UsageError(ValueError):
    """A bad flag or flag combination: one line, exit status 2."""


@dataclass
class Job:
    """What to backtest: the open strategy, its params and the engine settings."""

    strategy: str
    params: dict = field(default_factory=dict)
    settings: Any = None  # BacktestSettings
    market_data: str | None = None  # the config's market_data, when from --config
    close_stacks: list | None = None  # --sweep-close: the CloseStacks to co-optimise
    # --config: the close refs without the injected user_defaults.close tiers (--defaults
    # system), and the user_defaults parts the config's strategy took (--defaults user)
    system_closes: tuple | None = None
    user_parts: tuple[str, ...] = ()


def registry_for(instrument: str, chosen: str = "") -> str:
    """The open-strategy registry: ``--registry``, else spot, or futures for perps/futures."""
    return chosen or ("spot" if instrument == "spot" else "futures")


def parse_params(text: str | None, strategy: str | None, registry: str) -> dict:
    """--params JSON, checked against the strategy's known params."""
    if not text:
        return {}
    try:
        params = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(f"--params: invalid JSON ({exc.msg} at column {exc.colno})") from None
    if not isinstance(params, dict):
        raise UsageError("--params: must be a JSON object like '{\"roc_period\": 14}'")
    if strategy:
        try:
            open_registry.merged_params(strategy, params, registry)
        except ValueError as exc:
            raise UsageError(f"--params: {exc}") from None
    return params


def _close_ref(text: str) -> dict:
    raw = text.strip()
    if raw.startswith("{"):
        try:
            ref = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise UsageError(f"--close-strategy: invalid JSON ({exc.msg})") from None
        if not isinstance(ref, dict) or not isinstance(ref.get("name"), str):
            raise UsageError('--close-strategy: a JSON ref needs "name" (and optional "params")')
        unknown = sorted(set(ref) - {"name", "params"})
        if unknown:
            raise UsageError(f"--close-strategy: unknown key(s) {', '.join(unknown)} in JSON ref")
        params = ref.get("params") or {}
        if not isinstance(params, dict):
            raise UsageError('--close-strategy: "params" must be a JSON object')
        name = ref["name"]
    else:
        name, params = raw, {}
    try:
        close_registry.default_params(name)
    except Exception:
        known = ", ".join(close_registry.names())
        raise UsageError(
            f"--close-strategy: unknown close strategy {name!r} (known: {known})"
        ) from None
    return {"name": name, "params": params}


def close_refs(values: list[str] | None) -> tuple[dict, ...]:
    """Repeatable --close-strategy: bare names or JSON {"name", "params"} refs."""
    return tuple(_close_ref(v) for v in values or [])


def check_strategy(name: str, registry: str) -> None:
    try:
        open_registry.get(name, registry)
    except open_registry.UnknownStrategyError as exc:
        raise UsageError(f"--strategy: {exc}") from None


def _unset(value: float) -> float | None:
    return float(value) if value else None


def _windows_spec(regime_args: tuple[str, ...]) -> str:
    """The windows spec the config's regime section hands every check ("" = none)."""
    flag = "--regime-windows-spec-json="
    return next((a[len(flag) :] for a in regime_args if a.startswith(flag)), "")


def from_config(path: str, sid: str, settings_cls: type) -> Job:
    """A live strategy as configured: open ref, closes, direction, stops, venue, market.

    It runs as the supervisor runs it, with the file's ``user_defaults`` injected
    (``defaults`` = ``user``); ``--defaults system`` takes them back out (:func:`apply_defaults`).
    """
    # The supervisor's own config loader (shared_tools.config, below both): reading the file
    # with it is what makes the backtest match the live strategy.
    from shared_tools.config.load import load_config
    from shared_tools.config.model import ConfigError

    try:
        cfg = load_config(path)
    except ConfigError as exc:
        raise UsageError(f"--config: {exc.lines[0] if exc.lines else exc}") from None
    try:
        s = cfg.strategy(sid)
    except KeyError:
        known = ", ".join(x.id for x in cfg.strategies[:20])
        raise UsageError(f"--strategy-id: no strategy {sid!r} in {path} (known: {known})") from None
    if s.type not in ("spot", "perps", "futures"):
        raise UsageError(f"--strategy-id {sid}: type {s.type!r} cannot be backtested here")
    if not s.symbol or not s.timeframe:
        raise UsageError(f"--strategy-id {sid}: its args name no symbol/timeframe")
    if s.check_args.symbol_b:
        raise UsageError(f"--strategy-id {sid}: pair strategies cannot be backtested here")
    instrument = s.type if s.type in ("perps", "futures") else "spot"
    stop_pct = _unset(s.stop_loss_pct)
    if not stop_pct and s.stop_loss_margin_pct:
        stop_pct = s.stop_loss_margin_pct / max(s.leverage, 1e-9)  # margin % -> price move %
    if s.hedge is not None and s.hedge.enabled:  # upstream's backtester does not either
        print(f"run_backtest: note: {sid}: hedge not modelled by the backtester", file=sys.stderr)
    user_parts = tuple(sorted({k for k, v in s.sources.items() if v == "user_defaults"}))
    balance = float(s.capital) or settings_cls.capital  # capital_pct without capital: --capital
    settings = settings_cls(
        defaults="user" if user_parts else "system",  # as the supervisor runs it
        capital=balance,
        capital_pct=s.capital_pct or None,  # the backtest's capital = this x the balance
        scale_in=s.scale_in if s.scale_in.enabled else None,
        platform=s.platform,
        instrument=instrument,
        direction="long" if instrument == "spot" else s.direction,
        invert_signal=bool(s.invert_signal),
        # the book sizes by this; margin_per_trade_usd multiplies by the exchange leverage
        leverage=float(
            (s.leverage if s.margin_per_trade_usd else s.sizing_leverage or s.leverage) or 1.0
        ),
        margin_per_trade_usd=_unset(s.margin_per_trade_usd),
        risk_per_trade_pct=_unset(s.risk_per_trade_pct),
        close_strategies=tuple(c.as_json() for c in s.close_strategies),
        stop_loss_pct=stop_pct,
        stop_loss_atr_mult=_unset(s.stop_loss_atr_mult),
        trailing_stop_pct=_unset(s.trailing_stop_pct),
        trailing_stop_atr_mult=_unset(s.trailing_stop_atr_mult),
        regime_enabled="--regime-enabled" in s.regime_args,
        allowed_regimes=tuple(s.allowed_regimes),
        **_regime(cfg, s),
        symbol=s.symbol,
        timeframe=s.timeframe,
        fee_per_contract=float(s.futures_fee_per_contract),
        max_contracts=int(s.futures_max_contracts),
        atr_method=s.atr_method,  # its own, else the config's top-level atr_method
        htf_filter=bool(s.htf_filter),
        regime_windows=_windows_spec(s.regime_args),
        regime_gate_window=s.regime_gate_window,
    )
    return Job(
        strategy=s.open_strategy.name,
        params=dict(s.open_strategy.params),
        settings=settings,
        market_data=cfg.market_data,
        system_closes=_system_closes(s),
        user_parts=user_parts,
    )


def _system_closes(s: Any) -> tuple[dict, ...]:
    """The strategy's close refs without the tiers ``user_defaults.close`` injected."""
    refs = [c.as_json() for c in s.close_strategies]
    for i, ref in enumerate(refs):
        injected = (f"close_strategies[{i}].tp_tiers", "close_strategy.tp_tiers")
        if any(s.sources.get(k) == "user_defaults" for k in injected):
            ref["params"] = {k: v for k, v in ref["params"].items() if k != "tp_tiers"}
    return tuple(refs)


def _regime(cfg: Any, s: Any) -> dict[str, Any]:
    """The strategy's regime policies, as the supervisor reads them (the windows spec and the
    gate's window come from its argv, below)."""
    return {
        "regime_atr_window": s.regime_atr_window,
        "stop_loss_atr_regime": tuple(s.stop_loss_atr_regime),
        "trailing_stop_atr_regime": tuple(s.trailing_stop_atr_regime),
        "directional_policy": s.directional_policy,
    }


def override(settings: Any, **changes: Any) -> Any:
    """The settings with the flags the operator gave explicitly (None = not given)."""
    given = {k: v for k, v in changes.items() if v is not None}
    return replace(settings, **given) if given else settings


def user_defaults_to_apply(job: Job) -> list[str]:
    """The ``user_defaults`` values ``--defaults user`` applies to this run (key paths).

    The config loader injects ``user_defaults`` (shared_tools/config/user_defaults.py) as the
    supervisor sees it; a run from flags alone has none to apply.
    """
    return list(job.user_parts) if job.system_closes is not None else []


def apply_defaults(job: Job, closes_given: bool) -> None:
    """``--defaults system`` on a ``--config`` run: the close refs without the user tiers
    (unless ``--close-strategy`` replaced the refs anyway)."""
    if job.settings.defaults == "system" and job.system_closes is not None and not closes_given:
        job.settings = replace(job.settings, close_strategies=job.system_closes)


def check_engine_flags(args: Any) -> None:
    """Upstream's rejections for its engine flags (exit 2, one line)."""
    if args.mode == "optimize":
        for flag in ("intrabar_resolution", "atr_method"):
            if getattr(args, flag):
                raise UsageError(f"--{flag.replace('_', '-')}: not supported in optimize mode")
    if args.atr_method and args.config:
        raise UsageError("--atr-method: not with --config (the config's atr_method is used)")
    if args.close_stacks_json:
        args.sweep_close = True
    if args.sweep_close:
        if args.mode != "optimize":
            raise UsageError("--sweep-close/--close-stacks-json: optimize mode only")
        given = [f for f in ("close_strategy", *STOP_KEYS) if getattr(args, f) is not None]
        if given:
            raise UsageError(
                f"--sweep-close: the close stacks own the exits; drop --{given[0].replace('_', '-')}"
            )


def close_stacks_from_json(text: str | None) -> list:
    """--sweep-close's stacks: upstream's 25 defaults, or --close-stacks-json's."""
    if not text:
        return close_stacks.default_stacks()
    try:
        return close_stacks.parse_stacks_json(text, lambda ref: close_refs([ref])[0])
    except ValueError as exc:
        msg = str(exc)
        raise UsageError(
            msg if msg.startswith("--close-stacks-json") else f"--close-stacks-json: {msg}"
        ) from None
