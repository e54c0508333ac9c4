"""Stand-in venue workers for OKX, TopStep and Robinhood (tests only): the live-venue
script contract over a fake account kept in a JSON file, so the supervisor's live desk is
tested without the real adapters.

    <dir>/check_okx.py --execute ... (a two-line wrapper calling main("okx", "check"))

The account is ``$GO_TRADER_FAKE_STATE_DIR/venue-<venue>.json``: positions by coin (signed;
OKX spot apart), every order by client order id, and fault counters a test sets in
``venue-<venue>-faults.json``: ``drop`` (the order is placed, the answer is lost),
``reject`` (refused before placement), ``positions_fail`` (a positions read fails),
``nofill`` (an order reports no fill on its first reads), ``partial`` (the next order fills
half), ``balance_fail`` (an OKX coin balances read fails). Prices follow the simulated market at ``GO_TRADER_NOW``.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from shared_tools.market import sim_model

FEE_RATE = 0.001
TOPSTEP_FEE = 2.0
SEED = int(os.environ.get("GO_TRADER_SIM_SEED") or 42)


def _dir() -> Path:
    return Path(os.environ.get("GO_TRADER_FAKE_STATE_DIR", "/tmp"))


@contextlib.contextmanager
def account(venue: str) -> Iterator[dict[str, Any]]:
    path = _dir() / f"venue-{venue}.json"
    with open(_dir() / f"venue-{venue}.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        doc = json.loads(path.read_text()) if path.exists() else {}
        doc.setdefault("positions", {})
        doc.setdefault("spot", {})
        doc.setdefault("orders", {})
        doc.setdefault("sends", [])
        yield doc
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(doc, indent=1, sort_keys=True))
        os.replace(tmp, path)


def fault(venue: str, name: str) -> bool:
    """Consume one ``name`` fault (True when it fires)."""
    path = _dir() / f"venue-{venue}-faults.json"
    with open(_dir() / f"venue-{venue}.flock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        faults = json.loads(path.read_text()) if path.exists() else {}
        n = int(faults.get(name) or 0)
        if n <= 0:
            return False
        faults[name] = n - 1
        path.write_text(json.dumps(faults))
        return True


def price(coin: str) -> float:
    return round(sim_model.price(coin, float(os.environ.get("GO_TRADER_NOW") or 0), SEED), 4)


def out(doc: dict[str, Any], code: int = 0) -> int:
    doc.setdefault("timestamp", "2026-01-01T00:00:00Z")
    print(json.dumps(doc))
    return code


def _fill(venue: str, o: dict[str, Any]) -> dict[str, Any]:
    unit = {"okx": "total_sz", "topstep": "total_contracts", "robinhood": "quantity"}[venue]
    return {"avg_px": o["px"], unit: o["qty"], "fee": o["fee"], "oid": o["oid"], "qty": o["qty"]}


def place(
    venue: str, doc: dict[str, Any], coin: str, side: str, qty: float, cloid: str, spot: bool
) -> dict[str, Any]:
    """A market order filled at the simulated price (half of it under ``partial``)."""
    if fault(venue, "partial"):
        qty = qty / 2
    px = price(coin)
    fee = TOPSTEP_FEE * qty if venue == "topstep" else round(px * qty * FEE_RATE, 6)
    if venue == "robinhood" and side == "buy":
        fee = 0.0  # no commission on a buy (the spread is the cost)
    book = doc["spot"] if spot else doc["positions"]
    book[coin] = round(book.get(coin, 0.0) + (qty if side == "buy" else -qty), 12)
    if abs(book[coin]) < 1e-12:
        del book[coin]
    o = {
        "oid": f"{venue}-{len(doc['orders']) + 1}",
        "cloid": cloid,
        "coin": coin,
        "side": side,
        "qty": qty,
        "px": px,
        "fee": fee,
        "reads": 0,
        "spot": spot,
    }
    doc["orders"][cloid] = o
    doc["sends"].append(cloid)
    return o


def answer_order(venue: str, o: dict[str, Any], status_mode: bool) -> dict[str, Any]:
    nofill = o.get("nofill", 0) > o["reads"]
    o["reads"] += 1
    if status_mode:
        return {
            "status": "open" if nofill else "filled",
            "client_order_id": o["cloid"],
            "oid": o["oid"],
            "fill": None if nofill else _fill(venue, o),
            "platform": venue,
        }
    return {
        "execution": {
            "action": o["side"],
            "symbol": o["coin"],
            "client_order_id": o["cloid"],
            "status": "filled",
            "fill": _fill(venue, o),
        },
        "platform": venue,
    }


def check(venue: str, argv: list[str]) -> int:
    p = argparse.ArgumentParser()
    for flag in (
        "--symbol",
        "--side",
        "--size",
        "--contracts",
        "--amount_usd",
        "--quantity",
        "--client-order-id",
        "--mode",
        "--inst-type",
    ):
        p.add_argument(flag)
    p.add_argument("--execute", action="store_true")
    p.add_argument("--order-status", action="store_true")
    ns = p.parse_args(argv)
    coin, cloid = str(ns.symbol).upper(), str(ns.client_order_id)
    if ns.mode != "live" or not cloid.startswith("gt") or len(cloid) != 26:
        return out({"execution": None, "error": f"bad argv {argv}"}, 1)
    with account(venue) as doc:
        known = doc["orders"].get(cloid)
        if ns.order_status:
            if known is None:
                return out(
                    {
                        "status": "unknown",
                        "client_order_id": cloid,
                        "oid": "",
                        "fill": None,
                        "platform": venue,
                    }
                )
            return out(answer_order(venue, known, True))
        if known is not None:  # the venue refuses a second order with the same id
            doc.setdefault("duplicates", []).append(cloid)
            return out({"execution": None, "error": "duplicate client order id"}, 1)
        if fault(venue, "reject"):
            return out({"execution": None, "error": "venue rejected the order"}, 1)
        spot = venue == "robinhood" or ns.inst_type == "spot"
        if ns.amount_usd is not None:
            qty = round(float(ns.amount_usd) / price(coin), 8)
            if fault(venue, "overfill"):
                qty = round(qty * 1.02, 8)
        elif ns.contracts is not None:
            qty = float(int(ns.contracts))
        else:
            qty = float(ns.size if ns.size is not None else ns.quantity)
        held = doc["spot"].get(coin, 0.0)
        if spot and ns.side == "sell" and qty > held + 1e-9:
            return out({"execution": None, "error": f"insufficient {coin}: {held} held"}, 1)
        o = place(venue, doc, coin, ns.side, qty, cloid, spot)
        if fault(venue, "nofill"):
            o["nofill"] = 1
        if fault(venue, "drop"):
            print("connection dropped after the order was accepted", file=sys.stderr)
            return 1
        if o.get("nofill"):
            return out({"execution": None, "error": "answer lost: no fill reported yet"}, 1)
        return out(answer_order(venue, o, False))


def close(venue: str, argv: list[str]) -> int:
    p = argparse.ArgumentParser()
    for flag in ("--symbol", "--mode", "--sz", "--client-order-id"):
        p.add_argument(flag)
    ns = p.parse_args(argv)
    coin, cloid = str(ns.symbol).upper(), str(ns.client_order_id)
    with account(venue) as doc:
        if cloid in doc["orders"]:
            doc.setdefault("duplicates", []).append(cloid)
            return out({"close": {"symbol": coin, "fill": {}}, "error": "duplicate id"}, 1)
        spot = venue == "robinhood"
        held = (doc["spot"] if spot else doc["positions"]).get(coin, 0.0)
        if not held:
            return out(
                {"close": {"symbol": coin, "fill": {}, "already_flat": True}, "platform": venue}
            )
        qty = abs(held) if ns.sz is None else min(abs(held), float(ns.sz))
        o = place(venue, doc, coin, "sell" if held > 0 else "buy", qty, cloid, spot)
        if fault(venue, "drop"):
            return 1
        return out({"close": {"symbol": coin, "fill": _fill(venue, o)}, "platform": venue})


def positions(venue: str) -> int:
    if not fault(venue, "positions_pass") and fault(venue, "positions_fail"):
        return out({"error": "positions read failed (HTTP 502)"}, 1)
    with account(venue) as doc:
        held = doc["spot"] if venue == "robinhood" else doc["positions"]
        rows = [
            {
                "coin": c,
                "size": abs(s) if venue == "robinhood" else s,
                "side": "long" if s > 0 else "short",
            }
            for c, s in sorted(held.items())
        ]
    return out({"positions": rows, "platform": venue})


def balance(venue: str) -> int:
    """``fetch_okx_balance.py``: the coins held on spot (the OKX spot check's read)."""
    if fault(venue, "balance_fail"):
        return out({"error": "balance read failed (HTTP 502)"}, 1)
    with account(venue) as doc:
        coins = {c: q for c, q in sorted(doc["spot"].items()) if q}
    return out({"balance": 100_000.0, "coins": coins, "platform": venue})


def main(venue: str, role: str) -> int:
    argv = sys.argv[1:]
    if "--probe-only" in argv:
        return 0
    if role == "check":
        return check(venue, argv)
    if role == "close":
        return close(venue, argv)
    if role == "balance":
        return balance(venue)
    if role == "bills":
        return out({"bills": [], "capped": False, "platform": venue})  # no funding here
    return positions(venue)
