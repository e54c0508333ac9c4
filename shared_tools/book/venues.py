"""Fee and contract tables: plain data, read by the paper book, the backtester and the workers.

One table per question, so a fee changes in one place. Fees are fractions of notional (taker,
what a market order pays); futures pay per contract. Values follow upstream go-trader
(``scheduler/fees.go``, ``platforms/topstep/adapter.py``) unless a comment says otherwise.
Lots, ticks, minimums, margin rates and funding intervals are in :mod:`instruments`, which
builds its CME rows from ``CONTRACT_SPECS`` here and takes its fees from :func:`taker_fee`.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "CONTRACT_SPECS",
    "DEFAULT_SPOT_FEE",
    "PERPS_FEES",
    "SPOT_FEES",
    "ContractSpec",
    "contract_spec",
    "mark_venue",
    "taker_fee",
]

# Taker fee by platform for spot (fraction of notional). Unknown platforms pay Binance US's.
SPOT_FEES: dict[str, float] = {
    "binanceus": 0.001,
    "binance": 0.001,
    "okx": 0.001,
    "luno": 0.01,
    "robinhood": 0.0,  # commission-free; the spread is the cost (not modelled)
    "hyperliquid": 0.00045,
}
DEFAULT_SPOT_FEE = 0.001

# Taker fee by platform for perpetual swaps.
PERPS_FEES: dict[str, float] = {
    "hyperliquid": 0.00045,
    "okx": 0.0005,
}
DEFAULT_PERPS_FEE = 0.0005


def mark_venue(platform: str, kind: str) -> str:
    """The price source of a strategy's marks: OKX perps are marked on the swap, not the spot."""
    return "okx-swap" if platform == "okx" and kind == "perps" else platform


def taker_fee(platform: str, kind: str) -> float:
    """The modelled taker fee rate of ``platform`` for ``kind`` (spot or perps)."""
    if kind == "perps":
        return PERPS_FEES.get(platform, DEFAULT_PERPS_FEE)
    return SPOT_FEES.get(platform, DEFAULT_SPOT_FEE)


@dataclass(frozen=True)
class ContractSpec:
    """A CME futures contract: price increment, its dollar value, the point value, the margin."""

    tick_size: float
    tick_value: float
    multiplier: float  # dollars per 1.0 of price
    margin: float  # initial margin per contract, dollars

    def as_json(self) -> dict[str, float]:
        return {
            "tick_size": self.tick_size,
            "tick_value": self.tick_value,
            "multiplier": self.multiplier,
            "margin": self.margin,
        }


# Upstream's CONTRACT_SPECS (TopStep). tick_value == tick_size * multiplier for each.
CONTRACT_SPECS: dict[str, ContractSpec] = {
    "ES": ContractSpec(0.25, 12.50, 50.0, 15400.0),
    "NQ": ContractSpec(0.25, 5.00, 20.0, 21000.0),
    "MES": ContractSpec(0.25, 1.25, 5.0, 1540.0),
    "MNQ": ContractSpec(0.25, 0.50, 2.0, 2100.0),
    "CL": ContractSpec(0.01, 10.00, 1000.0, 7500.0),
    "GC": ContractSpec(0.10, 10.00, 100.0, 11000.0),
}


def contract_spec(symbol: str) -> ContractSpec:
    """The spec of a CME root (``ES``, ``mes``); KeyError names the known roots."""
    root = str(symbol).strip().upper()
    spec = CONTRACT_SPECS.get(root)
    if spec is None:
        known = ", ".join(CONTRACT_SPECS)
        raise KeyError(f"no contract spec for {symbol!r} (known: {known})")
    return spec
