"""Who reads the Telegram bot's updates: the chat bridge while it runs, else the daemon.

Telegram hands each update to one ``getUpdates`` reader: the bridge confirms its offset (which
deletes what it read) and two concurrent polls get 409 Conflict, so the bridge and the daemon's
DM-reply readers (the kill-switch "reset", the auto_update "yes") would steal each other's
updates. The running bridge therefore rewrites a small heartbeat file beside the state DB every
:data:`BEAT_S` seconds naming the transports it reads; while it is fresh (:data:`FRESH_S`) the
daemon leaves Telegram to the bridge, which passes the owner's plain "reset" and "yes" on
(chat_bridge/owner_replies.py). A bridge that stops removes the file; one that dies lets it go
stale, and the daemon reads again. Discord is never handed over: the daemon reads the owner's DM
channel by REST, which takes nothing from the bridge's gateway.

Both sides import this module (the bridge never imports the supervisor), so the two file names
are written once: the heartbeat and the kill-switch reset request ``go-trader
reset-kill-switch`` leaves.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

ALIVE_FILE = "chat_bridge.alive"
BEAT_S = 10.0
FRESH_S = 45.0  # several missed beats: the bridge is gone


def alive_path(db_file: str | Path) -> Path:
    """The bridge's heartbeat file, beside the state DB (as ``chat_bridge.json``)."""
    return Path(db_file).resolve().parent / ALIVE_FILE


def reset_request_path(db_file: str | Path) -> Path:
    """The file a kill-switch reset request leaves for the running supervisor's next cycle."""
    return Path(f"{db_file}.reset-kill-switch")


def beat(path: Path, transports: list[str], now: float) -> None:
    """Say "the bridge reads these transports" (atomic: a reader never sees half a file)."""
    tmp = path.with_name(path.name + ".tmp")
    data = json.dumps({"pid": os.getpid(), "transports": sorted(transports), "at": now})
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data.encode())
    finally:
        os.close(fd)
    os.replace(tmp, path)


def clear(path: Path) -> None:
    """The bridge stops: the daemon reads again at once."""
    path.unlink(missing_ok=True)


def owned(path: Path, now: float) -> frozenset[str]:
    """The transports a live bridge reads (empty when none runs or its beat is stale)."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        at = float(doc["at"])
        names = frozenset(str(t) for t in doc["transports"])
    except (OSError, ValueError, KeyError, TypeError):
        return frozenset()
    return names if abs(now - at) <= FRESH_S else frozenset()
