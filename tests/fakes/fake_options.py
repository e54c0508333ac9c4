"""Test double for check_options.py and mark_options.py (the options contract's JSON).

    fake_options.py <strategy> <UND> --platform=p      (check: positions on stdin)
    fake_options.py --platform=p                       (marks: {"positions", "underlyings"})

The check prints ``$GO_TRADER_FAKE_STATE_DIR/options-<strategy>.json`` (a hold when missing)
and records the positions it got in ``options-<strategy>-stdin.json``. The marks come from
``option-marks.json``: ``{"spots": {...}, "legs": {"<UND>-<type>-<strike %.0f>-<expiry>":
{mark fields}}}``; a leg missing there is reported in ``errors``.
"""

import json
import os
import sys
from pathlib import Path

STATE = Path(os.environ.get("GO_TRADER_FAKE_STATE_DIR") or os.environ.get("FAKE_STATE_DIR", "/tmp"))


def check(args: list[str], stdin: object) -> dict:
    pos = [a for a in args if not a.startswith("--")]
    name, und = (pos + ["x", "BTC"])[:2]
    (STATE / f"options-{name}-stdin.json").write_text(json.dumps(stdin))
    path = STATE / f"options-{name}.json"
    if path.exists():
        return json.loads(path.read_text())
    return {"strategy": name, "underlying": und, "signal": 0, "spot_price": 100.0, "actions": []}


def marks(args: list[str], stdin: object) -> dict:
    doc = stdin if isinstance(stdin, dict) else {}
    path = STATE / "option-marks.json"
    table = json.loads(path.read_text()) if path.exists() else {}
    out: dict = {"platform": args[0].split("=", 1)[1], "timestamp": "", "marks": {}, "errors": {}}
    out["spots"] = {
        u: table.get("spots", {})[u]
        for u in doc.get("underlyings", [])
        if u in table.get("spots", {})
    }
    for p in doc.get("positions", []):
        key = f"{p['underlying']}-{p['option_type']}-{p['strike']:.0f}-{p['expiry']}"
        mark = table.get("legs", {}).get(key)
        if mark is None:
            out["errors"][p["id"]] = f"no mark for {key}"
        else:
            out["marks"][p["id"]] = mark
    return out


def one(args: list[str], stdin: object) -> dict:
    plain = [a for a in args if not a.startswith("--")]
    return check(args, stdin) if plain else marks(args, stdin)


def main() -> int:
    argv = sys.argv[1:]
    if "--probe-only" in argv:
        if "--batch" in argv:
            print(json.dumps([{"ok": True} for _ in json.loads(sys.stdin.read())]))
        return 0
    if "--batch" in argv:
        jobs = json.loads(sys.stdin.read())
        print(json.dumps([one(j["args"], j.get("stdin")) for j in jobs]))
        return 0
    text = sys.stdin.read().strip()
    print(json.dumps(one(argv, json.loads(text) if text else None)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
