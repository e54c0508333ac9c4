"""The chat bridge: Discord slash commands and Telegram commands for the running daemon.

Its own process (``go-trader chat-bridge``, systemd/go-trader-chat-bridge.service). It holds the
chat connections (the Discord gateway websocket and REST, Telegram's ``getUpdates`` long poll),
checks who asks, and turns each command into a call on the daemon's local HTTP API with the
status token, so the supervisor never loads a chat client and a chat outage never slows a cycle
(docs/architecture.md, "Chat bridge").
"""
