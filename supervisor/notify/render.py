"""Chat message text: Jinja2 templates for summaries, trade alerts and owner DMs, and splitting.

Discord gets its Markdown (``**bold**``); Telegram messages are sent as plain text, so the same
templates render there without the markers. Bodies longer than a platform allows (Discord
2000, Telegram 4096 characters) are split on line boundaries.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import jinja2

LIMITS = {"discord": 2000, "telegram": 4096}

_TEMPLATES = {
    # upstream FormatCategorySummary, the parts this build has (§3.3)
    "summary": (
        "{{ icon }} {{ B }}{{ title }}{{ B }} ({{ build }})\n"
        "{{ B }}${{ start | money }} → ${{ end | money }}{{ B }} "
        "({{ pnl | signed_money }} / {{ pnl_pct | pct }})\n"
        "{% if latched %}🚫 Circuit breaker active: {{ latched | join(', ') }}\n"
        "{% else %}✅ Trading active\n{% endif %}"
        "{% if prices %}{{ prices | join(' | ') }}\n{% endif %}"
        "Cycle #{{ cycle }}\n"
        "{% for s in rows %}• {{ s.id }}: ${{ s.value | money }} ({{ s.pnl_pct | pct }})\n"
        "{% endfor %}"
        "{% if positions %}Positions: {{ positions | length }} open\n"
        "{% for p in positions %}• {{ p }}\n{% endfor %}"
        "{% else %}Positions: none open\n{% endif %}"
        "{% if trades %}{{ B }}Trades:{{ B }}\n{% for t in trades %}• {{ t }}\n{% endfor %}"
        "{% endif %}"
    ),
    # upstream FormatTradeDM (§3.5)
    "trade": (
        "{{ '🔴' if close else '🟢' }} {{ B }}TRADE {{ 'CLOSED' if close else 'EXECUTED' }}"
        " - {{ mode }}{{ B }}\n"
        "Strategy: {{ sid }} ({{ platform }} {{ kind }})\n"
        "{{ symbol }} — {{ direction }} {{ '%.3f' | format(qty) }} @ ${{ price | money }}"
        " | Value: ${{ value | money }}\n"
        "{% set parts = [] %}"
        "{% if close %}{% do parts.append('Source: ' ~ reason) %}"
        "{% do parts.append('PnL: ' ~ (pnl | signed_money)) %}{% endif %}"
        "{% if stop %}{% do parts.append('SL: $' ~ (stop | money)) %}{% endif %}"
        "{% for t in targets %}{% do parts.append('TP' ~ loop.index ~ ': $' ~ (t | money)) %}"
        "{% endfor %}"
        "{{ parts | join(' | ') }}"
    ),
    "critical": "🚨 {{ B }}go-trader{{ B }}: {{ text }}",
    "test": "✅ go-trader notify-test: this {{ transport }} target is reachable ({{ where }})",
}


def _money(x: float) -> str:
    return f"{x:,.2f}"


def _signed_money(x: float) -> str:
    return f"{'+' if x >= 0 else '-'}${abs(x):,.2f}"


def _pct(x: float) -> str:
    return f"{x:+.2f}%"


@functools.cache
def _env() -> jinja2.Environment:
    """Built on the first message: a book without chat never loads Jinja2 (~2.4 MiB idle)."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.DictLoader(_TEMPLATES),
        autoescape=False,  # chat text, not HTML
        keep_trailing_newline=False,
        undefined=jinja2.StrictUndefined,
        extensions=["jinja2.ext.do"],
    )
    env.filters.update(money=_money, signed_money=_signed_money, pct=_pct)
    return env


def render(name: str, transport: str, **context) -> str:
    """Template ``name`` for ``transport`` (bold markers only where they render)."""
    bold = "**" if transport == "discord" else ""
    text = _env().get_template(name).render(B=bold, transport=transport, **context)
    if not bold:  # plain-text platforms: no literal Markdown markers from the texts either
        text = text.replace("**", "")
    return text.strip()


def split(body: str, limit: int) -> list[str]:
    """``body`` in pieces of at most ``limit`` characters, cut between lines where possible."""
    if len(body) <= limit:
        return [body]
    pieces: list[str] = []
    current = ""
    for line in body.split("\n"):
        while len(line) > limit:  # a single line too long: hard cut
            if current:
                pieces.append(current)
                current = ""
            pieces.append(line[:limit])
            line = line[limit:]
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) > limit:
            pieces.append(current)
            current = line
        else:
            current = candidate
    if current:
        pieces.append(current)
    return [p for p in pieces if p.strip()]


def split_for(transport: str, body: str) -> list[str]:
    return split(body, LIMITS.get(transport, 2000))
