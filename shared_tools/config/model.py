"""What a loaded config is: the strategies, the settings, and the one error type.

:mod:`shared_tools.config.load` builds these from a file; everything else only reads them.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from pathlib import Path

from shared_tools.book.guard import Protection, stop_after_from_closes, tiers_from_closes
from shared_tools.book.instruments import instrument
from shared_tools.book.model import Position
from shared_tools.book.rules import Rules
from shared_tools.book.scale_in import ScaleIn
from shared_tools.book.venues import CONTRACT_SPECS, mark_venue, taker_fee
from shared_tools.check_argv import (
    DEFAULT_PLATFORM,
    CheckArgs,
    CheckArgvError,
    parse_check_args,
    script_name,
    script_venue,
)
from shared_tools.config.hedge import HedgeSettings
from shared_tools.config.live import LiveSettings
from shared_tools.config.manual import ManualDefaults
from shared_tools.config.notify import NotifySettings
from shared_tools.config.options import OptionsSettings
from shared_tools.config.regime import RegimeSettings
from shared_tools.config.risk import RiskSettings
from shared_tools.config.tuning import TuningSettings
from shared_tools.paths import REPO_ROOT
from shared_tools.regime_policy import DirectionalPolicy
from shared_tools.text import LINE_LIMIT, one_line

__all__ = [
    "MIN_TICK_SECONDS",
    "PLATFORM_PREFIXES",
    "Config",
    "ConfigError",
    "StrategyConfig",
    "StrategyRef",
    "infer_platform",
    "prefix_platform",
    "resolve_script",
]

MIN_TICK_SECONDS = 1

PLATFORM_PREFIXES = {
    "ibkr-": "ibkr",
    "deribit-": "deribit",
    "hl-": "hyperliquid",
    "ts-": "topstep",
    "rh-": "robinhood",
    "luno-": "luno",
    "okx-": "okx",
}


class ConfigError(Exception):
    """One or more config problems; ``lines`` holds one human line per problem."""

    def __init__(self, lines: list[str]) -> None:
        lines = [one_line(line, LINE_LIMIT) for line in lines]
        super().__init__("\n".join(lines))
        self.lines = lines


@dataclass
class StrategyRef:
    name: str
    params: dict = field(default_factory=dict)

    def as_json(self) -> dict:
        return {"name": self.name, "params": self.params}


@functools.lru_cache(maxsize=4096)
def _parsed(args: tuple[str, ...], script: str) -> CheckArgs:
    try:
        return parse_check_args(args, script)
    except CheckArgvError:
        return CheckArgs()


@dataclass
class StrategyConfig:
    id: str
    type: str
    platform: str
    script: str
    args: list[str]  # as configured, with --params folded into open_strategy.params
    capital: float
    initial_capital: float
    max_drawdown_pct: float
    interval_seconds: int  # 0 = use the global interval
    open_strategy: StrategyRef
    close_strategies: list[StrategyRef]
    circuit_breaker: bool = True
    cb_drawdown_cooldown_minutes: float = 24 * 60
    cb_loss_streak_threshold: int = 5
    cb_loss_streak_cooldown_minutes: float = 60
    atr_method: str = "simple"
    paused: bool = False
    allow_external_script: bool = False
    allow_deprecated: bool = False
    htf_filter: bool = False  # upstream's higher-timeframe trend filter on open_action
    regime_args: tuple[str, ...] = ()  # from the top-level regime section (config/regime.py)
    # How signals become trades (config/trading.py; perps/futures keys, upstream names).
    direction: str = "long"  # long | short | both (spot is always long)
    invert_signal: bool = False
    leverage: float = 1.0  # exchange leverage (perps)
    sizing_leverage: float = 0.0  # notional = cash * sizing_leverage; 0 = use leverage
    margin_per_trade_usd: float = 0.0  # 0 = off; else notional = min(this, cash) * leverage
    risk_per_trade_pct: float = 0.0  # 0 = off; else sized from the stop distance (book/sizing.py)
    capital_pct: float = 0.0  # 0 = off; capital = balance x this (risk/capital_pct.py)
    scale_in: ScaleIn = ScaleIn()  # allow_scale_in + the scale_in block (book/scale_in.py)
    margin_mode: str = "isolated"
    stop_loss_pct: float = 0.0  # the five stop keys are mutually exclusive; 0 = unset
    stop_loss_margin_pct: float = 0.0
    stop_loss_atr_mult: float = 0.0
    trailing_stop_pct: float = 0.0
    trailing_stop_atr_mult: float = 0.0
    trailing_stop_min_move_pct: float = 0.5
    futures_fee_per_contract: float = 0.0
    futures_max_contracts: int = 0  # 0 = no cap
    allowed_regimes: tuple[str, ...] = ()
    regime_gate_window: str = ""  # "" = the payload's first window (or its flat label)
    regime_gate_on_failure: str = "open"  # open | closed: what an unknown regime does
    hedge: HedgeSettings | None = None  # the hedge block (config/hedge.py); None = none
    options: OptionsSettings | None = None  # type options only (config/options.py)
    # Values a default supplied, by key path -> "user_defaults" | "default" (config/effective.py).
    sources: dict[str, str] = field(default_factory=dict)
    # Regime policies (config/regime_keys.py): which window each reads ("" = primary), the
    # per-label ATR stop multiples, and the directional policy (shared_tools/regime_policy.py).
    regime_atr_window: str = ""
    regime_directional_window: str = ""
    stop_loss_atr_regime: tuple[tuple[str, float], ...] = ()
    trailing_stop_atr_regime: tuple[tuple[str, float], ...] = ()
    directional_policy: DirectionalPolicy = field(default_factory=DirectionalPolicy)

    @property
    def check_args(self) -> CheckArgs:
        """``args`` parsed by the worker's own argv rules (shared_tools/check_argv.py)."""
        return _parsed(tuple(self.args), script_name(self.script))

    @property
    def live(self) -> bool:
        """True when the strategy trades real money (``--mode=live`` in its args)."""
        return self.check_args.mode == "live"

    @property
    def symbol(self) -> str:
        """The traded symbol: the worker's ``symbol`` positional."""
        return self.check_args.symbol or ""

    @property
    def timeframe(self) -> str:
        return self.check_args.timeframe or ""

    def symbols(self) -> list[str]:
        """Every symbol the check reads (symbol, and symbol_b for pairs); marks cover these.

        None for options: their marks come from mark_options.py, not check_price."""
        return [] if self.options is not None else self.check_args.symbols()

    def effective_interval(self, global_interval: int) -> int:
        return self.interval_seconds or global_interval

    def check_argv(self, position: Position | None = None) -> list[str]:
        """The argv the check script gets every cycle (and, with --probe-only, at startup).

        A strategy on the open/close model (close strategies configured) that holds
        ``position`` also gets the position flags, as upstream's scheduler sends them: zero
        values are left out, so the close evaluators see exactly what upstream's would.
        """
        if self.options is not None:  # check_options.py: upstream's own argv (config/options.py)
            return self.options.argv()
        argv = list(self.args)
        if position is not None and self.close_strategies:
            argv.append(f"--position-side={position.side}")
            for flag, value in (
                ("--position-avg-cost", position.avg_cost),
                ("--position-qty", position.quantity),
                ("--position-initial-qty", position.initial_quantity),
                ("--position-entry-atr", position.entry_atr),
            ):
                if value:
                    argv.append(f"{flag}={value!r}")
            if position.regime:
                argv.append(f"--position-regime={position.regime}")
        if self.htf_filter:
            argv.append("--htf-filter")
        argv.extend(self.regime_args)
        if self.regime_atr_window and self.regime_args:
            argv.append(f"--regime-atr-window={self.regime_atr_window}")
        if self.open_strategy.params or self.close_strategies:
            refs: dict = {"open": self.open_strategy.as_json()}
            if self.close_strategies:
                refs["closes"] = [c.as_json() for c in self.close_strategies]
            argv.append("--strategy-refs=" + json.dumps(refs, sort_keys=True))
        argv.append(f"--atr-method={self.atr_method}")
        if (
            self.platform != DEFAULT_PLATFORM
            and self.check_args.platform is None
            and script_venue(self.script) is None  # a venue script knows its venue
        ):
            argv.append(f"--platform={self.platform}")
        return argv

    @functools.cached_property
    def rules(self) -> Rules:
        """The book's terms for this strategy: fees, direction, sizing, contract, protection."""
        atr_tiers, pct_tiers = tiers_from_closes((c.name, c.params) for c in self.close_strategies)
        kind = "perps" if self.type == "manual" else self.type  # a manual book is perps
        kind = kind if kind in ("perps", "futures") else "spot"
        return Rules(
            kind=kind,
            platform=self.platform,
            fee_rate=taker_fee(self.platform, kind),
            direction="long" if kind == "spot" else self.direction,
            invert_signal=self.invert_signal,
            leverage=self.leverage,
            sizing_leverage=self.sizing_leverage,
            margin_per_trade_usd=self.margin_per_trade_usd,
            risk_per_trade_pct=self.risk_per_trade_pct,
            scale_in=self.scale_in,
            fee_per_contract=self.futures_fee_per_contract,
            max_contracts=self.futures_max_contracts,
            contract=CONTRACT_SPECS.get(self.symbol.upper()) if kind == "futures" else None,
            protection=Protection(
                stop_loss_pct=self.stop_loss_pct,
                stop_loss_margin_pct=self.stop_loss_margin_pct,
                stop_loss_atr_mult=self.stop_loss_atr_mult,
                trailing_stop_pct=self.trailing_stop_pct,
                trailing_stop_atr_mult=self.trailing_stop_atr_mult,
                trailing_stop_min_move_pct=self.trailing_stop_min_move_pct,
                stop_loss_atr_regime=self.stop_loss_atr_regime,
                trailing_stop_atr_regime=self.trailing_stop_atr_regime,
                tp_atr_tiers=atr_tiers,
                tp_pct_tiers=pct_tiers,
                tp_stop_after=stop_after_from_closes(
                    (c.name, c.params) for c in self.close_strategies
                ),
            ),
            instrument=instrument(self.platform, self.symbol, kind),
        )

    @property
    def venue(self) -> str:
        """Where this strategy's marks come from: its platform, or ``okx-swap`` for OKX perps."""
        return mark_venue(self.platform, self.type)


@dataclass
class Config:
    path: Path
    config_version: int
    interval_seconds: int
    db_file: Path
    status_port: int
    market_data: str
    max_concurrent_checks: int
    script_timeout_seconds: float
    batch_checks: bool
    strategies: list[StrategyConfig]
    risk: RiskSettings = field(default_factory=RiskSettings)  # portfolio_risk and correlation
    notify: NotifySettings = field(default_factory=NotifySettings)  # discord, telegram
    live: LiveSettings = field(default_factory=LiveSettings)  # hyperliquid.base_url
    manual_defaults: ManualDefaults = field(default_factory=ManualDefaults)  # user_defaults.manual
    regime: RegimeSettings = field(default_factory=RegimeSettings)  # the regime section
    tuning: TuningSettings = field(default_factory=TuningSettings)  # the tuning section
    warnings: list[str] = field(default_factory=list)
    raw: dict = field(default_factory=dict)

    @property
    def live_strategies(self) -> list[StrategyConfig]:
        return [s for s in self.strategies if s.live]

    def strategy(self, sid: str) -> StrategyConfig:
        for s in self.strategies:
            if s.id == sid:
                return s
        raise KeyError(sid)

    @property
    def tick_seconds(self) -> int:
        intervals = [s.effective_interval(self.interval_seconds) for s in self.strategies]
        return max(MIN_TICK_SECONDS, min(intervals or [self.interval_seconds]))

    def script_path(self, script: str) -> Path:
        return resolve_script(script)


def resolve_script(script: str) -> Path:
    """A script path as given, anchored at the repository root when relative."""
    p = Path(script)
    return p if p.is_absolute() else REPO_ROOT / p


def infer_platform(sid: str, stype: str) -> str:
    """The platform an id prefix implies (``okx-...`` -> okx), else the type's default venue."""
    return prefix_platform(sid) or ("deribit" if stype == "options" else DEFAULT_PLATFORM)


def prefix_platform(sid: str) -> str | None:
    for prefix, platform in PLATFORM_PREFIXES.items():
        if sid.startswith(prefix):
            return platform
    return None
