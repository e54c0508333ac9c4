"""SIGHUP reload: which config changes apply to a running book and which need a restart.

Capital, drawdown limits, intervals, breaker settings, strategy params, sizing, stop values and
the regime gate apply at once; the roster, scripts, types, args, the futures block, DB, port and
market source are structural and refused whole. As upstream (config_reload.go), how a strategy
trades its position (direction, invert_signal, leverage, margin_mode, which stop it uses, the
gate's window) may change only while it is flat: a held position keeps the rules it opened under.
"""

from __future__ import annotations

from supervisor.config import Config, StrategyConfig
from supervisor.models import AppState


def structural_changes(old: Config, new: Config) -> list[str]:
    """Changes a reload cannot apply safely (roster, scripts, types, DB, port, market)."""
    out = []
    old_ids = [s.id for s in old.strategies]
    new_ids = [s.id for s in new.strategies]
    added = sorted(set(new_ids) - set(old_ids))
    removed = sorted(set(old_ids) - set(new_ids))
    if added:
        out.append(f"strategies added: {', '.join(added)}")
    if removed:
        out.append(f"strategies removed: {', '.join(removed)}")
    for key in ("db_file", "status_port", "market_data"):
        if getattr(old, key) != getattr(new, key):
            out.append(f"{key} changed")
    for sc in new.strategies:
        if sc.id not in old_ids:
            continue
        prev = old.strategy(sc.id)
        for key in (
            "type",
            "platform",
            "script",
            "args",
            "futures_fee_per_contract",
            "futures_max_contracts",
        ):
            if getattr(prev, key) != getattr(sc, key):
                out.append(f"strategy[{sc.id}]: {key} changed")
        if prev.open_strategy.name != sc.open_strategy.name:
            out.append(f"strategy[{sc.id}]: open_strategy.name changed")
    return out


# Changes refused while the strategy holds a position; they apply once it is flat.
FLAT_ONLY = (
    "direction",
    "invert_signal",
    "leverage",
    "margin_mode",
    "regime_gate_window",
)
STOPS = (
    "stop_loss_pct",
    "stop_loss_margin_pct",
    "stop_loss_atr_mult",
    "trailing_stop_pct",
    "trailing_stop_atr_mult",
)
# Applied at once, positions or not (only later decisions read them).
LIVE = (
    "max_drawdown_pct",
    "interval_seconds",
    "circuit_breaker",
    "cb_drawdown_cooldown_minutes",
    "cb_loss_streak_threshold",
    "cb_loss_streak_cooldown_minutes",
    "paused",
    "htf_filter",
    "atr_method",
    "sizing_leverage",
    "margin_per_trade_usd",
    *STOPS,  # values; a change of which stop is on is flat-only
    "trailing_stop_min_move_pct",
    "allowed_regimes",
    "regime_gate_on_failure",
)


def _stop_mode(sc: StrategyConfig) -> tuple[str, ...]:
    return tuple(key for key in STOPS if getattr(sc, key))


def flat_only_problems(old: Config, new: Config, app: AppState) -> list[str]:
    """Changes to how a held position is traded: refused until the strategy is flat."""
    out = []
    for sc in new.strategies:
        strat = app.strategies.get(sc.id)
        if strat is None or not any(p.quantity for p in strat.positions.values()):
            continue
        try:
            prev = old.strategy(sc.id)
        except KeyError:
            continue
        changed = [
            (key, getattr(prev, key), getattr(sc, key))
            for key in FLAT_ONLY
            if getattr(prev, key) != getattr(sc, key)
        ]
        if _stop_mode(prev) != _stop_mode(sc):
            modes = (", ".join(_stop_mode(c)) or "none" for c in (prev, sc))
            changed.append(("the stop in use", *modes))
        for what, was, now in changed:
            out.append(
                f"strategy[{sc.id}]: {what} changed ({was} -> {now}) while it holds a position; "
                "close the position first (or set it back), then reload"
            )
    return out


def capital_problems(new: Config, app: AppState) -> list[str]:
    """Capital cuts the book cannot pay for from free cash (it would go negative)."""
    out = []
    for sc in new.strategies:
        strat = app.strategies.get(sc.id)
        if strat is None:
            continue
        delta = sc.initial_capital - strat.initial_capital
        if delta < 0 and strat.cash + delta < -1e-9:
            out.append(
                f"strategy[{sc.id}]: capital cut of {-delta:,.2f} exceeds free cash "
                f"{strat.cash:,.2f}; close positions first"
            )
    return out


def apply_reload(old: Config, new: Config, app: AppState) -> list[str]:
    """Apply the reloadable fields of ``new``; capital is measured against the stored book."""
    changes = []
    if old.interval_seconds != new.interval_seconds:
        changes.append(f"interval_seconds {old.interval_seconds} -> {new.interval_seconds}")
    for sc in new.strategies:
        prev = old.strategy(sc.id)
        strat = app.strategies[sc.id]
        delta = sc.initial_capital - strat.initial_capital
        if abs(delta) > 1e-9:
            # A deposit or withdrawal: cash and the P&L baseline move together, so P&L stays.
            changes.append(f"{sc.id} capital {strat.initial_capital:g} -> {sc.initial_capital:g}")
            strat.cash += delta
            strat.initial_capital += delta
            strat.risk.peak_value = max(strat.risk.peak_value + delta, 0.0)
        for key in (*LIVE, *FLAT_ONLY):
            if getattr(prev, key) != getattr(sc, key):
                changes.append(f"{sc.id} {key} {getattr(prev, key)} -> {getattr(sc, key)}")
        if prev.open_strategy.params != sc.open_strategy.params:
            changes.append(f"{sc.id} params")
        strat.risk.max_drawdown_pct = sc.max_drawdown_pct
    return changes
