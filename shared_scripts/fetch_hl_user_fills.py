"""Every Hyperliquid fill of the account since ``--since-ms``, grouped by order (fee backfills).

    fetch_hl_user_fills.py --since-ms=N [--end-ms=N] --mode=live

Pages ``userFillsByTime`` forward from the last fill's time (at most 200 pages). The cursor
millisecond is asked again, so fills already seen there are dropped by ``tid`` (else by
oid+sz+px). Prints ``{"fills": [...], "by_oid": {oid: {coin, fee, closed_pnl, count, qty, px
(VWAP), first_time_ms, last_time_ms}}, "count": N}``; no fills adds a ``warning``. Needs only
``HYPERLIQUID_ACCOUNT_ADDRESS``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from shared_tools.worker import ContractParser, run_worker  # noqa: E402

PAGE_CAP = 200
NO_FILLS = "HL returned 0 fills — nothing to match against (verify HYPERLIQUID_ACCOUNT_ADDRESS)"


def build_parser() -> ContractParser:
    p = ContractParser(prog="fetch_hl_user_fills.py", description=__doc__.splitlines()[0])
    p.add_argument("--since-ms", type=int, required=True)
    p.add_argument("--end-ms", type=int)
    p.add_argument("--mode", default="paper")
    return p


def _key(f: dict) -> tuple:
    if f.get("tid") is not None:
        return ("tid", f["tid"])
    return ("leg", f.get("oid"), str(f.get("sz")), str(f.get("px")))


def page_fills(fetch, since_ms: int, end_ms: int | None) -> list[dict]:
    """All fills in [since_ms, end_ms], paging forward; ``fetch(start, end)`` is one request."""
    out: list[dict] = []
    seen: set[tuple] = set()
    cursor = int(since_ms)
    for _ in range(PAGE_CAP):
        page = fetch(cursor, end_ms)
        if not isinstance(page, list):
            raise RuntimeError("unexpected answer to userFillsByTime")
        new = [f for f in page if _key(f) not in seen]
        if not new:
            break
        for f in new:
            seen.add(_key(f))
        out.extend(new)
        last = max(int(f.get("time") or 0) for f in page)
        if last < cursor or (end_ms is not None and last >= end_ms):
            break
        cursor = last  # inclusive: the same millisecond may hold more legs
    return sorted(out, key=lambda f: (int(f.get("time") or 0), f.get("tid") or 0))


def handle(ns: argparse.Namespace, _stdin: object = None) -> dict:
    if ns.mode != "live":
        return {"error": "fetch_hl_user_fills.py requires --mode=live"}
    from platforms.hyperliquid.execution import HyperliquidExecution, summarize_fills

    hl = HyperliquidExecution(trading=False)
    fills = page_fills(hl.fills_since, ns.since_ms, ns.end_ms)
    groups: dict[str, list[dict]] = {}
    for f in fills:
        groups.setdefault(str(f.get("oid")), []).append(f)
    doc: dict = {
        "fills": fills,
        "by_oid": {oid: summarize_fills(rows) for oid, rows in groups.items()},
        "count": len(fills),
    }
    if not fills:
        doc["warning"] = NO_FILLS
    return doc


def main(argv: list[str] | None = None) -> int:
    return run_worker(build_parser(), handle, argv=argv)


if __name__ == "__main__":
    sys.exit(main())
