"""Live on OKX (spot and swaps), TopStep (futures) and Robinhood (spot crypto) is allowed;
live options stay refused with one line; a start without a venue's credentials is refused,
naming each missing variable and never a value. The drivers' argv and units."""

from __future__ import annotations

from pathlib import Path

import pytest
from venue_rig import CREDS, OKX_SPOT, OKX_SWAP, ROBINHOOD, TOPSTEP, VenueRig, strategy

from shared_tools.config.live import live_env_problems, live_refusal
from shared_tools.config.load import load_config
from supervisor.live import argv_okx, argv_robinhood, argv_topstep
from supervisor.live.desk import start_problems
from supervisor.live.venues import DRIVERS, venue_cloid
from supervisor.state.models import Intent

SPECS = [OKX_SPOT, OKX_SWAP, TOPSTEP, ROBINHOOD]


@pytest.mark.parametrize(
    "platform, kind",
    [("okx", "spot"), ("okx", "perps"), ("topstep", "futures"), ("robinhood", "spot")],
)
def test_built_venues_are_not_refused(platform: str, kind: str) -> None:
    assert live_refusal(platform, kind) == ""


@pytest.mark.parametrize(
    "platform, kind", [("deribit", "options"), ("okx", "options"), ("luno", "spot")]
)
def test_unbuilt_live_stays_refused_with_one_line(platform: str, kind: str) -> None:
    why = live_refusal(platform, kind)
    assert "is not supported by this build yet" in why and "\n" not in why


@pytest.mark.parametrize("spec", SPECS, ids=[s[0] for s in SPECS])
def test_a_live_venue_config_loads_and_needs_its_keys(tmp_path: Path, spec) -> None:
    sid, venue, coin, stype = spec
    rig = VenueRig(tmp_path, [strategy(sid, venue, coin, stype)])
    config = load_config(rig.config)
    assert [sc.id for sc in config.live_strategies] == [sid]
    secrets = {k: f"SECRET-{k}" for k in CREDS}
    assert start_problems(config, True, secrets) == []
    prefix = venue.upper() + "_"
    missing = {k: v for k, v in secrets.items() if not k.startswith(prefix)}
    lines = start_problems(config, True, missing)
    assert len(lines) == 3 and all(line.count("\n") == 0 for line in lines)
    assert all(f"live {venue} strategies need {prefix}" in line for line in lines)
    assert not any("SECRET-" in line for line in lines)


def test_env_problems_name_only_the_missing_variables() -> None:
    env = {"OKX_API_KEY": "x", "OKX_API_SECRET": "y"}
    (line,) = live_env_problems(["okx"], env)
    assert "OKX_PASSPHRASE" in line and "x" not in line.split("OKX_PASSPHRASE")[0][-3:]


def _intent(**kw) -> Intent:
    base = dict(
        cloid="gt" + "ab" * 12,
        strategy_id="s",
        cycle=1,
        leg="open",
        symbol="BTC",
        side="buy",
        size=0.01,
        reduce_only=False,
        purpose="open",
        position_side="long",
    )
    base.update(kw)
    return Intent(**base)  # type: ignore[arg-type]


def test_client_order_ids_are_gt_and_24_hex_off_hyperliquid() -> None:
    hl = "0x" + "0123456789abcdef" * 2
    assert venue_cloid("hyperliquid", hl) == hl
    for v in ("okx", "topstep", "robinhood"):
        c = venue_cloid(v, hl)
        assert c.startswith("gt") and len(c) == 26 and int(c[2:], 16) >= 0


def test_okx_orders_are_in_coins_with_the_inst_type(tmp_path: Path) -> None:
    rig = VenueRig(tmp_path, [strategy(*OKX_SWAP), strategy(*OKX_SPOT)])
    swap, spot = load_config(rig.config).live_strategies
    argv = argv_okx.execute_argv(_intent(size=0.01), swap)
    assert "--size=0.01" in argv and "--inst-type=swap" in argv
    assert f"--client-order-id={'gt' + 'ab' * 12}" in argv
    assert "--inst-type=spot" in argv_okx.execute_argv(_intent(), spot)


def test_topstep_sends_whole_contracts_and_robinhood_buys_by_amount(tmp_path: Path) -> None:
    rig = VenueRig(tmp_path, [strategy(*TOPSTEP), strategy(*ROBINHOOD)])
    ts, rh = load_config(rig.config).live_strategies
    assert "--contracts=2" in argv_topstep.execute_argv(_intent(size=2.0000000001), ts)
    buy = argv_robinhood.execute_argv(_intent(extra={"notional": 1234.567}), rh)
    assert "--amount_usd=1234.56" in buy and not any(a.startswith("--quantity") for a in buy)
    sell = argv_robinhood.execute_argv(_intent(side="sell", size=0.25), rh)
    assert "--quantity=0.25" in sell
    assert argv_robinhood.amount_usd(_intent(extra={"notional": 0.2})) == 1.0  # upstream: ≥ $1


def test_close_budgets_are_upstreams() -> None:
    assert DRIVERS["okx"].close_budget_s == DRIVERS["topstep"].close_budget_s == 90
    assert DRIVERS["robinhood"].close_budget_s == 150
