"""Command line: ``go-trader --config C [--once] [--status-port N]`` and subcommands.

Exit codes: 0 ok, 1 runtime error, 2 usage, 78 config/probe, 79 already running. Expected
failures print one line (per problem) and never a traceback.
"""

from __future__ import annotations

import os
import sys
import traceback

import click

from shared_tools.config.load import STATUS_PORT_RANGE, load_config
from shared_tools.config.model import ConfigError
from shared_tools.text import exc_line
from supervisor import __version__

DEFAULT_CONFIG = "config.json"
EXIT_CONFIG = 78


# Subcommands take --config too: `go-trader --config C probe` == `go-trader probe --config C`.
config_option = click.option(
    "--config", "config_path", default=None, help=f"Config file [default: {DEFAULT_CONFIG}]."
)


def _subcommand_config(ctx: click.Context, config_path: str | None):
    """The subcommand's config (its own --config, else the group's); exit 78 when bad."""
    try:
        return load_config(config_path or ctx.parent.params["config_path"])
    except ConfigError as exc:
        _fail_config(exc)


def _print_version(ctx: click.Context) -> None:
    from supervisor.service.version import version_line

    click.echo(version_line())
    ctx.exit()


def _fail_config(exc: ConfigError) -> None:
    for line in exc.lines:
        click.echo(line, err=True)
    sys.exit(EXIT_CONFIG)


_MANUAL = "supervisor.ops.manual_cli"


class _LazyGroup(click.Group):
    """The subcommands whose modules load only when one is named (or for ``--help``): the
    daemon runs from this group and never needs the init wizard or the manual-trade commands
    (about 0.4 MiB of its idle RSS)."""

    LAZY = {
        "init": "supervisor.ops.init_wizard",
        **{
            name: _MANUAL
            for name in (
                "manual-open",
                "manual-add",
                "manual-close",
                "force-close",
                "manual-update-sl",
                "manual-cancel-sl",
                "manual-cancel",
            )
        },
    }

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.commands, *self.LAZY})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in self.LAZY:
            import importlib

            module = importlib.import_module(self.LAZY[cmd_name])
            for command in getattr(module, "COMMANDS", ()):
                self.add_command(command)
        return super().get_command(ctx, cmd_name)


@click.group(
    cls=_LazyGroup,
    invoke_without_command=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.option(
    "--config", "config_path", default=DEFAULT_CONFIG, show_default=True, help="Config file."
)
@click.option("--once", is_flag=True, help="Run every strategy once, save, and exit.")
@click.option(
    "--status-port",
    type=click.IntRange(*STATUS_PORT_RANGE),
    default=None,
    help="Status server port (the config's status_port range; port+4 must fit).",
)
@click.option(
    "--prune-open",
    is_flag=True,
    help="Drop the open positions of strategies removed from the config (refused otherwise).",
)
@click.option(
    "--version",
    is_flag=True,
    is_eager=True,
    expose_value=False,
    callback=lambda ctx, _p, v: _print_version(ctx) if v else None,
    help="Show the version and the running code's commit, and exit.",
)
@click.pass_context
def main(
    ctx: click.Context, config_path: str, once: bool, status_port: int | None, prune_open: bool
) -> None:
    """go-trader: a lean supervisor that runs short-lived strategy workers."""
    # Every file the bot writes (state DB, WAL, lock, exports, configs) is the operator's
    # alone: 0600 / 0700. The systemd units set UMask=0077 as well.
    os.umask(0o077)
    # The console script's early signal handling (supervisor_entry.EarlyStop); None under
    # `python -m supervisor.cli`, where the defaults apply until the daemon's handlers.
    early = ctx.obj
    if ctx.invoked_subcommand is not None:
        if early is not None:
            early.release()  # the default signal behaviour (exit 0 if a stop came)
        return
    try:
        config = load_config(config_path)
    except ConfigError as exc:
        _fail_config(exc)
    # Imported after the config check: a bad file is reported without loading the daemon.
    from supervisor.daemon import Supervisor
    from supervisor.service.lean import fewer_malloc_arenas
    from supervisor.state.db import StateError

    fewer_malloc_arenas()  # before the daemon's threads: see supervisor/service/lean.py
    try:
        sup = Supervisor(config, once=once, status_port=status_port, prune_open=prune_open)
        if early is not None:  # a stop before this exits 0 here; one after reaches the daemon
            early.hand_over(sup._on_stop, sup._on_hup)
        code = sup.run()
    except StateError as exc:
        click.echo(str(exc), err=True)
        code = EXIT_CONFIG
    except Exception as exc:  # an unexpected bug: one line, traceback only on request
        click.echo(f"go-trader: {exc_line(exc)}", err=True)
        if os.environ.get("GO_TRADER_DEBUG"):
            traceback.print_exc()
        else:
            click.echo("(set GO_TRADER_DEBUG=1 for a traceback)", err=True)
        code = 1
    sys.exit(code)


@main.command()
@config_option
@click.pass_context
def probe(ctx: click.Context, config_path: str | None) -> None:
    """Run every configured check script with --probe-only; exit 0 or 78."""
    from supervisor.run.probe import probe_config, probe_requests

    config = _subcommand_config(ctx, config_path)
    lines = probe_config(config)
    if lines:
        for line in lines:
            click.echo(line, err=True)
        sys.exit(EXIT_CONFIG)
    n = len({req.script for req in probe_requests(config)})
    click.echo(f"probe: OK ({n} unique check scripts, version={__version__})")


@main.command("check-config")
@config_option
@click.pass_context
def check_config(ctx: click.Context, config_path: str | None) -> None:
    """Load the config as the daemon would and print its warnings; exit 0, or 78 when refused."""
    config = _subcommand_config(ctx, config_path)
    for line in config.warnings:
        click.echo(f"warning: {line}")
    click.echo(
        f"check-config: OK ({len(config.strategies)} strategies, {len(config.warnings)} warnings)"
    )


@main.command("reset-kill-switch")
@config_option
@click.pass_context
def reset_kill_switch(ctx: click.Context, config_path: str | None) -> None:
    """Clear a latched portfolio kill switch (the peak is re-based on the book as it is)."""
    from supervisor.ops.reset import reset_kill_switch as reset
    from supervisor.state.db import StateError

    config = _subcommand_config(ctx, config_path)
    try:
        line = reset(config)
    except StateError as exc:
        click.echo(str(exc), err=True)
        sys.exit(EXIT_CONFIG)
    click.echo(line)


@main.command("clear-cash-reconcile")
@click.argument("strategy_id")
@config_option
@click.pass_context
def clear_cash_reconcile(ctx: click.Context, strategy_id: str, config_path: str | None) -> None:
    """Lift a live spot strategy's cash reconcile latch (its buys resume; cash unchanged)."""
    from supervisor.ops.cash_reconcile import clear_cash_reconcile as clear
    from supervisor.state.db import StateError

    config = _subcommand_config(ctx, config_path)
    try:
        line = clear(config, strategy_id)
    except StateError as exc:
        click.echo(str(exc), err=True)
        sys.exit(EXIT_CONFIG)
    click.echo(line)


@main.command("notify-test")
@config_option
@click.pass_context
def notify_test(ctx: click.Context, config_path: str | None) -> None:
    """Send one test message to every configured chat target; exit 0 if all arrived, else 1."""
    from supervisor.notify.selftest import selftest_messages
    from supervisor.notify.sender import send_now

    config = _subcommand_config(ctx, config_path)
    for w in config.warnings:
        click.echo(w, err=True)
    messages, problems = selftest_messages(config)
    for line in problems:
        click.echo(line)
    ok = not problems
    for m, res in send_now(config.notify, messages):
        where = "owner DM" if m.target == "owner" else f"channel {m.target}"
        if res.ok:
            click.echo(f"{m.transport} {where}: ok")
        else:
            ok = False
            click.echo(f"{m.transport} {where}: error: {res.error or f'HTTP {res.status}'}")
    if not messages and not problems:
        click.echo("notify-test: no chat target is configured (discord/telegram sections)")
        ok = False
    sys.exit(0 if ok else 1)


@main.command()
@config_option
@click.pass_context
def token(ctx: click.Context, config_path: str | None) -> None:
    """Print the status server's API token (made in the state directory when missing)."""
    from supervisor.http import token as tokens

    config = _subcommand_config(ctx, config_path)
    try:
        secret, where = tokens.resolve(config.db_file)
    except OSError as exc:
        path = tokens.token_path(config.db_file)
        click.echo(f"token: cannot write {path} ({exc.strerror}); check db_file", err=True)
        sys.exit(1)
    click.echo(secret)
    source = where.removeprefix("new:")
    made = " (new)" if where.startswith("new:") else ""
    click.echo(f"token: from {source}{made}; send it as 'Authorization: Bearer <token>'", err=True)


@main.command(
    "chat-bridge",
    context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
    add_help_option=False,
)
@click.pass_context
def chat_bridge(ctx: click.Context) -> None:
    """The chat bridge process: Discord/Telegram commands on the daemon's API (README)."""
    # normally dispatched by supervisor_entry before this module loads; the supervisor never
    # imports the bridge, so reaching it here (python -m supervisor.cli) starts its own process
    os.execv(sys.executable, [sys.executable, "-m", "chat_bridge", *ctx.args])


@main.command()
def version() -> None:
    """Print the version and the running code's commit."""
    from supervisor.service.version import version_line

    click.echo(version_line())


@main.command()
@click.argument("strategy_id", required=False)
@click.option("--all", "all_", is_flag=True, help="Every configured strategy.")
@click.option("--json", "as_json", is_flag=True, help="One JSON document instead of text.")
@click.option("--trades", default=10, type=click.IntRange(0, 10_000), help="Recent trades shown.")
@config_option
@click.pass_context
def inspect(ctx, strategy_id, all_, as_json, trades, config_path) -> None:
    """Effective config beside the raw entry, and the stored state (read-only, no lock)."""
    from supervisor.ops import inspect as inspect_cmd

    config = _subcommand_config(ctx, config_path)
    sys.exit(
        inspect_cmd.run(
            config, strategy_id, all_=all_, as_json=as_json, n_trades=trades, echo=click.echo
        )
    )


@main.command()
@click.option("--json", "fmt", flag_value="json", help="The /api/reports/strategy-audit JSON.")
@click.option("--csv", "fmt", flag_value="csv", help="The CSV of the report page's download.")
@click.option("--dead-days", type=int, default=None, help="Dead after this many idle days (14).")
@click.option("--min-trades", type=int, default=None, help="Closes needed for a verdict (10).")
@config_option
@click.pass_context
def audit(ctx, fmt, dead_days, min_trades, config_path) -> None:
    """The strategy audit (/reports/strategy-audit): figures and a verdict per strategy."""
    from supervisor.ops.audit import run
    from supervisor.state.db import StateError

    config = _subcommand_config(ctx, config_path)
    try:
        sys.exit(
            run(
                config,
                fmt=fmt or "table",
                dead_days=dead_days,
                min_trades=min_trades,
                echo=click.echo,
            )
        )
    except StateError as exc:
        click.echo(str(exc), err=True)
        sys.exit(1)


@main.command()
@click.option("--post", is_flag=True, help="Queue it to the chat outbox instead of printing.")
@config_option
@click.pass_context
def leaderboard(ctx, post, config_path) -> None:
    """The top and bottom all-time performers (upstream --leaderboard)."""
    from supervisor.ops.leaderboard import run
    from supervisor.state.db import StateError

    config = _subcommand_config(ctx, config_path)
    try:
        sys.exit(run(config, key=None, post=post, echo=click.echo))
    except StateError as exc:
        click.echo(str(exc), err=True)
        sys.exit(1)


@main.command()
@click.argument("key")
@click.option("--post", is_flag=True, help="Queue it to the chat outbox instead of printing.")
@config_option
@click.pass_context
def summary(ctx, key, post, config_path) -> None:
    """A channel's summary, or the leaderboard_summaries of a channel (upstream --summary)."""
    from supervisor.ops.leaderboard import run
    from supervisor.state.db import StateError

    config = _subcommand_config(ctx, config_path)
    try:
        sys.exit(run(config, key=key, post=post, echo=click.echo))
    except StateError as exc:
        click.echo(str(exc), err=True)
        sys.exit(1)


@main.group()
def export() -> None:
    """Export stored trades (tradingview)."""


@export.command("tradingview")
@click.option("--strategy", "ids", multiple=True, help="Strategy id (repeatable).")
@click.option("--all", "all_", is_flag=True, help="Every configured strategy.")
@click.option("--output", required=True, help="CSV file to write (atomically).")
@config_option
@click.pass_context
def export_tradingview(ctx, ids, all_, output, config_path) -> None:
    """Trades as a TradingView portfolio import CSV (read-only, no lock)."""
    from supervisor.ops import export_tv

    config = _subcommand_config(ctx.parent, config_path)
    sys.exit(export_tv.run(config, list(ids), all_=all_, output=output, echo=click.echo))


def backfill_options(fn):
    """The flags both backfill targets take."""
    for opt in reversed(
        [
            click.option("--strategy", "strategy_id", default=None, help="One strategy id."),
            click.option("--all", "all_", is_flag=True, help="Every live Hyperliquid strategy."),
            click.option("--apply", is_flag=True, help="Write (default: a dry run)."),
            click.option(
                "--reset-cash", is_flag=True, help="Set cash to the replay even if it drifted."
            ),
            config_option,
            click.pass_context,
        ]
    ):
        fn = opt(fn)
    return fn


@main.group()
def backfill() -> None:
    """Repair live Hyperliquid trade rows from the venue's fills (dry run unless --apply)."""


def _backfill(ctx, target, strategy_id, all_, apply, reset_cash, config_path) -> None:
    from supervisor.ops import backfill as backfill_cmd

    config = _subcommand_config(ctx.parent, config_path)
    code = backfill_cmd.run(
        config, target, strategy_id, all_=all_, apply=apply, reset_cash=reset_cash, echo=click.echo
    )
    sys.exit(code)


@backfill.command("hl-fees")
@backfill_options
def backfill_hl_fees(ctx, strategy_id, all_, apply, reset_cash, config_path) -> None:
    """Trade fees from the venue's fills by order id; cash replayed."""
    _backfill(ctx, "hl-fees", strategy_id, all_, apply, reset_cash, config_path)


@backfill.command("trade-ledger")
@backfill_options
@click.option("--dry-run", is_flag=True, help="The default (accepted for scripts).")
def backfill_trade_ledger(ctx, strategy_id, all_, apply, reset_cash, config_path, dry_run) -> None:
    """Legacy net rows to gross, fill prices and fees by order id, close P&L; cash replayed."""
    if dry_run and apply:
        raise click.UsageError("give --dry-run or --apply, not both")
    _backfill(ctx, "trade-ledger", strategy_id, all_, apply, reset_cash, config_path)


# ``init`` (supervisor/ops/init_wizard.py) and the manual-trade commands
# (supervisor/ops/manual_cli.py) are added by _LazyGroup when named.


if __name__ == "__main__":
    main()
