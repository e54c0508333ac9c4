"""``/backtest strategy symbol [timeframe]``: ``backtest/run_backtest.py --mode single`` as a
child process of the bridge (upstream: the same script, 5 min, one of its 4 Python slots).

One backtest at a time here (the bridge has no slot pool; a second asks again later), 5 minutes
at most (the child is killed after that). The strategy is checked against the open-strategy
registry's names and the symbol and timeframe against their formats before anything starts;
the names come from ``python -m shared_strategies.open.registry --list-json`` once, in a child
process, so the bridge itself never imports pandas. The run uses ``--json``: the summary
(return, drawdown, trades, Sharpe) is read from its metrics, and the whole document goes back
as ``backtest.txt``. Candles: ``GO_TRADER_MARKET_DATA`` of the bridge's environment, else the
exchange (the script's own rule without ``--config``).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shared_tools.market.common import TIMEFRAMES
from shared_tools.paths import REPO_ROOT

TIMEOUT_S = 300.0
DEFAULT_TIMEFRAME = "1h"
FILE_NAME = "backtest.txt"
SYMBOL = re.compile(r"[A-Z0-9]{1,20}(/[A-Z0-9]{1,20})?(:[A-Z0-9]{1,20})?")
NAME = re.compile(r"[a-z0-9_]{1,64}")
BUSY = "A backtest is already running; ask again when it has answered."


@dataclass(frozen=True)
class Outcome:
    """A finished (or failed) run: the summary line(s) and the full text for the file."""

    summary: str
    text: str


class Backtests:
    """The bridge's backtest slot (one), the registry's names, the child process."""

    def __init__(
        self,
        *,
        timeout_s: float = TIMEOUT_S,
        extra_args: Sequence[str] = (),
        python: str = sys.executable,
    ) -> None:
        self.timeout_s = timeout_s
        self.extra_args = list(extra_args)
        self.python = python
        self._slot = threading.Lock()
        self._names: frozenset[str] | None = None

    def names(self) -> frozenset[str]:
        """The open strategies the script can run (every status: it loads them by name)."""
        if self._names is None:
            argv = [self.python, "-m", "shared_strategies.open.registry", "--list-json", "--all"]
            out = subprocess.run(
                argv, cwd=REPO_ROOT, capture_output=True, text=True, timeout=120, check=True
            )
            self._names = frozenset(str(row["id"]) for row in json.loads(out.stdout))
        return self._names

    def check(self, strategy: str, symbol: str, timeframe: str) -> str | None:
        """None when the request may run, else the one-line reason."""
        if not NAME.fullmatch(strategy):
            return f"strategy {strategy!r}: a registry name like momentum or sma_crossover"
        try:
            known = self.names()
        except (OSError, ValueError, subprocess.SubprocessError) as exc:
            return f"could not list the strategies ({type(exc).__name__}); nothing started"
        if strategy not in known:
            return f"unknown strategy {strategy!r}; known: {', '.join(sorted(known))}"
        if not SYMBOL.fullmatch(symbol):
            return f"symbol {symbol!r}: like BTC/USDT (or BTC, read as BTC/USDT)"
        if timeframe not in TIMEFRAMES:
            return f"timeframe {timeframe!r}: one of {', '.join(TIMEFRAMES)}"
        return None

    def start(self, options: dict[str, Any]) -> str | Callable[[], Outcome]:
        """A one-line refusal, or the job to run (the slot is taken until the job ends)."""
        strategy = str(options.get("strategy") or "").strip().lower()
        symbol = str(options.get("symbol") or "").strip().upper()
        if symbol and "/" not in symbol:
            symbol += "/USDT"  # upstream's examples name the asset; the script wants a pair
        timeframe = str(options.get("timeframe") or DEFAULT_TIMEFRAME).strip()
        why = self.check(strategy, symbol, timeframe)
        if why:
            return why
        if not self._slot.acquire(blocking=False):
            return BUSY

        def job() -> Outcome:
            try:
                return self.run(strategy, symbol, timeframe)
            finally:
                self._slot.release()

        return job

    def argv(self, strategy: str, symbol: str, timeframe: str) -> list[str]:
        script = str(Path(REPO_ROOT) / "backtest" / "run_backtest.py")
        out = [self.python, script, "--mode", "single", "--strategy", strategy]
        out += ["--symbol", symbol, "--timeframe", timeframe, "--json"]
        return out + self.extra_args

    def run(self, strategy: str, symbol: str, timeframe: str) -> Outcome:
        """The child, waited for at most ``timeout_s`` (then killed)."""
        title = f"{strategy} {symbol} {timeframe}"
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        try:  # its own process group: a timeout kills whatever it started too
            proc = subprocess.Popen(
                self.argv(strategy, symbol, timeframe),
                cwd=REPO_ROOT,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                start_new_session=True,
            )
        except OSError as exc:
            return Outcome(f"Backtest {title} could not start: {exc}", "")
        try:
            stdout, stderr = proc.communicate(timeout=self.timeout_s)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            shown = (
                f"{self.timeout_s / 60:g} min" if self.timeout_s >= 60 else f"{self.timeout_s:g} s"
            )
            return Outcome(f"Backtest {title} timed out after {shown}; stopped.", "")
        text = stdout + (f"\n{stderr}" if stderr.strip() else "")
        if proc.returncode != 0:
            last = (stderr.strip().splitlines() or ["no output"])[-1]
            return Outcome(f"Backtest {title} failed (exit {proc.returncode}): {last}", text)
        return Outcome(summary(title, stdout), text)


def summary(title: str, stdout: str) -> str:
    """Return, drawdown, trades, Sharpe from the ``--json`` document (else the text's tail)."""
    try:
        m = json.loads(stdout)["metrics"]
    except (ValueError, KeyError, TypeError):
        tail = "\n".join(stdout.strip().splitlines()[-8:])
        return f"📈 Backtest {title}\n{tail}"
    return (
        f"📈 Backtest {title}: return {_pct(m.get('total_return_pct'))} · max drawdown "
        f"{_pct(m.get('max_drawdown_pct'), '')} · {m.get('trade_count', 0)} trades · Sharpe "
        f"{_num(m.get('sharpe'))} · full report in {FILE_NAME}"
    )


def _pct(v: Any, sign: str = "+") -> str:
    return f"{v:{sign}.2f}%" if isinstance(v, int | float) else "n/a"


def _num(v: Any) -> str:
    return f"{v:.2f}" if isinstance(v, int | float) else "n/a"
