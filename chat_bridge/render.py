"""The replies' text, built from the daemon's JSON (the same views /status and the dashboard
use: one value and P&L rule, supervisor/http/views.py). Upstream's shapes (reference B.2):
``sym side qty @ avg (mv $) [id]`` for positions, ``N. id — +x.xx% ($+y)`` for the leaderboard.
Every reply is cut to Discord's 2000 bytes on a character boundary, ending "...".
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

MAX_BYTES = 2000
STALE_S = 30 * 60  # health: "unhealthy (main loop stale)" past this, as upstream


def cut(text: str, limit: int = MAX_BYTES) -> str:
    """``text`` in at most ``limit`` UTF-8 bytes, never splitting a character."""
    data = text.encode("utf-8")
    if len(data) <= limit:
        return text
    return data[: limit - 3].decode("utf-8", "ignore") + "..."


def money(x: float, sign: bool = False) -> str:
    return f"{'+' if sign and x >= 0 else '-' if x < 0 else ''}${abs(x):,.2f}"


def status(doc: dict[str, Any], strategies: list[dict[str, Any]]) -> str:
    """Cash, positions, value, trades, then paused, kill-switch and breaker notes."""
    views = doc.get("strategies", {})
    cash = sum(v.get("cash", 0.0) for v in views.values())
    npos = sum(len(v.get("positions") or {}) for v in views.values())
    trades = sum(int(v.get("trade_count") or 0) for v in views.values())
    lines = [
        f"**go-trader** cycle {doc.get('cycle_count', 0)}: cash {money(cash)} · "
        f"{npos} open positions · value {money(doc.get('total_value', 0.0))} "
        f"(P&L {money(doc.get('total_pnl', 0.0), True)}) · {trades} trades"
    ]
    regimes = sorted({str(v["regime"]) for v in views.values() if v.get("regime")})
    if regimes:
        lines.append("regime: " + ", ".join(regimes))
    paused = [s["id"] for s in strategies if s.get("paused")]
    if paused:
        lines.append("⏸ paused: " + ", ".join(paused))
    risk = doc.get("portfolio_risk") or {}
    if risk.get("kill_switch"):
        lines.append(f"🛑 kill switch latched: {risk.get('reason') or '?'}")
    elif risk.get("warning"):
        lines.append(f"⚠️ drawdown warning ({risk.get('drawdown_pct', 0):.1f}%)")
    open_cb = [
        sid for sid, v in views.items() if (v.get("risk_state") or {}).get("circuit_breaker")
    ]
    if open_cb:
        lines.append("circuit breakers open: " + ", ".join(sorted(open_cb)))
    return "\n".join(lines)


def health(code: int, doc: dict[str, Any], now: float) -> str:
    """version, cycles, last-cycle age; ``ok``, ``unhealthy (main loop stale)`` or ``starting``."""
    if code == 503 and doc.get("status") in ("starting", "draining"):
        return f"status: {doc['status']}"
    age = _age(doc.get("last_cycle"), now)
    state = "ok" if code == 200 else f"unhealthy ({doc.get('reason') or doc.get('status')})"
    if code == 200 and isinstance(age, int | float) and age > STALE_S:
        state = "unhealthy (main loop stale)"
    shown = f"{age:.0f}s ago" if isinstance(age, int | float) else "never"
    return (
        f"status: {state} · version {doc.get('version', '?')} · cycles "
        f"{doc.get('cycle_count', 0)} · last cycle {shown}"
    )


def _age(iso: object, now: float) -> float | None:
    if not isinstance(iso, str) or not iso:
        return None
    try:
        return max(0.0, now - datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp())
    except ValueError:
        return None


def positions(doc: dict[str, Any]) -> str:
    """``sym side qty @ avg (mv $) [id]`` per platform; value at the mark, else the cost."""
    by_platform: dict[str, list[str]] = {}
    for sid, v in sorted(doc.get("strategies", {}).items()):
        for sym, p in sorted((v.get("positions") or {}).items()):
            qty = float(p.get("quantity") or 0.0)
            avg = float(p.get("avg_cost") or 0.0)
            mv = abs(qty) * float(p.get("mark") or avg)
            line = f"{sym} {p.get('side', '?')} {qty:g} @ {avg:,.2f} (mv {money(mv)}) [{sid}]"
            by_platform.setdefault(str(v.get("platform", "?")), []).append(line)
    if not by_platform:
        return "No open positions."
    out = []
    for platform, lines in sorted(by_platform.items()):
        out.append(f"**{platform}**")
        out.extend(lines)
    return "\n".join(out)


def pnl(doc: dict[str, Any]) -> str:
    """Total, by platform, by strategy."""
    views = doc.get("strategies", {})
    lines = [f"**Total P&L** {money(doc.get('total_pnl', 0.0), True)}"]
    plats: dict[str, float] = {}
    for v in views.values():
        plats[str(v.get("platform", "?"))] = plats.get(str(v.get("platform", "?")), 0.0) + float(
            v.get("pnl", 0.0)
        )
    lines += [f"{p}: {money(x, True)}" for p, x in sorted(plats.items())]
    lines.append("**By strategy**")
    for sid, v in sorted(views.items()):
        lines.append(
            f"{sid}: {money(float(v.get('pnl', 0.0)), True)} ({v.get('pnl_pct', 0):+.2f}%)"
        )
    return "\n".join(lines)


def leaderboard(entries: list[dict[str, Any]], top: int) -> str:
    """``N. id — +x.xx% ($+y)``, ``top`` clamped to 1..200 as upstream."""
    top = max(1, min(200, top))
    if not entries:
        return "No strategies yet."
    lines = [f"🏆 **Leaderboard** (top {min(top, len(entries))})"]
    for n, e in enumerate(entries[:top], 1):
        pnl_v = float(e.get("pnl", 0.0))
        lines.append(f"{n}. {e['id']} — {e.get('pnl_pct', 0):+.2f}% ({money(pnl_v, True)})")
    return "\n".join(lines)


def circuit_breakers(doc: dict[str, Any]) -> str:
    """Open breakers, the kill switch, pending orders."""
    lines = []
    for sid, v in sorted(doc.get("strategies", {}).items()):
        r = v.get("risk_state") or {}
        if r.get("circuit_breaker"):
            until = f" until {r['circuit_breaker_until']}" if r.get("circuit_breaker_until") else ""
            lines.append(f"🔴 {sid}: {r.get('circuit_breaker_reason') or 'latched'}{until}")
    risk = doc.get("portfolio_risk") or {}
    if risk.get("kill_switch"):
        lines.append(
            f"🛑 kill switch latched since {risk.get('kill_switch_at') or '?'}: "
            f"{risk.get('reason') or '?'}"
        )
    pending = (doc.get("live") or {}).get("pending_orders") or []
    for p in pending:
        lines.append(f"⏳ pending {p.get('leg')} {p.get('symbol')} [{p.get('strategy')}]")
    return "\n".join(lines) if lines else "No circuit breakers open; kill switch clear."


def dead(doc: dict[str, Any]) -> str:
    rows = doc.get("dead") or []
    if not rows:
        return "No dead strategies."
    return "\n".join(f"💀 {r['id']}: {r.get('reason', '')}" for r in rows)


def correlation(doc: dict[str, Any]) -> str:
    corr = doc.get("correlation")
    if not corr:
        return "No open positions: no exposure to correlate."
    lines = [f"**Exposure** gross {money(corr.get('portfolio_gross_usd', 0.0))}"]
    for sym, row in sorted((corr.get("assets") or {}).items()):
        lines.append(
            f"{sym}: long {money(row.get('long_usd', 0.0))} · short "
            f"{money(row.get('short_usd', 0.0))} · net {money(row.get('net_usd', 0.0), True)}"
        )
    return "\n".join(lines)


def closing_strategies(doc: dict[str, Any]) -> list[str]:
    """One message per group of evaluators (upstream sends several)."""
    rows = doc.get("evaluators") or []
    if not rows:
        return ["No close evaluators registered."]
    lines = [
        f"• **{r.get('name')}** ({', '.join(r.get('platforms') or []) or 'any'}): "
        f"{r.get('description', '')}"
        + (f" defaults {r['default_params']}" if r.get("default_params") else "")
        for r in rows
    ]
    out, cur = [], "**Close evaluators**"
    for line in lines:
        if len((cur + "\n" + line).encode()) > MAX_BYTES:
            out.append(cur)
            cur = line
        else:
            cur += "\n" + line
    out.append(cur)
    return out


def redacted_config(raw: Any) -> Any:
    """``config show``: upstream redacts only the tokens; here every key that looks secret."""
    if isinstance(raw, dict):
        return {
            k: "[redacted]"
            if any(w in k.lower() for w in ("token", "secret", "key", "password"))
            and isinstance(v, str)
            else redacted_config(v)
            for k, v in raw.items()
        }
    if isinstance(raw, list):
        return [redacted_config(v) for v in raw]
    return raw


PLATFORMS = {
    "hyperliquid": "HYPERLIQUID_SECRET_KEY and HYPERLIQUID_ACCOUNT_ADDRESS in the env file",
    "binanceus": "BINANCE_API_KEY / BINANCE_API_SECRET (spot only)",
    "okx": "OKX_API_KEY / OKX_API_SECRET / OKX_PASSPHRASE",
    "deribit": "DERIBIT_CLIENT_ID / DERIBIT_CLIENT_SECRET (options)",
    "ibkr": "TWS or IB Gateway running; ibkr.host/port in the config; pip install '.[ibkr]'",
    "topstep": "TOPSTEP_API_KEY / TOPSTEP_USERNAME (futures)",
    "robinhood": "ROBINHOOD_USERNAME / ROBINHOOD_PASSWORD / ROBINHOOD_TOTP_SECRET",
    "luno": "LUNO_API_KEY_ID / LUNO_API_KEY_SECRET",
}


def add_platform(name: str) -> str:
    """A setup checklist; writes nothing (as upstream)."""
    key = name.strip().lower()
    if key not in PLATFORMS:
        return f"Unknown platform {name!r}. Known: {', '.join(sorted(PLATFORMS))}."
    return (
        f"**Setting up {key}**\n1. Credentials: {PLATFORMS[key]}.\n"
        f"2. `go-trader probe` to check them.\n3. Add a strategy with platform {key!r} "
        "(paper first), `go-trader check-config`, then restart."
    )
