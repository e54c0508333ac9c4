"""TopStep live execution over the TopstepX (ProjectX gateway) REST API with ``requests``.

- :mod:`.credentials`: ``TOPSTEP_API_KEY`` / ``TOPSTEP_API_SECRET`` / ``TOPSTEP_ACCOUNT_ID`` and
  ``TOPSTEP_BASE_URL`` (errors name the variable, never its value);
- :mod:`.gateway`: token login and one POST, with transport failures told apart from refusals;
- :mod:`.adapter`: :class:`TopStepExecution`: whole-contract market orders by custom tag under
  the "never twice" rule, fills read after placement, positions, balance, trades, closes.
"""

from platforms.topstep.execution.adapter import (
    Fill,
    Placed,
    TopStepExecution,
    position_row,
    status_of,
    whole_contracts,
)
from platforms.topstep.execution.credentials import CredentialError
from platforms.topstep.execution.gateway import GatewayError, TransportError

__all__ = [
    "CredentialError",
    "Fill",
    "GatewayError",
    "Placed",
    "TopStepExecution",
    "TransportError",
    "position_row",
    "status_of",
    "whole_contracts",
]
