"""Keep OpenSSL out of the supervisor's memory while SQLAlchemy loads.

SQLAlchemy imports ``asyncio`` (which imports ``ssl``) and ``hashlib`` (which loads OpenSSL's
``_hashlib``) at import time. The supervisor never makes a TLS connection, and libssl/libcrypto
cost it about 5 MiB of its ~40 MiB idle RSS. While SQLAlchemy is imported those two modules are
hidden, so asyncio loads without TLS support and hashlib falls back to CPython's builtin hashes;
afterwards they are unhidden, so code that really needs TLS later can still ``import ssl``.
If either was loaded before (a test process, say), nothing changes.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator

HIDDEN = ("ssl", "_ssl", "_hashlib")


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
