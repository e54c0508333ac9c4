"""``python -m platforms.okx.localvenue --port PORT [--seed N] [--initial-usdt USDT]
[--api-key K --secret S --passphrase P]``.

Prints ``localvenue: http://127.0.0.1:PORT`` once bound and serves until SIGTERM or SIGINT
(exit 0). The credentials open the first account (defaults test-key, test-secret,
test-passphrase); more through ``POST /control {"op": "account", ...}``.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from types import FrameType

from platforms.okx.localvenue.exchange import DEFAULT_KEY, DEFAULT_PASSPHRASE, DEFAULT_SECRET
from platforms.okx.localvenue.server import LocalOkxServer


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m platforms.okx.localvenue")
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: a free one)")
    parser.add_argument("--seed", type=int, default=None, help="simulated market seed")
    parser.add_argument("--initial-usdt", type=float, default=10_000.0, help="new accounts' USDT")
    parser.add_argument("--api-key", default=DEFAULT_KEY)
    parser.add_argument("--secret", default=DEFAULT_SECRET)
    parser.add_argument("--passphrase", default=DEFAULT_PASSPHRASE)
    args = parser.parse_args(argv)

    stop = threading.Event()

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    server = LocalOkxServer(
        port=args.port,
        seed=args.seed,
        initial_usdt=args.initial_usdt,
        api_key=args.api_key,
        secret=args.secret,
        passphrase=args.passphrase,
    )
    server.start()
    print(f"localvenue: {server.url}", flush=True)
    while not stop.wait(0.5):
        pass
    server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
