"""The dashboard's static files, served from the package (no CDN: the page works offline).

Only files present under ``supervisor/http/static/`` when first asked are served, looked up by
exact name in that list (never joined onto a path), so no request can reach another file.
Contents are read once and kept: a few hundred KiB, and only after the dashboard is first used.
"""

from __future__ import annotations

import threading
from pathlib import Path

STATIC = Path(__file__).resolve().parent / "static"
TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".txt": "text/plain; charset=utf-8",
}
_lock = threading.Lock()
_index: dict[str, Path] | None = None
_cache: dict[str, tuple[bytes, str]] = {}


def _files() -> dict[str, Path]:
    global _index
    with _lock:
        if _index is None:
            _index = {
                p.relative_to(STATIC).as_posix(): p
                for p in STATIC.rglob("*")
                if p.is_file() and p.suffix in TYPES
            }
        return _index


def read(name: str) -> tuple[bytes, str] | None:
    """(bytes, content type) of a static file by its name under static/, else None."""
    hit = _cache.get(name)
    if hit is not None:
        return hit
    path = _files().get(name)
    if path is None:
        return None
    found = (path.read_bytes(), TYPES[path.suffix])
    with _lock:
        _cache[name] = found
    return found
