"""The status server's bearer token: secure by default (docs/architecture.md, "Dashboard").

Upstream asks for a token only when ``STATUS_AUTH_TOKEN`` is set, so a default install serves
positions and P&L to any local process. Here a token is always required (every route but
``/health``, the dashboard's HTML shell and its static files): ``STATUS_AUTH_TOKEN`` when set,
else the one in ``status_token`` beside the state DB, made on first start (mode 0600, 32 random
bytes as hex) and shown by ``go-trader token``.

``os.urandom`` rather than ``secrets``: the supervisor never loads ``secrets``/``hashlib`` (they
pull in OpenSSL, see tests/test_server.py).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from shared_tools.config.migrate import atomic_write

TOKEN_FILE = "status_token"
ENV_TOKEN = "STATUS_AUTH_TOKEN"
TOKEN_BYTES = 32


def token_path(db_file: Path | str) -> Path:
    """Where the generated token lives: the state directory (the state DB's folder)."""
    return Path(db_file).resolve().parent / TOKEN_FILE


def read_token(path: Path) -> str | None:
    """The stored token, or None when the file is missing or empty."""
    try:
        text = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        return None
    return text or None


def load_or_create(path: Path) -> tuple[str, bool]:
    """(token, created): the stored token, else a new one written 0600 all or nothing.

    Raises OSError when the state directory cannot be written (the caller names the path).
    """
    found = read_token(path)
    if found:
        return found, False
    path.parent.mkdir(parents=True, exist_ok=True)
    token = os.urandom(TOKEN_BYTES).hex()
    try:
        atomic_write(path, (token + "\n").encode("ascii"), 0o600, overwrite=False)
    except FileExistsError:  # another process made it meanwhile: use theirs
        again = read_token(path)
        if again:
            return again, False
        raise
    return token, True


def resolve(db_file: Path | str, environ: Mapping[str, str] | None = None) -> tuple[str, str]:
    """(token, where it came from): the env token when set, else the state directory's file
    (created when missing, ``where`` then says so)."""
    env = os.environ if environ is None else environ
    if env.get(ENV_TOKEN):
        return env[ENV_TOKEN], ENV_TOKEN
    path = token_path(db_file)
    token, created = load_or_create(path)
    return token, (f"new:{path}" if created else str(path))
