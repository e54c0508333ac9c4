"""TopStep's contract naming on the ProjectX gateway: roots, symbol ids, contract ids.

A contract id reads ``CON.F.US.<symbolId>.<month><yy>`` (``CON.F.US.EP.Z25`` is ES December
2025) and its name ``<ROOT><month><y>`` (``ESZ5``). The book trades roots (ES, MES, ...), so the
scripts map both ways here; the local venue lists its contracts with the same names.
Standard library only.
"""

from __future__ import annotations

import re

__all__ = ["MONTH_CODES", "SYMBOL_IDS", "name_matches", "root_of_contract_id"]

# the gateway's symbol id per root (CME's product code, not always the root)
SYMBOL_IDS: dict[str, str] = {
    "ES": "EP",
    "NQ": "ENQ",
    "MES": "MES",
    "MNQ": "MNQ",
    "CL": "CLE",
    "GC": "GCE",
}
MONTH_CODES = "FGHJKMNQUVXZ"
_BY_SYMBOL_ID = {v: k for k, v in SYMBOL_IDS.items()}


def name_matches(root: str, name: str) -> bool:
    """Whether contract ``name`` (``ESZ5``, ``ESZ25``) is a month of ``root`` (not ``ESTX...``)."""
    pattern = rf"^{re.escape(root.upper())}[{MONTH_CODES}]\d{{1,2}}$"
    return re.match(pattern, str(name).strip().upper()) is not None


def root_of_contract_id(contract_id: str) -> str:
    """``CON.F.US.EP.Z25`` -> ``ES``; an unknown symbol id comes back as it is."""
    parts = str(contract_id).split(".")
    symbol_id = parts[3] if len(parts) >= 5 else str(contract_id)
    return _BY_SYMBOL_ID.get(symbol_id, symbol_id)
