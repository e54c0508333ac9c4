"""go-trader supervisor: the always-running process that schedules workers and keeps the book."""

__version__ = "0.1.0"
