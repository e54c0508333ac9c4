"""The keys a config may have, and the checks every config value goes through.

Key tables (known, not built yet, hints for old names) and generic value checks: refused JSON
numbers, nesting depth, text, ranges. :mod:`shared_tools.config.load` (the top level) and
:mod:`shared_tools.config.strategy` (one strategy) use these to turn any value, however broken,
into a one-line problem that names where it is, with the value escaped and cut.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

from shared_tools.config import schema
from shared_tools.text import clean, show

__all__ = [
    "ID_PATTERN",
    "KEY_HINTS",
    "TAKE_PROFIT_HINT",
    "STRATEGY_KEYS",
    "STRATEGY_KEYS_NOT_YET",
    "TOP_LEVEL_KEYS",
    "TOP_LEVEL_PASSTHROUGH",
    "MAX_DEPTH",
    "MAX_INTERVAL",
    "MAX_PATH_CHARS",
    "file_label",
    "in_range",
    "is_int",
    "is_number",
    "key_hint",
    "loads_json",
    "range_text",
    "scan",
    "show_key",
    "text_problem",
    "unbuilt_key",
    "unknown_key_line",
]

# Limits shared by the top level and the strategies.
MAX_INTERVAL = schema.MAX_INTERVAL
MAX_PATH_CHARS = 1024
MAX_DEPTH = 32
MAX_INT_DIGITS = 30
ID_PATTERN = re.compile(r"[A-Za-z0-9._-]{1,64}")
# C0/C1 controls, DEL, line/paragraph separators and lone surrogates: none survives a journal,
# Popen (NUL) or sqlite (surrogates).
_BAD_CHARS = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")

# The key sets come from the schema table (shared_tools/config/schema.py).
TOP_LEVEL_KEYS = set(schema.names(schema.TOP, "built"))
# Upstream top-level keys this build lacks: refused when they would change trading, loaded with
# a warning when they only change display or alerts (unbuilt_key below).
TOP_LEVEL_PASSTHROUGH = set(schema.names(schema.TOP, "not-yet", "no-effect"))
STRATEGY_KEYS = set(schema.names(schema.STRATEGY, "built"))
# Upstream per-strategy keys of features this build lacks (unbuilt_key below).
STRATEGY_KEYS_NOT_YET = set(schema.names(schema.STRATEGY, "not-yet", "no-effect"))
KEY_HINTS = {
    "params": 'per-strategy params moved into open_strategy: {"name": ..., "params": {...}}',
    "open": 'use open_strategy: {"name": ..., "params": {...}}',
    "close": 'use close_strategy: {"name": ..., "params": {...}}',
    "interval": "the key is interval_seconds",
    "drawdown": "the key is max_drawdown_pct",
    "stop_loss": "use one of stop_loss_pct, stop_loss_margin_pct, stop_loss_atr_mult, "
    "trailing_stop_pct, trailing_stop_atr_mult",
}
# Take-profit is a close strategy upstream, never a strategy key: any TP-looking name gets this.
TAKE_PROFIT_HINT = "take-profit lives under close_strategies (e.g. tiered_tp_atr with tp_tiers)"


def is_number(v: object) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def is_int(v: object) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _n(x: float) -> str:
    if abs(x) >= 1e7:
        return f"{x:.0e}".replace("e+", "e")
    return str(int(x)) if x == int(x) else f"{x:g}"


def range_text(lo: float, hi: float, *, integer: bool, lo_open: bool) -> str:
    kind = "an integer" if integer else "a number"
    return f"{kind} in {'(' if lo_open else '['}{_n(lo)}, {_n(hi)}]"


def in_range(value: object, lo: float, hi: float, *, integer: bool, lo_open: bool) -> bool:
    if not (is_int(value) if integer else is_number(value)):
        return False
    return (lo < value if lo_open else lo <= value) and value <= hi  # type: ignore[operator]


def text_problem(value: object, max_chars: int) -> str | None:
    """Why a string cannot be passed to a process, a path or the journal (None if it can)."""
    if not isinstance(value, str):
        return f"must be a string, got {show(value)}"
    if len(value) > max_chars:
        return f"must be at most {max_chars} characters, got {len(value)}"
    if _BAD_CHARS.search(value):
        return f"must not contain control or invalid characters, got {show(value)}"
    return None


def file_label(path: Path) -> str:
    text = str(path)
    return text if clean(text) == text and len(text) <= 160 else show(text, 120)


class _BadNumber:
    """Stands in for a JSON number we refuse (1e400, NaN, 10**100) until its key is known."""

    __slots__ = ("text", "why")

    def __init__(self, text: str, why: str) -> None:
        self.text = text if len(text) <= 24 else text[:21] + "..."
        self.why = why

    def __repr__(self) -> str:
        return self.text


def _json_number_hooks() -> dict:
    def parse_float(text: str) -> float | _BadNumber:
        value = float(text)
        return (
            value
            if math.isfinite(value)
            else _BadNumber(text, "is out of range; use a finite number")
        )

    def parse_int(text: str) -> int | _BadNumber:
        if len(text.lstrip("-")) > MAX_INT_DIGITS:
            return _BadNumber(text, f"has more than {MAX_INT_DIGITS} digits; use a smaller number")
        return int(text)

    def parse_constant(name: str) -> _BadNumber:
        return _BadNumber(name, "is not a valid number here; use a finite number")

    return {"parse_float": parse_float, "parse_int": parse_int, "parse_constant": parse_constant}


def loads_json(text: str) -> Any:
    """json.loads that keeps refused numbers as markers for :func:`scan` to report by key."""
    return json.loads(text, **_json_number_hooks())


def _path_text(parts: tuple) -> str:
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            name = part if ID_PATTERN.fullmatch(part) else show(part, 40)
            out += f".{name}" if out else name
    return out or "(top level)"


def scan(doc: Any) -> list[str]:
    """Problems anywhere in a document: nesting over MAX_DEPTH, numbers that are not finite.

    Walks without recursion, so neither a deep file nor a huge one can crash the checker.
    """
    problems: list[str] = []
    stack: list[tuple[Any, tuple]] = [(doc, ())]
    while stack and len(problems) < 10:
        item, parts = stack.pop()
        if len(parts) >= MAX_DEPTH:
            return [f"nested deeper than {MAX_DEPTH} levels (at {_path_text(parts[:6])}...)"]
        if isinstance(item, dict):
            stack.extend((v, (*parts, k)) for k, v in reversed(item.items()))
        elif isinstance(item, list):
            stack.extend((v, (*parts, i)) for i, v in reversed(list(enumerate(item))))
        elif isinstance(item, _BadNumber):
            problems.append(f"{_path_text(parts)}: {item.text} {item.why}")
        elif isinstance(item, float) and not math.isfinite(item):
            problems.append(f"{_path_text(parts)}: {item} is not finite; use a finite number")
    return problems


def key_hint(key: str) -> str | None:
    """A targeted hint for a key people often guess (old names, take-profit, stop-loss)."""
    if key.startswith("take_profit") or key in ("tp_tiers", "tp"):
        return TAKE_PROFIT_HINT
    return KEY_HINTS.get(key)


_OFF_WORDS = ("", "none", "off", "false", "disabled")


def is_off(value: object) -> bool:
    """Whether an upstream feature's value leaves it off (null, false, 0, "none", {}, enabled:false)."""
    if value is None or value is False or value == 0 and not isinstance(value, bool):
        return True
    if isinstance(value, str):
        return value.strip().lower() in _OFF_WORDS
    if isinstance(value, (list, dict)) and not value:
        return True
    return isinstance(value, dict) and value.get("enabled") is False


def unbuilt_key(
    section: str, where: str, key: str, value: object, errors: list[str], warnings: list[str]
) -> bool:
    """Refuse or warn about an upstream key this build lacks; False when ``key`` is not one.

    A key that changes trading (status ``not-yet``) is refused unless its value leaves the
    feature off: a config that would trade differently here than upstream must not start
    (docs/architecture.md, "Config"). A display/notification key (``no-effect``) only warns.
    """
    try:
        row = schema.row(section, key)
    except KeyError:
        return False
    if row.status == "no-effect":
        warnings.append(f"{where}: {key} has no effect in this build ({row.doc})")
    elif row.status == "not-yet":
        if not is_off(value):
            errors.append(
                f"{where}: {key} is an upstream feature this build does not have and it changes "
                f"trading; remove the key or turn it off, got {show(value, 60)}"
            )
    else:
        return False
    return True


def unknown_key_line(where: str, key: str, known: set[str]) -> str:
    hint = key_hint(key)
    if hint is None:
        import difflib  # only for this error's hint: kept out of the supervisor's idle memory

        close = difflib.get_close_matches(key, sorted(known), n=1, cutoff=0.6)
        hint = f"did you mean '{close[0]}'?" if close else "remove it"
    return f"{where}: unknown key {show_key(key)} ({hint})"


def show_key(key: str) -> str:
    """A key as echoed in a message: plain quotes when harmless, escaped otherwise."""
    return f"'{key}'" if ID_PATTERN.fullmatch(key) else show(key, 60)


MAX_TV_SYMBOL_CHARS = 100


def tradingview_problems(value: object) -> list[str]:
    """Problems with the top-level ``tradingview_export`` section (see supervisor/export_tv)."""
    if value is None:
        return []
    if not isinstance(value, dict):
        return ['tradingview_export must be an object like {"symbol_overrides": {...}}']
    problems = [
        f"tradingview_export: unknown key {show_key(k)} (the only key is symbol_overrides)"
        for k in value
        if k != "symbol_overrides"
    ]
    overrides = value.get("symbol_overrides")
    if overrides is None:
        return problems
    if not isinstance(overrides, dict):
        return [*problems, "tradingview_export.symbol_overrides must be an object"]
    for key, target in overrides.items():
        where = f"tradingview_export.symbol_overrides[{show_key(key)}]"
        problem = text_problem(key, MAX_TV_SYMBOL_CHARS)
        if problem or not key.strip():
            problems.append(f"{where}: the key {problem or 'is blank'}; it must name a symbol")
            continue
        problem = text_problem(target, MAX_TV_SYMBOL_CHARS)
        exchange, colon, ticker = (target.strip() if not problem else "").partition(":")
        if problem or not (colon and exchange and ticker) or " " in target.strip():
            problems.append(
                f"{where} must be a TradingView symbol EXCHANGE:TICKER like BYBIT:BTCUSDT, "
                f"got {show(target)}"
            )
    return problems
