"""The chat messages a cycle causes: trade alerts, channel summaries, owner DMs.

They are built while the book lock is held and appended to ``app.unsaved_messages``, so they
commit in the same transaction as the cycle (the outbox); the sender delivers them later. The
summary cadence (``summary_frequency``) is kept in ``app.extra["notify"]`` so a restart keeps it.
"""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime

from shared_tools.config.model import Config
from shared_tools.config.notify import TOKEN_ENV, TRANSPORTS, ChatSettings, frequency_seconds
from supervisor import __version__
from supervisor.http.views import position_view
from supervisor.notify.render import render, split_for
from supervisor.notify.routing import OWNER, Who, summary_key, trade_target
from supervisor.risk.portfolio import base_asset
from supervisor.state.models import AppState, Message, StrategyState, Trade, parse_iso, utc_iso

EXTRA_KEY = "notify"
_CONTINUOUS = ("options", "futures", "perps", "manual")
_DIRECTION = re.compile(r"\b(?:open|close)\s+(long|short)\b", re.IGNORECASE)
_ICONS = {"spot": "📈", "perps": "⚡", "hyperliquid": "⚡", "futures": "🏦", "ibkr": "🏦"}


def active(config: Config) -> list[tuple[str, ChatSettings]]:
    """The enabled chat platforms whose bot token is set."""
    out = []
    for transport in TRANSPORTS:
        chat = config.notify.chat(transport)
        if chat.enabled and os.environ.get(TOKEN_ENV[transport]):
            out.append((transport, chat))
    return out


def who_of(config: Config, app: AppState, sid: str) -> Who:
    """What routing needs of a strategy: its config, else its stored book (a removed one)."""
    try:
        sc = config.strategy(sid)
    except KeyError:
        strat = app.strategies.get(sid)
        return Who(strat.platform if strat else "", strat.type if strat else "", True)
    return Who(sc.platform, sc.type, sc.check_args.mode != "live")


def _messages(
    transport: str, target: str, category: str, body: str, now: datetime, cycle: int
) -> list[Message]:
    stamp = utc_iso(now)
    return [
        Message(transport, target, category, piece, created_at=stamp, cycle=cycle)
        for piece in split_for(transport, body)
    ]


# -- trade alerts ------------------------------------------------------------------------------


def trade_alert(transport: str, trade: Trade, who: Who, strat: StrategyState | None) -> str:
    """One trade in upstream's FormatTradeDM shape (stop and targets of what is still open)."""
    m = _DIRECTION.search(trade.details or "")
    side = "LONG" if trade.side == "buy" else "SHORT"
    direction = m.group(1).upper() if m else side
    stop, targets = None, []
    pos = strat.positions.get(trade.symbol) if strat else None
    if pos is not None:
        view = position_view(pos, trade.price)
        stop = view["stop"]
        targets = [t["price"] for t in view["targets"]]
    return render(
        "trade",
        transport,
        close=trade.is_close,
        mode="PAPER" if who.paper else "LIVE",
        sid=trade.strategy_id,
        platform=who.platform.capitalize(),
        kind=who.type,
        symbol=trade.symbol,
        direction=direction,
        qty=trade.quantity,
        price=trade.price,
        value=trade.value,
        reason=trade.reason or "signal",
        pnl=trade.net_pnl,
        stop=stop,
        targets=targets,
    )


# -- summaries ---------------------------------------------------------------------------------


def _summary_due(app: AppState, config: Config, cadence_key: str, key: str, sids, now) -> bool:
    last = app.extra.get(EXTRA_KEY, {}).get("last_summary", {}).get(cadence_key)
    if not last:
        return True
    freq = frequency_seconds(config.notify.summary_frequency.get(key, "") or "")
    if freq is None:  # upstream's default: channels with a continuous strategy post every run
        types = {app.strategies[s].type for s in sids if s in app.strategies}
        freq = 0.0 if types & set(_CONTINUOUS) else 3600.0
    try:
        return (now - parse_iso(last)).total_seconds() >= freq
    except ValueError:
        return True


_ASSET_ORDER = ("BTC", "ETH", "SOL", "BNB")


def _asset(config: Config, app: AppState, sid: str) -> str:
    try:
        sc = config.strategy(sid)
        if sc.options is not None:  # type options: its underlying
            return sc.options.underlying
        symbol = sc.symbol
    except KeyError:
        symbol = next(iter(app.strategies[sid].positions), "")
    return base_asset(symbol) if symbol else ""


def by_asset(config: Config, app: AppState, sids: list[str]) -> list[tuple[str, list[str]]]:
    """The channel's strategies per base asset (BTC, ETH, SOL, BNB first, as upstream)."""
    groups: dict[str, list[str]] = {}
    for sid in sids:
        groups.setdefault(_asset(config, app, sid), []).append(sid)
    rank = {a: n for n, a in enumerate(_ASSET_ORDER)}
    return sorted(groups.items(), key=lambda kv: (rank.get(kv[0], len(rank)), kv[0]))


def summaries(
    transport: str, key: str, app: AppState, config: Config, sids: list[str], trades: list[Trade]
) -> list[str]:
    """A channel's category summary; one per asset when its strategies span several."""
    groups = by_asset(config, app, sids)
    if len(groups) == 1:
        return [summary(transport, key, app, sids, trades)]
    out = []
    for asset, group in groups:
        mine = [t for t in trades if t.strategy_id in group]
        out.append(summary(transport, key, app, group, mine, asset=asset))
    return out


def option_lines(strat: StrategyState) -> list[str]:
    """Upstream's option position line: ``<id> OPT <key> ($<value>) [Jan 02 15:04]`` (a sold
    leg shows a negative value)."""
    out = []
    for leg in sorted(strat.legs.values(), key=lambda x: x.key):
        try:
            opened = parse_iso(leg.opened_at).strftime("%b %d %H:%M")
        except ValueError:
            opened = leg.opened_at[:16]
        out.append(f"{strat.id} OPT {leg.key} (${leg.value():,.2f}) [{opened}]")
    return out


def summary(
    transport: str,
    key: str,
    app: AppState,
    sids: list[str],
    trades: list[Trade],
    *,
    asset: str = "",
) -> str:
    """The ``$X → $Y`` header, then a line per strategy (the seed's category summary)."""
    rows, positions, latched, prices = [], [], [], {}
    start = end = 0.0
    for sid in sids:
        strat = app.strategies[sid]
        marks = app.prices_for(strat.venue)
        value = strat.value(marks)
        start, end = start + strat.initial_capital, end + value
        pct = (value / strat.initial_capital - 1) * 100 if strat.initial_capital else 0.0
        rows.append({"id": sid, "value": value, "pnl_pct": pct})
        if strat.risk.circuit_breaker:
            until = strat.risk.circuit_breaker_until
            latched.append(f"{sid} (until {until[:16]})" if until else sid)
        for sym, pos in sorted(strat.positions.items()):
            mark = marks.get(sym)
            if mark:
                prices[sym] = f"{sym}: ${mark:,.2f}"
            upnl = pos.unrealized_pnl(mark or pos.avg_cost)
            positions.append(
                f"{sid} {pos.side.upper()} {sym} x{pos.quantity:.6g} @ ${pos.avg_cost:,.2f} "
                f"({'+' if upnl >= 0 else '-'}${abs(upnl):,.2f})"
            )
        positions.extend(option_lines(strat))
    types = {app.strategies[s].type for s in sids}
    icon = "🎯" if "options" in types else _ICONS.get(key, _ICONS.get(next(iter(types), ""), "📊"))
    title = f"{key.upper()} TRADES" if trades else f"{key.capitalize()} Summary"
    if asset:
        title += f" — {asset}"
    return render(
        "summary",
        transport,
        icon=icon,
        title=title,
        build=f"v{__version__} pid:{os.getpid()}",
        start=start,
        end=end,
        pnl=end - start,
        pnl_pct=(end / start - 1) * 100 if start else 0.0,
        latched=latched,
        prices=list(prices.values()),
        cycle=app.cycle_count,
        rows=rows,
        positions=positions,
        trades=[f"[{t.strategy_id}] {t.side.upper()} {t.symbol} @ ${t.price:,.2f}" for t in trades],
    )


# -- the entry points --------------------------------------------------------------------------


def messages_for_cycle(report, app: AppState, config: Config, now: datetime) -> list[Message]:
    """Trade alerts for every trade and the summaries that are due, per enabled platform.

    ``report`` is the cycle's :class:`supervisor.cycle.CycleReport`; ``now`` the wall clock
    (the summary cadence is about people, not the market's clock). Updates the cadence in
    ``app.extra`` for every summary it returns.
    """
    out: list[Message] = []
    trades = [t for t in report.trades if t.trade_type != "funding"]
    ran = {o.id for o in report.outcomes} | {t.strategy_id for t in trades}
    cadence = app.extra.setdefault(EXTRA_KEY, {}).setdefault("last_summary", {})
    for transport, chat in active(config):
        for t in trades:
            who = who_of(config, app, t.strategy_id)
            target = trade_target(chat, who)
            if target:
                body = trade_alert(transport, t, who, app.strategies.get(t.strategy_id))
                out += _messages(transport, target, "trade", body, now, report.cycle)
        groups: dict[str, list[str]] = {}
        for sid in app.strategies:
            key = summary_key(chat, who_of(config, app, sid))
            if key is not None:
                groups.setdefault(key, []).append(sid)
        for key, sids in groups.items():
            if not ran & set(sids):
                continue  # none of its strategies ran this cycle
            ch_trades = [t for t in trades if t.strategy_id in sids]
            cadence_key = f"{transport}:{key}"
            if not ch_trades and not _summary_due(app, config, cadence_key, key, sids, now):
                continue
            for body in summaries(transport, key, app, config, sids, ch_trades):
                out += _messages(transport, chat.channels[key], "summary", body, now, report.cycle)
            cadence[cadence_key] = utc_iso(now)
    return out


def critical(
    app: AppState, config: Config, text: str, cycle: int = 0, *, now: datetime | None = None
) -> list[Message]:
    """Queue an owner DM about a critical event (kill switch, breaker, failed save) on every
    enabled platform that has an owner; returns what it appended to ``app.unsaved_messages``."""
    out = owner_messages(config, text, cycle, now=now)
    app.unsaved_messages.extend(out)
    return out


def owner_messages(
    config: Config, text: str, cycle: int = 0, *, now: datetime | None = None
) -> list[Message]:
    """The owner DMs for ``text`` (not queued: for a direct send when the DB is unusable)."""
    now = now or datetime.now(UTC)
    out: list[Message] = []
    for transport, chat in active(config):
        if chat.owner:
            body = render("critical", transport, text=text)
            out += _messages(transport, OWNER, "critical", body, now, cycle)
    return out


def broadcast(
    app: AppState, config: Config, text: str, cycle: int = 0, *, now: datetime | None = None
) -> list[Message]:
    """Queue ``text`` to every distinct summary channel of every enabled platform (upstream's
    SendToAllChannels: kill switch, breakers, warnings); returns what it appended."""
    now = now or datetime.now(UTC)
    out: list[Message] = []
    for transport, chat in active(config):
        body = render("critical", transport, text=text)
        for target in dict.fromkeys(chat.channels.values()):
            out += _messages(transport, target, "alert", body, now, cycle)
    app.unsaved_messages.extend(out)
    return out
