"""platforms/: one package per venue, each a Venue registered with the market-data door."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

import platforms
from platforms.base import DoorVenue, Venue
from shared_tools.book.instruments import from_ccxt_market, from_hl_asset, instrument
from shared_tools.market import registry
from shared_tools.market.common import MarketDataError

REPO = Path(__file__).resolve().parent.parent
EIGHT = ("binanceus", "hyperliquid", "okx", "topstep", "robinhood", "luno", "deribit", "ibkr")
NOW = datetime(2025, 6, 2, 14, 0, tzinfo=UTC)  # a Monday afternoon: CME is open
SYMBOL = {"topstep": "ES", "ibkr": "MBT"}


def test_every_venue_has_a_non_empty_package():
    assert set(platforms.VENUES) == set(EIGHT)
    for name in EIGHT:
        package = REPO / "platforms" / name
        assert (package / "__init__.py").is_file(), name
        modules = {p.name for p in package.glob("*.py")}
        assert {"__init__.py", "market_data.py", "venue.py"} <= modules, (name, modules)
        for path in package.glob("*.py"):
            assert ast.get_docstring(ast.parse(path.read_text())), f"{path} says what it owns"


@pytest.mark.parametrize("name", EIGHT)
def test_each_venue_satisfies_the_protocol(name):
    venue = platforms.get(name)
    assert isinstance(venue, Venue)
    assert venue.name == name and venue.kinds and set(venue.kinds) <= {"spot", "perps", "futures"}
    for member in ("candles", "marks", "funding", "instrument", "instruments"):
        assert callable(getattr(venue, member)), member
    assert not hasattr(venue, "place_order")  # execution is a documented placeholder only


def test_aliases_and_unknown_platforms():
    assert platforms.get("okx-swap") is platforms.get("okx")
    assert platforms.get("binance") is platforms.get("binanceus")
    with pytest.raises(KeyError, match="no platform 'kraken'"):
        platforms.get("kraken")


@pytest.mark.parametrize("name", [*EIGHT, "okx-swap", "binance"])
def test_each_venue_is_registered_with_the_door(name):
    assert name in registry.registered()
    feed = registry.venue(name)
    assert isinstance(feed, registry.Feed)
    assert feed.name == name
    refuses = name == "ibkr"  # topstep: Yahoo Finance; robinhood: Binance US (USD)
    assert bool(feed.refusal) is refuses


def test_the_door_names_an_unregistered_venue_in_one_line():
    with pytest.raises(MarketDataError) as info:
        registry.venue("nosuchvenue")
    text = str(info.value)
    assert info.value.venue == "nosuchvenue" and "unknown venue" in text and "\n" not in text
    assert "binanceus" in text  # it lists what is registered


def test_register_venue_takes_a_callable_or_an_import_path(monkeypatch):
    monkeypatch.setattr(registry, "_factories", dict(registry._factories))
    monkeypatch.setattr(registry, "_feeds", {})
    made = []

    def factory():
        made.append(1)
        return platforms.base.NoPublicData("toy", "a test venue")

    registry.register_venue("Toy", factory)
    assert made == []  # lazy: nothing is built at registration
    assert registry.venue("toy") is registry.venue("TOY") and made == [1]
    with pytest.raises(MarketDataError, match="^toy: no public market data \\(a test venue\\)"):
        registry.feed("toy")
    registry.register_venue("toy2", "platforms.ibkr.market_data:feed")
    assert registry.venue("toy2").refusal.startswith("IBKR")
    with pytest.raises(TypeError):
        registry.register_venue("bad", "no colon here")


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
    return names


def test_shared_tools_never_imports_platforms():
    files = sorted((REPO / "shared_tools").rglob("*.py"))
    assert len(files) > 20
    bad = [
        (str(p.relative_to(REPO)), n)
        for p in files
        for n in _imports(p)
        if n == "platforms" or n.startswith("platforms.")
    ]
    assert not bad, bad


def test_importing_platforms_stays_lean():
    """check_price imports platforms on every cycle: no pandas, numpy, ccxt or SDK."""
    code = (
        "import sys, platforms\n"
        "heavy = ('pandas', 'numpy', 'ccxt', 'hyperliquid', 'ib_async', 'platforms.ccxt_feed')\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


@pytest.mark.parametrize("name", EIGHT)
def test_instrument_is_the_static_row_offline(name):
    venue = platforms.get(name)
    symbol = SYMBOL.get(name, "BTC")
    for kind in venue.kinds:
        assert venue.instrument(symbol, kind) == instrument(name, symbol, kind)
    assert venue.instrument(symbol) == instrument(name, symbol, venue.kinds[0])
    rows = venue.instruments([symbol, symbol, "ETH"])
    assert list(rows) == [symbol, "ETH"]


def test_ccxt_venue_prefers_the_loaded_market(monkeypatch):
    from platforms import ccxt_feed

    market = {
        "symbol": "BTC/USDT:USDT",
        "swap": True,
        "contract": True,
        "contractSize": 0.01,
        "precision": {"amount": 1.0, "price": 0.5},
        "limits": {"amount": {"min": 1.0}, "leverage": {"max": 75}},
    }

    class Loaded:
        markets = {"BTC/USDT:USDT": market}

    url = os.environ.get("GO_TRADER_EXCHANGE_URL", "").strip().rstrip("/")
    monkeypatch.setitem(ccxt_feed._clients, ("okx", url, os.getpid()), Loaded())
    okx = platforms.get("okx")
    row = okx.instrument("BTC", "perps")
    assert row == replace(from_ccxt_market("okx", market), symbol="BTC")
    assert row.lot_size == pytest.approx(0.01) and row.max_leverage == 75
    assert okx.instrument("BTC", "spot") == instrument("okx", "BTC", "spot")  # no spot market


def test_hyperliquid_venue_prefers_the_loaded_universe(monkeypatch):
    from platforms.hyperliquid import market_data

    asset = {"name": "BTC", "szDecimals": 4, "maxLeverage": 50}
    key = (market_data.base_url(), os.getpid())
    monkeypatch.setitem(market_data._universe, key, {"BTC": asset})
    hl = platforms.get("hyperliquid")
    row = hl.instrument("BTC/USDC:USDC")
    assert row.symbol == "BTC/USDC:USDC" and row.lot_size == from_hl_asset(asset).lot_size
    assert row.max_leverage == 50
    assert hl.instrument("ETH") == instrument("hyperliquid", "ETH", "perps")  # not loaded


def test_venues_read_the_simulated_market_through_the_door(monkeypatch, tmp_path):
    monkeypatch.setenv("GO_TRADER_MARKET_DATA", "simulated")
    monkeypatch.setenv("GO_TRADER_OHLCV_CACHE", str(tmp_path / "c.db"))
    for name in EIGHT:
        venue = platforms.get(name)
        symbol = SYMBOL.get(name, "BTC/USDT")
        frame = venue.candles(symbol, "1h", 5, now=NOW)
        assert len(frame) == 5 and list(frame.columns)[:4] == ["open", "high", "low", "close"]
        marks, missing = venue.marks([symbol])
        assert set(marks) == {symbol} and not missing
        rates, why = venue.funding([symbol])
        if "perps" in venue.kinds:
            assert set(rates) == {symbol}  # the simulated perp funds every venue
        else:
            assert rates == {} and "no perpetual funding" in str(why[symbol])


@pytest.mark.parametrize("name", ["ibkr"])
def test_venues_without_public_data_refuse_the_exchange_source(name):
    venue = platforms.get(name)
    with pytest.raises(MarketDataError) as info:
        venue.candles(SYMBOL.get(name, "BTC/USDT"), "1h", 5, source="exchange")
    assert info.value.venue == name and "no public market data" in str(info.value)
    assert "simulated" in str(info.value)  # the fix is named


def test_fees_and_sessions_come_from_the_shared_tables():
    from shared_tools.book.venues import taker_fee

    for name in EIGHT:
        venue = platforms.get(name)
        assert isinstance(venue, DoorVenue)
        assert venue.fee() == taker_fee(name, venue.kinds[0])
    saturday = datetime(2025, 6, 7, 12, tzinfo=UTC)
    for name in ("topstep", "ibkr"):
        assert platforms.get(name).is_open(NOW) and not platforms.get(name).is_open(saturday)
    assert platforms.get("okx").data_venue("perps") == "okx-swap"
    assert platforms.get("okx").funding_venue() == "okx-swap"
