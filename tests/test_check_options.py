"""check_options.py: upstream's argv and exit codes (upstream-options §1.2-1.5), stdin
positions, --probe-only and --batch through the worker contract, on a fixed fake chain."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from options_fakes import FakeChain

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # shared_scripts/ is a directory of scripts, not an installed package

from shared_scripts import check_options as co  # noqa: E402


@pytest.fixture
def chains(monkeypatch):
    made: dict[str, FakeChain] = {}

    def factory(platform: str) -> FakeChain:
        made[platform] = made.get(platform) or FakeChain(
            name=platform, mult={"ibkr": 0.1, "robinhood": 100.0}.get(platform, 1.0)
        )
        return made[platform]

    monkeypatch.setattr(co, "CHAIN_FACTORY", factory)
    monkeypatch.setenv("GO_TRADER_MARKET_DATA", "simulated")
    monkeypatch.setenv("GO_TRADER_NOW", "2026-01-05T12:00:00Z")
    return made


def run(capsys, monkeypatch, argv, stdin=""):
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    rc = co.main(argv)
    out = capsys.readouterr().out
    return rc, (json.loads(out) if out.strip() else None)


NO_REGIME = "--regime-payload-json"


def test_a_proposal_with_upstreams_keys_and_ours(chains, capsys, monkeypatch):
    rc, doc = run(capsys, monkeypatch, ["covered_calls", "btc", "--platform=ibkr", NO_REGIME])
    assert rc == 0
    assert doc["underlying"] == "BTC" and doc["platform"] == "ibkr" and doc["signal"] == -1
    assert doc["spot_price"] == 100_000.0 and doc["iv_rank"] == 50.0 and doc["regime"] is None
    assert doc["iv_rank_source"] == "realized_vol" and doc["vol_annual"] == 0.6
    assert doc["multiplier"] == 0.1 and doc["contract_type"] == "CME_MICRO"
    (a,) = doc["actions"]
    for key in (
        "action",
        "option_type",
        "strike",
        "expiry",
        "dte",
        "premium",
        "premium_usd",
        "greeks",
        "quantity",
        "score",
        "score_reason",
        "multiplier",
        "expires_at",
        "instrument",
    ):
        assert key in a, key
    assert a["strike"] == 112_000.0 and a["multiplier"] == 0.1 and a["contract_spec"] == "CME_MICRO"
    assert a["score"] == 1.0 and a["score_reason"] == "first position"
    assert "close" not in {x["action"] for x in doc["actions"]}


def test_positions_on_stdin_and_the_cap(chains, capsys, monkeypatch):
    leg = {
        "option_type": "call",
        "action": "sell",
        "strike": 112000.0,
        "expiry": "2026-01-26",
        "quantity": 1.0,
        "multiplier": 1.0,
        "delta": 0.2,
    }
    spot = {
        "position_type": "spot",
        "symbol": "BTC",
        "quantity": 1.0,
        "avg_cost": 94000.0,
        "side": "long",
    }
    rc, doc = run(
        capsys, monkeypatch, ["covered_calls", "BTC", NO_REGIME], json.dumps([leg, spot, 7])
    )
    assert (rc, doc["signal"], doc["actions"]) == (0, 0, [])  # a sold call is open
    rc, doc = run(capsys, monkeypatch, ["wheel", "BTC", NO_REGIME], json.dumps([spot]))
    assert doc["actions"][0]["wheel_phase"] == 2  # spot entries reach the strategy
    chains.clear()
    rc, doc = run(capsys, monkeypatch, ["wheel", "BTC", NO_REGIME], json.dumps([leg] * 4 + [spot]))
    assert rc == 0 and doc["skip_reason"] == "Max positions reached (4/4)"
    assert doc["spot_price"] == 0 and doc["iv_rank"] == 0 and "error" not in doc
    assert chains == {}  # the venue was never built
    # the legacy third positional carries the positions (stdin then unread)
    rc, doc = run(capsys, monkeypatch, ["wheel", "BTC", json.dumps([leg] * 4), NO_REGIME], "junk")
    assert doc["skip_reason"] == "Max positions reached (4/4)"
    # malformed stdin counts as no positions, as upstream
    rc, doc = run(capsys, monkeypatch, ["covered_calls", "BTC", NO_REGIME], "{not json")
    assert rc == 0 and doc["signal"] == -1


def test_exit_codes(chains, capsys, monkeypatch):
    rc, doc = run(capsys, monkeypatch, ["nope", "BTC", NO_REGIME])
    assert rc == 0 and doc["error"].startswith("Unknown strategy: nope. Available: [")
    rc, doc = run(capsys, monkeypatch, ["nope", "BTC", NO_REGIME], json.dumps([{}] * 4))
    assert rc == 0 and "skip_reason" in doc and "error" not in doc  # cap before the name
    rc, doc = run(capsys, monkeypatch, ["wheel", "XRP", NO_REGIME])  # the chain has no XRP
    assert rc == 0 and doc["error"] == "Could not fetch spot price"
    rc, doc = run(capsys, monkeypatch, ["wheel"])
    assert rc == 1 and doc["error"].startswith("Usage:")
    rc, doc = run(capsys, monkeypatch, ["wheel", "BTC", "--platform=binanceus", NO_REGIME])
    assert rc == 1 and "unknown platform" in doc["error"]

    def broken(platform):
        raise RuntimeError("venue exploded")

    monkeypatch.setattr(co, "CHAIN_FACTORY", broken)
    rc, doc = run(capsys, monkeypatch, ["wheel", "BTC", NO_REGIME])
    assert rc == 1 and doc["error"] == "RuntimeError: venue exploded" and doc["strategy"] == "wheel"


def test_tolerant_argv():
    ns = co.OptionsArgv().parse_args(
        ["wheel", "eth", "--platform", "--weird=1", '--regime-payload-json="trending_up"']
    )
    assert (ns.strategy, ns.underlying, ns.platform) == ("wheel", "ETH", "deribit")
    assert ns.regime_payload_json == '"trending_up"'
    assert (
        co.OptionsArgv().parse_args(["a", "b", "--regime-payload-json"]).regime_payload_json == ""
    )


def test_regime_from_payload_and_inline(chains, capsys, monkeypatch):
    rc, doc = run(capsys, monkeypatch, ["wheel", "BTC", '--regime-payload-json="trending_up"'])
    assert doc["regime"] == "trending_up"
    rc, doc = run(capsys, monkeypatch, ["wheel", "BTC"])  # inline 4h fetch, simulated market
    assert doc["regime"] in ("ranging", "trending_up", "trending_down")


def test_implied_rank_source(chains, capsys, monkeypatch):
    chain = FakeChain(iv_history={"BTC": [0.4, 0.8, 0.5, 0.6, 0.7]})
    monkeypatch.setattr(co, "CHAIN_FACTORY", lambda p: chain)
    rc, doc = run(capsys, monkeypatch, ["butterfly", "BTC", "--iv-rank-source=implied", NO_REGIME])
    assert (doc["iv_rank"], doc["iv_rank_source"]) == (75.0, "implied_vol")
    assert doc["signal"] == 0  # 75 is outside butterfly's 30..70
    rc, _ = run(capsys, monkeypatch, ["butterfly", "BTC", "--iv-rank-source=dvol"])
    assert rc == 2


def test_probe_only(chains, capsys, monkeypatch):
    assert run(capsys, monkeypatch, ["wheel", "BTC", "--platform=okx", "--probe-only"]) == (0, None)
    assert chains == {}  # no venue touched
    assert run(capsys, monkeypatch, ["wheeel", "BTC", "--probe-only"])[0] == 2
    assert run(capsys, monkeypatch, ["wheel", "BTC", "--platform=kraken", "--probe-only"])[0] == 2


def test_batch(chains, capsys, monkeypatch):
    jobs = [
        {"args": ["covered_calls", "BTC", "--platform=deribit", NO_REGIME], "stdin": []},
        {"args": ["wheel", "ETH", "--platform=ibkr", NO_REGIME], "stdin": json.dumps([])},
        {"args": ["nope", "BTC", NO_REGIME]},
        {"args": ["wheel", "BTC", NO_REGIME], "stdin": [{"option_type": "put"}] * 4},
    ]
    rc, docs = run(capsys, monkeypatch, ["--batch"], json.dumps(jobs))
    assert rc == 0 and len(docs) == 4
    assert docs[0]["signal"] == -1 and docs[0]["platform"] == "deribit"
    assert docs[1]["actions"][0]["strike"] == 2_800.0 and docs[1]["multiplier"] == 0.1
    assert docs[2]["error"].startswith("Unknown strategy")
    assert docs[3]["skip_reason"] == "Max positions reached (4/4)"


def test_script_runs_as_a_process_and_probes_names():
    proc = subprocess.run(
        [
            sys.executable,
            str(REPO / "shared_scripts/check_options.py"),
            "wheeel",
            "BTC",
            "--probe-only",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 2 and proc.stdout == "" and "wheeel" in proc.stderr


def test_the_shared_argv_parser_the_supervisor_reads_configs_with():
    from shared_tools.options_argv import parse_options_argv

    a = parse_options_argv(["vol_mean_reversion", "btc", "--platform=IBKR", "--x", "--platform"])
    assert (a.strategy, a.underlying, a.platform, a.ignored) == (
        "vol_mean_reversion",
        "BTC",
        "ibkr",
        ["--x"],
    )
    assert parse_options_argv([]).platform == "deribit" and parse_options_argv([]).strategy == ""
