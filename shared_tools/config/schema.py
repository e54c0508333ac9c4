"""The config schema: one row per config key, the single source of what a key is.

Each :class:`Key` says where the key lives (its section), its type, default, bounds or allowed
values, what a SIGHUP reload may do with it, the ``config_version`` since which it exists, the
``go-trader init`` option that sets it (if any) and a one-line doc. Derived from this table:

- the loader's unknown-key sets and the bounds of its type/range checks
  (:mod:`shared_tools.config.checks`, ``load``, ``strategy``, ``trading``, ``risk``, ``regime``,
  ``notify``);
- the reload's safe subset: ``supervisor/reload.py`` takes its LIVE, FLAT_ONLY and structural
  field lists from :func:`reload_fields`;
- the migrations' defaults for keys added in a config_version (:func:`added_since`);
- init's defaults and bounds for the keys it asks about (:func:`init_keys`);
- ``docs/config.md`` (:mod:`shared_tools.config.docs`).

The row type is in :mod:`.key`; the rows in :mod:`.keys_top` and :mod:`.keys_strategy`.

Plain frozen dataclasses: a schema library (msgspec, jsonschema) would cost the always-running
supervisor memory for rows that are only read, and the checks keep their own operator-facing
one-line messages and upstream's "a Go zero value means unset" rules.
"""

from __future__ import annotations

from typing import Any

from shared_tools.config.key import (
    MAX_ATR_MULT,
    MAX_CAPITAL,
    MAX_COOLDOWN_MINUTES,
    MAX_INTERVAL,
    RELOAD_CLASSES,
    STATUSES,
    STRATEGY,
    TOP,
    Key,
)
from shared_tools.config.keys_strategy import STRATEGY_KEYS
from shared_tools.config.keys_top import SECTION_KEYS, TOP_KEYS

__all__ = [
    "KEYS",
    "MAX_ATR_MULT",
    "MAX_CAPITAL",
    "MAX_COOLDOWN_MINUTES",
    "MAX_INTERVAL",
    "STATUSES",
    "RELOAD_CLASSES",
    "SECTIONS",
    "STRATEGY",
    "TOP",
    "Key",
    "added_since",
    "bounds",
    "default",
    "init_keys",
    "names",
    "reload_fields",
    "row",
    "rows",
]


# The order is the docs' order: the top level, one strategy entry, then the sections.
KEYS: tuple[Key, ...] = (*TOP_KEYS, *STRATEGY_KEYS, *SECTION_KEYS)

SECTIONS: tuple[str, ...] = tuple(dict.fromkeys(k.section for k in KEYS))
_BY_PATH = {(k.section, k.name): k for k in KEYS}


def row(section: str, name: str) -> Key:
    """The row of ``section``'s key ``name`` (KeyError when there is none)."""
    return _BY_PATH[(section, name)]


def rows(section: str, status: str | None = None) -> tuple[Key, ...]:
    """The rows of ``section`` in table order, optionally only those of one status."""
    return tuple(k for k in KEYS if k.section == section and status in (None, k.status))


def names(section: str, *statuses: str) -> frozenset[str]:
    """The key names of ``section`` (of any of ``statuses``; all when none is given)."""
    return frozenset(
        k.name for k in KEYS if k.section == section and (not statuses or k.status in statuses)
    )


def default(section: str, name: str) -> Any:
    return row(section, name).default


def bounds(section: str, name: str) -> tuple[float, float]:
    """(lo, hi) of a bounded key."""
    k = row(section, name)
    if k.lo is None or k.hi is None:
        raise KeyError(f"{k.path} has no bounds")
    return k.lo, k.hi


def reload_fields(section: str, reload: str) -> tuple[str, ...]:
    """The Config/StrategyConfig fields of ``section``'s keys in a reload class, table order."""
    return tuple(k.attr for k in KEYS if k.section == section and k.reload == reload and k.attr)


def added_since(version: int) -> tuple[Key, ...]:
    """Built keys a config of ``version`` predates (``since`` above it), table order."""
    return tuple(k for k in KEYS if k.since > version and k.status == "built")


def init_keys() -> dict[str, Key]:
    """``go-trader init --json`` option -> the row of the key it sets."""
    return {k.init: k for k in KEYS if k.init}
