"""The argv of ``shared_scripts/check_options.py``, parsed as upstream parses it (stdlib only).

Upstream's check_options.py parses its argv by hand, tolerantly (upstream-options reference
§1.2): ``--platform=X`` (a bare ``--platform`` is ignored), ``--regime-payload-json=RAW`` (bare:
injected but empty), unknown ``--flags`` ignored, every other token positional (strategy,
underlying upper-cased, a legacy positions JSON). The worker and the supervisor (which reads a
strategy's config ``args`` to learn its strategy, underlying and venue) parse with this one
function, so both agree.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

__all__ = ["OPTIONS_PLATFORMS", "RANK_SOURCES", "OptionsArgs", "parse_options_argv"]

OPTIONS_PLATFORMS = ("deribit", "ibkr", "okx", "robinhood")
RANK_SOURCES = ("realized", "implied")


@dataclass
class OptionsArgs:
    strategy: str = ""
    underlying: str = ""
    platform: str = "deribit"  # upstream's default
    regime_payload_json: str | None = None  # None: not injected (the check fetches 4h itself)
    iv_rank_source: str = "realized"
    positions_json: str | None = None  # the legacy third positional
    probe_only: bool = False
    batch: bool = False
    positionals: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)  # unknown flags (upstream ignores them)


def parse_options_argv(tokens: Sequence[str]) -> OptionsArgs:
    """Never raises: what makes no sense is for the caller to judge (missing positionals,
    an unknown platform or rank source)."""
    out = OptionsArgs()
    for raw in tokens:
        token = str(raw)
        if token == "--probe-only":
            out.probe_only = True
        elif token == "--batch":
            out.batch = True
        elif token.startswith("--platform="):
            out.platform = token.split("=", 1)[1].strip().lower()
        elif token == "--regime-payload-json":
            out.regime_payload_json = ""
        elif token.startswith("--regime-payload-json="):
            out.regime_payload_json = token.split("=", 1)[1]
        elif token.startswith("--iv-rank-source="):
            out.iv_rank_source = token.split("=", 1)[1].strip().lower()
        elif token.startswith("--"):
            if token != "--platform":  # upstream ignores a bare --platform silently
                out.ignored.append(token)
        else:
            out.positionals.append(token)
    pos = out.positionals
    out.strategy = pos[0] if pos else ""
    out.underlying = pos[1].upper() if len(pos) > 1 else ""
    out.positions_json = pos[2] if len(pos) > 2 else None
    return out
