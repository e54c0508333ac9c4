"""Marks of open options positions and the spots of their underlyings, once per cycle.

    mark_options.py --platform=deribit < {"positions": [...], "underlyings": ["BTC"]}

stdin: ``{"positions": [{"id", "underlying", "option_type", "strike", "expiry", "action",
"quantity"}], "underlyings": [...]}`` (underlyings: spots wanted even without a position, e.g.
the spot a wheel's assignment opened). stdout::

    {"platform", "timestamp", "spots": {"BTC": 97000.0},
     "marks": {"<id>": {"premium_usd", "premium", "iv", "greeks", "dte", "expires_at",
                        "expired", "settlement_price", "multiplier", "source", "instrument"}},
     "errors": {"<id>": "text", "spot:<UND>": "text"}}

Every mark is taken against the venue's real expiry instant (``expires_at``; ``dte`` in
fractional days). An expired position carries ``expired: true`` and the venue's settlement
price once known, ``null`` while unknown: the supervisor then waits and retries, it never
settles on a failed read (upstream settled at 0 when its spot read failed). One position that
cannot be marked costs only its own mark (``errors``); exit 1 with ``{"error"}`` only when
nothing at all could be read. The contract: docs/architecture.md, "Options chains".
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import platforms  # noqa: E402, F401  (registers the venues' feeds with the market door; light)
from shared_tools.worker import ContractParser, UsageError, run_worker  # noqa: E402

PLATFORMS = ("deribit", "ibkr", "okx", "robinhood")
_FIELDS = ("id", "underlying", "option_type", "strike", "expiry")


def build_parser() -> ContractParser:
    p = ContractParser(prog="mark_options.py", description="Marks of open options positions")
    p.add_argument("--platform", default="deribit", help="deribit | ibkr | okx | robinhood")
    p.reads_stdin = True  # type: ignore[attr-defined]
    return p


def validate(ns: Any) -> None:
    if ns.platform not in PLATFORMS:
        raise UsageError(f"--platform must be one of {', '.join(PLATFORMS)}, not {ns.platform!r}")


def prepare(ns: Any) -> None:
    """Import the platform's chain (no network) so --probe-only proves this tree serves it."""
    validate(ns)
    import importlib

    from platforms.options_chains import CHAINS

    importlib.import_module(CHAINS[ns.platform].split(":")[0])


def _positions(doc: Any) -> tuple[list[Any], list[str]]:
    if doc is None:
        return [], []
    if not isinstance(doc, dict):
        raise ValueError('stdin must be {"positions": [...], "underlyings": [...]}')
    positions = doc.get("positions") or []
    unds = doc.get("underlyings") or []
    if not isinstance(positions, list) or not isinstance(unds, list):
        raise ValueError("positions and underlyings must be JSON arrays")
    return positions, [str(u).strip().upper() for u in unds if str(u).strip()]


def _mark_one(chain: Any, pos: dict[str, Any]) -> dict[str, Any]:
    """One position's mark (raises with a one-line cause)."""
    missing = [f for f in _FIELDS if pos.get(f) in (None, "")]
    if missing:
        raise ValueError(f"missing {', '.join(missing)}")
    und = str(pos["underlying"]).upper()
    kind = str(pos["option_type"]).lower()
    strike = float(pos["strike"])
    expiry = str(pos["expiry"])
    expires_at = chain.expires_at(und, expiry)
    dte = (expires_at - chain.now()).total_seconds() / 86400.0
    mark: dict[str, Any] = {
        "dte": dte,
        "expires_at": expires_at.isoformat().replace("+00:00", "Z"),
        "expired": dte <= 0,
        "settlement_price": None,
        "multiplier": chain.multiplier(und),
    }
    if dte <= 0:
        from shared_tools import pricing

        settle = chain.settlement_price(und, expiry)
        value = None if settle is None else pricing.intrinsic(settle, strike, kind)
        mark.update(
            settlement_price=settle,
            premium_usd=value,
            premium=None if settle is None or value is None else value / settle,
            iv=None,
            greeks={"delta": 0.0, "gamma": 0.0, "theta": 0.0, "vega": 0.0},
            source="settlement",
            instrument="",
        )
        return mark
    q = chain.quote(und, kind, strike, expiry)
    mark.update(
        premium_usd=q.premium_usd,
        premium=q.premium,
        iv=q.iv,
        greeks=dict(q.greeks),
        dte=q.dte,
        source=q.source,
        instrument=q.instrument,
    )
    return mark


def handle(ns: Any, stdin_doc: Any) -> dict:
    """Spots and marks of what stdin names; per-position failures go to ``errors``."""
    from platforms.options_chains import chain_for
    from shared_tools.text import one_line

    positions, underlyings = _positions(stdin_doc)
    chain = chain_for(ns.platform)
    spots: dict[str, float] = {}
    marks: dict[str, Any] = {}
    errors: dict[str, str] = {}
    wanted = dict.fromkeys(underlyings)
    for pos in positions:
        if isinstance(pos, dict) and pos.get("underlying"):
            wanted[str(pos["underlying"]).strip().upper()] = None
    for und in wanted:
        try:
            spots[und] = chain.spot(und)
        except Exception as exc:  # noqa: BLE001 - one underlying's spot costs only itself
            errors[f"spot:{und}"] = one_line(str(exc), 300)
    for i, pos in enumerate(positions):
        pid = str(pos.get("id")) if isinstance(pos, dict) and pos.get("id") else f"#{i}"
        try:
            if not isinstance(pos, dict):
                raise ValueError("a position must be a JSON object")
            marks[pid] = _mark_one(chain, pos)
        except Exception as exc:  # noqa: BLE001 - one position's failure costs only its mark
            errors[pid] = one_line(
                f"{type(exc).__name__}: {exc}" if not str(exc) else str(exc), 300
            )
    if errors and not spots and not marks:
        return {
            "error": one_line(
                "nothing could be read: " + "; ".join(f"{k} ({v})" for k, v in errors.items()), 1000
            )
        }
    return {
        "platform": ns.platform,
        "timestamp": chain.now().isoformat().replace("+00:00", "Z"),
        "spots": spots,
        "marks": marks,
        "errors": errors,
    }


if __name__ == "__main__":
    sys.exit(run_worker(build_parser(), handle, validate=validate, prepare=prepare))
