"""Decision to order on the wire, for a live Hyperliquid order (local venue, no network).

    .venv/bin/python bench/live_order_latency.py [--runs 7]

Times what the desk pays per order today: one side-effect worker process
(``check_hyperliquid.py --execute``) from spawn to the venue receiving its signed ``order``
action, and to the worker's answer (fee lookup included). Baselines in the same process: a bare
interpreter start, and importing the SDK's ``Exchange``. Medians of ``--runs``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

import eth_account  # noqa: E402
from live_rig import AGENT_KEY, OWNER_KEY, T0  # noqa: E402

from platforms.hyperliquid.localvenue import LocalVenueServer  # noqa: E402


def median_run(argv: list[str], env: dict[str, str], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, check=False)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=7)
    ns = ap.parse_args()
    os.environ["GO_TRADER_NOW"] = str(T0 + 3600)
    server = LocalVenueServer(port=0, seed=42, initial_usd=1e9).start()
    owner = eth_account.Account.from_key(OWNER_KEY).address
    server.venue.add_account(owner)
    server.venue.add_agent(owner, eth_account.Account.from_key(AGENT_KEY).address)
    env = dict(os.environ)
    env.update(
        GO_TRADER_HL_BASE_URL=server.url,
        HYPERLIQUID_SECRET_KEY=AGENT_KEY,
        HYPERLIQUID_ACCOUNT_ADDRESS=owner,
    )
    py = sys.executable
    try:
        bare = median_run([py, "-c", "pass"], env, ns.runs)
        sdk = median_run([py, "-c", "import hyperliquid.exchange"], env, ns.runs)
        spawn_to_wire, answers = [], []
        orders_before = len(server.venue.orders)
        for k in range(ns.runs):
            argv = [
                py,
                "shared_scripts/check_hyperliquid.py",
                "--execute",
                "--symbol=ETH",
                f"--side={'buy' if k % 2 == 0 else 'sell'}",
                "--size=0.01",
                "--mode=live",
            ]
            start = time.perf_counter()
            proc = subprocess.Popen(
                argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
            )
            while len(server.venue.orders) == orders_before + k and proc.poll() is None:
                time.sleep(0.001)
            spawn_to_wire.append(time.perf_counter() - start)
            proc.communicate()
            answers.append(time.perf_counter() - start)
    finally:
        server.stop()
    wire, answer = statistics.median(spawn_to_wire), statistics.median(answers)
    print(
        f"live order latency (median of {ns.runs}): spawn -> order at the venue {wire * 1000:.0f} ms, "
        f"-> answer booked-ready {answer * 1000:.0f} ms; baselines: bare interpreter "
        f"{bare * 1000:.0f} ms, import hyperliquid.exchange {sdk * 1000:.0f} ms "
        f"(wire/bare {wire / bare:.1f}x); goal 50 ms needs the persistent order worker"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
