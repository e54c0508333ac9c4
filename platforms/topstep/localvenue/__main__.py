"""``python -m platforms.topstep.localvenue --port PORT [--seed N] [--initial-usd USD]
[--api-key K] [--secret S] [--account ID ...] [--ignore-hours]``.

Prints ``localvenue: http://127.0.0.1:PORT`` once bound and serves until SIGTERM or SIGINT
(exit 0). ``--account`` (repeatable) opens funded accounts at start; ``--ignore-hours`` takes
orders outside CME Globex hours (the real venue refuses them).
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from types import FrameType

from platforms.topstep.localvenue.server import LocalVenueServer


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m platforms.topstep.localvenue")
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: a free one)")
    parser.add_argument("--seed", type=int, default=None, help="simulated market seed")
    parser.add_argument("--initial-usd", type=float, default=50_000.0, help="new accounts' USD")
    parser.add_argument("--api-key", default="test-key", help="the user name loginKey takes")
    parser.add_argument("--secret", default="test-secret", help="the API key loginKey takes")
    parser.add_argument("--account", type=int, action="append", default=[], help="open this id")
    parser.add_argument("--ignore-hours", action="store_true", help="trade outside CME hours")
    args = parser.parse_args(argv)

    stop = threading.Event()

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    server = LocalVenueServer(
        port=args.port,
        seed=args.seed,
        initial_usd=args.initial_usd,
        api_key=args.api_key,
        secret=args.secret,
        enforce_hours=not args.ignore_hours,
    )
    server.start()
    for account in args.account:
        server.venue.add_account(account)
    print(f"localvenue: {server.url}", flush=True)
    while not stop.wait(0.5):
        pass
    server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
