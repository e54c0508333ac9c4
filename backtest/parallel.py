"""Run many backtests of one strategy on one frame: in-process, over local cores, or on Dask.

The optimizer hands over a list of jobs ``(params, stop, since, overrides)``: run ``strategy``
with ``params`` on the first ``stop`` bars of the frame (all when None), trading from ``since``,
with the settings ``overrides`` (a close stack under ``--sweep-close``) applied.
The frame goes to each worker once (pool initializer, or a Dask broadcast), never per job, and
jobs travel in chunks so a 100-combo grid on two cores costs a handful of round trips.
Results always come back in job order, whatever order the workers finish in.
"""

from __future__ import annotations

import math
import os
import signal
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

import click
import pandas as pd

from backtest import backtester
from backtest import metrics as metrics_mod

__all__ = ["Job", "OptimizerError", "Runner", "evaluate"]

# params, bars used (None = all), since, settings overrides (a close stack, --sweep-close; None)
Job = tuple[dict, int | None, pd.Timestamp | None, dict | None]
Chunk = list[tuple[int, Job]]

CHUNKS_PER_WORKER = 4  # enough to balance uneven combos, few enough to keep overhead low
MAX_CHUNK = 16  # jobs per chunk at most: a smooth progress bar and a quick stop on Ctrl-C
DASK_HINT = "pip install 'go-trader[dask]'"


class OptimizerError(ValueError):
    """An optimizer run that cannot go on; the message is one line for the operator."""


def evaluate(df: pd.DataFrame, strategy: str, settings: Any, job: Job) -> dict[str, Any]:
    """Metrics of one backtest; a failing combo gets None metrics and an ``error`` text so one
    bad corner of a 900-combo grid does not sink the sweep (the caller checks for all-failed)."""
    params, stop, since, overrides = job
    if overrides:
        settings = replace(settings, **overrides)
    frame = df if stop is None else df.iloc[:stop]
    try:
        result = backtester.run(frame, strategy, params, settings, since=since)
        return metrics_mod.metrics(result)
    except Exception as exc:  # noqa: BLE001 - reported per combo, see the docstring
        out: dict[str, Any] = dict.fromkeys(metrics_mod.KEYS)
        out["error"] = f"{type(exc).__name__}: {exc}"
        return out


# ------------------------------------------------------------------ worker side

_WORKER: dict[str, Any] = {}


def _init_worker(df: pd.DataFrame, strategy: str, settings: Any) -> None:
    """Pool initializer: the frame arrives once per worker process. Ctrl-C is left to the
    parent, which cancels the queued chunks (no traceback from every worker)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _WORKER.update(df=df, strategy=strategy, settings=settings)


def _run_chunk(chunk: Chunk) -> list[tuple[int, dict]]:
    w = _WORKER
    return [(i, evaluate(w["df"], w["strategy"], w["settings"], job)) for i, job in chunk]


def _dask_chunk(df: pd.DataFrame, strategy: str, settings: Any, chunk: Chunk) -> list:
    return [(i, evaluate(df, strategy, settings, job)) for i, job in chunk]


def _chunks(jobs: Sequence[Job], parts: int) -> list[Chunk]:
    size = min(max(1, math.ceil(len(jobs) / max(parts, 1))), MAX_CHUNK)
    indexed = list(enumerate(jobs))
    return [indexed[k : k + size] for k in range(0, len(indexed), size)]


# ------------------------------------------------------------------ progress


@contextmanager
def _progress(total: int, label: str, enabled: bool) -> Iterator[Callable[[int], None]]:
    """A click progress bar on stderr (just the label when stderr is not a terminal), then one
    summary line, so a log also shows how long the sweep took."""
    if not enabled:
        yield lambda _n: None
        return
    started = time.perf_counter()
    with click.progressbar(length=total, label=label, file=sys.stderr) as bar:
        yield bar.update
    elapsed = time.perf_counter() - started
    click.echo(f"{label}: {total} backtests in {elapsed:.1f}s", file=sys.stderr)


# ------------------------------------------------------------------ runner


class Runner:
    """Holds the workers for one optimizer call (a walk-forward maps twice on one pool).

    ``workers=1`` runs in this process; more starts a process pool on first use; a
    ``dask_address`` connects a ``distributed.Client`` instead.
    """

    def __init__(
        self,
        df: pd.DataFrame,
        strategy: str,
        settings: Any,
        workers: int | None = None,
        dask_address: str | None = None,
        on_advance: Callable[[int], None] | None = None,
    ) -> None:
        workers = (os.cpu_count() or 1) if workers is None else workers
        if workers < 1:
            raise OptimizerError(f"workers must be at least 1, got {workers}")
        self.df, self.strategy, self.settings = df, strategy, settings
        self.workers, self.dask_address = workers, dask_address
        self.on_advance = on_advance  # told how many backtests finished (tune_live's progress)
        self._pool: ProcessPoolExecutor | None = None
        self._client: Any = None
        self._df_future: Any = None

    def __enter__(self) -> Runner:
        if self.dask_address:
            self._connect()
        return self

    def __exit__(self, exc_type: object, *_exc: object) -> None:
        if self._pool is not None:
            # On an error or Ctrl-C, don't wait: workers finish their chunk and exit.
            self._pool.shutdown(wait=exc_type is None, cancel_futures=True)
            self._pool = None
        if self._client is not None:
            self._client.close()
            self._client = None

    def map(self, jobs: Sequence[Job], progress: bool = False, label: str = "") -> list[dict]:
        """Metrics per job, in job order."""
        label = label or f"{self.strategy}: {len(jobs)} backtests"
        out: list[dict | None] = [None] * len(jobs)
        with _progress(len(jobs), label, progress) as bar:

            def advance(n: int) -> None:
                bar(n)
                if self.on_advance is not None:
                    self.on_advance(n)

            if self._client is not None:
                self._map_dask(jobs, out, advance)
            elif self.workers == 1 or len(jobs) < 2:
                for i, job in enumerate(jobs):
                    out[i] = evaluate(self.df, self.strategy, self.settings, job)
                    advance(1)
            else:
                self._map_local(jobs, out, advance)
        return out  # type: ignore[return-value]  # every slot is filled above

    def _map_local(self, jobs: Sequence[Job], out: list, advance: Callable[[int], None]) -> None:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                max_workers=self.workers,
                initializer=_init_worker,
                initargs=(self.df, self.strategy, self.settings),
            )
        chunks = _chunks(jobs, self.workers * CHUNKS_PER_WORKER)
        futures = [self._pool.submit(_run_chunk, chunk) for chunk in chunks]
        try:
            for future in as_completed(futures):
                rows = future.result()
                for i, row in rows:
                    out[i] = row
                advance(len(rows))
        except BrokenProcessPool:
            raise OptimizerError(
                "an optimizer worker process died (out of memory?); retry with fewer --workers"
            ) from None
        finally:
            for future in futures:
                future.cancel()

    def _connect(self) -> None:
        try:
            from distributed import Client
        except ImportError:
            raise OptimizerError(
                f"--dask needs the optional Dask extra, which is not installed: {DASK_HINT}"
            ) from None
        try:
            self._client = Client(self.dask_address, timeout="10s", set_as_default=False)
        except (OSError, TimeoutError) as exc:
            raise OptimizerError(
                f"--dask: cannot reach the Dask scheduler at {self.dask_address}: {exc}"
            ) from None
        [self._df_future] = self._client.scatter([self.df], broadcast=True)

    def _map_dask(self, jobs: Sequence[Job], out: list, advance: Callable[[int], None]) -> None:
        from distributed import as_completed as dask_completed

        threads = sum(self._client.nthreads().values()) or 1
        chunks = _chunks(jobs, threads * CHUNKS_PER_WORKER)
        futures = [
            self._client.submit(
                _dask_chunk, self._df_future, self.strategy, self.settings, chunk, pure=False
            )
            for chunk in chunks
        ]
        try:
            for future in dask_completed(futures, loop=self._client.loop):
                rows = future.result()
                for i, row in rows:
                    out[i] = row
                advance(len(rows))
        except Exception as exc:  # evaluate() catches strategy errors: this is the cluster
            raise OptimizerError(
                f"--dask: a task failed on the cluster ({type(exc).__name__}: {exc}); "
                "is go-trader installed on every worker?"
            ) from None
        finally:
            self._client.cancel(futures)
