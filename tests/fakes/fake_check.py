"""Test double for a check script, driven by its first positional: a behaviour name.

    fake_check.py <behaviour> <symbol> <timeframe> [--flags ...]

Behaviours: flip (alternating buy/sell from a counter file), buy, hold, hang, garbage, exit3,
huge, slowflip (flip after a short sleep, to widen the mid-cycle window), and malformed
results: badindicators, nanprice, badfraction, zeroclose (buy, then close_fraction 0). Honours --probe-only
and --batch like a real worker, so it exercises the supervisor's contract handling: a batch runs
through the real ``shared_tools.worker`` (streamed array, per-job ``GO_TRADER_JOB_TIMEOUT``), except
that a garbage, exit3 or huge job makes the whole batch misbehave that way. State files go to
``GO_TRADER_FAKE_STATE_DIR`` (an allowlisted name, so it reaches the worker).
"""

import io
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from shared_tools import worker  # noqa: E402
from shared_tools.worker import ContractParser, run_worker  # noqa: E402

# A misbehaving worker: print NaN as NaN (the real one writes null), so nanprice reaches the
# supervisor as a non-finite price in batches too.
worker.dumps = lambda doc: json.dumps(doc, separators=(", ", ": "))

WHOLE_BATCH_FAILURES = ("garbage", "exit3", "huge")


def result(behaviour: str, symbol: str, timeframe: str) -> dict:
    """The behaviour's answer, its price scaled from 100 to the simulated market's level.

    The supervisor refuses a check price more than 50% away from the cycle's mark, so a fake
    quoting 100 for BTC would be turned away; scaling keeps the fake's relative moves.
    """
    doc = _result(behaviour, symbol, timeframe)
    price = doc.get("price")
    if isinstance(price, float) and price == price and price not in (float("inf"), float("-inf")):
        doc["price"] = price / 100.0 * _market_price(symbol)
    return doc


def _market_price(symbol: str) -> float:
    from shared_tools.market import fetch_prices

    try:
        return fetch_prices([symbol], source="simulated").get(symbol, 100.0)
    except Exception:
        return 100.0


def _result(behaviour: str, symbol: str, timeframe: str) -> dict:
    state_dir = Path(os.environ.get("GO_TRADER_FAKE_STATE_DIR", "/tmp"))
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


class _LenientParser(ContractParser):
    """Accepts any flags the supervisor adds (--atr-method, --strategy-refs, --platform...)."""

    def parse_args(self, args=None, namespace=None):  # type: ignore[override]
        ns, _unknown = self.parse_known_args(args, namespace)
        return ns


def _batch(argv: list[str]) -> int:
    raw = sys.stdin.read()
    if "--probe-only" not in argv:
        for job in json.loads(raw):
            pos = [a for a in job["args"] if not a.startswith("--")]
            if pos and pos[0] in WHOLE_BATCH_FAILURES:
                return single(job["args"])  # misbehave for the whole batch
    sys.stdin = io.StringIO(raw)
    parser = _LenientParser(prog="fake_check.py")
    for name in ("behaviour", "symbol", "timeframe"):
        parser.add_argument(name, nargs="?")

    def handle(ns, _stdin) -> dict:
        return result(ns.behaviour or "hold", ns.symbol or "X/USDT", ns.timeframe or "1h")

    return run_worker(parser, handle, argv=argv)


def main() -> int:
    argv = sys.argv[1:]
    if "--batch" in argv:
        return _batch(argv)
    if "--probe-only" in argv:
        return 0
    return single(argv)


if __name__ == "__main__":
    sys.exit(main())
