"""Config schema rows: the top level and the book-wide sections (``portfolio_risk``,
``correlation``, ``regime``, ``discord``, ``telegram``, ``tradingview_export``)."""

from __future__ import annotations

from shared_tools.config.key import (
    MAX_ATR_MULT,
    MAX_INTERVAL,
    PCT,
    TOP,
    Key,
    not_yet,
    row_key,
    top_key,
)

TOP_KEYS: tuple[Key, ...] = (
    # -- top level ---------------------------------------------------------------------------
    top_key(
        "config_version",
        "int",
        "the config's shape version; older shapes are migrated",
        default=0,
        lo=0,
        hi=1_000_000,
    ),
    top_key(
        "interval_seconds",
        "int",
        "the global cycle interval (0 = the default)",
        default=600,
        lo=1,
        hi=MAX_INTERVAL,
        attr="interval_seconds",
    ),
    top_key(
        "db_file",
        "string",
        "the SQLite state DB (relative to the repo; .json becomes .db)",
        default="state/state.db",
        reload="structural",
        attr="db_file",
        init="dbFile",
    ),
    top_key(
        "state_file",
        "string",
        "old name of db_file (used when db_file is absent)",
        reload="structural",
    ),
    top_key(
        "status_port",
        "int",
        "the local status server's port (it may move up to port + 4)",
        default=8099,
        lo=1024,
        hi=65531,
        reload="structural",
        attr="status_port",
    ),
    top_key(
        "market_data",
        "string",
        "where prices come from: exchange, simulated or replay:<dir>",
        default="exchange",
        reload="structural",
        attr="market_data",
    ),
    top_key(
        "max_concurrent_checks",
        "int",
        "worker processes run at once",
        default_text="min(CPU count, 64)",
        lo=1,
        hi=64,
    ),
    top_key(
        "script_timeout_seconds",
        "number",
        "one worker's time limit",
        default=30.0,
        lo=0,
        hi=3600.0,
        lo_open=True,
    ),
    top_key(
        "batch_checks", "bool", "one worker process serves many strategies (--batch)", default=True
    ),
    top_key(
        "strategies",
        "list",
        "the strategies (a non-empty list; see strategies[])",
        reload="structural",
    ),
    top_key("regime", "object", "regime classification added to every signal check"),
    top_key(
        "default_stop_loss_atr_mult",
        "number",
        "the ATR stop of Hyperliquid perps that set no stop (0 turns it off)",
        default=1.0,
        lo=0,
        hi=MAX_ATR_MULT,
    ),
    top_key("portfolio_risk", "object", "the book-wide kill switch and entry holds"),
    top_key("correlation", "object", "concentration and same-direction warnings"),
    top_key("discord", "object", "Discord notifications"),
    top_key("telegram", "object", "Telegram notifications"),
    top_key(
        "summary_frequency", "map", "channel key -> hourly, daily, every or a duration like 30m"
    ),
    top_key(
        "kill_switch_reset_dm_timeout",
        "duration",
        "how long the owner's DM reply 'reset' to a latched kill switch counts",
        default="6h",
    ),
    top_key("tradingview_export", "object", "go-trader export tradingview: symbol_overrides"),
    top_key("hyperliquid", "object", "live Hyperliquid: base_url (keys come from the environment)"),
    *not_yet(
        TOP,
        "log_dir",
        "replay_log_path",
        "auto_update",
        "leaderboard_post_time",
        "platforms",
        "leaderboard_summaries",
        "risk_free_rate",
    ),
    *not_yet(TOP, "atr_method", since=17),
    *not_yet(TOP, "notify_tp_sl_fills", "notify_ratchet_triggers", "alert_throttle_interval"),
    *not_yet(TOP, "user_defaults", since=16),
    *not_yet(TOP, "tuning"),
)

SECTION_KEYS: tuple[Key, ...] = (
    # -- portfolio_risk, correlation ---------------------------------------------------------
    row_key(
        "portfolio_risk",
        "max_drawdown_pct",
        "number",
        "the kill switch: drawdown of the book",
        default=25.0,
        **PCT,
        init="portfolioMaxDrawdownPct",
    ),
    row_key(
        "portfolio_risk",
        "warn_threshold_pct",
        "number",
        "warn from this % of max_drawdown_pct (0 = the default)",
        default=60.0,
        **PCT,
        init="portfolioWarnThresholdPct",
    ),
    row_key(
        "portfolio_risk",
        "max_notional_usd",
        "number",
        "hold entries above this notional (0 = off)",
        default=0.0,
        lo=0,
        hi=1e13,
    ),
    row_key(
        "portfolio_risk",
        "daily_max_loss_usd",
        "number",
        "hold entries after this day's loss (0 = off)",
        default=0.0,
        lo=0,
        hi=1e13,
    ),
    row_key(
        "portfolio_risk",
        "daily_max_loss_pct",
        "number",
        "the same in % of the summed initial capital (0 = off)",
        default=0.0,
        lo=0,
        hi=100.0,
    ),
    *not_yet("portfolio_risk", "max_same_direction_notional_usd", "max_asset_concentration_pct"),
    row_key("correlation", "enabled", "bool", "turn the correlation warnings on", default=False),
    row_key(
        "correlation",
        "max_concentration_pct",
        "number",
        "warn above this share in one asset",
        default=60.0,
        **PCT,
    ),
    row_key(
        "correlation",
        "max_same_direction_pct",
        "number",
        "warn above this share one way",
        default=75.0,
        **PCT,
    ),
    # -- regime ------------------------------------------------------------------------------
    row_key("regime", "enabled", "bool", "classify regimes in every signal check", default=False),
    row_key(
        "regime", "period", "int", "the ADX period (0 = the default)", default=14, lo=2, hi=500
    ),
    row_key(
        "regime",
        "adx_threshold",
        "number",
        "the ADX trend threshold (0 = 20)",
        default=0,
        lo=0,
        hi=100,
    ),
    row_key(
        "regime",
        "windows",
        "map",
        "name -> a period or {classifier, period, adx_threshold, thresholds}",
    ),
    row_key(
        "regime",
        "gate_on_failure",
        "choice",
        "the default of regime_gate_on_failure",
        default="open",
        choices=("open", "closed"),
    ),
    *not_yet("regime", "timeframe", "display_windows", "transitions", "hurst_gate_on_failure"),
    row_key(
        "regime.windows.*",
        "classifier",
        "choice",
        "how the window labels regimes",
        default="adx",
        choices=("adx", "composite"),
    ),
    row_key("regime.windows.*", "period", "int", "the window's period", default=14, lo=2, hi=500),
    row_key(
        "regime.windows.*",
        "adx_threshold",
        "number",
        "the window's ADX threshold",
        default=0,
        lo=0,
        hi=100,
    ),
    row_key("regime.windows.*", "thresholds", "object", "classifier thresholds, passed through"),
    # -- discord, telegram -------------------------------------------------------------------
    row_key("discord", "enabled", "bool", "send to Discord", default=False, init="discordEnabled"),
    row_key("discord", "token", "string", "ignored: set DISCORD_BOT_TOKEN", status="env-only"),
    row_key(
        "discord",
        "owner_id",
        "id",
        "the owner's user id (DMs, the kill-switch reset)",
        init="discordOwnerID",
    ),
    row_key(
        "discord", "channels", "map", "channel key -> channel id (summaries)", init="channelMap"
    ),
    row_key("discord", "trade_alert_channels", "map", "channel key -> channel id (trade alerts)"),
    row_key("discord", "dm_channels", "map", "channel key -> true (the owner) or a user id"),
    *not_yet(
        "discord",
        "leaderboard_top_n",
        "leaderboard_channel",
        "ephemeral_replies",
        "report_repo",
        "report_github_token",
    ),
    row_key(
        "telegram", "enabled", "bool", "send to Telegram", default=False, init="telegramEnabled"
    ),
    row_key(
        "telegram", "bot_token", "string", "ignored: set TELEGRAM_BOT_TOKEN", status="env-only"
    ),
    row_key("telegram", "owner_chat_id", "id", "the owner's chat id", init="telegramOwnerChatID"),
    row_key(
        "telegram",
        "channels",
        "map",
        "channel key -> chat id (summaries)",
        init="telegramChannelMap",
    ),
    row_key("telegram", "trade_alert_channels", "map", "channel key -> chat id (trade alerts)"),
    row_key("telegram", "dm_channels", "map", "channel key -> true (the owner) or a chat id"),
    # -- hyperliquid --------------------------------------------------------------------------
    row_key(
        "hyperliquid",
        "base_url",
        "string",
        "the one API base every layer uses: mainnet, testnet or a local venue "
        "(http only on 127.0.0.1)",
        default="https://api.hyperliquid.xyz",
        reload="structural",
    ),
    # -- tradingview_export ------------------------------------------------------------------
    row_key(
        "tradingview_export",
        "symbol_overrides",
        "map",
        "strategy:symbol, platform:symbol or symbol -> EXCHANGE:TICKER",
    ),
)
