"""Book-wide risk: the portfolio kill switch and its warning band, the notional cap, the daily
loss limit and correlation warnings (upstream §2.3-2.5).

State lives in ``AppState.extra["portfolio_risk"]`` (persisted with every cycle), so a restart
while latched stays latched and the warning throttle keeps its memory. The peak moves only on
*trusted* totals (every held symbol has a fresh mark). An untrusted total (stale marks stand in
for missing ones) over the limit is deferred: it may latch only if it is still over the limit
15 minutes later (upstream #1449), so one missing price neither fires nor hides a crash.

Two lenses, as upstream: the equity drawdown from the peak owns the latch (paper equity is
always known); the margin lens (perps unrealized loss over the margin it ties up) only warns.

Deliberate differences from upstream: a reset (operator or automatic) re-bases the peak on the
book as it is, so a flattened book that is still below the old peak does not re-fire at once.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shared_tools.book.instruments import base_symbol
from shared_tools.chat_owner import reset_request_path
from shared_tools.config.risk import RiskSettings
from supervisor.risk.breakers import margin_inputs
from supervisor.state.models import AppState, StrategyState, parse_iso, utc_iso

if TYPE_CHECKING:
    from shared_tools.config.model import Config

KEY = "portfolio_risk"
EVENTS_KEPT = 50
WARN_STEP_PP = 1.0  # a warning repeats when the drawdown rises this many points
WARN_EVERY = timedelta(hours=6)  # ... or after this long in the band
UNTRUSTED_DEFERRAL = timedelta(minutes=15)  # an over-limit reading on stale marks waits this long


@dataclass
class RiskEvent:
    """Something an operator must hear about; ``critical`` ones also go to the owner's DM."""

    kind: str  # kill_switch | warning | reset | daily_loss | notional_cap | exposure_cap | ...
    text: str
    critical: bool = False
    owner_only: bool = False  # an owner DM only, no channel broadcast (regime transitions)


def state(app: AppState) -> dict[str, Any]:
    s: dict[str, Any] = app.extra.setdefault(KEY, {})
    s.setdefault("peak", 0.0)
    s.setdefault("drawdown_pct", 0.0)
    s.setdefault("kill_switch", False)
    s.setdefault("kill_switch_at", "")
    s.setdefault("reason", "")
    s.setdefault("warning_at", "")
    s.setdefault("warning_dd", 0.0)
    s.setdefault("margin_drawdown_pct", 0.0)
    s.setdefault("warning_lenses", [])
    s.setdefault("untrusted_over_since", "")
    s.setdefault("daily_loss_day", "")
    s.setdefault("notional_capped", False)
    s.setdefault("ids", [])
    s.setdefault("events", [])
    return s


def owner_configured(config: Config) -> bool:
    """Is there an owner to reset the kill switch by DM? Without one it resets when flat."""
    raw = config.raw if isinstance(config.raw, dict) else {}
    discord, telegram = raw.get("discord") or {}, raw.get("telegram") or {}
    return bool(
        os.environ.get("DISCORD_OWNER_ID")
        or (isinstance(discord, dict) and discord.get("owner_id"))
        or (isinstance(telegram, dict) and telegram.get("owner_chat_id"))
    )


def margin_drawdown(
    strategies: Iterable[StrategyState], marks: dict[str, dict[str, float] | None]
) -> float:
    """Book-wide perps unrealized loss over the perps margin, in percent (the warning lens)."""
    pairs = [margin_inputs(st, marks.get(st.id) or {}) for st in strategies]
    loss, margin = sum(p[0] for p in pairs), sum(p[1] for p in pairs)
    return loss / margin * 100.0 if margin > 0 else 0.0


def reset_hint(config: Config) -> str:
    """How this latch ends, appended to the kill switch alert."""
    if owner_configured(config):
        hours = config.notify.reset_dm_window_s / 3600
        return (
            f'. Reply "reset" to the bot by DM within {hours:g}h, or run '
            "`go-trader reset-kill-switch`, to resume"
        )
    return ". It resets itself once the book is flat (no owner is configured)"


def latched(app: AppState) -> bool:
    return bool(state(app)["kill_switch"])


def _log(s: dict[str, Any], now: datetime, kind: str, text: str, total: float) -> None:
    s["events"] = [*s["events"], {"at": utc_iso(now), "type": kind, "text": text, "value": total}][
        -EVENTS_KEPT:
    ]


def rebase(app: AppState, total: float, ids: list[str]) -> None:
    """Peak = today's total: at first start and after a reset.

    A roster or capital change does not rebase: supervisor/state/capital.py scales the peak by the
    cashflow (a strategy added deposits its capital, a pruned one withdraws its value).
    """
    s = state(app)
    s["peak"], s["drawdown_pct"], s["ids"] = total, 0.0, sorted(ids)


def judge(
    app: AppState,
    settings: RiskSettings,
    total: float,
    ids: list[str],
    now: datetime,
    *,
    margin_dd: float = 0.0,
) -> list[RiskEvent]:
    """Ratchet the peak, fire the kill switch or warn. ``total`` must be a trusted value."""
    s = state(app)
    s["untrusted_over_since"] = ""
    if not s["peak"]:
        rebase(app, total, ids)
        return []
    s["ids"] = sorted(ids)  # the roster's changes reached the peak as cashflows
    if s["kill_switch"]:
        return []
    s["peak"] = max(s["peak"], total)
    dd = max((s["peak"] - total) / s["peak"] * 100.0 if s["peak"] > 0 else 0.0, 0.0)
    s["drawdown_pct"], s["margin_drawdown_pct"] = dd, max(margin_dd, 0.0)
    if dd > settings.max_drawdown_pct:
        return [_fire(s, now, total, dd, settings.max_drawdown_pct, "")]
    return _warn(s, settings, now, total, {"equity": dd, "margin": margin_dd})


def judge_untrusted(
    app: AppState, settings: RiskSettings, total: float, ids: list[str], now: datetime
) -> list[RiskEvent]:
    """An over-limit reading on stale marks latches only after 15 minutes of staying over."""
    s = state(app)
    if s["kill_switch"] or not s["peak"]:
        return []
    dd = (s["peak"] - total) / s["peak"] * 100.0 if s["peak"] > 0 else 0.0
    if dd <= settings.max_drawdown_pct:
        s["untrusted_over_since"] = ""
        return []
    since = parse_iso(s["untrusted_over_since"]) if s["untrusted_over_since"] else None
    if since is None:
        s["untrusted_over_since"] = utc_iso(now)
        text = (
            f"PORTFOLIO WARNING: drawdown {dd:.1f}% > {settings.max_drawdown_pct:g}% on stale "
            f"marks (a price is missing); the kill switch fires if it still reads over the limit "
            f"at {utc_iso(now + UNTRUSTED_DEFERRAL)}"
        )
        return [RiskEvent("warning", text, critical=True)]
    if now - since < UNTRUSTED_DEFERRAL:
        return []
    s["drawdown_pct"] = dd
    basis = f" on stale marks, over the limit since {utc_iso(since)}"
    return [_fire(s, now, total, dd, settings.max_drawdown_pct, basis)]


def _fire(
    s: dict[str, Any], now: datetime, total: float, dd: float, limit: float, basis: str
) -> RiskEvent:
    reason = (
        f"portfolio drawdown {dd:.1f}% > {limit:g}% (${total:,.2f} from a peak of "
        f"${s['peak']:,.2f}){basis}"
    )
    s.update(kill_switch=True, kill_switch_at=utc_iso(now), reason=reason)
    s["untrusted_over_since"] = ""
    _log(s, now, "triggered", reason, total)
    text = f"KILL SWITCH: {reason}; every position is flattened and nothing new opens"
    return RiskEvent("kill_switch", text, critical=True)


def _warn(
    s: dict[str, Any], settings: RiskSettings, now: datetime, total: float, lenses: dict[str, float]
) -> list[RiskEvent]:
    """The warning band, throttled as upstream: on entry, when a lens joins, on a rise of a
    point or more, else every 6 hours."""
    band = sorted(k for k, v in lenses.items() if v > settings.warn_drawdown_pct)
    if not band:
        s["warning_at"], s["warning_dd"], s["warning_lenses"] = "", 0.0, []
        return []
    dd = max(lenses[k] for k in band)
    last = parse_iso(s["warning_at"]) if s["warning_at"] else None
    joined = bool(set(band) - set(s["warning_lenses"]))
    due = last is None or joined or dd >= s["warning_dd"] + WARN_STEP_PP or now - last >= WARN_EVERY
    s["warning_lenses"] = band
    if not due:
        return []
    if last is None:
        _log(s, now, "warning", f"drawdown {dd:.1f}% ({', '.join(band)})", total)
    s["warning_at"], s["warning_dd"] = utc_iso(now), dd
    shown = ", ".join(f"{k} {lenses[k]:.1f}%" for k in band)
    text = (
        f"PORTFOLIO WARNING: drawdown {shown} (kill switch at "
        f"{settings.max_drawdown_pct:g}%, warning from {settings.warn_drawdown_pct:.1f}%)"
    )
    return [RiskEvent("warning", text, critical=True)]


def reset(app: AppState, total: float, ids: list[str], now: datetime, source: str) -> RiskEvent:
    """Clear the latch (operator or automatic) and re-base the peak on the book as it is."""
    s = state(app)
    s.update(kill_switch=False, kill_switch_at="", reason="", warning_at="", warning_dd=0.0)
    rebase(app, total, ids)
    _log(s, now, "reset", source, total)
    return RiskEvent("reset", f"kill switch reset ({source}); trading resumes", critical=True)


def request_path(db_file: str | Path) -> Path:
    """The file ``go-trader reset-kill-switch`` (or the chat bridge, for the owner's "reset")
    leaves for a running supervisor to consume."""
    return reset_request_path(db_file)


def take_reset_request(
    app: AppState, config: Config, now: datetime, log: Callable[[str], None]
) -> list[RiskEvent]:
    """Apply a kill-switch reset the operator asked for (``go-trader reset-kill-switch``, or
    the owner's "reset" DM: the request file's second line names the source), once."""
    path = request_path(config.db_file)
    if not path.exists():
        return []
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        lines = []
    path.unlink(missing_ok=True)
    if not latched(app):
        log("[risk] kill-switch reset requested, but it is not latched")
        return []
    named = len(lines) > 1 and lines[1].strip()
    source = lines[1].strip()[:80] if named else "operator request"
    event = reset_at_marks(app, config, now, source)
    log(f"[risk] {event.text}")
    return [event]


def reset_at_marks(app: AppState, config: Config, now: datetime, source: str) -> RiskEvent:
    """Reset with the peak re-based on the book valued at its latest marks."""
    total = sum(st.value(app.prices_for(st.venue)) for st in app.strategies.values())
    return reset(app, total, [sc.id for sc in config.strategies], now, source)


def daily_loss(app: AppState, settings: RiskSettings, now: datetime) -> tuple[str, list[RiskEvent]]:
    """Why entries are held for today's losses ("" when not), and the once-a-day alert."""
    limits = []
    if settings.daily_max_loss_usd > 0:
        limits.append(settings.daily_max_loss_usd)
    if settings.daily_max_loss_pct > 0:
        basis = sum(st.initial_capital for st in app.strategies.values())
        limits.append(basis * settings.daily_max_loss_pct / 100.0)
    if not limits:
        return "", []
    today = now.strftime("%Y-%m-%d")
    pnl = sum(
        st.risk.daily_pnl for st in app.strategies.values() if st.risk.daily_pnl_date == today
    )
    limit = min(limits)
    if -pnl < limit:
        return "", []
    why = f"${-pnl:,.2f} lost today >= ${limit:,.2f}"
    s = state(app)
    if s["daily_loss_day"] == today:
        return why, []
    s["daily_loss_day"] = today
    text = f"daily loss limit: {why}; entries held until 00:00 UTC"
    return why, [RiskEvent("daily_loss", text, critical=True)]


def notional_cap(
    app: AppState, settings: RiskSettings, notional: float
) -> tuple[str, list[RiskEvent]]:
    """Why entries are held for the book's notional ("" when not); alert on entering the cap."""
    s = state(app)
    if settings.max_notional_usd <= 0 or notional <= settings.max_notional_usd:
        s["notional_capped"] = False
        return "", []
    why = f"notional ${notional:,.2f} > ${settings.max_notional_usd:,.2f}"
    if s["notional_capped"]:
        return why, []
    s["notional_capped"] = True
    return why, [RiskEvent("notional_cap", f"notional cap: {why}; entries held")]


def base_asset(symbol: str) -> str:
    """``BTC/USDT``, ``BTC-USD``, ``BTC``, ``XBT/ZAR``, ``BTC/USDC:USDC`` -> ``BTC``; the micro
    CME contracts count as their full-size asset (exposure, not contract)."""
    s = base_symbol(symbol)
    return {"MES": "ES", "MNQ": "NQ"}.get(s, s)


def correlation(
    app: AppState, settings: RiskSettings, prices_for: Callable[[str], dict[str, float]]
) -> tuple[dict[str, Any], list[RiskEvent]]:
    """Net exposure per asset across strategies and the warnings above the thresholds."""
    assets: dict[str, dict[str, Any]] = {}
    for st in app.strategies.values():
        marks = prices_for(st.venue)
        for pos in st.positions.values():
            mark = marks.get(pos.symbol) or pos.avg_cost
            exposure = pos.sign * pos.notional(mark)
            a = assets.setdefault(
                base_asset(pos.symbol), {"net_usd": 0.0, "gross_usd": 0.0, "long": 0, "short": 0}
            )
            a["net_usd"] += exposure
            a["gross_usd"] += abs(exposure)
            a["long" if pos.sign > 0 else "short"] += 1
    gross = sum(a["gross_usd"] for a in assets.values())
    warnings: list[str] = []
    for name, a in sorted(assets.items()):
        a["concentration_pct"] = abs(a["net_usd"]) / gross * 100.0 if gross > 0 else 0.0
        holders = a["long"] + a["short"]
        a["same_direction_pct"] = max(a["long"], a["short"]) / holders * 100.0 if holders else 0.0
        if len(assets) > 1 and a["concentration_pct"] > settings.max_concentration_pct:
            warnings.append(f"{name} is {a['concentration_pct']:.0f}% of the book's exposure")
        if holders >= 2 and a["same_direction_pct"] > settings.max_same_direction_pct:
            warnings.append(f"{name}: {max(a['long'], a['short'])} of {holders} strategies agree")
    snapshot = {"assets": assets, "gross_usd": gross, "warnings": warnings}
    previous = app.extra.get("correlation", {}).get("warnings", [])
    app.extra["correlation"] = snapshot
    if not settings.correlation_enabled or not warnings or warnings == previous:
        return snapshot, []
    return snapshot, [RiskEvent("correlation", "CORRELATION WARNING: " + "; ".join(warnings))]
