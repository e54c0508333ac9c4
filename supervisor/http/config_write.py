"""The dashboard's config writes: patch one strategy, validate, write atomically (reference A.4).

One path for every dashboard write (tuner, pause, notifications, and the structural actions of
supervisor/http/structural.py): read the live file as JSON, patch only the target strategy's
entry (:func:`patch_config`) or the document (:func:`patch_document`), re-encode it (2-space indent, the operator's key order
kept, where upstream sorts the keys), write a temp file next to it, validate that file with the
loader the daemon starts with (:func:`shared_tools.config.load_config`), ask ``check`` (the
SIGHUP reload's own refusals, supervisor/reload.py) whether a running book would take it, then
fsync and rename it over the live file with the live file's mode, and fsync the directory.

Stricter than upstream: a file not at the current config_version is refused (the loader would
migrate and rewrite it); the write is fsynced; a file edited by hand while we patched it is not
overwritten (its bytes are compared just before the rename); a change the reload would refuse
is refused here and nothing is written, so it is never half-applied. Writers in this process
serialise on :data:`WRITE_LOCK`. The temp name comes from ``os.urandom`` (``tempfile`` loads
``random``, which may pull hashlib into the supervisor).
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from shared_tools.config.load import load_config
from shared_tools.config.migrate import CURRENT_CONFIG_VERSION
from shared_tools.config.model import Config, ConfigError

WRITE_LOCK = threading.Lock()
Patch = Callable[[dict], None]  # changes one strategy's raw entry (or the document) in place


class WriteRefused(Exception):
    """The patched config is not written; ``code`` is the HTTP status, ``lines`` the reasons."""

    def __init__(self, code: int, lines: list[str]) -> None:
        super().__init__("; ".join(lines))
        self.code = code
        self.lines = lines


def _entry(raw: dict, sid: str) -> dict:
    strategies = raw.get("strategies")
    if isinstance(strategies, list):
        for entry in strategies:
            if isinstance(entry, dict) and entry.get("id") == sid:
                return entry
    raise WriteRefused(404, [f"strategy {sid!r} is not in the config file"])


def write_atomic(path: Path, data: bytes, mode: int) -> None:
    """``data`` at ``path`` all or nothing: temp file in the same directory, fsync, rename."""
    tmp = path.with_name(f".{path.name}.{os.urandom(6).hex()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_dir(path.parent)


def _fsync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):  # not every filesystem lets a directory be fsynced
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _read(path: Path) -> tuple[bytes, int, dict]:
    """(bytes, mode, document) of the live file; refused unless a current-version object."""
    try:
        before = path.read_bytes()
        mode = path.stat().st_mode & 0o7777
        raw: Any = json.loads(before.decode("utf-8-sig"))
    except (OSError, ValueError) as exc:
        raise WriteRefused(500, [f"cannot read {path}: {exc}"]) from None
    if not isinstance(raw, dict):
        raise WriteRefused(500, [f"{path}: the top level is not a JSON object"])
    if raw.get("config_version") != CURRENT_CONFIG_VERSION:  # the loader would migrate it
        raise WriteRefused(
            409,
            [
                f"{path}: config_version {raw.get('config_version')!r} is not "
                f"{CURRENT_CONFIG_VERSION}; restart go-trader (it migrates the file), then "
                "edit from the dashboard"
            ],
        )
    return before, mode, raw


def read_document(path: Path) -> dict:
    """The live file as a JSON document, as a write would patch it (checks before a confirm)."""
    return _read(path)[2]


def patch_config(
    path: Path, sid: str, patch: Patch, check: Callable[[Config], list[str]]
) -> Config:
    """Patch strategy ``sid`` of the config at ``path`` and write it; the new Config.

    Raises :class:`WriteRefused`: 404 unknown strategy, 400 the loader refuses the result,
    409 the running book would refuse it (``check``'s lines) or the file changed meanwhile,
    500 the file cannot be read or written.
    """
    return patch_document(path, lambda raw: patch(_entry(raw, sid)), check)


def patch_document(path: Path, patch: Patch, check: Callable[[Config], list[str]]) -> Config:
    """Patch the whole config document at ``path`` and write it; the new Config.

    The same validation, checks and refusals as :func:`patch_config`; ``patch`` may itself raise
    :class:`WriteRefused` (a re-check that needs the raw document), under the write lock.
    """
    with WRITE_LOCK:
        before, mode, raw = _read(path)
        patch(raw)
        data = (json.dumps(raw, indent=2, ensure_ascii=False) + "\n").encode()
        probe = path.with_name(f".{path.name}.{os.urandom(6).hex()}.probe.json")
        try:
            write_atomic(probe, data, 0o600)
            try:
                new = load_config(probe)
            except ConfigError as exc:
                lines = [line.replace(str(probe.name), path.name) for line in exc.lines]
                raise WriteRefused(400, lines) from None
        except OSError as exc:
            raise WriteRefused(500, [f"cannot write next to {path}: {exc.strerror}"]) from None
        finally:
            with contextlib.suppress(OSError):
                os.unlink(probe)
        new.warnings = [w.replace(probe.name, path.name) for w in new.warnings]
        problems = check(new)
        if problems:
            raise WriteRefused(409, problems)
        try:
            if path.read_bytes() != before:
                raise WriteRefused(409, [f"{path} changed while it was patched; retry"])
            write_atomic(path, data, mode)
        except OSError as exc:
            raise WriteRefused(500, [f"cannot write {path}: {exc.strerror}"]) from None
        return new
