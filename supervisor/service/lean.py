"""Keep OpenSSL, asyncio and importlib.metadata out of the supervisor's memory while SQLAlchemy loads.

SQLAlchemy imports ``asyncio`` (which imports ``ssl``) and ``hashlib`` (which loads OpenSSL's
``_hashlib``) at import time. The supervisor never makes a TLS connection, and libssl/libcrypto
cost it about 5 MiB of its ~40 MiB idle RSS. While SQLAlchemy is imported those two modules are
hidden, so asyncio loads without TLS support and hashlib falls back to CPython's builtin hashes;
afterwards they are unhidden, so code that really needs TLS later can still ``import ssl``.
If either was loaded before (a test process, say), nothing changes.

SQLAlchemy also imports ``asyncio`` (29 modules, for its async engine), ``importlib.metadata``
(email, zipfile, csv, bz2, lzma: for dialect plug-ins found by entry point) and ``hashlib``
(long-name truncation) at module level, and the supervisor's synchronous SQLite use never
touches any of them: about 3 MiB of its idle RSS. :func:`deferred_imports` gives SQLAlchemy a
stand-in module for each that imports the real one on the first attribute access and forwards
it, so nothing changes in behaviour, only when (if ever) the module is loaded.
"""

from __future__ import annotations

import contextlib
import importlib
import sys
import types
from collections.abc import Callable, Iterator
from typing import Any

HIDDEN = ("ssl", "_ssl", "_hashlib")
DEFERRED = ("asyncio", "importlib.metadata", "hashlib")
# Stand-ins that stay in sys.modules after the block, so a later ``import hashlib`` (Jinja2's,
# for chat messages) gets CPython's builtin hashes as it did when SQLAlchemy loaded hashlib
# without OpenSSL. Only for a module without submodules: ``import pkg.sub`` needs the real
# package (asyncio's stand-in leaves; nothing in the supervisor imports asyncio itself).
STICKY = ("hashlib",)


@contextlib.contextmanager
def without_openssl() -> Iterator[None]:
    hidden = [name for name in HIDDEN if name not in sys.modules]
    for name in hidden:
        sys.modules[name] = None  # type: ignore[assignment]  # makes `import name` fail
    try:
        yield
    finally:
        for name in hidden:
            if sys.modules.get(name) is None:
                del sys.modules[name]


def _real(name: str) -> types.ModuleType:
    """The real module behind a stand-in, imported now if need be (without OpenSSL, as it
    would have been had it loaded with SQLAlchemy)."""
    if isinstance(sys.modules.get(name), _Deferred):
        del sys.modules[name]
    with without_openssl():
        return importlib.import_module(name)


class _Deferred(types.ModuleType):
    """Stands in for a module until one of its attributes is read; then forwards to the real one."""

    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("__"):  # import machinery and copy/pickle probes: not a use
            raise AttributeError(attr)
        return getattr(_real(self.__name__), attr)


def _forward(module: str, attr: str) -> Callable[..., Any]:
    """A function calling ``module.attr``, for names SQLAlchemy binds at import time."""

    def call(*args: Any, **kwargs: Any) -> Any:
        return getattr(_real(module), attr)(*args, **kwargs)

    call.__name__ = attr
    return call


# read at import time by sqlalchemy.util.concurrency (``iscoroutine = asyncio.iscoroutine``)
EAGER = {"asyncio": ("iscoroutine",)}


@contextlib.contextmanager
def deferred_imports() -> Iterator[None]:
    """Within the block, ``import`` of a :data:`DEFERRED` module not yet loaded yields a stand-in;
    afterwards the stand-ins but :data:`STICKY` leave ``sys.modules`` (a later import elsewhere
    loads the real one), while the modules that imported them keep forwarding through them."""
    installed = [name for name in DEFERRED if name not in sys.modules]
    for name in installed:
        stand_in = _Deferred(name)
        for attr in EAGER.get(name, ()):
            setattr(stand_in, attr, _forward(name, attr))
        sys.modules[name] = stand_in
        parent, _, child = name.rpartition(".")
        if parent:  # ``import importlib.metadata`` then reads importlib.metadata
            setattr(sys.modules[parent], child, stand_in)
    try:
        yield
    finally:
        for name in installed:
            if name not in STICKY and isinstance(sys.modules.get(name), _Deferred):
                del sys.modules[name]


M_ARENA_MAX = -8  # glibc's mallopt() parameter number (malloc.h)
ARENA_MAX = 2


def fewer_malloc_arenas(limit: int = ARENA_MAX) -> bool:
    """Cap glibc's malloc arenas, as ``MALLOC_ARENA_MAX=2`` would (the systemd unit sets it too).

    glibc gives each thread that allocates an arena of its own (up to 8 per core), and each keeps
    the memory its thread freed. The supervisor's threads (cycle, status server I/O and views,
    worker readers) mostly hold the GIL anyway, so sharing two arenas costs them nothing and saves
    0.3-0.5 MiB of idle RSS once the status server has been used. Called before the daemon starts
    its threads; the environment variable alone would not reach a daemon started by hand (glibc
    reads it before Python runs). ctypes is already loaded (supervisor/run/process.py's prctl).
    False where there is no glibc ``mallopt`` (another libc, another OS): nothing changes.
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes

        return bool(ctypes.CDLL(None).mallopt(M_ARENA_MAX, limit))
    except (ImportError, OSError, AttributeError):
        return False


def release_freed_memory() -> bool:
    """Hand the heap pages freed during a cycle (worker outputs, parsed JSON, SQL rows) back to
    the OS with glibc's ``malloc_trim(0)``, instead of keeping them until the next cycle: about
    0.2 MiB of idle RSS for a few milliseconds per cycle. False where there is no glibc."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes

        return bool(ctypes.CDLL(None).malloc_trim(0))
    except (ImportError, OSError, AttributeError):
        return False
