"""go-trader supervisor: the always-running process that schedules workers and keeps the book."""

from supervisor.service.lean import deferred_imports, without_openssl

__version__ = "0.1.0"

# The first import of SQLAlchemy happens here, before any submodule's, so it loads lean: no
# OpenSSL, and asyncio/importlib.metadata/hashlib only if ever used (service/lean.py). The
# SQLite dialect is imported here too because it imports asyncio itself (its aiosqlite driver).
with without_openssl(), deferred_imports():
    import sqlalchemy  # noqa: F401
    import sqlalchemy.dialects.sqlite  # noqa: F401
