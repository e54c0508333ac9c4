"""Command line: ``go-trader --config C [--once] [--status-port N]`` and subcommands.

Exit codes: 0 ok, 1 runtime error, 2 usage, 78 config/probe, 79 already running. Expected
failures print one line (per problem) and never a traceback.
"""

from __future__ import annotations

import os
import sys
import traceback

import click

from supervisor import __version__
from supervisor.config import ConfigError, load_config

DEFAULT_CONFIG = "config.json"
EXIT_CONFIG = 78


def _fail_config(exc: ConfigError) -> None:
    for line in exc.lines:
        click.echo(line, err=True)
    sys.exit(EXIT_CONFIG)


@click.group(invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config", "config_path", default=DEFAULT_CONFIG, show_default=True, help="Config file."
)
@click.option("--once", is_flag=True, help="Run every strategy once, save, and exit.")
@click.option(
    "--status-port", type=click.IntRange(1, 65535), default=None, help="Status server port."
)
@click.option(
    "--prune-open",
    is_flag=True,
    help="Drop the open positions of strategies removed from the config (refused otherwise).",
)
@click.version_option(__version__, "--version", prog_name="go-trader")
@click.pass_context
def main(
    ctx: click.Context, config_path: str, once: bool, status_port: int | None, prune_open: bool
) -> None:
    """go-trader: a lean supervisor that runs short-lived strategy workers."""
    if ctx.invoked_subcommand is not None:
        return
    from supervisor.daemon import Supervisor
    from supervisor.state import StateError

    try:
        config = load_config(config_path)
    except ConfigError as exc:
        _fail_config(exc)
    try:
        code = Supervisor(config, once=once, status_port=status_port, prune_open=prune_open).run()
    except StateError as exc:
        click.echo(str(exc), err=True)
        code = EXIT_CONFIG
    except Exception as exc:  # an unexpected bug: one line, traceback only on request
        click.echo(f"go-trader: {type(exc).__name__}: {exc}", err=True)
        if os.environ.get("GO_TRADER_DEBUG"):
            traceback.print_exc()
        else:
            click.echo("(set GO_TRADER_DEBUG=1 for a traceback)", err=True)
        code = 1
    sys.exit(code)


@main.command()
@click.option(
    "--config", "config_path", default=None, help=f"Config file [default: {DEFAULT_CONFIG}]."
)
@click.pass_context
def probe(ctx: click.Context, config_path: str | None) -> None:
    """Run every configured check script with --probe-only; exit 0 or 78."""
    from supervisor.daemon import probe_list, run_probe

    # `go-trader --config C probe` means the same as `go-trader probe --config C`.
    config_path = config_path or ctx.parent.params["config_path"]
    try:
        config = load_config(config_path)
    except ConfigError as exc:
        _fail_config(exc)
    lines = run_probe(config)
    if lines:
        for line in lines:
            click.echo(line, err=True)
        sys.exit(EXIT_CONFIG)
    n = len({script for script, _ in probe_list(config)})
    click.echo(f"probe: OK ({n} unique check scripts, version={__version__})")


@main.command()
def version() -> None:
    """Print the version."""
    click.echo(__version__)


if __name__ == "__main__":
    main()
