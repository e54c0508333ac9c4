"""How a strategy's signals become trades: venue, direction, leverage, stops, futures, regime gate.

Checks the per-strategy trading keys of a spot, perps or futures entry and fills the matching
:class:`~shared_tools.config.model.StrategyConfig` fields, with upstream go-trader's names,
defaults and ranges (scheduler/config.go). Every problem is one line naming the strategy and
the key, and saying what to do.

Upstream rules kept: ``direction`` long|short|both (legacy ``allow_shorts`` true -> both,
false -> long); ``invert_signal``, ``leverage``, ``sizing_leverage``, ``margin_per_trade_usd``
and ``margin_mode`` on perps only; the five stop keys mutually exclusive, and an HL perps
strategy that sets none of them gets ``stop_loss_atr_mult = default_stop_loss_atr_mult``;
Hyperliquid peers on one coin share an on-chain position, so they must agree on ``leverage``
and ``margin_mode``. ``risk_per_trade_pct`` (in (0, 10]) is Hyperliquid perps only, as upstream
(scheduler/risk_sizing.go), excludes ``sizing_leverage``, ``margin_per_trade_usd`` and
``allow_scale_in``, and needs a stop to size from. A zero, false or empty value counts as not set, as in upstream's Go
structs, so a key a generator wrote as ``0`` never trips a type rule.

Deliberate extensions over upstream: futures take ``direction`` (default ``both``, since
upstream's paper futures are bidirectional; ``long`` or ``short`` restrict them) and the stop
keys (upstream: HL perps only); ``invert_signal`` is allowed on any perps venue (upstream: HL).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from shared_tools.book.instruments import instrument
from shared_tools.book.venues import mark_venue
from shared_tools.check_argv import DEFAULT_SCRIPT, SCRIPT_VENUES, script_name, script_venue
from shared_tools.config import schema
from shared_tools.config.checks import in_range, is_number, range_text, show_key
from shared_tools.config.manual import ManualDefaults
from shared_tools.config.model import StrategyConfig
from shared_tools.config.regime import RegimeSettings
from shared_tools.config.regime_keys import ATR_REGIME_KEYS, regime_policy_fields
from shared_tools.config.user_defaults import UserDefaults
from shared_tools.regime_labels import LABELS_ADX, LABELS_COMPOSITE
from shared_tools.text import show

__all__ = [
    "DEFAULT_STOP_LOSS_ATR_MULT",
    "STOP_KEYS",
    "TradingContext",
    "peer_problems",
    "trading_fields",
    "venue_problems",
]

_S, _F = schema.STRATEGY, "strategies[].futures"
DIRECTIONS = schema.row(_S, "direction").choices
DEFAULT_DIRECTION = {"spot": "long", "perps": "long", "futures": "both"}
MARGIN_MODES = schema.row(_S, "margin_mode").choices
DEFAULT_STOP_LOSS_ATR_MULT = schema.default(schema.TOP, "default_stop_loss_atr_mult")
DEFAULT_MIN_MOVE_PCT = schema.default(_S, "trailing_stop_min_move_pct")
MAX_ATR_MULT = schema.MAX_ATR_MULT
MAX_FEE_PER_CONTRACT = schema.bounds(_F, "fee_per_contract")[1]
MAX_CONTRACTS = int(schema.bounds(_F, "max_contracts")[1])
# The five stops, each (lo, hi) of its range from the schema; at most one may be non-zero.
STOP_KEYS: dict[str, tuple[float, float]] = {
    key: schema.bounds(_S, key)
    for key in (
        "stop_loss_pct",
        "stop_loss_margin_pct",
        "stop_loss_atr_mult",
        "trailing_stop_pct",
        "trailing_stop_atr_mult",
    )
}
TRAILING_KEYS = ("trailing_stop_pct", "trailing_stop_atr_mult")
LABELS = (*LABELS_ADX, *LABELS_COMPOSITE)
LABELS_BY_CLASSIFIER = {"adx": LABELS_ADX, "composite": LABELS_COMPOSITE}
CLASSIFIER_LABELS_TEXT = {
    "adx": "trending_up, trending_down, ranging",
    "composite": "trending_{up,down}_{clean,choppy}, ranging_{quiet,volatile}, "
    "ranging_directional[_up|_down]",
}
LABEL_TEXT = f"{CLASSIFIER_LABELS_TEXT['adx']} (adx), or {CLASSIFIER_LABELS_TEXT['composite']}"
FUTURES_KEYS = tuple(k.name for k in schema.rows(_F))

# Which strategy types may set a key (a set value on another type is an error).
KEY_TYPES: dict[str, tuple[str, ...]] = {
    "invert_signal": ("perps",),
    "leverage": ("perps",),
    "sizing_leverage": ("perps",),
    "margin_per_trade_usd": ("perps",),
    "risk_per_trade_pct": ("perps",),
    "margin_mode": ("perps",),
    **{key: ("perps", "futures") for key in STOP_KEYS},
    "trailing_stop_min_move_pct": ("perps", "futures"),
    "futures": ("futures",),
}

# Which types a venue's check script trades, and the script each type needs.
VENUE_TYPES: dict[str, tuple[str, ...]] = {
    "hyperliquid": ("perps",),
    "okx": ("spot", "perps"),
    "topstep": ("futures",),
    "robinhood": ("spot",),
    "luno": ("spot",),
}
TYPE_SCRIPTS = {
    "spot": f"shared_scripts/{DEFAULT_SCRIPT} (any ccxt venue), check_okx.py, "
    "check_robinhood.py or check_luno.py",
    "perps": "shared_scripts/check_hyperliquid.py (platform hyperliquid) or "
    "shared_scripts/check_okx.py (platform okx)",
    "futures": "shared_scripts/check_topstep.py (platform topstep)",
}
NOT_CCXT = ("topstep", "robinhood")  # venues check_strategy.py cannot reach


@dataclass(frozen=True)
class TradingContext:
    """The top-level settings a strategy's trading keys default from."""

    default_stop_loss_atr_mult: float = DEFAULT_STOP_LOSS_ATR_MULT
    regime: RegimeSettings = field(default_factory=RegimeSettings)
    manual: ManualDefaults = field(default_factory=ManualDefaults)  # user_defaults.manual
    atr_method: str = "simple"  # the top-level atr_method: strategies that set none take it
    user: UserDefaults = field(default_factory=UserDefaults)  # user_defaults.close (+ provenance)
    regime_atr: dict[str, Any] = field(default_factory=dict)  # user_defaults.regime_atr
    capital_pct: float = 0.0  # the top-level capital_pct: strategies that set none take it


def unset(value: object) -> bool:
    """Absent, or a Go zero value (0, false, "", [], {}): upstream cannot tell these apart."""
    if value is None or value is False or (is_number(value) and value == 0):
        return True
    return isinstance(value, (str, list, dict)) and not value


def venue_problems(
    stype: str, script: str, platform: str, inst_type: str, declared_by: str
) -> list[str]:
    """Why ``type``, the check script and the platform do not fit together (one line each).

    ``inst_type`` is OKX's ``--inst-type`` from args ("" when args did not parse: not checked).

    A script that is neither a venue script nor check_strategy.py (a test fake, an operator's
    own with ``allow_external_script``) is trusted as given.
    """
    name = script_name(script)
    venue = script_venue(script)
    if venue is None and name != DEFAULT_SCRIPT:
        return []
    if venue is None:  # check_strategy.py: spot on a ccxt venue
        if stype != "spot":
            return [f"type {stype} needs {TYPE_SCRIPTS[stype]}, not {name}"]
        if platform in NOT_CCXT:
            return [
                f"platform {platform} is not a ccxt venue, so {name} cannot trade it; use "
                f"shared_scripts/{_script_of(platform)}"
            ]
        return []
    out = []
    if platform != venue:
        out.append(
            f"script {name} trades on {venue} but the {declared_by} says {platform}; use "
            f"shared_scripts/{_script_of(platform) or DEFAULT_SCRIPT} or make them agree"
        )
    if stype not in VENUE_TYPES[venue]:
        out.append(f"{name} does not trade type {stype}; type {stype} needs {TYPE_SCRIPTS[stype]}")
    elif venue == "okx":
        want = "swap" if stype == "perps" else "spot"
        if inst_type and inst_type != want:
            out.append(
                f"type {stype} on check_okx.py needs --inst-type={want} in args (got "
                f"--inst-type={inst_type}; swap is the default)"
            )
    return out


def _script_of(platform: str) -> str:
    for name, venue in SCRIPT_VENUES.items():
        if venue == platform:
            return name
    return ""


@dataclass
class _Keys:
    """One entry's trading keys being checked; problems go to the caller's lists."""

    raw: dict
    where: str
    stype: str
    errors: list[str]
    warnings: list[str]

    def error(self, text: str) -> None:
        self.errors.append(f"{self.where}: {text}")

    def number(self, key: str, default: float | None = None) -> Any:
        """``key`` in its schema range, ``default`` (the schema's unless given) when unset (0
        counts as unset) or out of range."""
        row = schema.row(_S, key)
        lo, hi = schema.bounds(_S, key)
        lo_open = row.lo_open
        default = row.default if default is None else default
        value = self.raw.get(key)
        if unset(value):
            return default
        if not in_range(value, lo, hi, integer=False, lo_open=lo_open):
            self.error(
                f"{key} must be {range_text(lo, hi, integer=False, lo_open=lo_open)}, "
                f"got {show(value)}"
            )
            return default
        return value

    def choice(self, key: str, default: str, choices: tuple[str, ...]) -> str:
        value = self.raw.get(key)
        if value is None or value == "":
            return default
        if value not in choices:
            self.error(f"{key} must be {' or '.join(choices)}, got {show(value)}")
            return default
        return str(value)

    def scope(self) -> bool:
        """Keys set on a type they do not apply to; True when there are none."""
        ok = True
        for key, types in KEY_TYPES.items():
            if self.stype not in types and not unset(self.raw.get(key)):
                self.error(
                    f"{key} applies to type {' and '.join(types)} only, not {self.stype}; remove it"
                )
                ok = False
        return ok

    def direction(self) -> str:
        legacy = self.raw.get("allow_shorts")
        if legacy is not None and not isinstance(legacy, bool):
            self.error(f"allow_shorts must be true or false, got {show(legacy)}")
            legacy = None
        from_legacy = {True: "both", False: "long", None: ""}[legacy]
        default = DEFAULT_DIRECTION.get(self.stype, "long")
        direction = self.choice("direction", "", DIRECTIONS)
        if direction and from_legacy and direction != from_legacy:
            self.error(
                f"direction {direction} disagrees with the legacy allow_shorts "
                f"{str(legacy).lower()} (= {from_legacy}); keep direction and remove allow_shorts"
            )
        direction = direction or from_legacy or default
        if self.stype == "spot" and direction != "long":
            key = "direction" if self.raw.get("direction") else "allow_shorts"
            self.error(
                f"{key} makes this spot strategy {direction}, but spot never shorts; "
                "remove it, or use type perps or futures"
            )
            direction = "long"
        return direction

    def perps(self) -> dict[str, Any]:
        """Leverage, sizing, margin mode and signal inversion (perps only)."""
        leverage = float(self.number("leverage"))
        sizing = float(self.number("sizing_leverage", leverage))
        margin_usd = float(self.number("margin_per_trade_usd"))
        if margin_usd and not unset(self.raw.get("sizing_leverage")):
            self.warnings.append(
                f"{self.where}: sizing_leverage is ignored when margin_per_trade_usd is set "
                "(notional = margin x leverage); remove one"
            )
        risk = float(self.number("risk_per_trade_pct"))
        if risk:
            clash = [
                k
                for k in ("sizing_leverage", "margin_per_trade_usd", "allow_scale_in")
                if not unset(self.raw.get(k))
            ]
            if clash:
                self.error(
                    f"risk_per_trade_pct sizes from the stop distance; {', '.join(clash)} "
                    "sizes another way: keep one"
                )
        invert = self.raw.get("invert_signal", False)
        if not isinstance(invert, bool):
            self.error(f"invert_signal must be true or false, got {show(invert)}")
            invert = False
        return {
            "leverage": leverage,
            "sizing_leverage": sizing,
            "margin_per_trade_usd": margin_usd,
            "risk_per_trade_pct": risk,
            "margin_mode": self.choice(
                "margin_mode", schema.default(_S, "margin_mode"), MARGIN_MODES
            ),
            "invert_signal": invert,
        }

    def stops(self, leverage: float) -> dict[str, float]:
        values = {key: float(self.number(key)) for key in STOP_KEYS}
        on = [key for key, value in values.items() if value]
        if len(on) > 1:
            self.error(
                f"{', '.join(on)} are set together; the stops are mutually exclusive, keep one"
            )
        margin = values["stop_loss_margin_pct"]
        if margin and margin / leverage > 50:
            self.error(
                f"stop_loss_margin_pct {margin:g} at leverage {leverage:g} is a "
                f"{margin / leverage:g}% price move; keep stop_loss_margin_pct / leverage <= 50"
            )
        # a regime trailing block trails too (upstream #1113 rejected its min move)
        trailing = any(values[k] for k in TRAILING_KEYS) or not unset(
            self.raw.get("trailing_stop_atr_regime")
        )
        values["trailing_stop_min_move_pct"] = self._min_move(trailing)
        return values

    def _min_move(self, trailing: bool) -> float:
        value = self.raw.get("trailing_stop_min_move_pct")
        if value is None:
            return DEFAULT_MIN_MOVE_PCT
        lo, hi = schema.bounds(_S, "trailing_stop_min_move_pct")
        if not in_range(value, lo, hi, integer=False, lo_open=False):
            self.error(
                f"trailing_stop_min_move_pct must be a number in [{lo:g}, {hi:g}], "
                f"got {show(value)}"
            )
        elif trailing:
            return float(value)
        elif not unset(value):
            self.error(
                "trailing_stop_min_move_pct only applies with a trailing stop "
                "(trailing_stop_pct or trailing_stop_atr_mult); remove it or add one"
            )
        return DEFAULT_MIN_MOVE_PCT

    def futures(self) -> tuple[float, int]:
        block = self.raw.get("futures")
        if unset(block):
            return 0.0, 0
        if not isinstance(block, dict):
            self.error(
                'futures must be an object {"fee_per_contract": ..., "max_contracts": ...}, '
                f"got {show(block)}"
            )
            return 0.0, 0
        extra = sorted(set(block) - set(FUTURES_KEYS))
        if extra:
            shown = ", ".join(show_key(k) for k in extra[:5])
            self.error(f"futures has unknown key(s) {shown} (use fee_per_contract, max_contracts)")
        fee = block.get("fee_per_contract", 0)
        if not in_range(fee, 0, MAX_FEE_PER_CONTRACT, integer=False, lo_open=False):
            self.error(
                f"futures.fee_per_contract must be a number in [0, {MAX_FEE_PER_CONTRACT:g}], "
                f"got {show(fee)}"
            )
            fee = 0.0
        cap = block.get("max_contracts", 0)
        if not in_range(cap, 0, MAX_CONTRACTS, integer=True, lo_open=False):
            self.error(
                f"futures.max_contracts must be an integer in [0, {MAX_CONTRACTS}] "
                f"(0 = no cap), got {show(cap)}"
            )
            cap = 0
        return float(fee), int(cap)

    def regime_gate(self, regime: RegimeSettings) -> dict[str, Any]:
        allowed = self._allowed_regimes()
        on_failure = self.choice(
            "regime_gate_on_failure",
            regime.gate_on_failure,
            schema.row(_S, "regime_gate_on_failure").choices,
        )
        window = self.raw.get("regime_gate_window")
        if window is None or window == "":
            window = ""
        elif not isinstance(window, str) or window not in regime.windows:
            names = ", ".join(sorted(regime.windows)) or "none configured"
            shown = show_key(window) if isinstance(window, str) else show(window)
            self.error(
                f"regime_gate_window {shown} is not a window of regime.windows "
                f"({names}); add it there or remove the key"
            )
            window = ""
        if allowed and not regime.enabled:
            if on_failure == "closed":
                self.error(
                    "allowed_regimes with regime_gate_on_failure closed needs regime.enabled "
                    "true (every open would be blocked); enable regime or remove allowed_regimes"
                )
            else:
                self.warnings.append(
                    f"{self.where}: allowed_regimes has no effect: regime.enabled is false"
                )
        elif allowed:
            self._labels_seen(allowed, regime, window)
        return {
            "allowed_regimes": allowed,
            "regime_gate_window": window,
            "regime_gate_on_failure": on_failure,
        }

    def _allowed_regimes(self) -> tuple[str, ...]:
        value = self.raw.get("allowed_regimes")
        if value is None:
            return ()
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.error(f"allowed_regimes must be a list of regime labels, got {show(value)}")
            return ()
        bad = [v for v in value if v not in LABELS]
        if bad:
            self.error(f"allowed_regimes has unknown label(s) {show(bad[:3])}; use {LABEL_TEXT}")
            return ()
        return tuple(dict.fromkeys(value))

    def _labels_seen(self, allowed: Iterable[str], regime: RegimeSettings, window: str) -> None:
        """Labels the gate's window(s) can never report would block every open."""
        names = [window] if window else list(regime.windows)
        classifiers = {regime.windows[n] for n in names} or {"adx"}
        possible = {label for c in classifiers for label in LABELS_BY_CLASSIFIER.get(c, LABELS)}
        never = [label for label in allowed if label not in possible]
        if never:
            source = f"window {window}" if window else "the regime windows"
            labels = "; or ".join(
                CLASSIFIER_LABELS_TEXT.get(c, LABEL_TEXT) for c in sorted(classifiers)
            )
            self.error(
                f"allowed_regimes label(s) {', '.join(never)} are never reported by {source} "
                f"(classifier {', '.join(sorted(classifiers))}); use {labels}"
            )


def trading_fields(
    raw: dict,
    where: str,
    stype: str,
    platform: str,
    ctx: TradingContext,
    errors: list[str],
    warnings: list[str],
) -> dict[str, Any]:
    """The trading fields of one entry as StrategyConfig keyword arguments, checked and defaulted."""
    keys = _Keys(raw, where, stype, errors, warnings)
    fields: dict[str, Any] = {"direction": keys.direction()}
    if not keys.scope():  # keys of another type: reported once, their values not checked
        return {**fields, **keys.regime_gate(ctx.regime)}
    if stype == "perps":
        fields.update(keys.perps())
    if stype in ("perps", "futures"):
        fields.update(keys.stops(fields.get("leverage", 1.0)))
        no_stop = all(raw.get(key) is None for key in (*STOP_KEYS, *ATR_REGIME_KEYS))
        if stype == "perps" and platform == "hyperliquid" and no_stop:
            fields["stop_loss_atr_mult"] = ctx.default_stop_loss_atr_mult  # upstream's auto stop
    if fields.get("risk_per_trade_pct"):
        _risk_owner(keys, platform, fields)
    if stype == "futures":
        fields["futures_fee_per_contract"], fields["futures_max_contracts"] = keys.futures()
    problems: list[str] = []
    fields.update(regime_policy_fields(raw, stype, platform, ctx.regime, ctx.regime_atr, problems))
    for problem in problems:
        keys.error(problem)
    return {**fields, **keys.regime_gate(ctx.regime)}


def _risk_owner(keys: _Keys, platform: str, fields: dict[str, Any]) -> None:
    """``risk_per_trade_pct`` needs Hyperliquid (upstream's only venue for it) and a stop."""
    if platform != "hyperliquid":
        keys.error(
            f"risk_per_trade_pct applies to Hyperliquid perps only, not platform {platform}; "
            "remove it (or use sizing_leverage / margin_per_trade_usd)"
        )
        fields["risk_per_trade_pct"] = 0.0
    elif not any(fields.get(key) for key in STOP_KEYS):
        keys.error(
            "risk_per_trade_pct needs a stop to size from (stop_loss_pct, stop_loss_margin_pct, "
            "stop_loss_atr_mult, trailing_stop_pct or trailing_stop_atr_mult); set one"
        )


def leverage_warnings(where: str, platform: str, symbol: str, fields: dict[str, Any]) -> list[str]:
    """A perps leverage above the venue's maximum for the coin: live, the venue refuses it; in
    paper, the maintenance margin of the instrument table liquidates it almost at once."""
    leverage = float(fields.get("leverage") or 1.0)
    inst = instrument(mark_venue(platform, "perps"), symbol, "perps")
    if inst.max_leverage <= 1.0 or leverage <= inst.max_leverage:
        return []
    return [
        f"{where}: leverage {leverage:g} is above {inst.where}'s maximum {inst.max_leverage:g}x; "
        f"the venue refuses it live, and in paper a {inst.maint_margin_rate:.2%} maintenance "
        "margin liquidates such a position on a small move: lower it"
    ]


def _coin(symbol: str) -> str:
    """The Hyperliquid coin of a symbol: ``BTC``, ``btc``, ``BTC/USDC:USDC`` -> ``BTC``."""
    return symbol.split("/", 1)[0].split(":", 1)[0].upper()


def peer_problems(strategies: Iterable[StrategyConfig]) -> list[str]:
    """Hyperliquid perps on one coin share an on-chain position: leverage and margin_mode agree.

    One line per disagreeing pair and key, naming both ids (each against the coin's first).
    """
    first: dict[str, StrategyConfig] = {}
    out = []
    for sc in strategies:
        if sc.type not in ("perps", "manual") or sc.platform != "hyperliquid" or not sc.symbol:
            continue
        coin = _coin(sc.symbol)
        peer = first.setdefault(coin, sc)
        for key in ("leverage", "margin_mode"):
            mine, theirs = getattr(sc, key), getattr(peer, key)
            if mine != theirs:
                shown = f"{mine:g}" if isinstance(mine, float) else mine
                peer_shown = f"{theirs:g}" if isinstance(theirs, float) else theirs
                out.append(
                    f"strategy[{sc.id}]: {key} {shown} differs from {peer_shown} of "
                    f"strategy[{peer.id}] on the same Hyperliquid coin {coin}; peers share one "
                    f"on-chain position, so set the same {key} on both"
                )
    return out
