"""Where the repository is: the one anchor for scripts, configs, state and caches (stdlib only)."""

from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
SCRIPTS_DIR = REPO_ROOT / "shared_scripts"
