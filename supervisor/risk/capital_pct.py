"""``capital_pct``: a strategy's capital as a share of the venue balance (upstream §C.2).

Resolved at startup and at every cycle start from one balance read per platform: live
Hyperliquid reads the account's ``accountValue`` in the desk's ``--account-state`` (the same
read the reconcile uses; no extra call per strategy); live OKX, TopStep and Robinhood read
``check_balance.py --platform=<p>`` with the cycle's checks (supervisor/live/balances.py).
As for HL, a cycle start resolves from the previous cycle's read (the desk reads beside the
signal checks), so the first cycle after startup uses the startup read. Where no balance can be read (paper, a
failed read, a balance <= 0) the previous resolved capital stays, else the configured
``capital``, with one WARN each time a strategy falls back. A strategy whose capital still
resolves <= 0 is skipped that cycle.

As upstream, the resolved capital is what a strategy is *deposited* with when it joins the book
(supervisor/state/roster.py, through the capital-change function of
supervisor/state/capital.py), and it never moves a running strategy's P&L baseline: later
resolutions are shown (``inspect``, /status) and decide the skip, nothing else. Extension: a
strategy that joined with nothing (no balance then, no ``capital``) is deposited the first
resolved capital, as a cashflow, once it has one.

The resolutions live in ``app.extra["capital_pct"]``: ``{sid: {capital, source, balance}}``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol

from shared_tools.clock import now_utc
from shared_tools.config.model import Config, StrategyConfig
from supervisor.state import capital as capital_flow
from supervisor.state.models import AppState

__all__ = ["KEY", "NO_READS", "balance_key", "capitals", "refresh", "resolve", "tradable", "view"]

KEY = "capital_pct"
HL = "hyperliquid"
LIVE_BALANCES = (HL, "okx", "topstep", "robinhood")  # the live venues with a balance read


def balance_key(sc: StrategyConfig) -> str:
    """The account whose balance ``sc`` reads ("" when none can be read: paper)."""
    return sc.platform if sc.live and sc.platform in LIVE_BALANCES else ""


class Reader(Protocol):
    """What :func:`refresh` reads of the live desk (supervisor/live/desk.py)."""

    balances: dict[str, float | None]  # platform -> the latest read (None: failed)

    def read_balance(self, now_ms: int) -> None: ...


class _NoReads:
    """The reader of a book without a live desk (paper only): no balance is ever read."""

    balances: dict[str, float | None] = {}

    def read_balance(self, now_ms: int) -> None:
        return None


NO_READS: Reader = _NoReads()


def refresh(
    app: AppState,
    config: Config,
    desk: Reader,
    log: Callable[[str], None],
    *,
    startup: bool = False,
) -> None:
    """Resolve from the desk's latest account read (the reconcile's, one per cycle); at
    startup, before any cycle ran, one read of its own."""
    if not any(sc.capital_pct for sc in config.strategies):
        return
    if startup and any(balance_key(sc) for sc in config.strategies if sc.capital_pct):
        desk.read_balance(int(now_utc().timestamp() * 1000))
    resolve(app, config, desk.balances, log)


def _state(app: AppState) -> dict[str, dict[str, Any]]:
    got = app.extra.get(KEY)
    if not isinstance(got, dict):
        got = app.extra[KEY] = {}
    return got


def resolve(
    app: AppState,
    config: Config,
    balances: Mapping[str, float | None],
    log: Callable[[str], None],
) -> None:
    """Resolve every ``capital_pct`` strategy's capital from this read's ``balances``
    (account key -> balance; missing or None: not read)."""
    state = _state(app)
    for sc in config.strategies:
        if not sc.capital_pct:
            state.pop(sc.id, None)
            continue
        key = balance_key(sc)
        balance = balances.get(key) if key else None
        prev: dict[str, Any] = state.get(sc.id) or {}
        row: dict[str, Any]
        if balance is not None and balance > 0:
            row = {
                "capital": balance * sc.capital_pct,
                "source": f"{key} balance {balance:,.2f} x {sc.capital_pct:g}",
                "balance": balance,
            }
        else:
            why = "paper: no venue balance" if not key else f"no {key} balance read"
            if float(prev.get("balance") or 0) > 0:  # the last read had one: keep its capital
                row = {**prev, "source": f"previous ({why})", "balance": 0.0}
            elif prev:
                row = prev  # already on a fallback: unchanged, warned when it began
            else:
                row = {"capital": sc.capital, "source": f"config capital ({why})", "balance": 0.0}
            if row is not prev:
                log(
                    f"[capital_pct] WARN {sc.id}: {why}; capital stays "
                    f"{float(row['capital']):,.2f} ({str(row['source']).split(' (')[0]})"
                )
        state[sc.id] = row
        _fund_once(app, sc, float(row["capital"]), log)


def _fund_once(
    app: AppState, sc: StrategyConfig, resolved: float, log: Callable[[str], None]
) -> None:
    """A strategy that joined with nothing gets its first resolved capital, as a deposit."""
    strat = app.strategies.get(sc.id)
    if strat is None or resolved <= 0 or strat.initial_capital > 0 or strat.positions:
        return
    flow = capital_flow.set_capital(app, strat, resolved, "capital_pct")
    log(f"[capital_pct] {sc.id}: funded with {resolved:,.2f} ({capital_flow.describe(flow)})")


def capitals(app: AppState, config: Config) -> dict[str, float]:
    """sid -> the resolved capital of each ``capital_pct`` strategy (for the roster)."""
    state = _state(app)
    return {
        sc.id: float((state.get(sc.id) or {}).get("capital", sc.capital))
        for sc in config.strategies
        if sc.capital_pct
    }


def tradable(
    app: AppState, due: list[StrategyConfig], log: Callable[[str], None], stamp: str = ""
) -> list[StrategyConfig]:
    """``due`` without the ``capital_pct`` strategies whose capital resolves to <= 0; a skipped
    one counts as run at ``stamp`` (it is looked at again after its interval, not every tick)."""
    state = _state(app)
    out = []
    for sc in due:
        row = state.get(sc.id)
        if sc.capital_pct and row is not None and float(row.get("capital") or 0) <= 0:
            log(f"[{sc.id}] skipped: capital_pct capital resolves to 0 ({row.get('source')})")
            strat = app.strategies.get(sc.id)
            if strat is not None and stamp:
                strat.last_run = stamp
            continue
        out.append(sc)
    return out


def view(app: AppState, sid: str) -> dict[str, Any] | None:
    """The strategy's resolved capital and its source, for inspect and /status (read-only)."""
    got = app.extra.get(KEY)
    row = got.get(sid) if isinstance(got, dict) else None
    return dict(row) if isinstance(row, dict) else None
