"""The values a default can supply, each with where it came from.

Upstream fills several keys in at load (reference C.1: ``user_defaults``, the manual
auto-config, the automatic Hyperliquid stop, the global ``atr_method``), so a strategy's file
entry does not say what it runs with. :func:`effective_values` answers that for one strategy:
each key's effective value and its source, one of

* ``config``: written in the strategy's entry (or, ``via`` says, a top-level key of the file);
* ``user_defaults``: injected from the file's ``user_defaults`` section;
* ``default``: this build's (upstream's) own default.

``go-trader inspect`` and the status server both read this one function.
"""

from __future__ import annotations

from typing import Any

from shared_tools.config.model import Config, StrategyConfig
from shared_tools.config.user_defaults import ELIGIBLE

__all__ = ["SOURCES", "effective_values"]

SOURCES = ("config", "user_defaults", "default")
STOP_KEYS = (
    "stop_loss_pct",
    "stop_loss_margin_pct",
    "stop_loss_atr_mult",
    "trailing_stop_pct",
    "trailing_stop_atr_mult",
)


def _entry(config: Config, sid: str) -> dict[str, Any]:
    for e in config.raw.get("strategies") or ():
        if isinstance(e, dict) and e.get("id") == sid:
            return e
    return {}


def _row(value: Any, source: str, via: str = "") -> dict[str, Any]:
    out = {"value": value, "source": source}
    if via:
        out["via"] = via
    return out


def effective_values(sc: StrategyConfig, config: Config) -> dict[str, dict[str, Any]]:
    """Key path -> ``{"value", "source"[, "via"]}`` for the keys a default can supply."""
    raw = _entry(config, sc.id)
    top = config.raw

    def src(key: str, top_key: str = "") -> dict[str, Any]:
        value = getattr(sc, key)
        if key in sc.sources:
            return _row(value, sc.sources[key])
        if raw.get(key) is not None:
            return _row(value, "config")
        if top_key and top.get(top_key) not in (None, ""):
            return _row(value, "config", via=top_key)
        return _row(value, "default")

    out: dict[str, dict[str, Any]] = {}
    out.update(_close_tiers(sc, raw))
    if sc.type in ("spot", "options"):
        out["atr_method"] = src("atr_method", "atr_method")
        return out
    for key in ("direction", "leverage", "margin_mode"):
        out[key] = src(key)
    out["atr_method"] = src("atr_method", "atr_method")
    stop = next((k for k in STOP_KEYS if getattr(sc, k)), "")
    if not stop and "stop_loss_atr_mult" in sc.sources:  # user_defaults.manual's 0: no stop
        out["stop"] = _row("none", sc.sources["stop_loss_atr_mult"])
    elif not stop:
        out["stop"] = _row("none", "config" if any(k in raw for k in STOP_KEYS) else "default")
    elif stop in sc.sources or raw.get(stop) is not None:
        out["stop"] = {"key": stop, **src(stop)}
    else:  # upstream's automatic Hyperliquid perps stop
        via = "default_stop_loss_atr_mult"
        source = "config" if top.get(via) is not None else "default"
        out["stop"] = {"key": stop, **_row(getattr(sc, stop), source, via=via)}
    if "trailing_stop_atr_regime" in sc.sources:
        out["trailing_stop_atr_regime"] = _row(
            raw.get("trailing_stop_atr_regime"), sc.sources["trailing_stop_atr_regime"]
        )
    out["sizing"] = _sizing(sc, src)
    if sc.type == "manual":
        m = config.manual_defaults
        side_set = isinstance(top.get("user_defaults"), dict) and isinstance(
            top["user_defaults"].get("manual"), dict
        )
        side_src = "user_defaults" if side_set and "side" in top["user_defaults"]["manual"] else ""
        out["manual_open_side"] = _row(m.side, side_src or "default")
    return out


def _sizing(sc: StrategyConfig, src: Any) -> dict[str, Any]:
    """How an open is sized: the mode and the key that sets it, with its source."""
    if sc.risk_per_trade_pct:
        return {"mode": "risk_per_trade_pct", **src("risk_per_trade_pct")}
    if sc.margin_per_trade_usd:
        return {"mode": "margin_per_trade_usd", **src("margin_per_trade_usd")}
    row = src("sizing_leverage") if sc.sizing_leverage else src("leverage")
    return {"mode": "fixed notional (cash x sizing_leverage)", **row}


def _close_tiers(sc: StrategyConfig, raw: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each tiered close ref's ``tp_tiers``: its own, user_defaults', or the evaluator's."""
    out: dict[str, dict[str, Any]] = {}
    key = "close_strategies" if "close_strategies" in raw or "close_strategy" not in raw else ""
    for i, ref in enumerate(sc.close_strategies):
        path = f"{key}[{i}].tp_tiers" if key else "close_strategy.tp_tiers"
        name = "tiered_tp_pct" if ref.name == "tp_at_pct" else ref.name
        if name not in ELIGIBLE and "tp_tiers" not in ref.params:
            continue
        label = f"close_strategies[{i}]({ref.name}).tp_tiers"
        if path in sc.sources:
            out[label] = _row(ref.params.get("tp_tiers"), sc.sources[path])
        elif "tp_tiers" in ref.params:
            out[label] = _row(ref.params["tp_tiers"], "config")
        else:
            out[label] = _row(f"the built-in tiers of {ref.name}", "default")
    return out
