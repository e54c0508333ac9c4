"""TopStep account read: positions (upstream-contract §1.9), read-only.

    fetch_topstep_positions.py

See :mod:`shared_scripts.topstep_reads` for the shape; a failed read is exit 1 + error.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from shared_scripts import topstep_reads  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    return topstep_reads.run("fetch_topstep_positions.py", topstep_reads.positions, argv)


if __name__ == "__main__":
    sys.exit(main())
