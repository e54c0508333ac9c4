"""``go-trader export tradingview``: the trades table as a TradingView portfolio import CSV.

One row per fill (funding payments are not fills and are left out), oldest first, with the
header TradingView's transaction import reads: ``Symbol,Side,Qty,Status,Fill Price,Commission,
Closing Time``. Symbols are ``EXCHANGE:TICKER``: built-in for BinanceUS and OKX pairs, OKX perps
(``OKX:BTCUSDT.P``) and Hyperliquid perps (``BYBIT:BTCUSDT``, the pair the operator guide's own
override example uses); anything else needs ``tradingview_export.symbol_overrides`` in the config.
The state DB is opened read-only without the supervisor's lock, so the export runs beside the
daemon; the file is written atomically (a temp file renamed over it).

Exit codes: 0 ok, 1 runtime error (no DB, no trades, unmapped symbol, unwritable file),
2 usage (neither or both of --strategy/--all, unknown id).
"""

from __future__ import annotations

import csv
import os
import sys
import tempfile
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from shared_tools.config.model import Config, StrategyConfig

HEADER = ["Symbol", "Side", "Qty", "Status", "Fill Price", "Commission", "Closing Time"]
EXIT_USAGE = 2
MAX_LISTED = 8
CRYPTO_QUOTES = ("USDT", "USDC", "USD", "BTC", "ETH")
# Short names an override key may use for a platform (the id prefixes), as upstream.
PLATFORM_ALIASES = {"hyperliquid": "hl", "binanceus": "bus", "robinhood": "rh", "topstep": "ts"}
# Hyperliquid coins map to this exchange's USDT pair, as in the operator guide's own override
# example (hl:BTC -> BYBIT:BTCUSDT); an override changes it.
HL_EXCHANGE = "BYBIT"


class ExportError(Exception):
    """Why the export cannot be written; one line for the operator."""


# -- config ---------------------------------------------------------------------------------


def symbol_overrides(config: Config) -> dict[str, str]:
    """The validated overrides (config load has refused anything malformed)."""
    section = config.raw.get("tradingview_export") or {}
    return dict(section.get("symbol_overrides") or {})


# -- symbols --------------------------------------------------------------------------------


def ticker(symbol: str) -> str:
    """``btc/usdt`` -> ``BTCUSDT``: separators dropped, upper case."""
    return "".join(c for c in symbol.strip().upper() if c not in "/-_ ")


def _pair(symbol: str) -> tuple[str, str] | None:
    """(base, quote) of a crypto pair such as ``BTC/USDT``, ``BTC-USDT-SWAP`` or ``ETHUSDC``."""
    parts = [p for p in symbol.upper().replace("-", "/").replace("_", "/").split("/") if p]
    parts = [p for p in parts if p not in ("SWAP", "PERP", "PERPS")]
    if len(parts) >= 2:
        return parts[0], parts[1]
    t = ticker(symbol)
    for quote in CRYPTO_QUOTES:
        if t.endswith(quote) and len(t) > len(quote):
            return t[: -len(quote)], quote
    return None


def override_for(sc: StrategyConfig, symbol: str, overrides: dict[str, str]) -> str:
    """The configured symbol: ``strategy:symbol``, then ``platform:symbol``, then ``symbol``."""
    forms = dict.fromkeys([symbol.strip(), ticker(symbol)])
    platforms = [sc.platform, PLATFORM_ALIASES.get(sc.platform, sc.platform)]
    keys = [f"{sc.id}:{s}" for s in forms]
    keys += [f"{p}:{s}" for p in dict.fromkeys(platforms) for s in forms]
    keys += list(forms)
    for key in keys:
        if overrides.get(key, "").strip():
            return overrides[key].strip().upper()
    return ""


def builtin_symbol(sc: StrategyConfig, symbol: str, trade_type: str) -> str:
    """The built-in TradingView symbol, or "" when there is none."""
    if ":" in symbol:
        return symbol.strip().upper()
    pair = _pair(symbol)
    perp = trade_type in ("perps", "hedge") or "SWAP" in symbol.upper()  # hedge: a perps leg
    if sc.platform == "binanceus" and pair:
        return f"BINANCEUS:{ticker(symbol)}"
    if sc.platform == "okx" and perp:
        base, quote = pair or (ticker(symbol), "USDT")  # OKX's linear swaps settle in USDT
        return f"OKX:{base}{quote}.P"
    if sc.platform == "okx" and pair:
        return f"OKX:{ticker(symbol)}"
    if sc.platform == "hyperliquid":
        base = pair[0] if pair else ticker(symbol)
        return f"{HL_EXCHANGE}:{base}USDT"
    return ""


# -- rows -----------------------------------------------------------------------------------


def number(x: float) -> str:
    """Shortest exact decimal text, never exponent notation (``1e-07`` -> ``0.0000001``)."""
    text = format(Decimal(repr(float(x))), "f")
    return text[:-2] if text.endswith(".0") else text


def closing_time(timestamp: str) -> str:
    """The stored ISO time as TradingView reads it: ``YYYY-MM-DD HH:MM:SS`` UTC."""
    from supervisor.state.models import parse_iso

    return parse_iso(timestamp).strftime("%Y-%m-%d %H:%M:%S")


def build_rows(
    chosen: list[StrategyConfig], trades: list[dict], overrides: dict[str, str], *, each: bool
) -> list[list[str]]:
    """CSV rows for ``trades`` (oldest first); ExportError names what cannot be mapped."""
    by_id = {sc.id: sc for sc in chosen}
    rows: list[list[str]] = []
    unmapped: dict[str, str] = {}
    seen: set[str] = set()
    for t in trades:
        sc = by_id.get(t["strategy_id"])
        if sc is None or t["trade_type"] == "funding" or t["side"] not in ("buy", "sell"):
            continue
        seen.add(sc.id)
        symbol = override_for(sc, t["symbol"], overrides)
        symbol = symbol or builtin_symbol(sc, t["symbol"], t["trade_type"])
        if not symbol:
            alias = PLATFORM_ALIASES.get(sc.platform, sc.platform)
            unmapped.setdefault(f"{sc.platform} {t['symbol']}", f'"{alias}:{t["symbol"]}"')
            continue
        if not (t["quantity"] > 0 and t["price"] > 0):
            raise ExportError(
                f"strategy {sc.id} trade {t['id']} at {t['timestamp']} has quantity "
                f"{t['quantity']!r} and price {t['price']!r}; both must be positive"
            )
        rows.append(
            [
                symbol,
                t["side"],
                number(t["quantity"]),
                "Filled",
                number(t["price"]),
                number(t["fee"]),
                closing_time(t["timestamp"]),
            ]
        )
    if unmapped:
        raise ExportError(_unmapped_line(unmapped))
    missing = [sc.id for sc in chosen if sc.id not in seen]
    if each and missing:
        raise ExportError(f"no trades stored for strategy {', '.join(missing)}")
    if not rows:
        raise ExportError("no trades stored for the selected strategies")
    return rows


def _unmapped_line(unmapped: dict[str, str]) -> str:
    items = list(unmapped.items())[:MAX_LISTED]
    more = len(unmapped) - len(items)
    what = ", ".join(w for w, _ in items) + (f" and {more} more" if more > 0 else "")
    keys = ", ".join(f'{key}: "EXCHANGE:TICKER"' for _, key in items)
    return (
        f"no TradingView symbol for {what}; add them to tradingview_export.symbol_overrides "
        f"in the config, e.g. {keys}"
    )


def read_trades(db_file: Path, ids: list[str]) -> list[dict]:
    """Every stored trade of ``ids``, oldest first, read without the supervisor's lock."""
    from supervisor.state.db import StateDB, StateError

    try:
        db = StateDB.open_readonly(db_file)
    except StateError as exc:
        raise ExportError(str(exc)) from None
    try:
        out: list[dict] = []
        for sid in ids:
            rows, _total = db.trade_history(strategy=sid, limit=sys.maxsize)
            out.extend(rows)
    finally:
        db.close()
    out.sort(key=lambda r: (r["timestamp"], r["id"]))
    return out


def write_atomic(path: Path, rows: list[list[str]]) -> None:
    """Header and rows to ``path`` via a temp file in the same directory, then rename."""
    path = Path(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise ExportError(f"cannot write {path} ({exc.strerror or exc})") from None
    try:
        with os.fdopen(fd, "w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh, lineterminator="\n")
            writer.writerow(HEADER)
            writer.writerows(rows)
            fh.flush()
            os.fsync(fh.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; a plain file is what people expect
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise ExportError(f"cannot write {path} ({exc.strerror or exc})") from None


def run(config: Config, ids: list[str], *, all_: bool, output: str, echo) -> int:
    """Export the chosen strategies' trades to ``output``; return the exit code."""
    from supervisor.ops.inspect import UsageError, select

    try:
        chosen = select(config, ids, all_=all_, what="export tradingview")
    except UsageError as exc:
        echo(str(exc), err=True)
        return EXIT_USAGE
    path = Path(output)
    try:
        trades = read_trades(config.db_file, [sc.id for sc in chosen])
        rows = build_rows(chosen, trades, symbol_overrides(config), each=not all_)
        if path.exists():
            echo(f"export tradingview: overwriting {path}", err=True)
        write_atomic(path, rows)
    except ExportError as exc:
        echo(f"export tradingview: {exc}", err=True)
        return 1
    echo(f"exported {len(rows)} TradingView rows to {path}")
    return 0
