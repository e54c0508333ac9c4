"""``go-trader inspect <id> [--all] [--json]``: what a strategy really runs with, and what it holds.

Shows each strategy's effective config (after defaults and migrations) beside its raw entry in
the file, marking which keys were set and which defaulted, and its stored state: cash, positions
with their stop and targets, risk latches with when they end, the last signal and error, recent
trades and its capital changes (the cashflow journal). The state DB is opened read-only and the supervisor's lock is not taken, so this works
while the supervisor runs (WAL: the reader sees the last committed cycle).

Exit codes: 0 ok (also when the DB does not exist yet: the config is still shown), 1 the DB
exists but cannot be read, 2 usage (no id, or an unknown one).
"""

from __future__ import annotations

import json
from dataclasses import asdict, fields
from datetime import datetime

from shared_tools.config.checks import loads_json
from shared_tools.config.effective import effective_values
from shared_tools.config.model import Config, StrategyConfig
from supervisor.cycle_gates import last_hold
from supervisor.state.models import AppState, StrategyState, parse_iso

EXIT_USAGE = 2
MAX_IDS_SHOWN = 20
CASHFLOWS_SHOWN = 20  # the strategy's capital changes, newest first

# Raw keys whose value lands in a differently named field.
_ALIASES = {
    "close_strategies": ("close_strategy",),
    "direction": ("allow_shorts",),
    "futures_fee_per_contract": ("futures",),
    "futures_max_contracts": ("futures",),
}
_FIELDS = [f.name for f in fields(StrategyConfig)]


class UsageError(Exception):
    """A bad id or flag combination; the message is one line for the operator."""


def known_ids_text(ids: list[str]) -> str:
    shown = ", ".join(ids[:MAX_IDS_SHOWN])
    more = len(ids) - MAX_IDS_SHOWN
    return shown + (f", ... and {more} more" if more > 0 else "")


def select(config: Config, ids: list[str], *, all_: bool, what: str) -> list[StrategyConfig]:
    """The strategies named (in order, once each) or all; UsageError names the known ids."""
    how = "--strategy <id> (repeatable)" if what.startswith("export") else "a strategy id"
    if all_ and ids:
        raise UsageError(f"{what}: give {how} or --all, not both")
    if all_:
        return list(config.strategies)
    if not ids:
        raise UsageError(f"{what}: give {how} or --all")
    by_id = {s.id: s for s in config.strategies}
    unknown = [i for i in ids if i not in by_id]
    if unknown:
        raise UsageError(
            f"{what}: unknown strategy {', '.join(map(repr, unknown))} in {config.path}; "
            f"known: {known_ids_text(list(by_id))}"
        )
    return [by_id[i] for i in dict.fromkeys(ids)]


def raw_entries(config: Config) -> dict[str, dict]:
    """Each strategy's entry as written in the file (before defaults and migrations), by id."""
    try:
        doc = loads_json(config.path.read_text(encoding="utf-8-sig"))
    except (OSError, ValueError):
        doc = config.raw
    entries = doc.get("strategies") if isinstance(doc, dict) else None
    if not isinstance(entries, list):
        return {}
    return {e["id"]: e for e in entries if isinstance(e, dict) and isinstance(e.get("id"), str)}


def effective_config(sc: StrategyConfig, config: Config) -> dict:
    """The fields the supervisor runs with, plus what it derives from them."""
    out = json.loads(json.dumps(asdict(sc)))  # tuples become lists, as in the file
    out["derived"] = {
        "symbol": sc.symbol,
        "timeframe": sc.timeframe,
        "mark_venue": sc.venue,
        "effective_interval_seconds": sc.effective_interval(config.interval_seconds),
        "protection": json.loads(json.dumps(asdict(sc.rules.protection))),
        "fee_rate": sc.rules.fee_rate,
    }
    if sc.regime_args:
        out["derived"]["regime"] = _regime_derived(sc, config)
    return out


def _regime_derived(sc: StrategyConfig, config: Config) -> dict:
    """The regime policies as they resolve: display windows, and per policy label the
    direction it would trade and whether the artifact certifies it (status now)."""
    from shared_tools import regime_policy

    out: dict = {"display_windows": list(config.regime.display_windows)}
    policy = sc.directional_policy
    if policy:
        certs = regime_policy.load_certifications()
        out["base_direction"] = sc.direction
        out["certification_artifact"] = f"{regime_policy.cert_path()} ({certs.reason})"
        out["regime_directional_policy"] = {
            label: {
                "direction": d,
                "invert_signal": inv,
                "directional_certification_status": regime_policy.verdict(
                    policy, certs, sc.symbol, sc.timeframe, label
                ),
            }
            for label, d, inv in policy.rules
        }
    return out


def provenance(raw: dict) -> tuple[list[str], list[str]]:
    """(fields set in the file, fields that took a default or were derived by the loader)."""
    explicit, defaulted = [], []
    for name in _FIELDS:
        keys = (name, *_ALIASES.get(name, ()))
        (explicit if any(k in raw for k in keys) else defaulted).append(name)
    return explicit, defaulted


def latches(strat: StrategyState, sc: StrategyConfig, now: datetime) -> dict:
    """The risk latches as an operator reads them: what blocks the strategy and until when."""
    r = strat.risk
    until = r.circuit_breaker_until
    active = bool(r.circuit_breaker and until and now < parse_iso(until))
    cb = {
        "latched": r.circuit_breaker,
        "active": active,
        "until": until,
        "reason": r.circuit_breaker_reason,
        "ends_in_s": round((parse_iso(until) - now).total_seconds()) if active else 0,
        "enabled": sc.circuit_breaker,
    }
    if r.circuit_breaker and not active:
        cb["note"] = "cooldown over; released at the strategy's next check"
    return {
        "circuit_breaker": cb,
        "consecutive_losses": {
            "count": r.consecutive_losses,
            "threshold": sc.cb_loss_streak_threshold,
            "cooldown_minutes": sc.cb_loss_streak_cooldown_minutes,
        },
        "drawdown": {
            "current_pct": r.current_drawdown_pct,
            "max_pct": sc.max_drawdown_pct,
            "peak_value": r.peak_value,
            "cooldown_minutes": sc.cb_drawdown_cooldown_minutes,
        },
        "daily_pnl": {"value": r.daily_pnl, "date": r.daily_pnl_date},
        "consecutive_failures": strat.consecutive_failures,
        "paused": sc.paused,
    }


def state_view(app: AppState, db, sc: StrategyConfig, now: datetime, n_trades: int) -> dict | None:
    """The strategy's stored book (the status server's view) with latches and recent trades."""
    from supervisor.http.views import strategy_view
    from supervisor.risk.capital_pct import view as capital_pct_view

    strat = app.strategies.get(sc.id)
    if strat is None:
        return None
    view = strategy_view(strat, app.prices_for(strat.venue))
    view["capital_pct"] = capital_pct_view(app, sc.id)  # None: not a capital_pct strategy
    view["latches"] = latches(strat, sc, now)
    view["regime"] = app.extra.get("regime_view", {}).get(sc.id)
    view["last_entry_held"] = last_hold(app, sc.id)
    rows, total = db.trade_history(strategy=sc.id, limit=n_trades)
    view["recent_trades"] = rows
    view["trades_stored"] = total
    view["cashflows"], view["cashflows_stored"] = db.cashflow_journal(
        strategy=sc.id, limit=CASHFLOWS_SHOWN
    )
    if sc.type == "options":
        view["closed_option_positions"] = db.closed_option_positions(sc.id, limit=n_trades)
    if sc.live:
        view["live_orders"] = db.order_history(strategy=sc.id, limit=n_trades)
    return view


def build_document(
    config: Config, chosen: list[StrategyConfig], now: datetime, n_trades: int
) -> tuple[dict, str]:
    """The whole report as one JSON-able document, and the state error ("" if none)."""
    from supervisor.http.views import portfolio_risk_view
    from supervisor.state.db import StateDB, StateError

    raws = raw_entries(config)
    app, db, error = None, None, ""
    try:
        db = StateDB.open_readonly(config.db_file)
        app = db.load()
    except StateError as exc:
        error = str(exc)
    try:
        doc = {
            "config": str(config.path),
            "db_file": str(config.db_file),
            "state_error": error or None,
            "now": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "cycle_count": app.cycle_count if app else None,
            "last_cycle": app.last_cycle if app else None,
            "portfolio_risk": portfolio_risk_view(app) if app else None,
            "strategies": [],
        }
        for sc in chosen:
            raw = raws.get(sc.id, {})
            explicit, defaulted = provenance(raw)
            doc["strategies"].append(
                {
                    "id": sc.id,
                    "effective": effective_config(sc, config),
                    "effective_values": effective_values(sc, config),
                    "raw": raw,
                    "explicit": explicit,
                    "defaulted": defaulted,
                    "state": state_view(app, db, sc, now, n_trades) if app else None,
                }
            )
    finally:
        if db is not None:
            db.close()
    return doc, error


def run(
    config: Config,
    strategy_id: str | None,
    *,
    all_: bool,
    as_json: bool,
    n_trades: int,
    echo,
) -> int:
    """Print the report through ``echo(text, err=bool)``; return the exit code."""
    from shared_tools.clock import now_utc

    try:
        chosen = select(config, [strategy_id] if strategy_id else [], all_=all_, what="inspect")
    except UsageError as exc:
        echo(str(exc), err=True)
        return EXIT_USAGE
    doc, error = build_document(config, chosen, now_utc(), n_trades)
    missing = error and not config.db_file.exists()
    if error:
        echo(f"inspect: {error}" + ("; showing the config only" if missing else ""), err=True)
    if as_json:
        echo(json.dumps(doc, indent=2, sort_keys=True, allow_nan=False, default=str))
    else:
        echo(render(doc))
    return 0 if (not error or missing) else 1


# -- text for people ------------------------------------------------------------------------


def _money(x: float | None) -> str:
    return "-" if x is None else f"{x:,.2f}"


def _num(x: float | None) -> str:
    return "-" if x is None else f"{x:,.8g}" if abs(x) < 1e6 else f"{x:,.2f}"


def _compact(value: object) -> str:
    return json.dumps(value, sort_keys=True, separators=(", ", ": "), default=str)


def render(doc: dict) -> str:
    """The document as text: one block per strategy."""
    lines = [f"config {doc['config']}; state DB {doc['db_file']}"]
    if doc["state_error"]:
        lines.append(f"state: not available ({doc['state_error']})")
    else:
        lines.append(f"state: cycle {doc['cycle_count']} at {doc['last_cycle'] or 'never'}")
        pr = doc["portfolio_risk"]
        if pr and pr["kill_switch"]:
            lines.append(
                f"PORTFOLIO KILL SWITCH latched since {pr['kill_switch_at']}: {pr['reason']}"
            )
    for entry in doc["strategies"]:
        lines.append("")
        lines.extend(_strategy_lines(entry))
    return "\n".join(lines)


def _strategy_lines(entry: dict) -> list[str]:
    eff, raw = entry["effective"], entry["raw"]
    der = eff["derived"]
    out = [
        f"== {entry['id']} ({eff['type']} on {eff['platform']}, {der['symbol']} "
        f"{der['timeframe']}, every {der['effective_interval_seconds']}s) ==",
        "effective config (* = set in the file, others defaulted or derived by the loader):",
    ]
    explicit = set(entry["explicit"])
    for key in sorted(k for k in eff if k != "derived"):
        out.append(f"  {'*' if key in explicit else ' '} {key}: {_compact(eff[key])}")
    for key, value in der.items():
        out.append(f"    {key}: {_compact(value)} (derived)")
    out.append("values a default can supply (source: config, user_defaults or default):")
    for key, row in entry.get("effective_values", {}).items():
        shown = {k: v for k, v in row.items() if k not in ("source", "via")}
        via = f" via {row['via']}" if row.get("via") else ""
        value = shown["value"] if list(shown) == ["value"] else shown
        out.append(f"  {key}: {_compact(value)} [{row['source']}{via}]")
    out.append("raw entry in the file:")
    out.extend("  " + line for line in json.dumps(raw, indent=2, sort_keys=True).splitlines())
    state = entry["state"]
    if state is None:
        out.append("state: none stored for this strategy yet")
        return out
    out.extend(_state_lines(state))
    return out


def _state_lines(st: dict) -> list[str]:
    out = [
        f"state: cash {_money(st['cash'])}, initial capital {_money(st['initial_capital'])}, "
        f"value {_money(st['portfolio_value'])} ({st['pnl_pct']:+.2f}%), "
        f"{st['trade_count']} trades",
        f"  last run {st['last_run'] or 'never'}; last signal {st['last_signal']} "
        f"at {_num(st['last_price'])}",
        f"  last error: {st['last_error'] or 'none'}"
        + (f" (at {st['last_error_at']})" if st["last_error"] else ""),
    ]
    if st.get("regime"):  # the last cycle's labels and effective direction rules
        out.append(f"  regime: {_compact(st['regime'])}")
    if st.get("capital_pct"):
        cp = st["capital_pct"]
        out.append(f"  capital_pct: resolved capital {_money(cp['capital'])} from {cp['source']}")
    held = st.get("last_entry_held")
    if held:
        out.append(
            f"  last entry held: {held['side']} by {held['gate']}: {held['reason']} "
            f"(at {held['at']}, cycle {held['cycle']})"
        )
    if not st["positions"]:
        out.append("  positions: none")
    for sym, p in sorted(st["positions"].items()):
        out.append(
            f"  position {sym}: {p['side']} {_num(p['quantity'])} @ {_num(p['avg_cost'])} "
            f"({p['kind']}, {p['leverage']:g}x, opened {p['opened_at']}); mark {_num(p['mark'])}, "
            f"unrealized {_money(p['unrealized_pnl'])}"
        )
        stop = f"{_num(p['stop'])} ({p['stop_kind']})" if p["stop"] else "none"
        if p["trailing_best"] is not None:
            stop += f", trailing from best {_num(p['trailing_best'])}"
        targets = ", ".join(
            f"{_num(t['price'])} -> {t['close_fraction']:.0%}" for t in p["targets"]
        )
        out.append(f"    stop {stop}; targets {targets or 'none'}")
    out.extend(_option_lines(st))
    out.extend(_latch_lines(st["latches"]))
    trades = st["recent_trades"]
    out.append(f"  recent trades ({len(trades)} newest of {st['trades_stored']}):")
    for t in trades:
        kind = "funding" if t["trade_type"] == "funding" else "close" if t["is_close"] else "open"
        pnl = f", pnl {_money(t['realized_pnl'])}" if t["is_close"] else ""
        why = f" [{t['reason']}]" if t["reason"] else ""
        out.append(
            f"    {t['timestamp']} {kind} {t['side']} {_num(t['quantity'])} {t['symbol']} "
            f"@ {_num(t['price'])}, fee {_money(t['fee'])}{pnl}{why}"
        )
    orders = st.get("live_orders")
    if orders is not None:
        out.append(f"  live orders ({len(orders)} newest):")
        for o in orders:
            what = (
                f"{o['fill_qty']:g} @ {_money(o['fill_price'])}" if o["status"] == "filled" else ""
            )
            why = f" ({o['error']})" if o["error"] else ""
            out.append(
                f"    cycle {o['cycle']} {o['leg']} {o['side']} {o['size']:g} {o['symbol']} "
                f"{o['status']} {what}{why} cloid {o['cloid']}"
            )
    flows = st.get("cashflows", [])
    out.append(f"  cashflows ({len(flows)} newest of {st.get('cashflows_stored', 0)}):")
    for c in flows:
        out.append(f"    {c['at']} {c['amount']:+,.2f} ({c['reason']}, cycle {c['cycle']})")
    return out


def _option_lines(st: dict) -> list[str]:
    """type options: each leg (upstream's key, per-unit mark, value, greeks), the book's
    signed greeks and the latest closed option positions."""
    if "option_positions" not in st:
        return []
    out = [f"  option legs: {len(st['option_positions']) or 'none'}"]
    for key, o in sorted(st["option_positions"].items()):
        g = o["greeks"]
        out.append(
            f"    {key}: {o['quantity']:g} x{o['multiplier']:g}, entry {_num(o['entry_premium_unit_usd'])}"
            f" mark {_num(o['mark_unit_usd'])} per unit, value {_money(o['current_value_usd'])}, "
            f"dte {o['dte']:.1f}; delta {g.get('delta', 0):.4f} theta {g.get('theta', 0):.2f}"
        )
    pg = st["portfolio_greeks"]
    out.append(
        "  portfolio greeks: "
        + ", ".join(f"{k} {pg[k]:+.4g}" for k in ("delta", "gamma", "theta", "vega"))
    )
    for c in st.get("closed_option_positions", [])[:10]:
        out.append(
            f"    closed {c['closed_at']} {c['position_id']} @ {_num(c['close_price_usd'])} "
            f"[{c['close_reason']}], pnl {_money(c['realized_pnl'])}"
        )
    return out


def _latch_lines(lt: dict) -> list[str]:
    cb = lt["circuit_breaker"]
    if cb["active"]:
        cb_text = f"LATCHED until {cb['until']} ({cb['reason']})"
    elif cb["latched"]:
        cb_text = f"latched until {cb['until']}, {cb.get('note', '')} ({cb['reason']})"
    else:
        cb_text = "off" if cb["enabled"] else "disabled in the config"
    losses, dd, day = lt["consecutive_losses"], lt["drawdown"], lt["daily_pnl"]
    return [
        f"  circuit breaker: {cb_text}",
        f"  consecutive losses {losses['count']} of {losses['threshold']}; drawdown "
        f"{dd['current_pct']:.2f}% of max {dd['max_pct']:g}% (peak {_money(dd['peak_value'])}); "
        f"daily P&L {_money(day['value'])} ({day['date'] or '-'})",
        f"  consecutive worker failures {lt['consecutive_failures']}"
        + ("; PAUSED in the config" if lt["paused"] else ""),
    ]
