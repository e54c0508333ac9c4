"""docs/architecture.md's package tree matches the code.

The tree block (the fenced block after the ``<!-- tree: ... -->`` marker) lists directories
(``name/``) and modules (``name.py``), two spaces of indent per level. Every entry must exist;
every module and package under ``supervisor/`` must be listed, so nothing sits at the top level
(or in a package) that the doc does not name.
"""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DOC = REPO / "docs" / "architecture.md"
MARKER = "<!-- tree: checked by tests/test_architecture_doc.py -->"


def tree_entries(text: str) -> list[str]:
    """The repo-relative paths the tree block lists, in order."""
    after = text.split(MARKER, 1)[1]
    block = re.search(r"```text\n(.*?)```", after, re.S)
    assert block, "no ```text block after the tree marker"
    paths: list[str] = []
    stack: list[str] = []
    for line in block.group(1).splitlines():
        if not line.strip():
            continue
        indent = len(line) - len(line.lstrip(" "))
        assert indent % 2 == 0, f"odd indent: {line!r}"
        depth = indent // 2
        assert depth <= len(stack), f"indent jumps a level: {line!r}"
        name = line.split()[0]
        del stack[depth:]
        path = "/".join([*stack, name.rstrip("/")])
        paths.append(path + ("/" if name.endswith("/") else ""))
        if name.endswith("/"):
            stack.append(name.rstrip("/"))
    return paths


def test_parser_reads_nesting():
    text = f"{MARKER}\n```text\na/  x\n  b.py  y\n  c/\n    d.py\n  e.py\nf/\n```\n"
    assert tree_entries(text) == ["a/", "a/b.py", "a/c/", "a/c/d.py", "a/e.py", "f/"]


def test_every_listed_path_exists():
    listed = tree_entries(DOC.read_text())
    assert len(listed) > 40
    missing = []
    for entry in listed:
        path = REPO / entry.rstrip("/")
        if entry.endswith("/"):
            if not path.is_dir():
                missing.append(entry)
        elif not path.is_file():
            missing.append(entry)
    assert not missing, f"docs/architecture.md lists what does not exist: {missing}"


def test_every_supervisor_module_is_listed():
    listed = set(tree_entries(DOC.read_text()))
    actual = {"supervisor/"}
    for path in (REPO / "supervisor").rglob("*.py"):
        rel = path.relative_to(REPO)
        if rel.name == "__init__.py" and rel.parent.name != "supervisor":
            actual.add(rel.parent.as_posix() + "/")  # a package is listed by its directory
            continue
        actual.add(rel.as_posix())
    for path in (REPO / "supervisor").rglob("__init__.py"):
        if path.parent != REPO / "supervisor":
            # a package's own __init__ is allowed (listed or not); the package must be listed
            listed.discard(path.relative_to(REPO).as_posix())
    unlisted = sorted(actual - listed)
    assert not unlisted, f"supervisor modules missing from docs/architecture.md: {unlisted}"
    stale = sorted(e for e in listed if e.startswith("supervisor/") and e not in actual)
    assert not stale, f"docs/architecture.md lists supervisor paths that are gone: {stale}"


def test_top_level_holds_only_the_loop_and_the_cli():
    listed = set(tree_entries(DOC.read_text()))
    top = {p.name for p in (REPO / "supervisor").glob("*.py")}
    doc_top = {
        e.split("/")[1]
        for e in listed
        if e.startswith("supervisor/") and e.count("/") == 1 and e.endswith(".py")
    }
    assert top == doc_top, f"supervisor/ top level {sorted(top)} != the doc's {sorted(doc_top)}"


def test_every_venue_package_is_listed_and_exists():
    listed = set(tree_entries(DOC.read_text()))
    venues = {p.name for p in (REPO / "platforms").iterdir() if (p / "__init__.py").is_file()}
    doc = {e.split("/")[1] for e in listed if e.startswith("platforms/") and e.count("/") == 2}
    assert venues == doc, f"platforms/ {sorted(venues)} != the doc's {sorted(doc)}"
