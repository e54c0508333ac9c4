"""Text for people: one-line messages, escaped values and cleaned worker output (stdlib only).

Shared by the supervisor, the workers and the tools, so every error line in the journal is
shaped the same way: one line, bounded length, no control characters that could forge a second
log line or move the terminal cursor.
"""

from __future__ import annotations

import json
import re

# CSI/OSC escape sequences (colours, cursor moves, titles) and the lone ESC that starts them.
_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(\x07|\x1b\\)?|\x1b")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
LINE_LIMIT = 300
VALUE_LIMIT = 80


def clean(text: str) -> str:
    """Drop ANSI escapes and control characters (NUL included); keep newlines and tabs."""
    text = _ANSI.sub("", str(text))
    text = _CONTROL.sub("", text)
    # lone surrogates (from surrogateescape decoding) cannot be written to a UTF-8 journal
    return text.encode("utf-8", "replace").decode("utf-8")


def one_line(text: object, limit: int = LINE_LIMIT) -> str:
    """Collapse whitespace, strip control characters and cap the length with an ellipsis."""
    flat = " ".join(clean(str(text)).split())
    return flat if len(flat) <= limit else flat[: max(limit - 3, 0)] + "..."


def show(value: object, limit: int = VALUE_LIMIT) -> str:
    """A value quoted for an error message: JSON-escaped (so a newline shows as \\n), capped."""
    try:
        text = json.dumps(value, ensure_ascii=True, allow_nan=True, default=repr)
    except (ValueError, RecursionError):
        text = repr(type(value))
    return text if len(text) <= limit else text[: max(limit - 3, 0)] + "..."


def exc_line(exc: BaseException, limit: int = LINE_LIMIT) -> str:
    """``Type: message`` of an exception, on one line."""
    return one_line(f"{type(exc).__name__}: {exc}", limit)
