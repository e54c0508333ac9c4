"""The tuner's defaults for one open strategy, from the strategy registry, as JSON.

    strategy_tuner_schema.py --strategy NAME [--type spot|perps|futures|manual] [--probe-only]

Prints ``{strategy, registry, description, default_params, ranges}`` (upstream's shape, plus the
registry's tuning ranges). A worker because the registry imports pandas, which the supervisor
never does; the dashboard runs it once per (type, strategy) and keeps the answer.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from shared_tools.worker import ContractParser, run_worker  # noqa: E402

PLATFORM_OF_TYPE = {"spot": "spot", "perps": "perps", "manual": "perps", "futures": "futures"}


def build_parser() -> ContractParser:
    p = ContractParser(prog="strategy_tuner_schema.py", description="an open strategy's defaults")
    p.add_argument("--type", default="spot", help="strategy type (spot, perps, futures, manual)")
    p.add_argument("--strategy", required=True, help="the open strategy's registered name")
    return p


def handle(ns, _stdin) -> dict:
    from shared_strategies.open import registry

    platform = PLATFORM_OF_TYPE.get(ns.type, ns.type)
    spec = registry.get(ns.strategy, platform)
    return {
        "strategy": spec.name,
        "registry": platform,
        "description": spec.description,
        "default_params": dict(spec.default_params),
        "ranges": {k: list(v) for k, v in spec.ranges.items()},
    }


def prepare(_ns) -> None:
    """Import the registry so --probe-only proves this tree can answer."""
    from shared_strategies.open import registry  # noqa: F401


if __name__ == "__main__":
    sys.exit(run_worker(build_parser(), handle, prepare=prepare))
