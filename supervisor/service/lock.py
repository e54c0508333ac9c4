"""Single-instance guard: one supervisor per state database.

Two supervisors on one database would double-place orders. ``flock`` is released by the
kernel when the holder dies (even by SIGKILL), so a lock file is never stale and needs
no pid-liveness heuristics; the pid written into it only serves the error message.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path
from types import TracebackType

__all__ = ["AlreadyRunning", "LockHandle", "acquire_lock", "lock_path_for"]


class AlreadyRunning(RuntimeError):
    """Another live process holds the lock for this database."""

    def __init__(self, lock_path: Path, pid: int | None) -> None:
        self.lock_path = lock_path
        self.pid = pid
        holder = f"pid {pid}" if pid is not None else "an unknown pid"
        super().__init__(f"another supervisor ({holder}) holds the lock {lock_path}")


class LockHandle:
    """An acquired lock; ``release()`` (or leaving the ``with`` block) gives it up."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self._fd: int | None = fd

    @property
    def held(self) -> bool:
        return self._fd is not None

    def release(self) -> None:
        """Clear our pid and unlock; idempotent. The file stays (unlinking would race)."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    def __enter__(self) -> LockHandle:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()

    def __repr__(self) -> str:
        return f"LockHandle({str(self.path)!r}, held={self.held})"


def lock_path_for(db_path: str | Path) -> Path:
    """``<canonical db path>.lock``: symlinks and relative paths map to one lock."""
    resolved = Path(db_path).expanduser().resolve()
    return resolved.with_name(resolved.name + ".lock")


def _read_pid(fd: int) -> int | None:
    try:
        raw = os.pread(fd, 64, 0)
        return int(raw.decode("ascii", "replace").strip())
    except (OSError, ValueError):
        return None


def acquire_lock(db_path: str | Path) -> LockHandle:
    """Take the exclusive, non-blocking lock for ``db_path`` or raise AlreadyRunning."""
    path = lock_path_for(db_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # O_CLOEXEC: worker processes must never inherit (and so keep holding) the lock.
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        pid = _read_pid(fd)
        os.close(fd)
        raise AlreadyRunning(path, pid) from None
    except BaseException:
        os.close(fd)
        raise
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        os.fsync(fd)
    except BaseException:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
        raise
    return LockHandle(path, fd)
