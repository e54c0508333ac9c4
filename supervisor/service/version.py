"""Which code is running: the package version and the commit it was deployed from.

``scripts/update.sh`` restarts the supervisor and then polls ``/health`` until the new commit
answers, so the commit must describe the code this process loaded: it is read once, when this
module is imported at start-up (a later ``git pull`` must not change what a running process says).

Where the commit comes from, first match wins:
1. ``<repo>/.deployed-commit``, written by ``update.sh --rsync-from`` (the tree's own ``.git``
   is left untouched by such deploys and would name an older commit; the file says "unknown"
   when the source was no git checkout);
2. the repo's git HEAD, read from ``.git/HEAD``, loose refs and ``packed-refs`` (no git needed);
3. ``git rev-parse HEAD`` with a short timeout (unusual layouts, e.g. reftable);
4. ``"unknown"``.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from shared_tools.paths import REPO_ROOT
from supervisor import __version__

DEPLOYED_COMMIT_FILE = ".deployed-commit"
UNKNOWN = "unknown"
_SHA = re.compile(r"^[0-9a-f]{40}([0-9a-f]{24})?$")  # SHA-1 or SHA-256 object names


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        return ""


def _git_dir(root: Path) -> Path | None:
    """``.git`` as a directory, or the directory a ``.git`` file points at (worktrees)."""
    dot_git = root / ".git"
    if dot_git.is_dir():
        return dot_git
    text = _read(dot_git)
    if text.startswith("gitdir:"):
        target = Path(text.removeprefix("gitdir:").strip())
        return target if target.is_absolute() else root / target
    return None


def _resolve_ref(git_dir: Path, ref: str) -> str:
    """A ref's commit from its loose file or ``packed-refs`` (in the common dir for worktrees)."""
    common = _read(git_dir / "commondir")
    dirs = [git_dir] + ([(git_dir / common).resolve()] if common else [])
    for d in dirs:
        sha = _read(d / ref)
        if _SHA.match(sha):
            return sha
    for d in dirs:
        for line in _read(d / "packed-refs").splitlines():
            sha, _, name = line.partition(" ")
            if name == ref and _SHA.match(sha):
                return sha
    return ""


def head_from_files(root: Path) -> str:
    """HEAD's commit by plain file reads; "" when the layout is not the usual one."""
    git_dir = _git_dir(root)
    if git_dir is None:
        return ""
    head = _read(git_dir / "HEAD")
    if _SHA.match(head):  # detached HEAD
        return head
    if head.startswith("ref:"):
        return _resolve_ref(git_dir, head.removeprefix("ref:").strip())
    return ""


def head_from_git(root: Path, timeout_s: float = 2.0) -> str:
    """HEAD's commit from the git CLI; "" when git is missing, slow or the tree is no repo."""
    try:
        out = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=timeout_s,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.SubprocessError):
        return ""
    sha = out.stdout.strip()
    return sha if out.returncode == 0 and _SHA.match(sha) else ""


def resolve_commit(root: Path = REPO_ROOT) -> str:
    """The commit of the code under ``root`` (see the module docstring for the order)."""
    marker = root / DEPLOYED_COMMIT_FILE
    if marker.exists():  # an rsync deploy: the tree's .git is stale ("unknown": not from git)
        deployed = _read(marker)
        return deployed if _SHA.match(deployed) else UNKNOWN
    if (root / ".git").exists():
        return head_from_files(root) or head_from_git(root) or UNKNOWN
    return UNKNOWN


# Resolved when the supervisor loads (http/views.py imports it at start-up), then fixed.
COMMIT: str = resolve_commit()


def version_line() -> str:
    """What ``go-trader --version`` prints."""
    return f"go-trader {__version__} (commit {COMMIT})"
