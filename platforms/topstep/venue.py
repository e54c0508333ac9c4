"""TopStep as a :class:`~platforms.base.Venue`: CME futures, traded in Globex hours.

Contracts are the book's (:data:`~shared_tools.book.venues.CONTRACT_SPECS`: tick, point value,
margin); fees are per contract and set by the strategy's config; there is no funding.
"""

from __future__ import annotations

from datetime import datetime

from platforms.base import DoorVenue
from platforms.cme import cme_globex_open
from shared_tools.book.venues import CONTRACT_SPECS, ContractSpec, contract_spec

ROOTS = tuple(CONTRACT_SPECS)  # the roots TopStep trades


class TopStepVenue(DoorVenue):
    name = "topstep"
    kinds = ("futures",)
    no_funding = "no perpetual funding on this venue (CME futures)"

    @staticmethod
    def is_open(now: datetime) -> bool:
        """CME Globex session hours (:func:`platforms.cme.cme_globex_open`)."""
        return cme_globex_open(now)

    @staticmethod
    def contract(root: str) -> ContractSpec:
        return contract_spec(root)


VENUE = TopStepVenue()
