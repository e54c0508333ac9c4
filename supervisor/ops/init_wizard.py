"""``go-trader init``: write a new config, interactively or from ``--json`` (for scripts).

Both paths fill the same options (:mod:`supervisor.ops.init_options`) and generate the same
document (:mod:`supervisor.ops.init_config`), check the generated document
with the real loader before anything is written, and write it atomically (temp file in the
same directory, fsync, rename; mode 0600). An existing file is never replaced without a yes
to the prompt, or ``--force``.

Exit codes: 0 written (or the operator declined), 1 not written (file exists, I/O error),
2 bad options, 78 the generated config does not load (a bug: please report it).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from shared_tools.config import schema
from shared_tools.config.migrate import atomic_write
from shared_tools.text import exc_line
from supervisor.ops.init_config import generate
from supervisor.ops.init_options import (
    AUTO_UPDATE,
    CAPITAL,
    DEFAULT_FUTURES_SYMBOLS,
    DRAWDOWN,
    FUTURES_SYMBOLS,
    LEVERAGE_RANGE,
    LIVE_NOT_SUPPORTED,
    PORTFOLIO_DRAWDOWN,
    STARTER_SPOT,
    STOP_RANGES,
    WARN_THRESHOLD,
    Catalogue,
    InitError,
    load_catalogue,
    parse_options,
    resolve,
)
from supervisor.ops.init_options_type import (
    DEFAULT_OPTION_STRATEGIES,
    OPTION_STRATEGIES,
    PLATFORMS,
)

__all__ = ["COMMANDS", "init_command", "write_config"]

DEFAULT_OUTPUT = "config.json"  # the CLI's default --config
EXIT_NOT_WRITTEN = 1
EXIT_CONFIG = 78
VENUE_GROUPS = ("spot", "options", "perps", "futures", "luno", "robinhood", "okx")
# The chat channel key each group's strategies post to (their platform).
CHANNEL_KEYS = {"spot": "spot", "perps": "hyperliquid", "futures": "topstep"}
CHANNEL_KEYS |= {"luno": "luno", "robinhood": "robinhood", "okx": "okx"}
STOP_CHOICES = ("auto", "price", "margin", "trailing", "disabled")


@click.command("init")
@click.option(
    "--json",
    "json_text",
    default=None,
    metavar="JSON",
    help="Options as a JSON object (or @file), e.g. "
    '\'{"assets":["BTC"],"enableSpot":true,"spotStrategies":["chart_pattern"]}\'; no prompts.',
)
@click.option("--output", default=None, help=f"Config file to write [default: {DEFAULT_OUTPUT}].")
@click.option("--force", is_flag=True, help="Overwrite an existing file without asking.")
def init_command(json_text: str | None, output: str | None, force: bool) -> None:
    """Write a new config: interactive wizard, or --json for scripts."""
    try:
        if json_text is not None:
            opts = parse_options(_json_arg(json_text))
            path = Path(output or opts.get("outputPath") or DEFAULT_OUTPUT)
            if _exists(path) and not force:
                _stop(f"init: {path} exists; pass --force to overwrite it (nothing written)")
            cat = load_catalogue()
            doc = generate(resolve(opts, cat), cat)
        else:
            cat = load_catalogue()
            path, force, opts = _wizard(cat, output, force)
            doc = generate(resolve(opts, cat), cat)
            click.echo(_summary(doc))
            if not click.confirm("Write config?", default=True):
                click.echo("init: nothing written")
                return
    except InitError as exc:
        for line in exc.lines:
            click.echo(line, err=True)
        sys.exit(exc.exit_code)
    problems = check_document(doc, path)
    if problems:
        for line in problems:
            click.echo(f"init: the generated config does not load: {line}", err=True)
        sys.exit(EXIT_CONFIG)
    try:
        write_config(path, doc, overwrite=force)
    except FileExistsError:
        _stop(f"init: {path} exists; pass --force to overwrite it (nothing written)")
    except OSError as exc:
        _stop(f"init: cannot write {path}: {exc_line(exc, 160)} (nothing written)")
    n = len(doc["strategies"])
    what = f"{n} strateg{'y' if n == 1 else 'ies'}"
    click.echo(f"init: wrote {path} ({what}, config_version {doc['config_version']})")
    click.echo(f"next: go-trader --config {path} --once")


def _stop(line: str) -> None:
    click.echo(line, err=True)
    sys.exit(EXIT_NOT_WRITTEN)


def _exists(path: Path) -> bool:
    return path.exists() or path.is_symlink()


def _json_arg(text: str) -> str:
    if not text.startswith("@"):
        return text
    try:
        return Path(text[1:]).read_text()
    except OSError as exc:
        raise InitError([f"init: --json {text}: cannot read ({exc_line(exc, 120)})"]) from None


def check_document(doc: dict[str, Any], path: Path) -> list[str]:
    """The loader's problems with ``doc`` (empty when it loads), without touching any file."""
    from shared_tools.config.load import parse_config
    from shared_tools.config.model import ConfigError

    try:
        parse_config(json.loads(json.dumps(doc)), path)
    except ConfigError as exc:
        return list(exc.lines)
    return []


def write_config(path: Path, doc: dict[str, Any], *, overwrite: bool) -> None:
    """Atomically write ``doc`` (mode 0600); FileExistsError when ``path`` exists and not
    ``overwrite``. A symlinked path is written through to its target."""
    if overwrite and path.is_symlink():
        path = path.resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    data = (json.dumps(doc, indent=2) + "\n").encode()
    atomic_write(path, data, 0o600, overwrite=overwrite)


def _split(text: str) -> list[str]:
    return [p.strip() for p in text.replace(" ", ",").split(",") if p.strip()]


def _wizard(cat: Catalogue, output: str | None, force: bool) -> tuple[Path, bool, dict]:
    """Ask the questions; returns the output path, whether to overwrite, and the options."""
    path = Path(click.prompt("Config file to write", default=output or DEFAULT_OUTPUT))
    if _exists(path) and not force:
        if not click.confirm(f"{path} exists. Overwrite it?", default=False):
            click.echo(f"init: kept {path}; nothing written")
            sys.exit(0)
        force = True
    opts: dict[str, Any] = {"htfFilter": True}
    opts["assets"] = click.prompt(
        "Assets (comma-separated, e.g. BTC,ETH,SOL)", default="BTC", value_proc=_assets
    )
    groups = click.prompt(
        "Strategy groups (spot, options, perps, futures, luno, robinhood, okx)",
        default="spot",
        value_proc=_groups,
    )
    for g in groups:
        opts["enableOKX" if g == "okx" else f"enable{g.capitalize()}"] = True
    for g in groups:
        _ask_group(g, cat, opts)
    opts["portfolioMaxDrawdownPct"] = click.prompt(
        "Portfolio kill switch: max drawdown % of the whole book",
        default=PORTFOLIO_DRAWDOWN,
        type=_stop_range("hlStopLossMarginPct"),
    )
    opts["portfolioWarnThresholdPct"] = click.prompt(
        "Warn when the drawdown reaches this % of the kill switch",
        default=WARN_THRESHOLD,
        type=click.FloatRange(0, 100, min_open=True),
    )
    for transport in ("discord", "telegram"):
        _ask_chat(transport, groups, opts)
    opts["autoUpdate"] = click.prompt(
        "Auto-update mode", default="off", type=click.Choice(AUTO_UPDATE)
    )
    return path, force, opts


def _assets(text: str) -> list[str]:
    assets = [a.upper() for a in _split(text)]
    if not assets or not all(a.isalnum() and len(a) <= 12 for a in assets):
        raise click.BadParameter("name one or more tickers, e.g. BTC,ETH")
    return assets


def _groups(text: str) -> list[str]:
    groups = [g.lower() for g in _split(text)]
    bad = [g for g in groups if g not in VENUE_GROUPS]
    if bad or not groups:
        raise click.BadParameter(f"pick from {', '.join(VENUE_GROUPS)} (got {', '.join(bad)})")
    return list(dict.fromkeys(groups))


def _mode(text: str) -> str:
    text = text.strip().lower()
    if text == "live":
        raise click.BadParameter(LIVE_NOT_SUPPORTED)
    if text != "paper":
        raise click.BadParameter("answer paper or live")
    return text


def _names_proc(cat: Catalogue, platform: str):
    known = set(cat.names(platform))

    def proc(text: str) -> list[str]:
        names = _split(text)
        bad = [n for n in names if n not in known or cat.rows[n].get("status") == "backtest_only"]
        bad += [n for n in names if n in known and cat.rows[n].get("needs_pair")]
        if bad:
            raise click.BadParameter(f"not a live {platform} strategy here: {', '.join(bad)}")
        if not names:
            raise click.BadParameter("name at least one strategy")
        return names

    return proc


def _ask_names(label: str, cat: Catalogue, platform: str, default: list[str]) -> list[str]:
    click.echo(f"{label} strategies available: {', '.join(cat.visible(platform))}")
    return click.prompt(
        f"{label} strategies (comma-separated)",
        default=",".join(default),
        value_proc=_names_proc(cat, platform),
    )


def _ask_group(g: str, cat: Catalogue, opts: dict[str, Any]) -> None:
    title = {"okx": "OKX", "robinhood": "Robinhood", "luno": "Luno"}.get(g, g.capitalize())
    if g in ("perps", "futures", "robinhood", "okx"):
        opts[f"{g}Mode"] = click.prompt(
            f"{title}: paper or live", default="paper", value_proc=_mode
        )
    if g == "spot":
        opts["spotStrategies"] = _ask_names("Spot", cat, "spot", STARTER_SPOT)
        if len(opts["assets"]) >= 2:
            opts["includePairs"] = click.confirm("Add pairs_spread for each asset pair?", False)
    elif g == "options":
        _ask_options(opts)
    elif g in ("perps", "futures"):
        opts[f"{g}Strategies"] = _ask_names(title, cat, g, cat.visible(g))
    elif g in ("luno", "robinhood"):
        opts[f"{g}Strategies"] = _ask_names(title, cat, "spot", cat.visible("spot"))
    else:
        opts["okxSpotStrategies"] = _ask_names("OKX spot", cat, "spot", cat.visible("spot"))
        opts["okxPerpsStrategies"] = _ask_names("OKX perps", cat, "perps", cat.visible("perps"))
    if g == "futures":
        opts["futuresSymbols"] = click.prompt(
            f"Futures symbols ({', '.join(FUTURES_SYMBOLS)})",
            default=",".join(DEFAULT_FUTURES_SYMBOLS),
            value_proc=_futures_symbols,
        )
    opts[f"{g}Capital"] = click.prompt(
        f"{title}: capital per strategy (USD)",
        default=float(CAPITAL[g]),
        type=click.FloatRange(0, 1e12, min_open=True),
    )
    opts[f"{g}Drawdown"] = click.prompt(
        f"{title}: max drawdown % per strategy (circuit breaker)",
        default=float(DRAWDOWN[g]),
        type=click.FloatRange(0, 100, min_open=True),
    )
    if g == "perps":
        _ask_perps(opts)


def _ask_options(opts: dict[str, Any]) -> None:
    """Options: strategies and platforms (upstream's wizard; supervisor/ops/init_options_type.py)."""
    click.echo(f"Options strategies available: {', '.join(OPTION_STRATEGIES)}")
    opts["optStrategies"] = click.prompt(
        "Options strategies (comma-separated)",
        default=",".join(DEFAULT_OPTION_STRATEGIES),
        value_proc=_choice_list(OPTION_STRATEGIES),
    )
    opts["optionPlatforms"] = click.prompt(
        "Options platforms (deribit, ibkr, robinhood, okx, all)",
        default="deribit",
        value_proc=_choice_list((*PLATFORMS, "all")),
    )


def _choice_list(known: tuple[str, ...]):
    def proc(text: str) -> list[str]:
        names = [n.lower() for n in _split(text)]
        bad = [n for n in names if n not in known]
        if bad or not names:
            raise click.BadParameter(f"pick from {', '.join(known)} (got {', '.join(bad)})")
        return names

    return proc


def _futures_symbols(text: str) -> list[str]:
    syms = [s.upper() for s in _split(text)]
    bad = [s for s in syms if s not in FUTURES_SYMBOLS]
    if bad or not syms:
        raise click.BadParameter(f"pick from {', '.join(FUTURES_SYMBOLS)}")
    return syms


def _stop_range(option: str) -> click.FloatRange:
    """(0, the stop key's schema maximum]: 0 would mean no stop, which is its own choice."""
    return click.FloatRange(0, STOP_RANGES[option], min_open=True)


def _ask_perps(opts: dict[str, Any]) -> None:
    opts["perpsLeverage"] = click.prompt(
        "Perps leverage",
        default=float(schema.default(schema.STRATEGY, "leverage")),
        type=click.FloatRange(*LEVERAGE_RANGE),
    )
    stop = click.prompt(
        "Hyperliquid per-trade stop: auto (ATR), price %, % of margin, trailing %, or disabled",
        default="auto",
        type=click.Choice(STOP_CHOICES),
    )
    if stop == "price":
        opts["hlStopLossPct"] = click.prompt(
            "Stop-loss % of price", default=1.0, type=_stop_range("hlStopLossPct")
        )
    elif stop == "margin":
        opts["hlStopLossMarginPct"] = click.prompt(
            "Stop-loss % of margin", default=20.0, type=click.FloatRange(0, 100, min_open=True)
        )
    elif stop == "trailing":
        opts["hlTrailingStopPct"] = click.prompt(
            "Trailing stop %", default=3.0, type=_stop_range("hlTrailingStopPct")
        )
    elif stop == "disabled":
        opts["hlStopDisabled"] = True


def _ask_chat(transport: str, groups: list[str], opts: dict[str, Any]) -> None:
    title = transport.capitalize()
    if not click.confirm(f"Send summaries and trade alerts to {title}?", default=False):
        return
    opts[f"{transport}Enabled"] = True
    who = "owner user id" if transport == "discord" else "owner chat id"
    owner_key = "discordOwnerID" if transport == "discord" else "telegramOwnerChatID"
    opts[owner_key] = click.prompt(f"{title} {who} for DMs (blank: none)", default="").strip()
    channels = {}
    for key in dict.fromkeys(CHANNEL_KEYS[g] for g in groups):
        value = click.prompt(f"{title} channel id for {key} (blank: none)", default="").strip()
        if value:
            channels[key] = value
    opts["channelMap" if transport == "discord" else "telegramChannelMap"] = channels


def _summary(doc: dict[str, Any]) -> str:
    risk = doc["portfolio_risk"]
    lines = [f"{len(doc['strategies'])} strategies:"]
    for s in doc["strategies"]:
        lines.append(
            f"  {s['id']:<28} {s['type']:<8} {s['platform']:<12} capital {s['capital']:g}, "
            f"max drawdown {s['max_drawdown_pct']:g}%"
        )
    lines.append(
        f"portfolio kill switch {risk['max_drawdown_pct']:g}% (warn at "
        f"{risk['warn_threshold_pct']:g}% of it); auto_update {doc.get('auto_update', 'off')}"
    )
    return "\n".join(lines)


COMMANDS = (init_command,)  # what supervisor/cli.py adds when `init` is named
