"""``go-trader export tradingview`` (issue 10 item 3) against a book made by real offline cycles.

The book is test_inspect's (four hourly ``--once`` cycles over HL, OKX, Robinhood, Luno and
BinanceUS strategies); every export runs while the supervisor's lock is held.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from conftest import run_cli
from test_inspect import cli_env, digest, offline_book, rows

from shared_tools.config.load import load_config
from shared_tools.config.model import ConfigError
from supervisor.ops.export_tv import HEADER, number
from supervisor.service.lock import acquire_lock

MAPPED = ["hl-ema-btc-inverted", "okx-ema-btc-perp", "hl-sma-btc-tight", "sma-btc-spot"]
BUILTIN = {
    "hl-ema-btc-inverted": "BYBIT:BTCUSDT",
    "hl-sma-btc-tight": "BYBIT:BTCUSDT",
    "okx-ema-btc-perp": "OKX:BTCUSDT.P",
    "sma-btc-spot": "BINANCEUS:BTCUSDT",
}


@pytest.fixture
def book(tmp_path_factory):
    config, db = offline_book(tmp_path_factory)
    before = digest(db)
    with acquire_lock(db) as lock:
        yield config, db
        assert lock.held
    assert digest(db) == before


def with_overrides(config: Path, tmp_path: Path, overrides) -> Path:
    cfg = json.loads(config.read_text())
    cfg["tradingview_export"] = {"symbol_overrides": overrides}
    path = tmp_path / "cfg.json"
    path.write_text(json.dumps(cfg))
    return path


def export(config: Path, tmp_path: Path, *args: str):
    return run_cli(["export", "tradingview", "--config", str(config), *args], cli_env(tmp_path))


def read_csv(path: Path) -> list[list[str]]:
    with open(path, newline="") as fh:
        return list(csv.reader(fh))


def fills(db: Path, ids: list[str]) -> list[dict]:
    marks = ",".join("?" * len(ids))
    return rows(
        db,
        f"SELECT * FROM trades WHERE strategy_id IN ({marks}) AND trade_type != 'funding' "
        "ORDER BY timestamp, rowid",
        *ids,
    )


def test_rows_match_the_trades_table_with_builtin_symbols(book, tmp_path):
    config, db = book
    out = tmp_path / "tv.csv"
    args = [a for sid in MAPPED for a in ("--strategy", sid)]
    proc = export(config, tmp_path, *args, "--output", str(out))
    assert proc.returncode == 0, proc.stderr
    got = read_csv(out)
    header = "Symbol,Side,Qty,Status,Fill Price,Commission,Closing Time"
    assert out.read_text().splitlines()[0] == header and got[0] == HEADER
    expected = fills(db, MAPPED)
    assert f"exported {len(expected)} TradingView rows" in proc.stdout
    assert len(got) - 1 == len(expected) and {r["is_close"] for r in expected} == {0, 1}
    for line, t in zip(got[1:], expected, strict=True):
        symbol, side, qty, status, price, fee, when = line
        assert symbol == BUILTIN[t["strategy_id"]] and side == t["side"] and status == "Filled"
        assert float(qty) == t["quantity"] and float(price) == t["price"] and float(fee) == t["fee"]
        assert when == t["timestamp"][:19].replace("T", " ")  # UTC, YYYY-MM-DD HH:MM:SS
    funding = rows(db, "SELECT count(*) AS n FROM trades WHERE trade_type='funding'")[0]["n"]
    assert funding > 0  # the book has funding rows, and none became a CSV row


def test_unmapped_symbols_fail_naming_the_override_to_add(book, tmp_path):
    config, _db = book
    out = tmp_path / "tv.csv"
    out.write_text("previous export\n")
    proc = export(config, tmp_path, "--all", "--output", str(out))
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    (line,) = proc.stderr.splitlines()
    assert '"rh:BTC": "EXCHANGE:TICKER"' in line and '"luno:XBT/ZAR"' in line
    assert "tradingview_export.symbol_overrides" in line
    assert out.read_text() == "previous export\n"  # a failed export leaves the old file alone
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".tv.csv")] == []


def test_overrides_apply_most_specific_first(book, tmp_path):
    config, db = book
    overrides = {
        "rh:BTC": "coinbase:btcusd",  # platform alias, lower case is upper-cased
        "XBT/ZAR": "LUNO:XBTZAR",  # bare symbol
        "hyperliquid:BTC": "BINANCE:BTCUSDT.P",  # platform name
        "hl-sma-btc-tight:BTC": "KRAKEN:BTCUSD",  # strategy beats platform
    }
    cfg = with_overrides(config, tmp_path, overrides)
    out = tmp_path / "all.csv"
    proc = export(cfg, tmp_path, "--all", "--output", str(out))
    assert proc.returncode == 0, proc.stderr
    ids = [s["id"] for s in json.loads(cfg.read_text())["strategies"]]
    expected = fills(db, ids)
    got = read_csv(out)[1:]
    assert len(got) == len(expected)
    want = dict(BUILTIN)
    want.update(
        {
            "rh-ema-btc": "COINBASE:BTCUSD",
            "luno-sma-xbt": "LUNO:XBTZAR",
            "hl-ema-btc-inverted": "BINANCE:BTCUSDT.P",
            "hl-ema-sol-both": "BYBIT:SOLUSDT",  # no override for SOL: the built-in mapping
            "hl-sma-btc-tight": "KRAKEN:BTCUSD",
        }
    )
    assert [line[0] for line in got] == [want[t["strategy_id"]] for t in expected]
    assert {t["strategy_id"] for t in expected} >= {"rh-ema-btc", "luno-sma-xbt"}


def test_export_replaces_an_existing_file_atomically(book, tmp_path):
    config, _db = book
    out = tmp_path / "tv.csv"
    out.write_text("old,contents\n")
    proc = export(config, tmp_path, "--strategy", "sma-btc-spot", "--output", str(out))
    assert proc.returncode == 0, proc.stderr
    assert "overwriting" in proc.stderr and str(out) in proc.stderr
    assert read_csv(out)[0] == HEADER and read_csv(out)[1][0] == "BINANCEUS:BTCUSDT"
    assert sorted(p.name for p in tmp_path.iterdir() if "tv.csv" in p.name) == ["tv.csv"]
    proc = export(
        config, tmp_path, "--strategy", "sma-btc-spot", "--output", str(tmp_path / "no/x.csv")
    )
    assert proc.returncode == 1 and "cannot write" in proc.stderr and "no/x.csv" in proc.stderr


def test_usage_and_runtime_errors(book, tmp_path):
    config, _db = book
    out = str(tmp_path / "x.csv")
    for args, code, text in [
        (["--output", out], 2, "--strategy <id> (repeatable) or --all"),
        (["--all", "--strategy", "sma-btc-spot", "--output", out], 2, "not both"),
        (["--strategy", "nope", "--output", out], 2, "known: hl-ema-btc-inverted"),
        (["--all"], 2, "--output"),
    ]:
        proc = export(config, tmp_path, *args)
        assert proc.returncode == code and text in proc.stderr, (args, proc.stderr)
    # a named strategy without trades is an error (with --all it is simply skipped)
    cfg = json.loads(config.read_text())
    cfg["strategies"].append(dict(cfg["strategies"][-1], id="sma-eth-idle"))
    path = tmp_path / "idle.json"
    path.write_text(json.dumps(cfg))
    proc = export(path, tmp_path, "--strategy", "sma-eth-idle", "--output", out)
    assert proc.returncode == 1 and "no trades stored for strategy sma-eth-idle" in proc.stderr
    assert not Path(out).exists()


def test_a_missing_db_is_one_line_and_is_not_created(tmp_path_factory, tmp_path):
    config, _db = offline_book(tmp_path_factory)
    cfg = json.loads(config.read_text())
    cfg["db_file"] = str(tmp_path / "none" / "state.db")
    (tmp_path / "c.json").write_text(json.dumps(cfg))
    proc = export(tmp_path / "c.json", tmp_path, "--all", "--output", str(tmp_path / "x.csv"))
    assert proc.returncode == 1
    (line,) = proc.stderr.splitlines()
    assert str(tmp_path / "none" / "state.db") in line and "does not exist" in line
    assert not (tmp_path / "none").exists() and not (tmp_path / "x.csv").exists()


@pytest.mark.parametrize(
    ("section", "problem"),
    [
        ([], "tradingview_export must be an object"),
        ({"symbol_overrides": []}, "symbol_overrides must be an object"),
        ({"symbol_overrides": {"hl:BTC": "BTCUSDT"}}, "EXCHANGE:TICKER"),
        ({"symbol_overrides": {"hl:BTC": 5}}, "EXCHANGE:TICKER like BYBIT:BTCUSDT, got 5"),
        ({"symbol_overrides": {"hl:BTC": "A:B\nC"}}, "EXCHANGE:TICKER"),
        ({"symbol_overrides": {" ": "A:B"}}, "must name a symbol"),
        ({"overrides": {}}, "unknown key 'overrides'"),
    ],
)
def test_bad_override_sections_are_config_errors(tmp_path_factory, tmp_path, section, problem):
    config, _db = offline_book(tmp_path_factory)
    cfg = json.loads(config.read_text())
    cfg["tradingview_export"] = section
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(cfg))
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert any(problem in line and "tradingview_export" in line for line in err.value.lines)
    proc = export(path, tmp_path, "--all", "--output", str(tmp_path / "x.csv"))
    assert proc.returncode == 78 and problem in proc.stderr


def test_a_valid_section_loads_without_warnings(tmp_path_factory, tmp_path):
    config, _db = offline_book(tmp_path_factory)
    path = with_overrides(config, tmp_path, {"hl:BTC": "BYBIT:BTCUSDT"})
    assert not [w for w in load_config(path).warnings if "tradingview" in w]


def test_numbers_are_exact_decimals_without_exponents():
    assert number(1e-7) == "0.0000001" and number(0.1) == "0.1" and number(2.0) == "2"
    assert number(51938.21686431) == "51938.21686431" and float(number(1 / 3)) == 1 / 3
