"""``python -m platforms.robinhood.localvenue --port PORT [--seed N] [--initial-usd USD]
[--username U] [--password P] [--totp-secret BASE32]``.

Prints ``localvenue: http://127.0.0.1:PORT`` once bound and serves until SIGTERM or SIGINT
(exit 0). Defaults: test-user / test-pass / a fixed base32 test secret.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from types import FrameType

from platforms.robinhood.localvenue.exchange import (
    DEFAULT_PASSWORD,
    DEFAULT_TOTP_SECRET,
    DEFAULT_USERNAME,
)
from platforms.robinhood.localvenue.server import LocalVenueServer


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m platforms.robinhood.localvenue")
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: a free one)")
    parser.add_argument("--seed", type=int, default=None, help="simulated market seed")
    parser.add_argument("--initial-usd", type=float, default=10_000.0, help="starting cash")
    parser.add_argument("--username", default=DEFAULT_USERNAME)
    parser.add_argument("--password", default=DEFAULT_PASSWORD)
    parser.add_argument("--totp-secret", default=DEFAULT_TOTP_SECRET, help="base32")
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
        username=args.username,
        password=args.password,
        totp_secret=args.totp_secret,
    )
    server.start()
    print(f"localvenue: {server.url}", flush=True)
    while not stop.wait(0.5):
        pass
    server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
