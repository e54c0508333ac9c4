"""Every upstream slash command (reference B.2) with its options and permission rule, plus the
port's own ``close``/``pause``/``resume`` (the dashboard's confirmed actions, from a phone) and
``update`` (the owner's "yes" to the auto_update offer, which upstream only takes as a DM reply).

Registered as ``go-trader-<name>`` in one bulk overwrite of the global set; owner commands are
registered for the bot's DM only (``contexts: [1]``), as upstream. ``deferred`` commands are
ACKed at once and answered in a follow-up (Discord's 3 s deadline). ``built`` is False for a
command this port does not run from chat (none today): it answers with ``instead``.

``report-an-issue`` is Discord only (a title and a body do not fit Telegram's space-split
arguments). ``apply-regime-gate`` takes the strategy as an option where upstream DMs a numbered
list and waits for a number (chat_bridge/structural.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

PREFIX = "go-trader-"
STRING, INTEGER, NUMBER = 3, 4, 10  # Discord application command option types
GUILD, BOT_DM, PRIVATE = 0, 1, 2  # interaction contexts


@dataclass(frozen=True)
class Option:
    name: str
    kind: int
    description: str
    required: bool = False
    choices: tuple[str, ...] = ()


@dataclass(frozen=True)
class Command:
    name: str
    description: str
    owner: bool  # ops command: owner only, in a DM
    options: tuple[Option, ...] = ()
    deferred: bool = False
    mutating: bool = False  # asks for a confirmation that expires
    built: bool = True
    instead: str = ""  # for unbuilt commands: what to run instead
    telegram: bool = True  # offered as a Telegram command too
    extra: dict[str, Any] = field(default_factory=dict)


def _s(name: str, desc: str, required: bool = False, *choices: str) -> Option:
    return Option(name, STRING, desc, required, choices)


def _i(name: str, desc: str) -> Option:
    return Option(name, INTEGER, desc)


SID = _s("strategy", "strategy id", True)
COMMANDS: dict[str, Command] = {
    c.name: c
    for c in (
        Command("status", "Portfolio status", False, deferred=True),
        Command("health", "Daemon health", False),
        Command("positions", "Open positions", False, deferred=True),
        Command("pnl", "P&L: total, by platform, by strategy", False, deferred=True),
        Command("leaderboard", "Strategies ranked by P&L %", False, (_i("top", "rows (5)"),), True),
        Command("circuit-breakers", "Open circuit breakers and the kill switch", False),
        Command("dead-strategies", "Strategies that stopped trading", False),
        Command("correlation", "Exposure per asset", False),
        Command("closing-strategies", "Close evaluators and their defaults", False, deferred=True),
        Command("logs", "Recent daemon log lines", True, (_i("n", "lines (50, max 200)"),)),
        Command("restart", "Restart the daemon's service", True, mutating=True),
        Command(
            "report-an-issue",
            "Open a GitHub issue",
            True,
            (_s("title", "title", True), _s("body", "body", True), _s("label", "label")),
            deferred=True,
            telegram=False,  # a title and a body do not fit Telegram's space-split arguments
        ),
        Command(
            "backtest",
            "Run a backtest",
            True,
            (_s("strategy", "strategy", True), _s("symbol", "symbol", True), _s("timeframe", "1h")),
            deferred=True,
        ),
        Command(
            "config",
            "Show the config (redacted), or set a strategy key (confirm)",
            True,
            (
                _s("action", "show or set", True, "show", "set"),
                _s("key", "key (set)"),
                _s("value", "value (set)"),
            ),
        ),
        Command(
            "add-strategy",
            "Add a paper strategy",
            True,
            (
                _s("name", "strategy", True),
                _s("platform", "platform", True),
                _s("asset", "asset", True),
            ),
            mutating=True,
        ),
        Command(
            "remove-strategy",
            "Remove a strategy",
            True,
            (_s("id", "strategy id", True),),
            mutating=True,
        ),
        Command("add-platform", "Setup checklist for a venue", True, (_s("name", "venue", True),)),
        Command(
            "paper-to-live",
            "Switch a flat strategy to live",
            True,
            (SID,),
            mutating=True,
        ),
        Command(
            "apply-regime-gate",
            "Gate a strategy on the regime",
            True,
            # the port's strategy option replaces upstream's numbered-list DM (see core.py)
            (_s("strategy", "perps/futures strategy id"), _s("gate", "gate (comp_up_clean_p21)")),
            mutating=True,
        ),
        Command(
            "clear-cash-reconcile",
            "Clear a cash-reconcile flag",
            True,
            (SID,),
            mutating=True,
        ),
        # -- the port's own: the dashboard's confirmed actions ------------------------------
        Command(
            "close",
            "Close a manual strategy's position (confirm)",
            True,
            (SID, Option("qty", NUMBER, "quantity (default all)")),
            mutating=True,
        ),
        Command("pause", "Pause a strategy (confirm)", True, (SID,), mutating=True),
        Command("update", "Apply the update on offer (auto_update; confirm)", True, mutating=True),
        Command("resume", "Resume a paused strategy (confirm)", True, (SID,), mutating=True),
    )
}


def registration() -> list[dict[str, Any]]:
    """The bulk-overwrite body: every command, owner ones DM-only."""
    out = []
    for c in COMMANDS.values():
        desc = c.description
        body: dict[str, Any] = {
            "name": PREFIX + c.name,
            "type": 1,
            "description": desc[:100],
            "contexts": [BOT_DM] if c.owner else [GUILD, BOT_DM, PRIVATE],
            "integration_types": [0],
        }
        if c.options:
            body["options"] = [
                {
                    "name": o.name,
                    "type": o.kind,
                    "description": o.description,
                    "required": o.required,
                    **(
                        {"choices": [{"name": v, "value": v} for v in o.choices]}
                        if o.choices
                        else {}
                    ),
                }
                for o in c.options
            ]
        out.append(body)
    return out


def lookup(name: str) -> Command | None:
    """The command for a Discord name (prefix stripped) or a Telegram one (``_`` for ``-``)."""
    name = name.removeprefix(PREFIX).replace("_", "-").lower()
    return COMMANDS.get(name)
