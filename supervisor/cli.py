"""Command line: ``go-trader --config C [--once] [--status-port N]`` and subcommands.

Exit codes: 0 ok, 1 runtime error, 2 usage, 78 config/probe, 79 already running. Expected
failures print one line (per problem) and never a traceback.
"""

from __future__ import annotations

import os
import sys
import traceback

import click

from shared_tools.text import exc_line
from supervisor import __version__
from supervisor.config import STATUS_PORT_RANGE, ConfigError, load_config

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
@click.version_option(__version__, "--version", prog_name="go-trader")
@click.pass_context
def main(
    ctx: click.Context, config_path: str, once: bool, status_port: int | None, prune_open: bool
) -> None:
    """go-trader: a lean supervisor that runs short-lived strategy workers."""
    if ctx.invoked_subcommand is not None:
        return
    try:
        config = load_config(config_path)
    except ConfigError as exc:
        _fail_config(exc)
    # Imported after the config check: a bad file is reported without loading the daemon.
    from supervisor.daemon import Supervisor
    from supervisor.state import StateError

    try:
        code = Supervisor(config, once=once, status_port=status_port, prune_open=prune_open).run()
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
@click.option(
    "--config", "config_path", default=None, help=f"Config file [default: {DEFAULT_CONFIG}]."
)
@click.pass_context
def probe(ctx: click.Context, config_path: str | None) -> None:
    """Run every configured check script with --probe-only; exit 0 or 78."""
    from supervisor.probe import probe_config, probe_requests

    # `go-trader --config C probe` means the same as `go-trader probe --config C`.
    config_path = config_path or ctx.parent.params["config_path"]
    try:
        config = load_config(config_path)
    except ConfigError as exc:
        _fail_config(exc)
    lines = probe_config(config)
    if lines:
        for line in lines:
            click.echo(line, err=True)
        sys.exit(EXIT_CONFIG)
    n = len({req.script for req in probe_requests(config)})
    click.echo(f"probe: OK ({n} unique check scripts, version={__version__})")


@main.command()
def version() -> None:
    """Print the version."""
    click.echo(__version__)


if __name__ == "__main__":
    main()
