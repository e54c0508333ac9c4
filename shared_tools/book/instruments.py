"""One instrument table: what a venue accepts for a symbol (steps, minimums, margin, funding).

Pure Python, static rows per venue and symbol, with venue defaults for a symbol without a row.
The paper book reads the minimums, the margin rates and the funding interval; the live order
edge rounds with :meth:`Instrument.round_qty` / :meth:`Instrument.round_price` and asks
:meth:`Instrument.order_refusal` before it sends. Values are the venues' published ones
("venue docs") unless a comment says otherwise; where the market-data layer has the venue's
own metadata, :func:`from_ccxt_market` and :func:`from_hl_asset` build the row from it.

Quantities are in base units (coins), futures in contracts; ``min_notional`` is in the
strategy's quote currency (USD for every venue but Luno). Fees live in :mod:`venues`.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from shared_tools.book.model import usable
from shared_tools.book.venues import CONTRACT_SPECS, taker_fee

__all__ = [
    "KINDS",
    "QUOTES",
    "Instrument",
    "base_symbol",
    "from_ccxt_market",
    "from_hl_asset",
    "instrument",
]

KINDS = ("spot", "perps", "futures")
DUST_FLOOR = 1.0  # a venue without a published notional minimum: no order under $1 (dust)
HL_MIN_NOTIONAL = 10.0  # venue docs: Hyperliquid rejects orders under $10 of value
HL_SIG_FIGS = 5  # venue docs: a price has at most 5 significant figures (integers always ok)
HL_PERPS_DECIMALS, HL_SPOT_DECIMALS = 6, 8  # max price decimals = these - szDecimals
HL_DEFAULT_SZ = 3  # upstream's legacy szDecimals for a coin missing from `meta`
HL_DEFAULT_LEVERAGE = 20.0  # assumed cap for a coin without a row
HOUR = 3600


@dataclass(frozen=True)
class Instrument:
    """One tradable market. A step of 0 means "any amount" (no rounding)."""

    venue: str
    symbol: str
    kind: str = "spot"  # spot | perps | futures
    lot_size: float = 0.0  # quantity step
    tick_size: float = 0.0  # price step (HL: the finest step; see price_sig_figs)
    min_notional: float = DUST_FLOOR  # smallest order value the venue takes
    min_qty: float = 0.0  # smallest quantity (OKX minSz, Luno min_volume, one contract)
    multiplier: float = 1.0  # futures point value; 1.0 otherwise
    maint_margin_rate: float = 0.0  # perps: fraction of the notional at the mark
    max_leverage: float = 1.0
    funding_interval_s: int = 0  # perps: seconds between funding payments
    taker_fee: float = 0.0  # fraction of notional (from venues.taker_fee)
    fee_per_contract: float = 0.0  # futures (the strategy's config sets the paper fee)
    initial_margin: float = 0.0  # futures, per contract
    maint_margin: float = 0.0  # futures, per contract
    # Fraction of notional a liquidation pays on top of the close's fee. 0 on every row:
    # Hyperliquid (venue docs) has none, its liquidation is a market order paying the taker
    # fee; OKX's and Deribit's tiered penalties are not modelled; CME: the broker's close.
    liquidation_fee: float = 0.0
    price_sig_figs: int = 0  # HL: at most this many significant figures (0: tick only)

    @property
    def where(self) -> str:
        return f"{self.venue} {self.symbol}"

    def round_qty(self, qty: float) -> float:
        """``qty`` floored to the lot (0.123456789 with lot 0.001 -> 0.123); 0 when invalid."""
        if not usable(qty):
            return 0.0
        if self.lot_size <= 0:
            return float(qty)
        # 0.3 / 0.1 is 2.9999999999999996, and 4.75740992 / 1e-8 is 475740991.99999994: the
        # division's error grows with the lot count, so the margin is relative as well
        lots = math.floor(qty / self.lot_size * (1 + 1e-14) + 1e-9)
        return round(lots * self.lot_size, _decimals(self.lot_size))

    def round_price(self, price: float) -> float:
        """``price`` to the nearest tick, as a clean float (HL: also 5 significant figures)."""
        if not usable(price):
            return 0.0
        if self.price_sig_figs > 0:
            most = _decimals(self.tick_size) if self.tick_size > 0 else 12
            sig = self.price_sig_figs - 1 - math.floor(math.log10(price))
            return float(round(price, min(most, max(0, sig))))
        if self.tick_size <= 0:
            return float(price)
        return round(round(price / self.tick_size) * self.tick_size, _decimals(self.tick_size))

    def below_minimum(self, qty: float, price: float) -> str:
        """Why the venue refuses an order this small ("" when it is not too small)."""
        if self.min_qty > 0 and qty < self.min_qty * (1 - 1e-9):
            return f"{self.where}: quantity {qty:.6g} below the venue minimum {self.min_qty:g}"
        value = qty * price * self.multiplier
        if self.min_notional > 0 and value < self.min_notional * (1 - 1e-12):
            return (
                f"{self.where}: order ${value:,.2f} below the venue minimum "
                f"${self.min_notional:,.2f}"
            )
        return ""

    def order_refusal(self, qty: float, price: float) -> str:
        """One line saying why the venue would refuse this order ("" when it would accept).

        Pass the quantity and price the order carries (already rounded).
        """
        if not (usable(qty) and usable(price)):
            return f"{self.where}: no valid quantity ({qty!r}) or price ({price!r})"
        if self.lot_size > 0 and self.round_qty(qty) <= 0:
            return f"{self.where}: quantity {qty:.6g} below one lot ({self.lot_size:g})"
        return self.below_minimum(qty, price)


def _decimals(step: float) -> int:
    """Decimal places of a step: 0.001 -> 3, 0.25 -> 2, 5.0 -> 0."""
    if not usable(step):
        return 0
    exponent = Decimal(repr(float(step))).normalize().as_tuple().exponent
    return max(0, -int(exponent))


QUOTES = ("USDT", "USDC", "USD", "ZAR", "EUR", "BUSD", "FDUSD")


def base_symbol(symbol: str) -> str:
    """``BTC/USDT``, ``BTC-USDT-SWAP``, ``BTC/USDT:USDT``, ``XBT/ZAR``, ``mes`` -> the root."""
    root = str(symbol).strip().upper()
    for sep in ("/", "-", ":", "_"):
        root = root.split(sep)[0]
    for quote in QUOTES:
        if root.endswith(quote) and len(root) > len(quote):
            root = root[: -len(quote)]
            break
    return "BTC" if root == "XBT" else root


# ------------------------------------------------------------------ venue rows

# Binance US spot (venue docs, exchangeInfo LOT_SIZE / PRICE_FILTER); NOTIONAL minimum $10.
BINANCEUS_MIN = 10.0
BINANCEUS: dict[str, tuple[float, float]] = {
    "BTC": (0.00001, 0.01),
    "ETH": (0.0001, 0.01),
    "SOL": (0.001, 0.01),
}

# Hyperliquid perps (venue docs, `meta` universe): szDecimals, maxLeverage.
HL_ASSETS: dict[str, tuple[int, float]] = {"BTC": (5, 40.0), "ETH": (4, 25.0), "SOL": (2, 20.0)}

# OKX (venue docs, /public/instruments): spot lotSz, tickSz, minSz in base units. OKX publishes
# no notional minimum, so the dust floor applies on top of minSz.
OKX_SPOT: dict[str, tuple[float, float, float]] = {
    "BTC": (0.00000001, 0.1, 0.00001),
    "ETH": (0.000001, 0.01, 0.0001),
}
# OKX USDT swaps: (lot in base units = lotSz x ctVal, tickSz, tier-1 maintenance rate, max
# leverage). BTC-USDT-SWAP: ctVal 0.01 BTC, lotSz 0.01; ETH-USDT-SWAP: ctVal 0.1 ETH, lotSz 0.01.
OKX_SWAP: dict[str, tuple[float, float, float, float]] = {
    "BTC": (0.0001, 0.1, 0.004, 100.0),
    "ETH": (0.001, 0.01, 0.004, 100.0),
}
OKX_SWAP_DEFAULT = (0.0, 0.0, 0.01, 50.0)  # assumed for a swap without a row
OKX_FUNDING_S = 8 * HOUR  # venue docs: funding every 8 hours (00:00, 08:00, 16:00 UTC)

# Luno (venue docs, /api/exchange/1/markets): volume_scale, price_scale (ZAR), min_volume.
LUNO: dict[str, tuple[float, float, float]] = {"BTC": (0.000001, 1.0, 0.0005)}

# Deribit linear perps (venue docs): amount step, tick, $10 minimum; maintenance is assumed at
# its tier-1 0.5%; funding accrues continuously, modelled as settled every 8 hours.
DERIBIT_PERPS: dict[str, tuple[float, float]] = {"BTC": (0.0001, 0.5), "ETH": (0.001, 0.05)}

# CME contracts IBKR trades beyond TopStep's: Micro Bitcoin / Micro Ether (0.1 coin each).
IBKR_FUTURES: dict[str, tuple[float, float]] = {"MBT": (5.0, 0.1), "MET": (0.5, 0.1)}
CME_MAINT_SHARE = 1 / 1.1  # CME: initial margin is 110% of maintenance for speculators

GENERIC_PERPS_MAINT = 0.005  # assumed for a venue without a row (tier-1 on large venues)


def _hl(venue: str, symbol: str, sz: int, leverage: float, kind: str) -> Instrument:
    """A Hyperliquid row from szDecimals and max leverage (maintenance = 1 / (2 x max lev))."""
    perps = kind == "perps"
    decimals = max(0, (HL_PERPS_DECIMALS if perps else HL_SPOT_DECIMALS) - sz)
    return Instrument(
        venue=venue,
        symbol=symbol,
        kind="perps" if perps else "spot",
        lot_size=10.0**-sz,
        tick_size=10.0**-decimals,
        min_notional=HL_MIN_NOTIONAL,
        maint_margin_rate=1.0 / (2.0 * leverage) if perps else 0.0,
        max_leverage=leverage if perps else 1.0,
        funding_interval_s=HOUR if perps else 0,
        taker_fee=taker_fee("hyperliquid", kind),
        price_sig_figs=HL_SIG_FIGS,
    )


def _futures(venue: str, symbol: str, root: str) -> Instrument:
    spec = CONTRACT_SPECS.get(root)
    row = Instrument(venue, symbol, "futures", lot_size=1.0, min_notional=0.0, min_qty=1.0)
    if spec is not None:
        return replace(
            row,
            tick_size=spec.tick_size,
            multiplier=spec.multiplier,
            initial_margin=spec.margin,
            maint_margin=spec.margin * CME_MAINT_SHARE,
        )
    if root in IBKR_FUTURES:
        tick, mult = IBKR_FUTURES[root]
        return replace(row, tick_size=tick, multiplier=mult)
    return replace(row, tick_size=0.01)  # an unknown root: multiplier 1, margin = price


def _perps(venue: str, symbol: str, root: str) -> Instrument:
    fee = taker_fee(venue, "perps")
    if venue == "hyperliquid":
        sz, lev = HL_ASSETS.get(root, (HL_DEFAULT_SZ, HL_DEFAULT_LEVERAGE))
        return _hl(venue, symbol, sz, lev, "perps")
    if venue == "okx":
        lot, tick, maint, lev = OKX_SWAP.get(root, OKX_SWAP_DEFAULT)
        return Instrument(
            venue,
            symbol,
            "perps",
            lot_size=lot,
            tick_size=tick,
            min_qty=lot,  # minSz is one lot
            maint_margin_rate=maint,
            max_leverage=lev,
            funding_interval_s=OKX_FUNDING_S,
            taker_fee=fee,
        )
    if venue == "deribit":
        lot, tick = DERIBIT_PERPS.get(root, (0.0, 0.0))
        return Instrument(
            venue,
            symbol,
            "perps",
            lot_size=lot,
            tick_size=tick,
            min_notional=10.0,
            maint_margin_rate=0.005,
            max_leverage=50.0,
            funding_interval_s=8 * HOUR,
            taker_fee=fee,
        )
    # no row: this project's funding rates are hourly, so an unknown venue funds hourly
    return Instrument(
        venue,
        symbol,
        "perps",
        maint_margin_rate=GENERIC_PERPS_MAINT,
        max_leverage=100.0,
        funding_interval_s=HOUR,
        taker_fee=fee,
    )


def _spot(venue: str, symbol: str, root: str) -> Instrument:
    fee = taker_fee(venue, "spot")
    row = Instrument(venue, symbol, "spot", taker_fee=fee)
    if venue == "binanceus":
        lot, tick = BINANCEUS.get(root, (0.0, 0.0))
        return replace(row, lot_size=lot, tick_size=tick, min_notional=BINANCEUS_MIN)
    if venue == "hyperliquid":
        sz, _lev = HL_ASSETS.get(root, (HL_DEFAULT_SZ, 1.0))
        return _hl(venue, symbol, sz, 1.0, "spot")
    if venue == "okx":
        lot, tick, least = OKX_SPOT.get(root, (0.0, 0.0, 0.0))
        return replace(row, lot_size=lot, tick_size=tick, min_qty=least)
    if venue == "luno":
        lot, tick, least = LUNO.get(root, (0.000001, 0.01, 0.0))
        return replace(row, lot_size=lot, tick_size=tick, min_qty=least)
    if venue == "robinhood":  # venue docs: crypto from $1, 8-decimal quantities, cent prices
        return replace(row, lot_size=0.00000001, tick_size=0.01, min_notional=1.0)
    if venue == "ibkr":  # US shares: whole shares at the order edge, cent prices
        return replace(row, lot_size=1.0, tick_size=0.01)
    return row


@functools.lru_cache(maxsize=512)
def instrument(venue: str, symbol: str, kind: str) -> Instrument:
    """The static row of ``symbol`` on ``venue`` for ``kind`` (venue defaults without one).

    ``okx-swap`` is OKX's perps; ``options`` (and any unknown kind) is looked up as spot.
    """
    venue = str(venue or "").strip().lower()
    kind = kind if kind in KINDS else "spot"
    if venue == "okx-swap":
        venue, kind = "okx", "perps"
    root = base_symbol(symbol)
    if kind == "futures":
        return _futures(venue, symbol, root)
    if kind == "perps":
        return _perps(venue, symbol, root)
    return _spot(venue, symbol, root)


def from_hl_asset(meta_asset: dict[str, Any], kind: str = "perps") -> Instrument:
    """A Hyperliquid row from a ``meta`` universe entry (name, szDecimals, maxLeverage)."""
    name = str(meta_asset.get("name") or "")
    sz = int(meta_asset.get("szDecimals", HL_DEFAULT_SZ))
    leverage = float(meta_asset.get("maxLeverage") or HL_DEFAULT_LEVERAGE)
    return _hl("hyperliquid", name, sz, leverage, kind)


def from_ccxt_market(venue: str, market: dict[str, Any]) -> Instrument:
    """A row from a ccxt market (ccxt 4 reports precision as steps on every venue we use).

    Contract markets count amounts in contracts: swap steps become base units (x
    ``contractSize``); a future keeps contracts and takes ``contractSize`` as its multiplier.
    Margin, funding and fees come from the venue's static row.
    """
    kind = "perps" if market.get("swap") else "futures" if market.get("future") else "spot"
    symbol = str(market.get("symbol") or market.get("id") or "")
    row = instrument(venue, symbol, kind)
    size = float(market.get("contractSize") or 1.0) if market.get("contract") else 1.0
    per = 1.0 if kind == "futures" else size
    precision = market.get("precision") or {}
    limits = market.get("limits") or {}
    lot, tick = _num(precision.get("amount")), _num(precision.get("price"))
    least = _num((limits.get("amount") or {}).get("min"))
    cost = _num((limits.get("cost") or {}).get("min"))
    leverage = _num((limits.get("leverage") or {}).get("max"))
    return replace(
        row,
        lot_size=lot * per if lot else row.lot_size,
        tick_size=tick or row.tick_size,
        min_qty=least * per if least else row.min_qty,
        min_notional=cost or row.min_notional,
        multiplier=size if kind == "futures" else 1.0,
        max_leverage=leverage or row.max_leverage,
    )


def _num(x: object) -> float:
    return float(x) if usable(x) else 0.0
