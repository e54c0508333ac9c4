"""The row type of the config schema and the helpers the tables are written with.

:mod:`shared_tools.config.schema` is the table and its queries; the rows themselves are in
:mod:`.keys_top` (the top level and the book-wide sections) and :mod:`.keys_strategy` (one
``strategies[]`` entry).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

TOP = ""  # the top-level section
STRATEGY = "strategies[]"
MAX_INTERVAL = 7 * 86400
MAX_CAPITAL = 1e12
MAX_COOLDOWN_MINUTES = 43200  # 30 days
MAX_ATR_MULT = 100.0

# What a SIGHUP reload may do with a changed value:
RELOAD_CLASSES = {
    "live": "applied at once, positions or not",
    "flat-only": "applied only while the strategy holds no position; refused otherwise",
    "structural": "refused whole: restart the supervisor to apply it",
}
# Whether this build reads the key:
STATUSES = {
    "built": "read and checked",
    "not-yet": "an upstream feature this build lacks that changes trading: refused (exit 78) "
    "when set to anything but off",
    "no-effect": "an upstream display/notification feature this build lacks: loads with a warning",
    "env-only": "ignored with a warning: the value belongs in the environment",
}


@dataclass(frozen=True)
class Key:
    """One config key: where it is, what it holds, and what may change it."""

    section: str  # "" (top level), "strategies[]", "portfolio_risk", "regime", ...
    name: str
    type: str  # int | number | bool | string | choice | id | object | list | map | duration
    doc: str
    default: Any = None  # None: required, derived (default_text says how) or absent = off
    default_text: str = ""  # the default in words when it is derived, for the docs
    lo: float | None = None
    hi: float | None = None
    lo_open: bool = False  # (lo, hi] instead of [lo, hi]
    choices: tuple[str, ...] = ()
    reload: str = "live"  # a key of RELOAD_CLASSES
    since: int = 0  # the config_version that added it (0: before versioning)
    status: str = "built"  # a key of STATUSES
    attr: str = ""  # the loaded Config/StrategyConfig field a reload compares ("" none)
    init: str = ""  # the `go-trader init --json` option that sets it ("" none)
    fill_on_migrate: bool = False  # a migration from before `since` writes `default` in

    @property
    def path(self) -> str:
        return f"{self.section}.{self.name}" if self.section else self.name

    @property
    def integer(self) -> bool:
        return self.type == "int"


def row_key(section: str, name: str, type_: str, doc: str, **kw: Any) -> Key:
    return Key(section, name, type_, doc, **kw)


def top_key(name: str, type_: str, doc: str, **kw: Any) -> Key:
    return row_key(TOP, name, type_, doc, **kw)


def strategy_key(name: str, type_: str, doc: str, **kw: Any) -> Key:
    return row_key(STRATEGY, name, type_, doc, **kw)


def not_yet(section: str, *names: str, since: int = 0) -> list[Key]:
    """Upstream keys this build lacks that change trading: a value other than off is refused."""
    return [
        row_key(section, n, "any", "upstream key; not built yet", status="not-yet", since=since)
        for n in names
    ]


def no_effect(section: str, why: str, *names: str) -> list[Key]:
    """Upstream keys this build lacks that only change display, alerts or housekeeping."""
    return [row_key(section, n, "any", why, status="no-effect") for n in names]


PCT = {"lo": 0.0, "hi": 100.0, "lo_open": True}
COOLDOWN = {"lo": 0, "hi": MAX_COOLDOWN_MINUTES, "lo_open": True}
