"""``/metrics`` in the Prometheus text format (version 0.0.4), written by hand.

Why by hand: importing prometheus-client costs the idle supervisor about 6 MiB of RSS (measured:
39.5 -> 45.9 MiB), over the 1 MiB the issue allows, for a format of a few lines. The counters the
daemon feeds (:class:`RunMetrics`) live here; the book's figures are read when scraped.
"""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Iterable, Mapping
from typing import Any

PREFIX = "go_trader_"


class RunMetrics:
    """What only the running daemon knows: the last cycle's duration and worker failures by
    script. Fed from the cycle thread, read by the status server's threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.last_cycle_s: float | None = None
        self.failures: dict[str, int] = {}

    def cycle_done(self, duration_s: float) -> None:
        with self._lock:
            self.last_cycle_s = duration_s

    def jobs_done(self, jobs: Iterable[Any], results: Mapping[str, Any]) -> None:
        """Count every failed job under its script's file name (``check_price.py``, ...)."""
        with self._lock:
            for job in jobs:
                result = results.get(job.key)
                if result is not None and not result.ok:
                    script = os.path.basename(job.script)
                    self.failures[script] = self.failures.get(script, 0) + 1

    def snapshot(self) -> tuple[float | None, dict[str, int]]:
        with self._lock:
            return self.last_cycle_s, dict(self.failures)


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _num(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value))


class _Doc:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def metric(
        self, name: str, kind: str, help_text: str, samples: Iterable[tuple[dict, float]]
    ) -> None:
        full = PREFIX + name
        self.lines.append(f"# HELP {full} {help_text}")
        self.lines.append(f"# TYPE {full} {kind}")
        for labels, value in samples:
            text = ",".join(f'{k}="{_label(str(v))}"' for k, v in labels.items())
            self.lines.append(
                f"{full}{{{text}}} {_num(value)}" if text else f"{full} {_num(value)}"
            )

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"


def render(
    *,
    cycles: int,
    run: RunMetrics,
    strategies: Mapping[str, Mapping[str, Any]],
    outbox_depth: int | None,
    kill_switch: bool,
    portfolio_drawdown_pct: float,
    rss_bytes: float,
) -> str:
    """The exposition text. ``strategies`` maps id -> its /status view (value, risk, positions)."""
    last_s, failures = run.snapshot()
    doc = _Doc()
    doc.metric("cycles_total", "counter", "Cycles run since the book began.", [({}, cycles)])
    doc.metric(
        "cycle_duration_seconds",
        "gauge",
        "Wall time of the last cycle (workers included).",
        [({}, last_s)] if last_s is not None else [],
    )
    doc.metric(
        "worker_failures_total",
        "counter",
        "Worker runs that failed since start, by script.",
        [({"script": s}, n) for s, n in sorted(failures.items())],
    )
    ids = sorted(strategies)
    doc.metric(
        "strategy_equity",
        "gauge",
        "Portfolio value of each strategy (cash plus positions at the latest marks).",
        [({"strategy": i}, strategies[i]["portfolio_value"]) for i in ids],
    )
    doc.metric(
        "strategy_drawdown_pct",
        "gauge",
        "Current drawdown of each strategy from its peak, percent.",
        [({"strategy": i}, strategies[i]["risk_state"]["current_drawdown_pct"]) for i in ids],
    )
    doc.metric(
        "strategy_open_positions",
        "gauge",
        "Open positions of each strategy.",
        [({"strategy": i}, len(strategies[i]["positions"])) for i in ids],
    )
    doc.metric(
        "outbox_depth",
        "gauge",
        "Chat messages waiting for delivery.",
        [({}, outbox_depth)] if outbox_depth is not None else [],
    )
    doc.metric(
        "kill_switch", "gauge", "1 while the portfolio kill switch is latched.", [({}, kill_switch)]
    )
    doc.metric(
        "portfolio_drawdown_pct",
        "gauge",
        "Portfolio drawdown from its peak, percent.",
        [({}, portfolio_drawdown_pct)],
    )
    doc.metric(
        "resident_memory_bytes", "gauge", "The supervisor's resident memory.", [({}, rss_bytes)]
    )
    return doc.text()
