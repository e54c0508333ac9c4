"""The exposure caps (upstream §2.5, #1270): blocking, not latched, judged on every cycle.

Exposure is the signed net USD per base asset across every strategy (long +, short -; spot is
long), valued at this cycle's marks. Two caps read it, each 0 (or absent) = off:

- ``max_same_direction_notional_usd``: the long bucket is the sum of the positive nets, the
  short bucket the sum of the |negative| ones; above the cap, opens in that direction are held.
- ``max_asset_concentration_pct``: an asset whose |net| is above that share of the book's
  value holds opens in its net direction, for that asset only.

A cap only ever holds an open that adds to the exposure it measures: closes always run, the
other direction may open, and other assets are not touched by a concentration cap.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from shared_tools.book.options_life import leg_exposure
from shared_tools.config.risk import RiskSettings
from supervisor.risk.portfolio import RiskEvent, base_asset
from supervisor.state.models import AppState, StrategyState

KEY = "exposure_caps"  # AppState.extra: the caps holding at the last cycle (alert on entry)


@dataclass(frozen=True)
class Exposure:
    """The book's net exposure per base asset and its value, at one cycle's marks."""

    nets: dict[str, float] = field(default_factory=dict)  # asset -> signed net USD
    book_value: float = 0.0

    @property
    def long_usd(self) -> float:
        return sum(v for v in self.nets.values() if v > 0)

    @property
    def short_usd(self) -> float:
        return sum(-v for v in self.nets.values() if v < 0)

    def bucket(self, side: str) -> float:
        return self.long_usd if side == "long" else self.short_usd


def measure(
    strategies: Iterable[StrategyState],
    marks: dict[str, dict[str, float] | None],
    fallback: dict[str, dict[str, float]],
    book_value: float,
) -> Exposure:
    """Net exposure per asset: each position at its strategy's fresh mark, else the latest
    mark of its venue (``fallback``), else its average cost (a cap never goes blind)."""
    nets: dict[str, float] = {}
    for st in strategies:
        fresh, latest = marks.get(st.id) or {}, fallback.get(st.venue, {})
        for pos in st.positions.values():
            mark = fresh.get(pos.symbol) or latest.get(pos.symbol) or pos.avg_cost
            asset = base_asset(pos.symbol)
            nets[asset] = nets.get(asset, 0.0) + pos.sign * pos.notional(mark)
        for leg in st.legs.values():  # options: sign x delta x qty x multiplier x spot
            spot = fresh.get(leg.underlying) or latest.get(leg.underlying) or leg.strike
            nets[leg.underlying] = nets.get(leg.underlying, 0.0) + leg_exposure(leg, spot)
    return Exposure(nets, book_value)


def same_direction(exp: Exposure, settings: RiskSettings, side: str) -> str:
    """Why an open of ``side`` is held by ``max_same_direction_notional_usd`` ("" when not)."""
    cap = settings.max_same_direction_notional_usd
    bucket = exp.bucket(side)
    if cap <= 0 or bucket <= cap:
        return ""
    return f"{side} exposure ${bucket:,.0f} > ${cap:,.0f}"


def concentration(exp: Exposure, settings: RiskSettings, asset: str, side: str) -> str:
    """Why an open of ``side`` on ``asset`` is held by ``max_asset_concentration_pct``."""
    pct = settings.max_asset_concentration_pct
    net = exp.nets.get(asset, 0.0)
    if pct <= 0 or exp.book_value <= 0 or net == 0 or (net > 0) != (side == "long"):
        return ""  # off, no book, flat asset, or an open against the net (it reduces it)
    share = abs(net) / exp.book_value * 100.0
    if share <= pct:
        return ""
    return (
        f"{asset} net {side} ${abs(net):,.0f} is {share:.1f}% of the book's "
        f"${exp.book_value:,.0f} > {pct:g}%"
    )


def capped(exp: Exposure, settings: RiskSettings) -> dict[str, str]:
    """Every cap holding now: ``long``/``short`` buckets and ``<ASSET> <side>`` -> why."""
    out: dict[str, str] = {}
    for side in ("long", "short"):
        why = same_direction(exp, settings, side)
        if why:
            out[side] = f"max_same_direction_notional_usd: {why}"
    for asset, net in sorted(exp.nets.items()):
        side = "long" if net > 0 else "short"
        why = concentration(exp, settings, asset, side)
        if why:
            out[f"{asset} {side}"] = f"max_asset_concentration_pct: {why}"
    return out


def alerts(app: AppState, exp: Exposure, settings: RiskSettings) -> list[RiskEvent]:
    """One alert when a cap starts holding (not every cycle it holds, as the notional cap)."""
    now = capped(exp, settings)
    before: Any = app.extra.get(KEY, [])
    app.extra[KEY] = sorted(now)
    fresh = [why for key, why in sorted(now.items()) if key not in before]
    if not fresh:
        return []
    text = "EXPOSURE CAP: " + "; ".join(fresh) + "; opens that add to it are held"
    return [RiskEvent("exposure_cap", text, critical=True)]
