"""``user_defaults.close`` and the legacy ``user_close_defaults``/``manual_defaults`` (issue 20
item 4): injected at load before the checks, as upstream (reference C.1), in the supervisor,
on SIGHUP and in the backtester (``--defaults user|system``); ``inspect`` shows each effective
value with its source."""

from __future__ import annotations

import json

import pytest
from conftest import PINNED_NOW, REPO, run_cli, write_config

from shared_tools import market
from shared_tools.config.effective import effective_values
from shared_tools.config.load import load_config
from shared_tools.config.model import ConfigError

USER_TIERS = [
    {"atr_multiple": 3.0, "close_fraction": 0.5},
    {"atr_multiple": 5.0, "close_fraction": 1.0},
]
USER = {"close": {"tiered_tp_atr": {"tp_tiers": USER_TIERS}}}


def _perp(**extra):
    from test_cycle_perps import perp

    return perp("p", "p", **extra)


def _tp(params: dict | None = None) -> list[dict]:
    return [{"name": "tiered_tp_atr", "params": params or {}}]


# -- the loader ------------------------------------------------------------------------------


def test_a_ref_without_tiers_takes_the_users_and_an_explicit_one_wins(tmp_path):
    own = [{"atr_multiple": 1.0, "close_fraction": 1.0}]
    strategies = [
        {**_perp(close_strategies=_tp()), "id": "bare"},
        {**_perp(close_strategies=_tp({"tp_tiers": own})), "id": "own"},
        {**_perp(close_strategies=["tiered_tp_atr", "atr_stop"]), "id": "name-only"},
    ]
    cfg = load_config(write_config(tmp_path, strategies, user_defaults=USER))
    bare, explicit, name_only = cfg.strategies
    assert bare.close_strategies[0].params == {"tp_tiers": USER_TIERS}
    assert bare.sources == {"close_strategies[0].tp_tiers": "user_defaults"}
    assert explicit.close_strategies[0].params == {"tp_tiers": own} and explicit.sources == {}
    assert name_only.close_strategies[0].params == {"tp_tiers": USER_TIERS}
    assert name_only.close_strategies[1].params == {}  # atr_stop takes no defaults
    assert not [w for w in cfg.warnings if "user_defaults" in w]  # built: no "ignored" line
    # the guard (stop and targets of the book) reads the injected tiers
    assert bare.rules.protection.tp_atr_tiers == ((3.0, 0.5), (5.0, 1.0))


def test_without_user_defaults_nothing_is_injected(tmp_path):
    cfg = load_config(write_config(tmp_path, [_perp(close_strategies=_tp())]))
    assert cfg.strategies[0].close_strategies[0].params == {}
    assert cfg.strategies[0].sources == {}


@pytest.mark.parametrize(
    ("close", "says"),
    [
        ({"atr_stop": {"tp_tiers": USER_TIERS}}, '"atr_stop" takes no defaults'),
        ({"tiered_tp_atr": {"tp_tiers": []}}, "tiered_tp_atr.tp_tiers must be a list of 1 to 32"),
        (
            {"tiered_tp_pct": {"tp_tiers": [{"atr_multiple": 2, "close_fraction": 1}]}},
            "items need profit_pct > 0",
        ),
        (
            {"tiered_tp_atr": {"tp_tiers": [{"atr_multiple": 2, "close_fraction": 2}]}},
            "items need close_fraction in [0, 1]",
        ),
        ({"tiered_tp_atr": {"tp_tiers": USER_TIERS, "sl_after": 1}}, "only tp_tiers may be set"),
        (
            {"trailing_tp_ratchet_regime": {"trailing_stop_atr_regime": {"ranging": 2}}},
            "trailing_stop_atr_regime has unknown key(s)",
        ),
        ([1], "user_defaults.close must be an object"),
    ],
)
def test_bad_close_defaults_are_one_line_errors(tmp_path, close, says):
    path = write_config(tmp_path, [_perp()], user_defaults={"close": close})
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert any(says in line and "user_defaults" in line for line in err.value.lines), err.value


def test_ratchet_regime_tiers_per_regime_are_accepted(tmp_path):
    ladder = [{"atr_multiple": 1.0, "trailing_mult_after": 0.5}]
    user = {"close": {"trailing_tp_ratchet_regime": {"tp_tiers": {"ranging": ladder}}}}
    ref = [{"name": "trailing_tp_ratchet_regime", "params": {}}]
    cfg = load_config(write_config(tmp_path, [_perp(close_strategies=ref)], user_defaults=user))
    assert cfg.strategies[0].close_strategies[0].params["tp_tiers"] == {"ranging": ladder}


def test_legacy_aliases_fold_into_user_defaults_even_on_a_current_file(tmp_path):
    path = write_config(
        tmp_path,
        [_perp(close_strategies=_tp())],
        user_close_defaults={"tiered_tp_atr": {"tp_tiers": USER_TIERS}},
        manual_defaults={"margin_usd": 75},
    )
    cfg = load_config(path)
    assert cfg.strategies[0].close_strategies[0].params == {"tp_tiers": USER_TIERS}
    assert cfg.manual_defaults.margin_usd == 75
    assert not [w for w in cfg.warnings if "ignored" in w]
    saved = json.loads(path.read_text())  # rewritten as upstream does, with a backup
    assert "user_close_defaults" not in saved and saved["user_defaults"]["close"]
    assert any("user_close_defaults/manual_defaults" in w for w in cfg.warnings)


def test_legacy_alias_conflicting_with_the_canonical_key_is_an_error(tmp_path):
    path = write_config(
        tmp_path,
        [_perp()],
        user_close_defaults={"tiered_tp_atr": {"tp_tiers": USER_TIERS}},
        user_defaults={"close": {"tiered_tp_atr": {"tp_tiers": USER_TIERS[:1]}}},
    )
    with pytest.raises(ConfigError, match="user_close_defaults and user_defaults.close"):
        load_config(path)


# -- the supervisor: the same config with and without the key --------------------------------


def _targets(tmp_path, sup_for, **top) -> list[float]:
    from test_cycle_perps import mark, say

    sup = sup_for([_perp(close_strategies=_tp())], **top)
    mark(tmp_path, 100.0)
    say(tmp_path, "p", 1, 100.0, atr=2.0)
    sup.run_cycle(sup.config.strategies)
    return [t[0] for t in sup.app.strategies["p"].positions["BTC"].guard.targets]


def test_the_open_positions_targets_come_from_user_defaults(tmp_path, sup_for):
    assert _targets(tmp_path, sup_for, user_defaults=USER) == [106.0, 110.0]  # 3 / 5 ATR


def test_without_user_defaults_the_evaluators_own_tiers_apply(tmp_path, sup_for):
    assert _targets(tmp_path, sup_for) == [103.0, 106.0, 110.0]  # the built-in 1.5/3/5 ATR


def test_a_sighup_reinjects_changed_user_defaults_and_re_arms(tmp_path, sup_for, capsys):
    from test_cycle_perps import mark, say

    sup = sup_for([_perp(close_strategies=_tp())], user_defaults=USER)
    mark(tmp_path, 100.0)
    say(tmp_path, "p", 1, 100.0, atr=2.0)
    sup.run_cycle(sup.config.strategies)
    say(tmp_path, "p", 0, 100.0, atr=2.0)
    tighter = {
        "close": {"tiered_tp_atr": {"tp_tiers": [{"atr_multiple": 1.5, "close_fraction": 1}]}}
    }
    write_config(tmp_path, [_perp(close_strategies=_tp())], user_defaults=tighter)
    assert sup.reload()
    assert "p BTC re-armed" in capsys.readouterr().err
    assert [t[0] for t in sup.app.strategies["p"].positions["BTC"].guard.targets] == [103.0]
    mark(tmp_path, 103.5)
    report = sup.run_cycle([])
    assert [t.reason for t in report.trades] and not sup.app.strategies["p"].positions


# -- inspect: effective value and source -----------------------------------------------------


def test_effective_values_name_their_source(tmp_path):
    manual = {"id": "m", "type": "manual", "symbol": "ETH", "capital": 1000}
    from test_cycle_perps import perp

    strategies = [_perp(close_strategies=_tp()), manual, perp("q", "q", "SOL", leverage=2)]
    user = {**USER, "manual": {"margin_usd": 80, "side": "short"}}
    cfg = load_config(write_config(tmp_path, strategies, user_defaults=user, atr_method="wilder"))
    p, m, q = (effective_values(s, cfg) for s in cfg.strategies)
    tiers = p["close_strategies[0](tiered_tp_atr).tp_tiers"]
    assert tiers == {"value": USER_TIERS, "source": "user_defaults"}
    assert p["atr_method"] == {"value": "wilder", "source": "config", "via": "atr_method"}
    assert p["stop"]["source"] == "config"  # the entry sets stop_loss_atr_mult 0: no stop
    assert m["sizing"] == {"mode": "margin_per_trade_usd", "value": 80.0, "source": "user_defaults"}
    assert m["stop"] == {"key": "stop_loss_atr_mult", "value": 2.0, "source": "default"}
    assert m["close_strategies[0](tiered_tp_atr).tp_tiers"]["source"] == "default"
    assert m["manual_open_side"] == {"value": "short", "source": "user_defaults"}
    assert q["leverage"] == {"value": 2, "source": "config"}
    assert q["margin_mode"] == {"value": "isolated", "source": "default"}


def test_inspect_shows_the_effective_value_and_its_source(tmp_path):
    path = write_config(tmp_path, [_perp(close_strategies=_tp())], user_defaults=USER)
    env = {
        "GO_TRADER_MARKET_DATA": "simulated",
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
    }
    proc = run_cli(["inspect", "--config", str(path), "--json", "p"], env)
    assert proc.returncode == 0, proc.stderr
    row = json.loads(proc.stdout)["strategies"][0]["effective_values"]
    assert row["close_strategies[0](tiered_tp_atr).tp_tiers"]["source"] == "user_defaults"
    text = run_cli(["inspect", "--config", str(path), "p"], env).stdout
    assert "values a default can supply" in text
    assert '"atr_multiple": 3.0' in text and "[user_defaults]" in text


# -- the backtester: the same difference on the same candles ---------------------------------


@pytest.fixture
def offline(monkeypatch, tmp_path):
    monkeypatch.setenv("GO_TRADER_MARKET_DATA", "simulated")
    monkeypatch.setenv("GO_TRADER_NOW", PINNED_NOW)
    monkeypatch.setenv("GO_TRADER_SIM_SEED", "7")
    monkeypatch.setenv("GO_TRADER_OHLCV_CACHE", str(tmp_path / "ohlcv.db"))
    market.clear_memo()
    yield
    market.clear_memo()


def _backtest_config(tmp_path, **top):
    cfg = json.loads((REPO / "examples" / "offline-perps.json").read_text())
    entry = next(s for s in cfg["strategies"] if s["id"] == "hl-sma-eth-tp")
    entry["close_strategies"] = [{"name": "tiered_tp_atr", "params": {}}]
    cfg["strategies"] = [entry]
    cfg["db_file"] = str(tmp_path / "x.db")
    cfg.update(top)
    path = tmp_path / "bt.json"
    path.write_text(json.dumps(cfg))
    return str(path)


def _bt(capsys, *argv):
    from backtest import run_backtest

    code = run_backtest.main(["--since", "20", "--json", *argv])
    out, err = capsys.readouterr()
    assert code == 0, err
    return json.loads(out)


def test_backtest_defaults_user_applies_the_tiers_and_system_does_not(tmp_path, offline, capsys):
    user_cfg = _backtest_config(tmp_path, user_defaults=USER)
    (tmp_path / "plain").mkdir()
    plain_cfg = _backtest_config(tmp_path / "plain", user_defaults={})
    sid = ("--strategy-id", "hl-sma-eth-tp")
    user = _bt(capsys, "--config", user_cfg, *sid)
    default_user = _bt(capsys, "--config", user_cfg, *sid, "--defaults", "user")
    system = _bt(capsys, "--config", user_cfg, *sid, "--defaults", "system")
    plain = _bt(capsys, "--config", plain_cfg, *sid)
    assert user == default_user  # user is the default, as the supervisor runs it
    assert system["trades"] == plain["trades"]  # system: the evaluator's own tiers
    assert user["trades"] != system["trades"]  # the user's 3/5 ATR tiers change the exits

    def take_profits(doc: dict) -> int:
        return sum(t["reason"] == "take_profit" for t in doc["trades"])

    assert 0 < take_profits(user) < take_profits(system)  # 3/5 ATR is hit less than 1.5/3/5


def test_the_supervisor_and_backtester_read_the_same_injected_refs(tmp_path):
    from backtest.backtester import BacktestSettings
    from backtest.cli_settings import from_config

    path = _backtest_config(tmp_path, user_defaults=USER)
    sc = load_config(path).strategy("hl-sma-eth-tp")
    job = from_config(path, "hl-sma-eth-tp", BacktestSettings)
    assert list(job.settings.close_strategies) == [c.as_json() for c in sc.close_strategies]
    assert job.settings.defaults == "user"
    assert job.user_parts == ("close_strategies[0].tp_tiers",)
    assert job.system_closes[0]["params"] == {}  # what --defaults system runs


# -- user_defaults.manual details upstream has (reference C.1) -------------------------------


def test_manual_stop_zero_opts_manual_strategies_out_and_the_last_tier_closes_all(tmp_path):
    manual = {"id": "m", "type": "manual", "symbol": "ETH", "capital": 1000}
    tiers = [
        {"atr_multiple": 2.0, "close_fraction": 0.5},
        {"atr_multiple": 4.0, "close_fraction": 0.8},
    ]
    user = {"manual": {"stop_loss_atr_mult": 0, "tp_tiers": tiers}}
    cfg = load_config(write_config(tmp_path, [manual], user_defaults=user))
    m = cfg.strategies[0]
    assert m.stop_loss_atr_mult == 0 and m.rules.protection.stop_loss_atr_mult == 0  # no stop
    assert m.close_strategies[0].params["tp_tiers"][-1]["close_fraction"] == 1.0
    assert effective_values(m, cfg)["stop"] == {"value": "none", "source": "user_defaults"}
    plain = load_config(write_config(tmp_path, [manual])).strategies[0]
    assert plain.stop_loss_atr_mult == 2.0  # without the key: upstream's 2 ATR


def test_older_tier_spellings_are_renamed_before_injection(tmp_path):
    user = {
        "close": {
            "tiered_tp_atr": {"tp_tiers": [{"atr": 2.5, "fraction": 1.0}]},
            "tiered_tp_pct": {"tp_tiers": [{"pct": 4, "close_fraction": 1.0}]},
        }
    }
    refs = [{"name": "tiered_tp_atr"}, {"name": "tiered_tp_pct"}]
    cfg = load_config(write_config(tmp_path, [_perp(close_strategies=refs)], user_defaults=user))
    atr, pct = cfg.strategies[0].close_strategies
    assert atr.params["tp_tiers"] == [{"atr_multiple": 2.5, "close_fraction": 1.0}]
    assert pct.params["tp_tiers"] == [{"profit_pct": 4, "close_fraction": 1.0}]


# -- the supervisor on the simulated market: the same strategy with and without the key ------


@pytest.fixture
def sim_clock(tmp_path, monkeypatch):
    monkeypatch.setenv("GO_TRADER_OHLCV_CACHE", str(tmp_path / "ohlcv.db"))
    monkeypatch.delenv("GO_TRADER_MARKET_DATA", raising=False)  # the config's reaches workers
    monkeypatch.delenv("GO_TRADER_SIM_SEED", raising=False)

    def at(when) -> None:
        monkeypatch.setenv("GO_TRADER_NOW", when.strftime("%Y-%m-%dT%H:%M:%SZ"))

    return at


def _target_multiples(tmp_path, sim_clock, **top) -> set[tuple[float, ...]]:
    """The ATR multiples of the targets armed on every open over a few simulated hours."""
    import io
    from datetime import timedelta

    from test_offline_perps import START

    from supervisor.daemon import Supervisor

    sup = Supervisor(load_config(_backtest_config(tmp_path, **top)), once=True, out=io.StringIO())
    sim_clock(START)
    assert sup.start() == 0
    seen = set()
    try:
        for i in range(12):
            sim_clock(START + timedelta(hours=i))
            sup.run_cycle(sup.config.strategies)
            pos = sup.app.strategies["hl-sma-eth-tp"].positions.get("ETH")
            if pos is not None and pos.entry_atr:
                seen.add(
                    tuple(
                        round(abs(p - pos.avg_cost) / pos.entry_atr, 6)
                        for p, _ in pos.guard.targets
                    )
                )
    finally:
        sup.shutdown()
    return seen


def test_on_the_simulated_market_opens_arm_the_user_tiers(tmp_path, sim_clock):
    (tmp_path / "user").mkdir()
    (tmp_path / "plain").mkdir()
    assert _target_multiples(tmp_path / "user", sim_clock, user_defaults=USER) == {(3.0, 5.0)}
    assert _target_multiples(tmp_path / "plain", sim_clock) == {(1.5, 3.0, 5.0)}


def test_the_status_server_reads_the_same_effective_values(tmp_path, sup_for):
    sup = sup_for([_perp(close_strategies=_tp())], user_defaults=USER)
    view = sup.status_view()["strategies"]["p"]["effective_values"]
    assert view == effective_values(sup.config.strategy("p"), sup.config)
    assert view["close_strategies[0](tiered_tp_atr).tp_tiers"]["source"] == "user_defaults"
