"""run_backtest's flags and live config entries -> what the engine takes (BacktestSettings).

Two ways in: flags (``--platform --direction --close-strategy ...``), or ``--config <file>
--strategy-id <id>``, which reads a live strategy with the supervisor's own loader
(``shared_tools.config``, below both) and maps its
StrategyConfig field by field, so the backtest runs the strategy exactly as configured.
Problems raise :class:`UsageError` with one line naming the flag or config key.
"""

from __future__ import annotations

import json
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
    """A live strategy as configured: open ref, closes, direction, stops, venue, market."""
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
    balance = float(s.capital) or settings_cls.capital  # capital_pct without capital: --capital
    settings = settings_cls(
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
    )


def override(settings: Any, **changes: Any) -> Any:
    """The settings with the flags the operator gave explicitly (None = not given)."""
    given = {k: v for k, v in changes.items() if v is not None}
    return replace(settings, **given) if given else settings


def user_defaults_to_apply(settings: Any) -> list[str]:
    """The ``user_defaults`` parts ``--defaults user`` applies to this run (none yet).

    Upstream's ``--defaults user`` fills what a strategy leaves unset from the config's
    ``user_defaults`` (its ``close`` stack first). The value is plumbed into the settings
    (``BacktestSettings.defaults``) so the injection, when it lands in the config loader, is
    wired here; until then the run says on stderr that nothing was applied.
    """
    del settings
    return []


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
