"""``python -m chat_bridge``: the same as ``go-trader chat-bridge``."""

from chat_bridge.main import main

main()
