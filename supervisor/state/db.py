"""The SQLite state DB (SQLAlchemy Core): everything that must survive a restart.

A cycle's changes commit in ONE transaction — strategies, positions, the cycle's trades, the
capital changes (cashflows) and the app row — so a crash at any instant leaves the last committed cycle intact: no lost and no
doubled trade. The schema carries a version and upgrades itself on open (the steps are
:mod:`supervisor.state.migrations`).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import quote

from sqlalchemy import (
    Table,
    case,
    create_engine,
    delete,
    event,
    func,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool

from supervisor.state import capital, option_rows, regime_history
from supervisor.state.migrations import MIGRATIONS, SCHEMA_VERSION
from supervisor.state.models import AppState, Mark, Message, Trade
from supervisor.state.rows import (
    app_state,
    cashflow_from_row,
    cashflow_row,
    cashflows,
    extra_from_json,
    intent_from_row,
    intent_row,
    manual_actions,
    marks,
    message_row,
    meta,
    order_intents,
    outbox,
    pending_limit_orders,
    position_from_row,
    position_row,
    positions,
    strategies,
    strategy_from_row,
    strategy_row,
    trade_row,
    trades,
)


class StateError(RuntimeError):
    """The DB cannot be used as it is (newer schema, unreadable file)."""


def _engine(path: Path, *, readonly: bool = False) -> Engine:
    if readonly:  # a SQLite URI: never creates the file, never writes (the CLI's readers)
        uri = f"file:{quote(str(path.resolve()))}?mode=ro"
        engine = create_engine(
            "sqlite://",
            creator=lambda: sqlite3.connect(uri, uri=True, check_same_thread=False),
            poolclass=NullPool,
        )
    else:
        engine = create_engine(f"sqlite:///{path}", future=True)

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn, _record) -> None:  # pragma: no cover - trivial
        # pysqlite opens transactions lazily and only before DML, so CREATE/ALTER would run
        # outside any transaction; take transaction control away from it (autocommit at the
        # driver) and emit BEGIN ourselves below, so DDL commits or rolls back with the rest.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        if readonly:
            cur.execute("PRAGMA busy_timeout=5000")
            cur.close()
            return
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA busy_timeout=5000")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA synchronous=FULL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _begin(conn) -> None:  # pragma: no cover - trivial
        conn.exec_driver_sql("BEGIN")

    return engine


def _upsert(conn: Connection, table: Table, key: object, values: dict) -> None:
    """Update the row ``id == key`` or insert it."""
    if conn.execute(update(table).where(table.c.id == key).values(**values)).rowcount == 0:
        conn.execute(insert(table).values(id=key, **values))


class StateDB:
    """Open (creating or upgrading) the state DB at ``path``."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.engine = _engine(self.path)
        self._upgrade()

    @classmethod
    def open_readonly(cls, path: str | Path) -> StateDB:
        """Open an existing DB for reading only: no lock, no upgrade, never creates the file.

        WAL lets this reader see the last committed cycle while a running supervisor writes,
        so ``inspect`` and ``export`` work beside the daemon.
        """
        self = cls.__new__(cls)
        self.path = Path(path)
        if not self.path.is_file():
            raise StateError(
                f"state DB {self.path} does not exist (check db_file in the config; "
                "the supervisor creates it on its first run)"
            )
        self.engine = _engine(self.path, readonly=True)
        try:
            current = self.schema_version()
        except DBAPIError as exc:
            self.close()
            raise StateError(f"state DB {self.path}: cannot read it ({exc.orig})") from None
        if current != SCHEMA_VERSION:
            self.close()
            raise StateError(
                f"state DB {self.path} has schema version {current}, this build reads "
                f"{SCHEMA_VERSION}; run this build's supervisor once (or use a matching build)"
            )
        return self

    # -- schema ---------------------------------------------------------------------------
    def schema_version(self) -> int:
        with self.engine.connect() as conn:
            return self._version(conn)

    @staticmethod
    def _version(conn: Connection) -> int:
        exists = conn.execute(
            text("SELECT name FROM sqlite_master WHERE type='table' AND name='meta'")
        ).first()
        if not exists:
            return 0
        row = conn.execute(select(meta.c.value).where(meta.c.key == "schema_version")).first()
        return int(row[0]) if row else 0

    def _upgrade(self) -> None:
        """Bring the file to SCHEMA_VERSION, one transaction per step (a failed step rolls back
        whole and leaves the DB at the previous version)."""
        while True:
            with self.engine.begin() as conn:
                current = self._version(conn)
                if current > SCHEMA_VERSION:
                    raise StateError(
                        f"state DB {self.path} has schema version {current}, newer than this "
                        f"build ({SCHEMA_VERSION}); upgrade go-trader or point db_file elsewhere"
                    )
                if current == SCHEMA_VERSION:
                    return
                MIGRATIONS[current](conn)
                conn.execute(delete(meta).where(meta.c.key == "schema_version"))
                conn.execute(insert(meta).values(key="schema_version", value=str(current + 1)))

    def close(self) -> None:
        self.engine.dispose()

    # -- load -----------------------------------------------------------------------------
    def load(self) -> AppState:
        with self.engine.connect() as conn:
            state = AppState()
            row = conn.execute(select(app_state).where(app_state.c.id == 1)).first()
            if row is not None:
                state.cycle_count = row.cycle_count
                state.last_cycle = row.last_cycle
                state.extra = extra_from_json(row.extra_json)
            for r in conn.execute(select(strategies).order_by(strategies.c.id)):
                state.strategies[r.id] = strategy_from_row(r)
            for m in conn.execute(select(marks)):
                state.marks[(m.platform, m.symbol)] = Mark(price=m.price, at=m.at)
            for p in conn.execute(select(positions)):
                strat = state.strategies.get(p.strategy_id)
                if strat is not None:
                    strat.positions[p.symbol] = position_from_row(p)
            option_rows.load(conn, state)
            pending = select(order_intents).where(order_intents.c.status == "pending")
            for r in conn.execute(pending):
                state.intents[r.cloid] = intent_from_row(r)
            latest = select(cashflows).order_by(cashflows.c.id.desc()).limit(capital.RECENT_KEPT)
            state.extra[capital.KEY] = [cashflow_from_row(r) for r in conn.execute(latest)][::-1]
            return state

    # -- save -----------------------------------------------------------------------------
    def save(
        self,
        state: AppState,
        new_trades: Iterable[Trade] = (),
        new_messages: Iterable[Message] = (),
    ) -> None:
        """Write the whole book, the cycle's trades, its cashflows and its outbox messages in
        one transaction."""
        with self.engine.begin() as conn:
            flows = self._save(conn, state, list(new_trades))
            messages = [message_row(m) for m in new_messages]
            if messages:
                conn.execute(insert(outbox), messages)
            regime_history.write(
                conn, state.regime_history, state.regime_changes, state.regime_prune_before
            )
        state.regime_history.clear()
        option_rows.committed(state)
        state.regime_changes.clear()
        state.regime_prune_before = ""
        capital.committed(state, *flows)
        state.manual_updates.clear()  # committed with the book
        state.limit_updates.clear()
        for cloid in [c for c, i in state.intents.items() if not i.open]:
            del state.intents[cloid]  # on disk now; only unresolved intents stay in memory

    def _save(
        self, conn: Connection, state: AppState, new_trades: list[Trade]
    ) -> tuple[list[dict], list[int]]:
        """Write the book; returns the pending cashflow rows and the ids they were given."""
        extra = {k: v for k, v in state.extra.items() if k != capital.KEY}  # rows: own table
        values = {
            "cycle_count": state.cycle_count,
            "last_cycle": state.last_cycle,
            "extra_json": json.dumps(extra, sort_keys=True, allow_nan=False),
        }
        _upsert(conn, app_state, 1, values)
        ids = list(state.strategies)
        if ids:
            conn.execute(delete(positions).where(positions.c.strategy_id.in_(ids)))
        for strat in state.strategies.values():
            _upsert(conn, strategies, strat.id, strategy_row(strat))
            pos_rows = [position_row(strat.id, p) for p in strat.positions.values()]
            if pos_rows:
                conn.execute(insert(positions), pos_rows)
        option_rows.write(conn, state)
        if new_trades:
            conn.execute(insert(trades), [trade_row(t) for t in new_trades])
        conn.execute(delete(marks))
        if state.marks:
            conn.execute(
                insert(marks),
                [
                    {"platform": plat, "symbol": sym, "price": m.price, "at": m.at}
                    for (plat, sym), m in state.marks.items()
                ],
            )
        for cloid, intent in state.intents.items():
            values = intent_row(intent)
            done = conn.execute(
                update(order_intents).where(order_intents.c.cloid == cloid).values(**values)
            )
            if done.rowcount == 0:
                conn.execute(insert(order_intents).values(cloid=cloid, **values))
        for row_id, values in state.manual_updates.items():
            conn.execute(
                update(manual_actions).where(manual_actions.c.id == row_id).values(**values)
            )
        for row_id, values in state.limit_updates.items():
            conn.execute(
                update(pending_limit_orders)
                .where(pending_limit_orders.c.id == row_id)
                .values(**values)
            )
        rows = capital.pending(state)
        ids = [conn.execute(insert(cashflows).values(**cashflow_row(r))).lastrowid for r in rows]
        return rows, ids

    def prune(self, keep_ids: Iterable[str], state: AppState | None = None) -> list[str]:
        """Delete strategies (and their positions) that are no longer configured; keep trades.

        With ``state`` (the book after its withdrawals), the book commits in the same
        transaction, so the pruned rows, the cashflows and the moved peak land together.
        """
        keep = set(keep_ids)
        flows: tuple[list[dict], list[int]] = ([], [])
        with self.engine.begin() as conn:
            existing = [r[0] for r in conn.execute(select(strategies.c.id))]
            gone = [sid for sid in existing if sid not in keep]
            if gone:
                conn.execute(delete(positions).where(positions.c.strategy_id.in_(gone)))
                opt = option_rows.option_positions
                conn.execute(delete(opt).where(opt.c.strategy_id.in_(gone)))
                conn.execute(delete(strategies).where(strategies.c.id.in_(gone)))
            if state is not None:
                flows = self._save(conn, state, [])
        if state is not None:
            capital.committed(state, *flows)
        return gone

    # -- queries --------------------------------------------------------------------------
    def closed_option_positions(self, strategy_id: str, limit: int = 50) -> list[dict]:
        """The strategy's latest closed_option_positions rows, newest first."""
        with self.engine.connect() as conn:
            return option_rows.closed_rows(conn, strategy_id, limit)

    def regime_transitions(self, limit: int = 50) -> list[dict]:
        """The newest regime window transitions, newest first (supervisor/state/regime_history.py)."""
        with self.engine.connect() as conn:
            return regime_history.recent_changes(conn, limit)

    def order_history(self, *, strategy: str, limit: int = 10) -> list[dict]:
        """A strategy's newest live orders (intents) with their outcome, newest first."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(order_intents)
                .where(order_intents.c.strategy_id == strategy)
                .order_by(order_intents.c.cycle.desc(), order_intents.c.created_at.desc())
                .limit(limit)
            )
            return [dict(r._mapping) for r in rows]

    def trade_history(
        self,
        *,
        strategy: str | None = None,
        symbol: str | None = None,
        limit: int = 50,
        offset: int = 0,
        since: str | None = None,
        until: str | None = None,
        closes_only: bool = False,
        position_id: str | None = None,
    ) -> tuple[list[dict], int]:
        """Newest-first trades, optionally filtered (``since``/``until``: ISO times, inclusive;
        ``closes_only``: close legs; ``position_id``: one position's legs); returns (rows, total
        matching)."""
        conds = []
        if strategy:
            conds.append(trades.c.strategy_id == strategy)
        if symbol:
            conds.append(trades.c.symbol == symbol)
        if since:
            conds.append(trades.c.timestamp >= since)
        if until:
            conds.append(trades.c.timestamp <= until)
        if closes_only:
            conds.append(trades.c.is_close)
        if position_id:
            conds.append(trades.c.position_id == position_id)
        with self.engine.connect() as conn:
            total = conn.execute(select(func.count()).select_from(trades).where(*conds)).scalar()
            rows = conn.execute(
                select(trades)
                .where(*conds)
                .order_by(trades.c.timestamp.desc(), trades.c.rowid.desc())
                .limit(limit)
                .offset(offset)
            )
            out = [dict(r._mapping) for r in rows]
        for r in out:
            r["id"] = r.pop("rowid")
            r["is_close"] = bool(r["is_close"])
        return out, int(total or 0)

    def cashflow_journal(
        self, *, strategy: str | None = None, limit: int = 20
    ) -> tuple[list[dict], int]:
        """Newest-first cashflow rows, optionally of one strategy; returns (rows, total)."""
        conds = [cashflows.c.strategy_id == strategy] if strategy else []
        with self.engine.connect() as conn:
            total = conn.execute(select(func.count()).select_from(cashflows).where(*conds)).scalar()
            rows = conn.execute(
                select(cashflows).where(*conds).order_by(cashflows.c.id.desc()).limit(limit)
            )
            return [cashflow_from_row(r) for r in rows], int(total or 0)

    def close_stats(self) -> dict[str, tuple[int, int, int, float, float]]:
        """Per strategy, over its lifetime's close legs: (wins, losses, closes, sum of net P&L,
        sum of its squares), by net P&L sign (:attr:`Trade.net_pnl`; exactly 0 is neither).
        One query for every strategy: the dashboard's overview reads it on each poll."""
        net = case(
            (trades.c.pnl_gross, trades.c.realized_pnl - trades.c.fee),
            else_=trades.c.realized_pnl,
        )
        cols = (
            func.sum(case((net > 0, 1), else_=0)),
            func.sum(case((net < 0, 1), else_=0)),
            func.count(),
            func.sum(net),
            func.sum(net * net),
        )
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(trades.c.strategy_id, *cols)
                .where(trades.c.is_close)
                .group_by(trades.c.strategy_id)
            )
            return {
                sid: (int(w or 0), int(lo or 0), int(n or 0), float(t or 0.0), float(q or 0.0))
                for sid, w, lo, n, t, q in rows
            }

    def trade_ledger(self) -> dict[str, list[tuple[str, str, bool, float, float, str]]]:
        """Per strategy, every row oldest first as compact tuples ``(timestamp, side, is_close,
        net P&L, fee, reason)`` (net as :attr:`Trade.net_pnl`): the strategy audit's input
        (supervisor/http/audit.py), tuples rather than row dicts to keep it light."""
        net = case(
            (trades.c.pnl_gross, trades.c.realized_pnl - trades.c.fee),
            (trades.c.is_close, trades.c.realized_pnl),
            else_=0.0,
        )
        cols = (trades.c.timestamp, trades.c.side, trades.c.is_close, net, trades.c.fee)
        out: dict[str, list[tuple[str, str, bool, float, float, str]]] = {}
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(trades.c.strategy_id, *cols, trades.c.reason).order_by(
                    trades.c.strategy_id, trades.c.timestamp, trades.c.rowid
                )
            )
            for sid, ts, side, close, pnl, fee, reason in rows:
                out.setdefault(sid, []).append(
                    (ts, side, bool(close), float(pnl or 0.0), float(fee or 0.0), reason or "")
                )
        return out

    def realized_pnl(self) -> dict[str, float]:
        """Per strategy, the sum of every row's net P&L (:attr:`Trade.net_pnl`)."""
        net = case(
            (trades.c.pnl_gross, trades.c.realized_pnl - trades.c.fee),
            (trades.c.is_close, trades.c.realized_pnl),
            else_=0.0,
        )
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(trades.c.strategy_id, func.sum(net)).group_by(trades.c.strategy_id)
            )
            return {sid: float(total or 0.0) for sid, total in rows}
