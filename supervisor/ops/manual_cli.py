"""The click commands of the manual trades (supervisor/ops/manual.py, manual_close.py).

Flags may come before or after ``<strategy-id>``. Exit codes: 0 ok, 1 refused or failed,
2 usage (click's own usage errors too).
"""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Callable
from typing import Any

import click

from shared_tools.config.load import load_config
from shared_tools.config.model import ConfigError
from shared_tools.text import exc_line

config_option = click.option(
    "--config", "config_path", default=None, help="Config file [default: the group's --config]."
)
dry_run_option = click.option(
    "--dry-run", is_flag=True, help="Check and print the order; send nothing."
)
POSITIVE = click.FloatRange(min=0, min_open=True)


def _run(
    ctx: click.Context, config_path: str | None, fn: Callable[..., None], *args: Any, **kw: Any
) -> None:
    """Load the config, run one command core, map its refusal to one line and an exit code."""
    from supervisor.ops.manual_state import ManualError

    try:
        config = load_config(
            config_path or ctx.find_root().params.get("config_path") or "config.json"
        )
    except ConfigError as exc:
        for line in exc.lines:
            click.echo(line, err=True)
        sys.exit(1)
    try:
        fn(config, *args, echo=click.echo, **kw)
    except ManualError as exc:
        click.echo(str(exc), err=True)
        sys.exit(exc.code)
    except Exception as exc:  # a bug: one line, traceback on request
        click.echo(f"error: {exc_line(exc)}", err=True)
        if os.environ.get("GO_TRADER_DEBUG"):
            traceback.print_exc()
        sys.exit(1)


def _sizing(f: Callable[..., Any]) -> Callable[..., Any]:
    for opt in reversed(
        [
            click.option(
                "--side",
                type=click.Choice(["long", "short"]),
                default=None,
                help="Position side [default: user_defaults.manual.side, long; add: the position's].",
            ),
            click.option("--size", type=POSITIVE, default=None, help="Quantity in coins."),
            click.option("--notional", type=POSITIVE, default=None, help="Notional in USD."),
            click.option(
                "--margin",
                type=POSITIVE,
                default=None,
                help="Margin in USD (x leverage) [default: margin_per_trade_usd].",
            ),
            click.option(
                "--record-only",
                is_flag=True,
                help="Record a fill already made on the venue; send nothing.",
            ),
            click.option(
                "--fill-price",
                type=POSITIVE,
                default=None,
                help="With --record-only: the fill's price.",
            ),
            dry_run_option,
            config_option,
        ]
    ):
        f = opt(f)
    return f


@click.command("manual-open")
@click.argument("strategy_id")
@_sizing
@click.option(
    "--atr", type=POSITIVE, default=None, help="Entry ATR [default: read from the venue's candles]."
)
@click.option(
    "--stop-loss-atr-mult", type=POSITIVE, default=None, help="This position's stop: ATR multiple."
)
@click.option(
    "--stop-loss-pct",
    type=click.FloatRange(0, 50, min_open=True),
    default=None,
    help="This position's stop: % from the entry.",
)
@click.option(
    "--limit-price",
    type=POSITIVE,
    default=None,
    help="Rest a limit order at this price instead of a market order (sized at it).",
)
@click.option(
    "--tif",
    type=click.Choice(["Alo", "Gtc"]),
    default="Alo",
    help="With --limit-price: Alo (post-only, refused if it would cross) or Gtc.",
)
@click.option(
    "--expire-after",
    default="0",
    help="With --limit-price: cancel it after this long (30m, 2h; 0 = never).",
)
@click.pass_context
def manual_open(
    ctx,
    strategy_id,
    side,
    size,
    notional,
    margin,
    record_only,
    fill_price,
    dry_run,
    config_path,
    atr,
    stop_loss_atr_mult,
    stop_loss_pct,
    limit_price,
    tif,
    expire_after,
) -> None:
    """Open a manual strategy's position: a market order, or a resting limit (--limit-price)."""
    from supervisor.ops.manual import open_position
    from supervisor.ops.manual_limit import open_limit

    if stop_loss_atr_mult is not None and stop_loss_pct is not None:
        click.echo("error: give --stop-loss-atr-mult or --stop-loss-pct, not both", err=True)
        sys.exit(2)
    stop = {
        k: v
        for k, v in (("stop_loss_atr_mult", stop_loss_atr_mult), ("stop_loss_pct", stop_loss_pct))
        if v is not None
    }
    if limit_price is not None:
        if record_only or fill_price is not None:
            click.echo(
                "error: --limit-price places an order; drop --record-only/--fill-price", err=True
            )
            sys.exit(2)
        _run(
            ctx,
            config_path,
            open_limit,
            strategy_id,
            side=side,
            size=size,
            notional=notional,
            margin=margin,
            atr=atr,
            stop=stop,
            limit_price=limit_price,
            tif=tif,
            expire_after=expire_after,
            dry_run=dry_run,
        )
        return
    if expire_after != "0" or tif != "Alo":
        click.echo("error: --tif and --expire-after go only with --limit-price", err=True)
        sys.exit(2)
    _run(
        ctx,
        config_path,
        open_position,
        strategy_id,
        add=False,
        side=side,
        size=size,
        notional=notional,
        margin=margin,
        atr=atr,
        stop=stop,
        record_only=record_only,
        fill_price=fill_price,
        dry_run=dry_run,
    )


@click.command("manual-add")
@click.argument("strategy_id")
@_sizing
@click.pass_context
def manual_add(
    ctx, strategy_id, side, size, notional, margin, record_only, fill_price, dry_run, config_path
) -> None:
    """Add to a manual strategy's open position (same side); the stop is re-sized next cycle."""
    from supervisor.ops.manual import open_position

    _run(
        ctx,
        config_path,
        open_position,
        strategy_id,
        add=True,
        side=side,
        size=size,
        notional=notional,
        margin=margin,
        atr=None,
        stop={},
        record_only=record_only,
        fill_price=fill_price,
        dry_run=dry_run,
    )


def _close_command(name: str, force: bool, doc: str) -> click.Command:
    @click.command(name, help=doc)
    @click.argument("strategy_id")
    @click.option("--qty", type=POSITIVE, default=None, help="Quantity to close [default: all].")
    @dry_run_option
    @config_option
    @click.pass_context
    def cmd(ctx, strategy_id, qty, dry_run, config_path) -> None:
        from supervisor.ops.manual_close import close_position

        _run(ctx, config_path, close_position, strategy_id, qty=qty, dry_run=dry_run, force=force)

    return cmd


manual_close = _close_command(
    "manual-close", False, "Close a manual strategy's position (reduce-only), all or --qty."
)
force_close = _close_command(
    "force-close",
    True,
    "Close a live Hyperliquid perps or OKX swap strategy's position now (reduce-only).",
)


@click.command("manual-update-sl")
@click.argument("strategy_id")
@click.option("--trigger", type=POSITIVE, required=True, help="The new stop's trigger price.")
@click.option("--symbol", default=None, help="The coin [default: the strategy's].")
@dry_run_option
@config_option
@click.pass_context
def manual_update_sl(ctx, strategy_id, trigger, symbol, dry_run, config_path) -> None:
    """Move a manual position's resting stop-loss to --trigger."""
    from supervisor.ops.manual_close import update_stop

    _run(
        ctx, config_path, update_stop, strategy_id, trigger=trigger, symbol=symbol, dry_run=dry_run
    )


@click.command("manual-cancel-sl")
@click.argument("strategy_id")
@click.option("--symbol", default=None, help="The coin [default: the strategy's].")
@dry_run_option
@config_option
@click.pass_context
def manual_cancel_sl(ctx, strategy_id, symbol, dry_run, config_path) -> None:
    """Cancel a manual position's resting stop-loss (it stays unprotected)."""
    from supervisor.ops.manual_close import cancel_stop

    _run(ctx, config_path, cancel_stop, strategy_id, symbol=symbol, dry_run=dry_run)


@click.command("manual-cancel")
@click.argument("strategy_id")
@config_option
@click.pass_context
def manual_cancel(ctx, strategy_id, config_path) -> None:
    """Cancel a manual strategy's resting limit orders (the daemon cancels them next cycle)."""
    from supervisor.ops.manual_limit import cancel_limits

    _run(ctx, config_path, cancel_limits, strategy_id)


COMMANDS = (
    manual_open,
    manual_add,
    manual_close,
    force_close,
    manual_update_sl,
    manual_cancel_sl,
    manual_cancel,
)
