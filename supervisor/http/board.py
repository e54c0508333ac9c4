"""The dashboard's side of the daemon: the ``/api/*`` reads, the page, ``/metrics``.

:class:`Board` is bound to the running :class:`~supervisor.daemon.Supervisor` and reads it as
/status does: the book under its lock through :func:`strategy_view` (one value and P&L rule),
trade rows through ``StateDB.trade_history`` outside the lock (WAL: the last committed cycle),
candles through the ``fetch_candles.py`` worker (never pandas here). JSON shapes are built by
:mod:`supervisor.http.api`. :func:`make_server` wires it into the status server with the token.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import unquote

from sqlalchemy.exc import SQLAlchemyError

from shared_tools.clock import now_utc
from shared_tools.config.model import Config, StrategyConfig
from shared_tools.text import one_line
from supervisor import __version__
from supervisor.http import api, candles, metrics, ops, token, tuner
from supervisor.http.post import Actions
from supervisor.http.routes import NotReady
from supervisor.http.server import StatusServer
from supervisor.http.views import portfolio_risk_view, rss_mb, strategy_view
from supervisor.run.executor import Executor
from supervisor.run.jobs import Job
from supervisor.state.db import StateDB
from supervisor.state.models import AppState, utc_iso


class Supervisor(Protocol):
    """What the board reads of :class:`supervisor.daemon.Supervisor` (no import back up)."""

    config: Config
    app: AppState
    book_lock: Any
    db: StateDB | None
    executor: Executor | None
    ready: bool
    draining: bool
    status_port: int
    reload_requested: bool  # set by the POST actions after a config write: the loop reloads
    wake: threading.Event

    def status_view(self) -> dict: ...
    def health_view(self) -> tuple[int, dict]: ...
    def history_view(self, query: dict) -> dict: ...
    def _outbox_pending(self) -> int | None: ...


PAGE_SCRIPT = "shared_scripts/render_dashboard.py"
RESOURCES = ("candles", "trades", "status", "equity", "config")
SCHEMA_SCRIPT = "shared_scripts/strategy_tuner_schema.py"
SIMULATE_SCRIPT = "shared_scripts/simulate_strategy.py"
SIMULATE_DEFAULT, SIMULATE_MAX = 400, 1000
NOT_FOUND = 404


class Board:
    """The views behind /api/*, /dashboard and /metrics, reading the supervisor ``sup``."""

    def __init__(self, sup: Supervisor) -> None:
        self.sup = sup
        self.cache = candles.CandleCache()
        self.run = metrics.RunMetrics()
        self._pages: dict[str, bytes] = {}  # page name -> its rendered HTML
        self._page_lock = threading.Lock()
        self._schemas: dict[tuple[str, str], dict] = {}  # (type, open strategy) -> registry answer
        self.closers: list[dict] | None = None  # /api/closing-strategies, asked once
        self.actions = Actions(sup, self)  # the POSTs (supervisor/http/post.py)
        self._tuning: Any = None  # /api/tuning/* (supervisor/http/tuning.py), made on first use
        self._tuning_lock = threading.Lock()

    @property
    def tuning(self) -> Any:
        """The tuning runs' store and worker, made on first use: the tuning modules stay out of
        an idle daemon's memory until someone opens /tuning."""
        with self._tuning_lock:
            if self._tuning is None:
                from supervisor.http.tuning import TuningRuns

                self._tuning = TuningRuns(self.sup)
            return self._tuning

    def idle(self) -> None:
        """Nobody has asked anything for a while (the server's last worker left): expired charts
        leave the cache and the freed heap goes back to the OS (service/lean.py)."""
        from supervisor.service.lean import release_freed_memory

        self.cache.sweep()
        release_freed_memory()

    def stop_tuning(self) -> None:
        """End a running tuning worker (its run becomes interrupted); nothing if none was made."""
        if self._tuning is not None:
            self._tuning.stop()

    # -- plumbing ------------------------------------------------------------------------------
    def _ready(self) -> None:
        if not self.sup.ready or self.sup.db is None:
            raise NotReady("starting")

    def _config(self, sid: str) -> StrategyConfig | None:
        return next((sc for sc in self.sup.config.strategies if sc.id == sid), None)

    def _stats(self) -> dict[str, api.CloseStats]:
        assert self.sup.db is not None
        return self.sup.db.close_stats()

    def _closes(self, sid: str, limit: int = api.EQUITY_CLOSES) -> list[dict]:
        """The strategy's newest close rows (newest first)."""
        assert self.sup.db is not None
        rows, _total = self.sup.db.trade_history(strategy=sid, limit=limit, closes_only=True)
        return rows

    # -- /api/* --------------------------------------------------------------------------------
    def api(self, path: str, query: dict) -> tuple[int, Any]:
        """Route one /api/* GET; unknown paths are 404 (exact routes win over the prefix)."""
        self._ready()
        parts = path.rstrip("/").split("/")[2:]  # "", "api", ...
        try:
            if parts == ["strategies"]:
                return 200, api.strategies_list(self.sup.config.strategies)
            if parts == ["strategies", "overview"]:
                return 200, self.overview()
            if parts[:1] == ["tuning"]:
                from supervisor.http import tuning_apply  # rare: loaded on first use

                return tuning_apply.get(self, parts[1:])
            if tuple(parts) in ops.ROUTES:  # exact routes win over the per-strategy prefix
                return ops.ROUTES[tuple(parts)](self, query)
            if len(parts) == 3 and parts[0] == "strategies" and parts[2] in RESOURCES:
                return self.per_strategy(unquote(parts[1]), parts[2], query)
        except SQLAlchemyError as exc:
            return 503, {"error": one_line(f"state DB unavailable: {exc}", 300)}
        return NOT_FOUND, {"error": f"no such endpoint {path}"}

    def overview(self) -> dict:
        stats = self._stats()  # one query for every strategy
        rows = []
        app = self.sup.app
        with self.sup.book_lock:
            for sc in self.sup.config.strategies:
                strat = app.strategies.get(sc.id)
                if strat is None:
                    continue
                view = strategy_view(strat, app.prices_for(strat.venue))
                rows.append(api.overview_row(sc, strat, view, stats.get(sc.id, api.NO_CLOSES)))
        rows.sort(key=lambda r: (r["platform"], r["id"]))
        return {"strategies": rows}

    def per_strategy(self, sid: str, resource: str, query: dict) -> tuple[int, Any]:
        sc = self._config(sid)
        if sc is None:
            return NOT_FOUND, {"error": f"unknown strategy {sid!r}"}
        if sid not in self.sup.app.strategies:
            return NOT_FOUND, {"error": "strategy state not found"}
        handler = getattr(self, "_config_doc" if resource == "config" else f"_{resource}")
        return handler(sc, query)

    def _status(self, sc: StrategyConfig, _query: dict) -> tuple[int, dict]:
        stats = self._stats().get(sc.id, api.NO_CLOSES)
        app = self.sup.app
        with self.sup.book_lock:
            strat = app.strategies[sc.id]
            view = strategy_view(strat, app.prices_for(strat.venue))
            return 200, api.status_detail(sc, strat, view, stats)

    def _trade_rows(self, sid: str, query: dict, limit: int) -> tuple[list[dict], int]:
        since, until = api.window(query)
        assert self.sup.db is not None
        return self.sup.db.trade_history(
            strategy=sid, limit=limit, since=api.iso_bound(since), until=api.iso_bound(until)
        )

    def _trades(self, sc: StrategyConfig, query: dict) -> tuple[int, dict]:
        limit = api.parse_limit(query, api.TRADES_DEFAULT, api.TRADES_MAX)
        rows, total = self._trade_rows(sc.id, query, limit)
        return 200, api.markers_doc(sc.id, rows, total)

    def _equity(self, sc: StrategyConfig, query: dict) -> tuple[int, dict]:
        limit = api.parse_limit(query, api.EQUITY_DEFAULT, api.EQUITY_MAX)
        closes = self._closes(sc.id)
        opened = self._opened_at(sc.id, closes[-1]) if closes else ""
        with self.sup.book_lock:
            strat = self.sup.app.strategies[sc.id]
            points = api.equity_points(strat, closes, opened, utc_iso(now_utc()), limit)
        return 200, {"strategy_id": sc.id, "points": points}

    def _config_doc(self, sc: StrategyConfig, _query: dict) -> tuple[int, dict]:
        """The tuner's form: the strategy's params over the registry's defaults (worker).

        Unlike upstream (502), a strategy the registry does not know (a custom script) still
        gets its form, with no defaults and ``schema_error`` saying why."""
        schema, error = self._schema(sc)
        with self.sup.book_lock:
            strat = self.sup.app.strategies[sc.id]
            held = any(p.quantity for p in strat.positions.values())
        doc = tuner.config_doc(sc, schema, held)
        if error:
            doc["schema_error"] = error
        return 200, doc

    def _schema(self, sc: StrategyConfig) -> tuple[dict, str]:
        """(the registry's answer, "" or why there is none), cached per (type, strategy)."""
        key = (sc.type, sc.open_strategy.name)
        if key in self._schemas:
            return self._schemas[key], ""
        executor = self.sup.executor
        if executor is None:
            raise NotReady("starting")
        if not sc.open_strategy.name:
            return {}, "no open strategy named"
        args = (f"--type={sc.type}", f"--strategy={sc.open_strategy.name}")
        result = executor.run_one(Job(key="schema", script=SCHEMA_SCRIPT, args=args), timeout_s=30)
        if not isinstance(result.data, dict) or result.error:
            return {}, one_line(f"strategy_tuner_schema.py: {result.error or 'no answer'}", 300)
        self._schemas[key] = result.data
        return result.data, ""

    def simulate(self, sc: StrategyConfig, body: dict) -> tuple[int, dict]:
        """``POST …/simulate``: live vs simulated markers on the chart's candles (the cache the
        chart fills), by the simulate_strategy.py worker (the backtester's own run)."""
        overrides: dict = {}
        if body.get("overrides"):
            try:
                overrides = tuner.parse_overrides(body)
            except tuner.BadOverrides as exc:
                return 400, {"error": str(exc)}
        limit = api.parse_limit(body, SIMULATE_DEFAULT, SIMULATE_MAX)
        code, got = self._candles(sc, {"limit": str(limit)})
        if code != 200:
            return code, got
        bars = json.loads(got[0])["candles"]
        executor = self.sup.executor
        if executor is None:
            raise NotReady("starting")
        job = Job(
            key="simulate",
            script=SIMULATE_SCRIPT,
            args=(f"--config={self.sup.config.path}", f"--strategy-id={sc.id}"),
            stdin=json.dumps({"candles": bars, "overrides": overrides}),
        )
        result = executor.run_one(job, timeout_s=60)
        if not isinstance(result.data, dict) or result.error:
            return 502, {"error": one_line(f"simulate_strategy.py: {result.error}", 300)}
        return 200, {"strategy_id": sc.id, **result.data}

    def _opened_at(self, sid: str, close: dict) -> str:
        """When the position a close row closed was opened (its oldest leg); "" if unknown."""
        assert self.sup.db is not None
        pid = close.get("position_id")
        if not pid:
            return ""
        rows, total = self.sup.db.trade_history(strategy=sid, position_id=pid, limit=1, offset=0)
        if total > 1:  # newest first: the oldest leg is the last one
            rows, _ = self.sup.db.trade_history(
                strategy=sid, position_id=pid, limit=1, offset=total - 1
            )
        return str(rows[0]["timestamp"]) if rows else ""

    def _candles(self, sc: StrategyConfig, query: dict) -> tuple[int, Any]:
        """Candles, cached as their encoded JSON (a few hundred KiB at most, where the parsed
        dicts of 256 charts would cost the idle supervisor megabytes)."""
        limit = api.parse_limit(query, api.CANDLES_DEFAULT, api.CANDLES_MAX)
        since, until = api.window(query)
        key = candles.cache_key(sc.id, since, until, limit)
        hit = self.cache.get(key)
        if hit is not None:
            return 200, candles.encode(sc.id, hit[0] + ":cached", hit[1])
        got = self._fetch(sc, limit, since, until)
        if got is None:
            rows, _ = self._trade_rows(sc.id, query, api.TRADES_MAX)
            bars = api.candles_from_trades(rows, sc.timeframe, limit)
            if not bars:
                return 502, {"error": "no candles: the fetch failed and there are no trades"}
            got = ("trades", bars)
        source, body = got[0], candles.encode_list(got[1])
        self.cache.set(key, (source, body))
        return 200, candles.encode(sc.id, source, body)

    def _fetch(
        self, sc: StrategyConfig, limit: int, since: float | None, until: float | None
    ) -> tuple[str, list[dict]] | None:
        executor = self.sup.executor
        if executor is None or not sc.symbol or not sc.timeframe:
            return None
        venue = self.sup.app.strategies[sc.id].venue
        job = candles.fetch_job(venue, sc.symbol, sc.timeframe, limit, since, until)
        return candles.candles_of(executor.run_one(job, timeout_s=candles.FETCH_TIMEOUT_S))

    # -- the page --------------------------------------------------------------------------------
    def page(self, name: str = "dashboard") -> bytes:
        """An HTML shell (the dashboard, or a report page of routes.REPORT_PAGES), rendered once
        by the Jinja2 worker (jinja2 loads hashlib, which the supervisor never imports), then
        kept."""
        if name in self._pages:
            return self._pages[name]
        executor = self.sup.executor
        if executor is None:
            raise NotReady("starting")
        with self._page_lock:
            if name not in self._pages:
                args = (f"--version={__version__}", f"--page={name}")
                job = Job(key="page", script=PAGE_SCRIPT, args=args)
                result = executor.run_one(job, timeout_s=30)
                html = result.data.get("html") if isinstance(result.data, dict) else None
                if not isinstance(html, str):
                    raise RuntimeError(f"{name} page: {result.error or 'no html'}")
                self._pages[name] = html.encode()
        return self._pages[name]

    # -- /metrics --------------------------------------------------------------------------------
    def metrics(self) -> str:
        self._ready()
        app = self.sup.app
        with self.sup.book_lock:
            views = {
                sid: strategy_view(s, app.prices_for(s.venue)) for sid, s in app.strategies.items()
            }
            risk = portfolio_risk_view(app)
            cycles = app.cycle_count
        return metrics.render(
            cycles=cycles,
            run=self.run,
            strategies=views,
            outbox_depth=self.sup._outbox_pending(),
            kill_switch=risk["kill_switch"],
            portfolio_drawdown_pct=float(risk["drawdown_pct"] or 0.0),
            rss_bytes=rss_mb() * 2**20,
        )


def make_server(sup: Supervisor, board: Board, log: Any) -> StatusServer | None:
    """Start the status server with the dashboard, always behind a token (token.py)."""
    try:
        secret, where = token.resolve(sup.config.db_file)
    except OSError as exc:
        path = token.token_path(sup.config.db_file)
        log(f"[status] cannot write {path} ({exc.strerror}); set STATUS_AUTH_TOKEN or fix db_file")
        return None
    server = StatusServer(
        status=sup.status_view,
        health=sup.health_view,
        history=sup.history_view,
        api=board.api,
        post=board.actions.post,
        page=board.page,
        metrics=board.metrics,
        draining=lambda: sup.draining,
        token=secret,
        on_idle=board.idle,
    )
    port = server.start(sup.status_port)
    if port:
        log(
            f"[status] http://127.0.0.1:{port}/status  dashboard: http://127.0.0.1:{port}/dashboard"
        )
        if where.startswith("new:"):
            # printed once, when made; `go-trader token` shows it again
            log(f"[status] new API token (saved in {Path(where[4:])}): {secret}")
    return server
