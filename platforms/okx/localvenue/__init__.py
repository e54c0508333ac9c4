"""A local OKX venue: the v5 REST subset ccxt's ``okx`` driver speaks, on 127.0.0.1.

``python -m platforms.okx.localvenue --port 0`` serves it; tests start it in-process with
:class:`LocalOkxServer`. Prices follow the simulated market, every private request's signature
is checked against the account's key/secret/passphrase, and fault switches (:mod:`.faults`)
inject 429s, 5xx, held requests, dropped connections, partial fills, late fill reports and
refusals. Importing starts nothing.
"""

from platforms.okx.localvenue.exchange import LocalOkx
from platforms.okx.localvenue.faults import Faults
from platforms.okx.localvenue.server import LocalOkxServer, sign

__all__ = ["Faults", "LocalOkx", "LocalOkxServer", "sign"]
