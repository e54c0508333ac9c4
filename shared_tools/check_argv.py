"""The argv of the signal checks (``check_strategy.py`` and the venue scripts), declared once
(stdlib only).

The worker builds its argparse parser from :data:`POSITIONALS` and :data:`FLAGS`, and the
supervisor parses a strategy's config ``args`` with a parser built from the very same spec, so
both agree on which word is the symbol, which is a flag's value and which venue the worker will
use. (Guessing "every word not starting with ``--`` is a positional" once made a ``--params``
JSON the traded symbol, and ``--platform okx`` a symbol called ``okx``.)

Each flag says who may set it: the operator in a config's ``args`` (``config``), the supervisor
(``supervisor``: it adds them every cycle from config keys), the scheduler's position state
(``scheduler``), or the worker contract (``contract``: ``--probe-only``, ``--batch``, which
:class:`shared_tools.worker.ContractParser` registers itself, and the manual read-only
modes such as ``check_hyperliquid.py --fetch-atr``). A flag may belong to some scripts only
(``Flag.scripts``); a venue script's ``--platform`` defaults to, and must name, its own venue.
"""

from __future__ import annotations

import argparse
import functools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

DEFAULT_PLATFORM = "binanceus"
OHLCV_LIMIT_RANGE = (30, 10_000)
DEFAULT_SCRIPT = "check_strategy.py"

# The venue signal checks: script file name -> the venue it trades. check_strategy.py (spot on
# any ccxt venue, --platform) is the default; a venue script knows its venue, so the supervisor
# sends it no --platform.
SCRIPT_VENUES: dict[str, str] = {
    "check_hyperliquid.py": "hyperliquid",
    "check_okx.py": "okx",
    "check_topstep.py": "topstep",
    "check_robinhood.py": "robinhood",
    "check_luno.py": "luno",
}


class CheckArgvError(ValueError):
    """Argv the worker would reject (exit 2); ``str(e)`` is one line without usage padding."""


def _int_range(lo: int, hi: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be an integer, got {text[:40]!r}") from None
        if not lo <= value <= hi:
            raise argparse.ArgumentTypeError(f"must be in [{lo}, {hi}], got {value}")
        return value

    parse.__name__ = "int"
    return parse


def _finite_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number, got {text[:40]!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text[:40]!r}")
    return value


_finite_float.__name__ = "float"


@dataclass(frozen=True)
class Positional:
    """A positional argument of the check, in order."""

    name: str
    help: str


@dataclass(frozen=True)
class Flag:
    """One ``--flag``: whether it takes a value, its type/choices, and who may set it."""

    name: str
    help: str
    takes_value: bool = True
    type: Callable[[str], Any] | None = None
    choices: tuple[str, ...] = ()
    default: Any = None
    owner: str = "config"  # config | supervisor | scheduler | contract
    hint: str = ""  # what to do instead, when an operator puts it in a config's args
    scripts: tuple[str, ...] = ()  # the check scripts that take it; () = every one
    dest_name: str = ""  # attribute name when the derived one would clash (--symbol)

    def available_to(self, script: str) -> bool:
        return not self.scripts or script_name(script) in self.scripts

    @property
    def dest(self) -> str:
        return self.dest_name or self.name.lstrip("-").replace("-", "_")


POSITIONALS: tuple[Positional, ...] = (
    Positional("strategy", "strategy name (see the list below)"),
    Positional("symbol", "symbol, e.g. BTC/USDT"),
    Positional("timeframe", "candle timeframe (see the list below)"),
    Positional("symbol_b", "second symbol for pair strategies"),
)

# The positional symbol as each venue writes it (for --help).
SYMBOL_HELP: dict[str, str] = {
    "check_hyperliquid.py": "coin, e.g. BTC",
    "check_okx.py": "symbol, e.g. BTC or BTC/USDT (swap: BTC/USDT:USDT)",
    "check_topstep.py": "CME root: ES, NQ, MES, MNQ, CL or GC",
    "check_robinhood.py": "symbol, e.g. BTC or BTC/USD",
    "check_luno.py": "symbol, e.g. XBT/ZAR",
}

_SCHEDULER_HINT = "the scheduler passes position state itself; remove it"
_MANUAL_HINT = "a manual read-only query (go-trader's manual ATR), not a signal check; remove it"
_HL = ("check_hyperliquid.py",)
_NOT_BUILT_HINT = "set by the scheduler from config keys this build does not have yet; remove it"

FLAGS: tuple[Flag, ...] = (
    Flag("--params", "JSON object overriding the strategy's default params"),
    Flag(
        "--ohlcv-limit",
        f"candles to fetch, {OHLCV_LIMIT_RANGE[0]}..{OHLCV_LIMIT_RANGE[1]} (default 300)",
        type=_int_range(*OHLCV_LIMIT_RANGE),
        default=300,
    ),
    Flag("--mode", "paper or live", choices=("paper", "live"), default="paper"),
    Flag(
        "--inst-type",
        "OKX instrument: spot or swap (perpetual)",
        choices=("spot", "swap"),
        default="swap",
        scripts=("check_okx.py",),
    ),
    Flag("--platform", "venue of the candles", default=DEFAULT_PLATFORM),
    Flag(
        "--strategy-refs",
        'JSON {"open": {"name", "params"}, "closes": [...]}',
        owner="supervisor",
        hint="the supervisor builds it from open_strategy/close_strategies",
    ),
    Flag(
        "--atr-method",
        "ATR smoothing",
        choices=("simple", "wilder"),
        default="simple",
        owner="supervisor",
        hint="set the strategy's atr_method key instead",
    ),
    Flag("--position-side", "open position side", choices=("long", "short"), owner="scheduler"),
    Flag("--position-avg-cost", "open position cost", type=_finite_float, owner="scheduler"),
    Flag("--position-qty", "open position quantity", type=_finite_float, owner="scheduler"),
    Flag("--position-initial-qty", "initial quantity", type=_finite_float, owner="scheduler"),
    Flag("--position-entry-atr", "ATR at entry", type=_finite_float, owner="scheduler"),
    Flag("--position-regime", "regime at entry", owner="scheduler"),
    Flag("--mark-price", "current mark", type=_finite_float, owner="scheduler"),
    Flag("--htf-filter", "higher-timeframe filter", takes_value=False, owner="scheduler"),
    Flag("--regime-enabled", "regime gate", takes_value=False, owner="scheduler"),
    Flag("--regime-windows-spec-json", "regime windows", owner="scheduler"),
    Flag("--regime-atr-window", "regime ATR window", owner="scheduler"),
    Flag("--regime-payload-json", "regime payload", owner="scheduler"),
    Flag(
        "--fetch-atr",
        "manual mode: print the ATR of --symbol at --timeframe over --period bars, then exit",
        takes_value=False,
        owner="contract",
        hint=_MANUAL_HINT,
        scripts=_HL,
    ),
    Flag(
        "--symbol",
        "coin for --fetch-atr, e.g. BTC",
        owner="contract",
        hint=_MANUAL_HINT,
        scripts=_HL,
        dest_name="symbol_opt",
    ),
    Flag(
        "--timeframe",
        "timeframe for --fetch-atr, e.g. 1h",
        owner="contract",
        hint=_MANUAL_HINT,
        scripts=_HL,
        dest_name="timeframe_opt",
    ),
    Flag(
        "--period",
        "ATR period for --fetch-atr (default 14)",
        type=_int_range(1, 1000),
        default=14,
        owner="contract",
        hint=_MANUAL_HINT,
        scripts=_HL,
    ),
    Flag(
        "--probe-only",
        "validate argv and exit 0",
        takes_value=False,
        owner="contract",
        hint="the supervisor probes every script at start",
    ),
    Flag(
        "--batch",
        "read a JSON array of jobs on stdin",
        takes_value=False,
        owner="contract",
        hint="the supervisor batches checks itself (batch_checks)",
    ),
)
FLAGS_BY_NAME: dict[str, Flag] = {f.name: f for f in FLAGS}


def flag_hint(flag: Flag) -> str:
    """Why a flag may not appear in a config's args, and what to do instead."""
    if flag.hint:
        return flag.hint
    return _SCHEDULER_HINT if flag.name.startswith(("--position", "--mark")) else _NOT_BUILT_HINT


def script_name(script: str) -> str:
    """``shared_scripts/check_okx.py`` -> ``check_okx.py`` (the key of the per-script rules)."""
    return str(script).replace("\\", "/").rsplit("/", 1)[-1]


# One interpreter serves every signal check of a cycle: the host's ``--batch`` routes each job
# to the script it names (shared_scripts/signal_check.py is their common core), so five venues
# cost one pandas import per slot instead of five.
SIGNAL_FAMILY = frozenset({DEFAULT_SCRIPT, *SCRIPT_VENUES})
BATCH_HOST = f"shared_scripts/{DEFAULT_SCRIPT}"


def batch_host(script: str) -> str:
    """The script whose ``--batch`` runs ``script``'s jobs: the host for the signal family
    in ``shared_scripts/``, the script itself for anything else (fakes, price checks)."""
    norm = str(script).replace("\\", "/")
    if norm.startswith("./"):
        norm = norm[2:]
    if norm.rsplit("/", 1)[0] == "shared_scripts" and script_name(norm) in SIGNAL_FAMILY:
        return BATCH_HOST
    return script


def script_venue(script: str) -> str | None:
    """The venue a venue check script trades, or None for check_strategy.py and others."""
    return SCRIPT_VENUES.get(script_name(script))


def flags_for(script: str) -> tuple[Flag, ...]:
    return tuple(f for f in FLAGS if f.available_to(script))


def add_check_arguments(
    parser: argparse.ArgumentParser,
    *,
    with_defaults: bool = True,
    epilog: Callable[[], str] | None = None,
    script: str = DEFAULT_SCRIPT,
) -> argparse.ArgumentParser:
    """Register the spec of ``script`` on ``parser`` (flags it already has are skipped).

    ``epilog`` is called only when help is printed, so a worker can list its strategies and
    timeframes without importing them on every start.
    """
    name = script_name(script)
    venue = script_venue(name)
    for pos in POSITIONALS:
        helptext = SYMBOL_HELP.get(name, pos.help) if pos.name == "symbol" else pos.help
        parser.add_argument(pos.name, nargs="?", help=helptext)
    for flag in flags_for(name):
        kwargs: dict[str, Any] = {"help": flag.help, "dest": flag.dest}
        default = flag.default
        if flag.name == "--platform" and venue is not None:  # a venue script knows its venue
            default = venue
            kwargs["help"] = f"venue (only {venue} is accepted: this script trades there)"
        if not flag.takes_value:
            kwargs["action"] = "store_true"
        else:
            kwargs["default"] = default if with_defaults else None
            if flag.dest_name:  # --symbol shows SYMBOL in usage, not its attribute name
                kwargs["metavar"] = flag.name.lstrip("-").replace("-", "_").upper()
            if flag.type is not None:
                kwargs["type"] = flag.type
            if flag.choices:
                kwargs["choices"] = flag.choices
        try:
            parser.add_argument(flag.name, **kwargs)
        except argparse.ArgumentError:  # already there (ContractParser adds the contract flags)
            continue
    if epilog is not None:
        plain_format_help = parser.format_help

        def format_help() -> str:
            try:
                parser.epilog = epilog()
            except Exception as exc:  # help must print even from a broken tree
                parser.epilog = f"(accepted names unavailable: {type(exc).__name__}: {exc})"
            return plain_format_help()

        parser.format_help = format_help  # type: ignore[method-assign]
    return parser


class _RaisingParser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise CheckArgvError(message)


class _FixedWidth(argparse.HelpFormatter):
    """The config parser never prints help: a fixed width spares argparse's ``import shutil``
    for the terminal's size, and with it bz2 and lzma (~0.8 MiB of the supervisor's idle RSS)."""

    def __init__(self, prog: str) -> None:
        super().__init__(prog, width=80)


@functools.cache
def _config_parser(script: str = DEFAULT_SCRIPT) -> _RaisingParser:
    parser = _RaisingParser(
        prog=script, add_help=False, allow_abbrev=False, formatter_class=_FixedWidth
    )
    return add_check_arguments(parser, with_defaults=False, script=script)  # type: ignore[return-value]


@dataclass(frozen=True)
class CheckArgs:
    """A parsed check argv: positionals, and the flags given explicitly (name -> value)."""

    strategy: str | None = None
    symbol: str | None = None
    timeframe: str | None = None
    symbol_b: str | None = None
    given: dict[str, Any] = field(default_factory=dict)

    @property
    def platform(self) -> str | None:
        """The venue named in argv, or None when argv leaves it to the default."""
        return self.given.get("--platform")

    @property
    def params(self) -> str | None:
        """The raw ``--params`` JSON text, if given."""
        return self.given.get("--params")

    @property
    def mode(self) -> str:
        return self.given.get("--mode") or "paper"

    @property
    def inst_type(self) -> str:
        """OKX's instrument type (check_okx.py); upstream's default is swap."""
        return self.given.get("--inst-type") or "swap"

    def symbols(self) -> list[str]:
        """Every symbol the check reads: the symbol and, for pairs, symbol_b."""
        return [s for s in (self.symbol, self.symbol_b) if s]


def _unknown_flag(token: str, script: str) -> str:
    name = token.split("=", 1)[0]
    flag = FLAGS_BY_NAME.get(name)
    if flag is not None:  # a real flag, but of another script
        return f"flag {name} is not taken by {script} (only by {', '.join(flag.scripts)})"
    known = [f.name for f in flags_for(script)]
    import difflib  # only for this error's hint: kept out of the supervisor's idle memory

    close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    hint = f"did you mean {close[0]}?" if close else f"{script} --help lists the flags"
    return f"unknown flag {name[:60]!r} ({hint})"


def parse_check_args(args: Sequence[str], script: str = DEFAULT_SCRIPT) -> CheckArgs:
    """Parse argv by the rules of worker ``script``; raises CheckArgvError for argv it rejects.

    Both ``--flag value`` and ``--flag=value`` work; a later flag wins, as in the worker.
    """
    args = list(args)
    script = script_name(script)
    for token in args:
        if token == "--":
            break
        # argparse takes a dashed word with a space in it for a positional; so do we
        name = token.split("=", 1)[0]
        flag = FLAGS_BY_NAME.get(name)
        if token.startswith("--") and " " not in token and not (flag and flag.available_to(script)):
            raise CheckArgvError(_unknown_flag(token, script))
    try:
        ns = _config_parser(script).parse_args(args)
    except argparse.ArgumentError as exc:  # belt and braces: error() normally raises first
        raise CheckArgvError(str(exc)) from None
    given: dict[str, Any] = {}
    for flag in flags_for(script):
        value = getattr(ns, flag.dest)
        if value is not None and value is not False:
            given[flag.name] = value
    return CheckArgs(ns.strategy, ns.symbol, ns.timeframe, ns.symbol_b, given)


def without_flag(args: Sequence[str], name: str) -> list[str]:
    """``args`` with every occurrence of flag ``name`` (and its value) removed."""
    flag = FLAGS_BY_NAME[name]
    out: list[str] = []
    i = 0
    while i < len(args):
        token = args[i]
        if token == "--":
            out.extend(args[i:])
            break
        if token == name:
            i += 2 if flag.takes_value else 1
            continue
        if token.startswith(name + "="):
            i += 1
            continue
        out.append(token)
        i += 1
    return out
