"""Test double for a check script, driven by its first positional: a behaviour name.

    fake_check.py <behaviour> <symbol> <timeframe> [--flags ...]

Behaviours: flip (alternating buy/sell from a counter file), buy, hold, hang, garbage, exit3,
huge, slowflip (flip after a short sleep, to widen the mid-cycle window), and malformed
results: badindicators, nanprice, badfraction, zeroclose (buy, then close_fraction 0). Honours --probe-only
and --batch like a real worker, so it exercises the supervisor's contract handling.
"""

import json
import os
import sys
import time
from pathlib import Path


def result(behaviour: str, symbol: str, timeframe: str) -> dict:
    state_dir = Path(os.environ.get("FAKE_STATE_DIR", "/tmp"))
    if behaviour == "hang":
        time.sleep(1000)
    if behaviour in ("flip", "slowflip"):
        if behaviour == "slowflip":
            time.sleep(0.3)
        counter = state_dir / f"counter-{symbol.replace('/', '_')}-{timeframe}"
        n = int(counter.read_text()) if counter.exists() else 0
        counter.write_text(str(n + 1))
        signal = 1 if n % 2 == 0 else -1
        price = 100.0 + (n % 7) * 3.0 - (n % 3) * 2.0
    elif behaviour == "buy":
        signal, price = 1, 100.0
    elif behaviour == "badindicators":
        return {"signal": 1, "price": 100.0, "indicators": [1, 2]}
    elif behaviour == "nanprice":
        return {"signal": 1, "price": float("nan"), "indicators": {"atr": 1.0}}
    elif behaviour == "badfraction":
        return {"signal": -1, "price": 100.0, "close_fraction": "half"}
    elif behaviour == "zeroclose":
        counter = state_dir / f"zeroclose-{symbol.replace('/', '_')}"
        first = not counter.exists()
        counter.write_text("1")
        if first:
            return {"signal": 1, "price": 100.0}
        return {"signal": -1, "price": 100.0, "close_fraction": 0}
    else:
        signal, price = 0, 100.0
    return {
        "strategy": behaviour,
        "symbol": symbol,
        "timeframe": timeframe,
        "signal": signal,
        "price": price,
        "indicators": {"atr": 1.5},
        "timestamp": "2025-01-01T00:00:00Z",
    }


def single(argv: list[str]) -> int:
    pos = [a for a in argv if not a.startswith("--")]
    behaviour, symbol, timeframe = (pos + ["hold", "X/USDT", "1h"])[:3]
    if behaviour == "garbage":
        print("this is not json <<<")
        return 0
    if behaviour == "exit3":
        print("boom: simulated crash", file=sys.stderr)
        return 3
    if behaviour == "huge":
        sys.stdout.write("x" * (5 * 1024 * 1024))
        return 0
    print(json.dumps(result(behaviour, symbol, timeframe)))
    return 0


def main() -> int:
    argv = sys.argv[1:]
    if "--probe-only" in argv:
        return 0
    if "--batch" in argv:
        jobs = json.loads(sys.stdin.read())
        out = []
        for job in jobs:
            pos = [a for a in job["args"] if not a.startswith("--")]
            behaviour, symbol, timeframe = (pos + ["hold", "X/USDT", "1h"])[:3]
            if behaviour in ("garbage", "exit3", "huge", "hang"):
                return single(job["args"])  # misbehave for the whole batch
            out.append(result(behaviour, symbol, timeframe))
        print(json.dumps(out))
        return 0
    return single(argv)


if __name__ == "__main__":
    sys.exit(main())
