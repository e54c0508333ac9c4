"""``python -m platforms.hyperliquid.localvenue --port PORT [--seed N] [--initial-usd USD]``.

Prints ``localvenue: http://127.0.0.1:PORT`` once bound and serves until SIGTERM or SIGINT
(exit 0). ``--account ADDR`` (repeatable) opens funded accounts at start.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from types import FrameType

from platforms.hyperliquid.localvenue.server import LocalVenueServer


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m platforms.hyperliquid.localvenue")
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: a free one)")
    parser.add_argument("--seed", type=int, default=None, help="simulated market seed")
    parser.add_argument("--initial-usd", type=float, default=10_000.0, help="new accounts' USDC")
    parser.add_argument("--account", action="append", default=[], help="open this account")
    args = parser.parse_args(argv)

    stop = threading.Event()

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    server = LocalVenueServer(port=args.port, seed=args.seed, initial_usd=args.initial_usd)
    server.start()
    for address in args.account:
        server.venue.add_account(address)
    print(f"localvenue: {server.url}", flush=True)
    while not stop.wait(0.5):
        pass
    server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
