"""The discord / telegram / summary_frequency config sections."""

from __future__ import annotations

import pytest
from conftest import fake_strategy, write_config

from shared_tools.config.load import load_config
from shared_tools.config.model import ConfigError
from shared_tools.config.notify import frequency_seconds

SPOT = [fake_strategy("a", "hold")]


def load(tmp_path, **top):
    return load_config(write_config(tmp_path, SPOT, **top))


def errors(tmp_path, **top) -> list[str]:
    with pytest.raises(ConfigError) as exc:
        load(tmp_path, **top)
    return exc.value.lines


def test_sections_are_read(tmp_path, monkeypatch):
    monkeypatch.setenv("DISCORD_BOT_TOKEN", "x")
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "y")
    monkeypatch.delenv("DISCORD_OWNER_ID", raising=False)
    config = load(
        tmp_path,
        discord={
            "enabled": True,
            "owner_id": 123456789012345678,
            "channels": {"spot": "111", "hyperliquid-paper": 222},
            "trade_alert_channels": {"spot": "333"},
            "dm_channels": {"binanceus-paper": True, "okx": "999", "luno": False},
        },
        telegram={"enabled": True, "owner_chat_id": "-100200", "channels": {"perps": "-5"}},
        summary_frequency={"spot": "hourly", "perps": "30m"},
    )
    d, t = config.notify.discord, config.notify.telegram
    assert d.enabled and d.owner == "123456789012345678"
    assert d.channels == {"spot": "111", "hyperliquid-paper": "222"}
    assert d.trade_alert_channels == {"spot": "333"}
    assert d.dm_channels == {"binanceus-paper": "owner", "okx": "999"}
    assert t.enabled and t.owner == "-100200" and t.channels == {"perps": "-5"}
    assert config.notify.summary_frequency == {"spot": "hourly", "perps": "30m"}
    assert not [w for w in config.warnings if "discord" in w or "telegram" in w]


def test_token_in_the_file_warns_without_echoing_it(tmp_path, monkeypatch):
    monkeypatch.setenv("DISCORD_BOT_TOKEN", "x")
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "y")
    config = load(
        tmp_path,
        discord={"enabled": True, "token": "SECRET-IN-FILE"},
        telegram={"enabled": True, "bot_token": "TG-SECRET-IN-FILE"},
    )
    joined = "\n".join(config.warnings)
    assert "discord.token in the config file is ignored" in joined and "DISCORD_BOT_TOKEN" in joined
    assert "telegram.bot_token" in joined and "TELEGRAM_BOT_TOKEN" in joined
    assert "SECRET-IN-FILE" not in joined


def test_owner_env_wins_and_missing_token_warns(tmp_path, monkeypatch):
    monkeypatch.delenv("DISCORD_BOT_TOKEN", raising=False)
    monkeypatch.setenv("DISCORD_OWNER_ID", "555")
    config = load(tmp_path, discord={"enabled": True, "owner_id": "1"})
    assert config.notify.discord.owner == "555"
    assert any("DISCORD_BOT_TOKEN is not set" in w for w in config.warnings)


def test_unknown_keys_warn_bad_types_are_fatal(tmp_path, monkeypatch):
    monkeypatch.setenv("DISCORD_BOT_TOKEN", "x")
    config = load(tmp_path, discord={"enabled": True, "report_repo": "a/b", "colour": "red"})
    # report_repo is read now (the chat bridge's /report-an-issue), not warned about
    assert not any("report_repo" in w for w in config.warnings)
    assert config.notify.discord.report_repo == "a/b"
    # the chat bridge's keys (chat_bridge/core.py) are read, not warned about
    bridge = load(
        tmp_path,
        discord={"enabled": True, "ephemeral_replies": False, "allowed_channels": ["123"]},
    )
    assert not any("ephemeral_replies" in w for w in bridge.warnings)
    assert bridge.notify.discord.allowed_channels == ("123",)
    assert bridge.notify.discord.ephemeral_replies is False
    assert bridge.notify.discord.public_commands is False
    assert any("discord.'colour' is not a known key" in w for w in config.warnings)
    lines = errors(
        tmp_path,
        discord={"enabled": "yes", "channels": ["111"]},
        telegram={"owner_chat_id": {"x": 1}, "dm_channels": {"okx": 1.5}},
        summary_frequency={"spot": 60},
    )
    text = "\n".join(lines)
    assert "discord.enabled must be true or false" in text
    bad = errors(tmp_path, discord={"public_commands": "yes", "allowed_channels": "123"})
    assert "discord.public_commands must be true or false" in "\n".join(bad)
    assert "discord.allowed_channels must be a list of channel ids" in "\n".join(bad)
    assert "discord.channels must be an object" in text
    assert "telegram.owner_chat_id must be a user/chat id" in text
    assert "telegram.dm_channels.'okx' must be true, false or a user/chat id" in text
    assert "summary_frequency.'spot' must be a string" in text
    assert errors(tmp_path, discord="on")[0].endswith('discord must be an object, got "on"')


def test_sections_no_longer_warn_as_unbuilt(tmp_path):
    config = load(tmp_path, discord={}, telegram={}, summary_frequency={})
    assert not [w for w in config.warnings if "not built yet" in w]


def test_frequency_values():
    assert frequency_seconds("every") == frequency_seconds("per_check") == 0
    assert frequency_seconds("always") == 0
    assert frequency_seconds("hourly") == 3600 and frequency_seconds("daily") == 86400
    assert frequency_seconds("30m") == 1800 and frequency_seconds("2h") == 7200
    assert frequency_seconds("1h30m") == 5400
    assert frequency_seconds("weekly") is None and frequency_seconds("0m") is None
