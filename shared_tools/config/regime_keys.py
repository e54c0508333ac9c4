"""A strategy's regime policy keys: the regime ATR stops and the directional policy.

``regime_atr_window`` / ``regime_directional_window`` pick which ``regime.windows`` entry each
consumer reads ("" = the primary window); the window's classifier sets the label vocabulary a
block must cover (a bare ``ranging_directional`` covers its ``_up``/``_down`` halves).

``stop_loss_atr_regime`` / ``trailing_stop_atr_regime`` (upstream #733): ``{"use_defaults":
true}`` or ``{"trend_regime": {label: {"atr_multiple": x}}}``; ``use_defaults`` takes
``user_defaults.regime_atr``'s block when there is one, else upstream's default multiples.
No ``close_fraction``; exclusive with each other, the scalar stops and ``risk_per_trade_pct``;
``regime.enabled`` required; perps and futures (as the scalar stops here).

``regime_directional_policy`` (upstream #779/#1085): ``{"trend_regime": {label: {direction,
invert_signal?}}}``; Hyperliquid perps only, ``regime.enabled`` required. Its evidence gate is
:mod:`shared_tools.regime_policy`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from shared_tools.config import schema
from shared_tools.config.checks import in_range
from shared_tools.config.regime import RegimeSettings
from shared_tools.regime_labels import (
    DIRECTIONAL_BARE,
    DIRECTIONAL_SUBS,
    LABELS_ADX,
    LABELS_COMPOSITE,
    PRIMARY_WINDOW,
)
from shared_tools.regime_policy import (
    DirectionalPolicy,
    cert_path,
    default_multiples,
    load_certifications,
    policy_from_mapping,
)
from shared_tools.text import show

__all__ = ["ATR_REGIME_KEYS", "check_regime_atr_block", "regime_policy_fields", "vocabulary"]

ATR_REGIME_KEYS = ("stop_loss_atr_regime", "trailing_stop_atr_regime")
_KIND = {"stop_loss_atr_regime": "stop_loss", "trailing_stop_atr_regime": "trailing"}
_MULT_ALIASES = ("atr_multiple", "atr", "multiple")  # upstream's pre-v15 spellings too
_DIRECTIONS = ("long", "short", "both")
SCALAR_STOPS = (
    "stop_loss_pct",
    "stop_loss_margin_pct",
    "stop_loss_atr_mult",
    "trailing_stop_pct",
    "trailing_stop_atr_mult",
)


def _classifier(regime: RegimeSettings, window: str) -> str:
    if window:
        return regime.windows.get(window, "adx")
    if not regime.windows:
        return "adx"
    key = PRIMARY_WINDOW if PRIMARY_WINDOW in regime.windows else sorted(regime.windows)[0]
    return regime.windows[key]


def vocabulary(classifier: str) -> tuple[str, ...]:
    return LABELS_COMPOSITE if classifier == "composite" else LABELS_ADX


def _labels(by_label: Mapping[str, Any], vocab: tuple[str, ...], what: str) -> list[str]:
    """Problems with the labels of ``by_label`` against ``vocab`` (unknown, missing)."""
    out = []
    unknown = [label for label in by_label if label not in vocab]
    if unknown:
        out.append(f"{what} has unknown label(s) {show(unknown[:3])}; use {', '.join(vocab)}")
    present = set(by_label)
    missing = [
        label
        for label in vocab
        if label not in present and not (label in DIRECTIONAL_SUBS and DIRECTIONAL_BARE in present)
    ]
    if missing:
        out.append(f"{what} must cover every label of its window; missing {', '.join(missing)}")
    return out


def check_regime_atr_block(
    key: str, block: object, vocab: tuple[str, ...] | None
) -> tuple[dict[str, float] | None, list[str]]:
    """A ``trend_regime`` ATR block as {label: multiple}; None for ``use_defaults``.

    ``vocab`` None skips the coverage check (``user_defaults.regime_atr``, checked per strategy).
    """
    if not isinstance(block, dict):
        return {}, [f'{key} must be {{"use_defaults": true}} or {{"trend_regime": {{...}}}}']
    unknown = sorted(set(block) - {"use_defaults", "trend_regime"})
    if unknown:
        return {}, [f"{key} has unknown key(s) {show(unknown)}; use use_defaults or trend_regime"]
    if "use_defaults" in block:
        if "trend_regime" in block or block["use_defaults"] is not True:
            return {}, [f'{key}: use {{"use_defaults": true}} alone, or a trend_regime map']
        return None, []
    table = block.get("trend_regime")
    if not isinstance(table, dict) or not table:
        return {}, [f"{key}.trend_regime must be an object of label -> {{atr_multiple}}"]
    out: dict[str, float] = {}
    problems = _labels(table, vocab, f"{key}.trend_regime") if vocab else []
    for label, entry in table.items():
        where = f"{key}.trend_regime.{label}"
        if not isinstance(entry, dict):
            problems.append(f"{where} must be {{atr_multiple: x}}, got {show(entry)}")
            continue
        if "close_fraction" in entry:
            problems.append(f"{where}: close_fraction does not belong in a stop; remove it")
        extra = sorted(set(entry) - set(_MULT_ALIASES) - {"close_fraction"})
        if extra:
            problems.append(f"{where} has unknown key(s) {show(extra)}; use atr_multiple")
        mult = next((entry[k] for k in _MULT_ALIASES if k in entry), None)
        if not in_range(mult, 0.0, schema.MAX_ATR_MULT, integer=False, lo_open=True):
            problems.append(
                f"{where}.atr_multiple must be a number in (0, {schema.MAX_ATR_MULT:g}], "
                f"got {show(mult)}"
            )
            continue
        out[str(label)] = float(mult)  # type: ignore[arg-type]
    return out, problems


def _policy(raw: object, vocab: tuple[str, ...]) -> tuple[dict[str, dict], list[str]]:
    key = "regime_directional_policy"
    if not isinstance(raw, dict) or set(raw) != {"trend_regime"}:
        return {}, [f'{key} must be {{"trend_regime": {{label: {{direction, invert_signal}}}}}}']
    table = raw["trend_regime"]
    if not isinstance(table, dict):
        return {}, [f"{key}.trend_regime must be an object of label -> {{direction}}"]
    problems = _labels(table, vocab, f"{key}.trend_regime")
    out = {}
    for label, entry in table.items():
        where = f"{key}.trend_regime.{label}"
        if not isinstance(entry, dict):
            problems.append(f"{where} must be {{direction, invert_signal}}, got {show(entry)}")
            continue
        extra = sorted(set(entry) - {"direction", "invert_signal"})
        if extra:
            problems.append(f"{where} has unknown key(s) {show(extra)}")
        if entry.get("direction") not in _DIRECTIONS:
            problems.append(f"{where}.direction must be long, short or both")
        if not isinstance(entry.get("invert_signal", False), bool):
            problems.append(f"{where}.invert_signal must be true or false")
        out[str(label)] = entry
    return out, problems


def _window(raw: dict, key: str, regime: RegimeSettings, problems: list[str]) -> str:
    window = raw.get(key)
    if window is None or window == "":
        return ""
    if not isinstance(window, str) or window not in regime.windows:
        names = ", ".join(sorted(regime.windows)) or "none configured"
        problems.append(f"{key} {show(window)} is not a window of regime.windows ({names})")
        return ""
    return window


def regime_policy_fields(
    raw: dict,
    stype: str,
    platform: str,
    regime: RegimeSettings,
    user_regime_atr: Mapping[str, Any],
    problems: list[str],
) -> dict[str, Any]:
    """The regime policy fields of one entry as StrategyConfig keyword arguments."""
    atr_window = _window(raw, "regime_atr_window", regime, problems)
    dir_window = _window(raw, "regime_directional_window", regime, problems)
    fields: dict[str, Any] = {
        "regime_atr_window": atr_window,
        "regime_directional_window": dir_window,
    }
    set_blocks = [k for k in ATR_REGIME_KEYS if raw.get(k) not in (None, {})]
    if set_blocks:
        fields.update(_atr_blocks(raw, stype, regime, atr_window, user_regime_atr, problems))
    policy = raw.get("regime_directional_policy")
    if policy not in (None, {}):
        fields["directional_policy"] = _directional(
            policy, stype, platform, regime, dir_window, problems
        )
    return fields


def _atr_blocks(
    raw: dict,
    stype: str,
    regime: RegimeSettings,
    window: str,
    user_regime_atr: Mapping[str, Any],
    problems: list[str],
) -> dict[str, Any]:
    set_blocks = [k for k in ATR_REGIME_KEYS if raw.get(k) not in (None, {})]
    if stype not in ("perps", "futures"):
        problems.append(f"{set_blocks[0]} applies to type perps and futures only, not {stype}")
        return {}
    if len(set_blocks) > 1:
        problems.append(f"{', '.join(set_blocks)} are set together; keep one regime stop")
    scalar = [k for k in SCALAR_STOPS if raw.get(k) not in (None, 0, 0.0, False)]
    if scalar:
        problems.append(
            f"{set_blocks[0]} and {', '.join(scalar)} both own the stop; keep one (remove "
            f"{', '.join(scalar)} or the regime block)"
        )
    if raw.get("risk_per_trade_pct") not in (None, 0, 0.0):
        problems.append(
            f"{set_blocks[0]} is not allowed with risk_per_trade_pct (upstream sizes from a "
            "scalar stop only); use a scalar stop or remove risk_per_trade_pct"
        )
    if not regime.enabled:
        problems.append(f"{set_blocks[0]} needs regime.enabled true; enable regime or remove it")
    vocab = vocabulary(_classifier(regime, window))
    out: dict[str, Any] = {}
    for key in set_blocks:
        table, errs = check_regime_atr_block(key, raw[key], vocab)
        problems.extend(errs)
        if table is None:  # use_defaults: user_defaults.regime_atr's block, else upstream's
            if key in user_regime_atr:
                table, errs = check_regime_atr_block(
                    f"user_defaults.regime_atr.{key}", user_regime_atr[key], vocab
                )
                problems.extend(errs)
            else:
                table = default_multiples(_KIND[key], vocab)
        out[key] = tuple(sorted((table or {}).items()))
    return out


def _directional(
    policy: object,
    stype: str,
    platform: str,
    regime: RegimeSettings,
    window: str,
    problems: list[str],
) -> DirectionalPolicy:
    if stype != "perps" or platform != "hyperliquid":
        problems.append(
            "regime_directional_policy applies to Hyperliquid perps only "
            f"(not {stype} on {platform}); remove it"
        )
        return DirectionalPolicy()
    if not regime.enabled:
        problems.append(
            "regime_directional_policy needs regime.enabled true; enable regime or remove it"
        )
    classifier = _classifier(regime, window)
    table, errs = _policy(policy, vocabulary(classifier))
    problems.extend(errs)
    if errs:
        return DirectionalPolicy()
    return policy_from_mapping(table, window, classifier)


def user_regime_atr(value: object, where: str, errors: list[str]) -> dict[str, Any]:
    """``user_defaults.regime_atr``: {stop_loss_atr_regime?, trailing_stop_atr_regime?} blocks
    in the trend_regime shape (coverage is checked per strategy, against its window)."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        errors.append(f"{where} must be an object of {' / '.join(ATR_REGIME_KEYS)} blocks")
        return {}
    out = {}
    for key, block in value.items():
        if key not in ATR_REGIME_KEYS:
            errors.append(f"{where}: unknown key {show(key)}; use {', '.join(ATR_REGIME_KEYS)}")
            continue
        table, errs = check_regime_atr_block(key, block, None)
        errors.extend(f"{where}.{e}" for e in errs)
        if table is None:
            errors.append(f"{where}.{key}: use_defaults cannot point at itself; give a map")
        elif not errs:
            out[key] = block
    return out


def policy_problems(
    strategies: list[Any], regime: RegimeSettings, where: str, errors: list[str], warnings: list
) -> None:
    """Book-wide checks: ``regime.timeframe`` other than a strategy's own is refused (classifying
    on another timeframe is not built: a wrong-timeframe label must not trade); a configured
    directional policy the artifact does not certify trades the base direction (a WARN)."""
    certs = None
    for sc in strategies:
        if regime.timeframe and sc.type != "options" and sc.timeframe != regime.timeframe:
            errors.append(
                f"{where}: regime.timeframe {regime.timeframe} differs from strategy[{sc.id}]'s "
                f"timeframe {sc.timeframe or '(none)'}; classifying on another timeframe is not "
                f'built: set regime.timeframe to "" or {sc.timeframe or "the strategy timeframe"}'
            )
        policy = getattr(sc, "directional_policy", None)
        if not policy:
            continue
        certs = certs or load_certifications()
        cells = [
            label
            for label, _d, _i in policy.rules
            if certs.sign(sc.symbol, sc.timeframe, policy.classifier, label)
        ]
        if not cells:
            warnings.append(
                f"{where}: WARN strategy[{sc.id}]: regime_directional_policy is not certified "
                f"by {cert_path()} ({certs.status}: {certs.reason}); it trades its base "
                f"direction {sc.direction}"
            )
