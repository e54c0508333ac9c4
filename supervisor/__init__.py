"""go-trader supervisor: the always-running process that schedules workers and keeps the book."""

from supervisor.service.lean import without_openssl

__version__ = "0.1.0"

# The first import of SQLAlchemy happens here, before any submodule's, so it loads lean.
with without_openssl():
    import sqlalchemy  # noqa: F401
