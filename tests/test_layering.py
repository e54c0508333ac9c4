"""The import graph of the project's own modules follows docs/architecture.md, "Layers".

Every ``.py`` under the project's packages is parsed with ``ast`` (nothing is imported), each
``import x`` / ``from x import y`` (module level, inside a function or under ``TYPE_CHECKING``:
a lazy or typing-only import is still a dependency) is resolved to the project module it names,
and the graph is checked:

* no import cycles (a module never imports a module that imports it back);
* ``shared_tools`` is a leaf: it imports nothing of ``shared_strategies``, ``shared_scripts``,
  ``supervisor``, ``backtest`` or ``platforms`` (the venues reach the market door through its
  registry);
* ``platforms`` imports ``shared_tools`` only (and itself);
* nothing outside ``supervisor/`` imports ``supervisor``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PACKAGES = (
    "supervisor",
    "shared_tools",
    "shared_strategies",
    "shared_scripts",
    "platforms",
    "backtest",
)
# Cycles being broken elsewhere, each with the reason it is still here. An entry that is no
# longer a cycle fails the test, so the list cannot go stale.
KNOWN_CYCLES: dict[frozenset[str], str] = {}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def project_modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((REPO / package).rglob("*.py")):
            found[module_name(path)] = path
    return found


def _resolve(name: str, modules: dict[str, Path]) -> str | None:
    """The deepest project module a dotted name refers to (``a.b.func`` -> ``a.b``)."""
    parts = name.split(".")
    while parts:
        candidate = ".".join(parts)
        if candidate in modules:
            return candidate
        parts.pop()
    return None


def _import_nodes(tree: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    """Every import statement in the tree: module level, in functions, under TYPE_CHECKING."""
    return [node for node in ast.walk(tree) if isinstance(node, (ast.Import, ast.ImportFrom))]


def imports_of(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """Project modules that ``name`` imports anywhere in its source (lazy imports included)."""
    is_package = path.name == "__init__.py"
    package = name if is_package else name.rpartition(".")[0]
    out: set[str] = set()
    for node in _import_nodes(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        else:
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            # ``from pkg import sub`` names the submodule pkg.sub when there is one, and pkg
            # itself for any other name (the implicit import of a parent package is no edge)
            targets = []
            for alias in node.names:
                full = f"{base}.{alias.name}" if base else alias.name
                targets.append(full if full in modules else base)
        for target in targets:
            resolved = _resolve(target, modules)
            if resolved is not None and resolved != name:
                out.add(resolved)
    return out


def import_graph() -> dict[str, set[str]]:
    modules = project_modules()
    return {name: imports_of(name, path, modules) for name, path in modules.items()}


def cycles(graph: dict[str, set[str]]) -> list[frozenset[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[frozenset[str]] = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(frozenset(component))
    return found


def _top(name: str) -> str:
    return name.split(".")[0]


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    return import_graph()


def test_the_graph_sees_the_project(graph):
    """Guard against a walker that finds nothing and so passes everything."""
    assert len(graph) > 20
    assert "shared_strategies.open.spot_classic" in graph["shared_strategies.open.registry"]
    assert "shared_tools.market.common" in graph["shared_tools.market.prices"]
    # ``from pkg import submodule`` resolves to the submodule, not the package
    assert "shared_tools.market.registry" in graph["shared_tools.market.prices"]
    assert "shared_tools.market" not in graph["shared_tools.market.prices"]


def test_walker_resolves_relative_and_lazy_imports(tmp_path):
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg import b\n"
    )
    (pkg / "a.py").write_text("from . import b\ndef f():\n    from .c import thing\n")
    for leaf in ("b", "c"):
        (pkg / f"{leaf}.py").write_text("")
    modules = {"pkg": pkg / "__init__.py", **{f"pkg.{m}": pkg / f"{m}.py" for m in "abc"}}
    assert imports_of("pkg.a", pkg / "a.py", modules) == {"pkg.b", "pkg.c"}
    # a typing-only import is still a dependency of knowledge: it counts
    assert imports_of("pkg", pkg / "__init__.py", modules) == {"pkg.b"}


def test_cycle_finder_finds_cycles():
    toy = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": {"e2"}, "e2": set()}
    assert cycles(toy) == [frozenset({"a", "b", "c"})]


def test_no_import_cycles(graph):
    found = cycles(graph)
    unexpected = [sorted(c) for c in found if c not in KNOWN_CYCLES]
    assert not unexpected, f"import cycles: {unexpected}"
    stale = [sorted(c) for c in KNOWN_CYCLES if c not in found]
    assert not stale, f"no longer cycles, remove them from KNOWN_CYCLES: {stale}"


def test_tools_are_leaves(graph):
    forbidden = {"shared_strategies", "shared_scripts", "supervisor", "backtest", "platforms"}
    bad = sorted(
        (name, dep)
        for name, deps in graph.items()
        if _top(name) == "shared_tools"
        for dep in deps
        if _top(dep) in forbidden
    )
    assert not bad, f"shared_tools must not import the layers above it: {bad}"


def test_platforms_import_only_the_tools(graph):
    bad = sorted(
        (name, dep)
        for name, deps in graph.items()
        if _top(name) == "platforms"
        for dep in deps
        if _top(dep) not in {"platforms", "shared_tools"}
    )
    assert not bad, f"platforms may import shared_tools only: {bad}"


# No exceptions: run_backtest --config reads a live strategy through shared_tools.config.
ALLOWED_SUPERVISOR_IMPORTS: set[tuple[str, str]] = set()


def test_only_the_supervisor_imports_the_supervisor(graph):
    bad = sorted(
        (name, dep)
        for name, deps in graph.items()
        if _top(name) != "supervisor"
        for dep in deps
        if _top(dep) == "supervisor" and (name, dep) not in ALLOWED_SUPERVISOR_IMPORTS
    )
    assert not bad, f"nothing outside supervisor/ may import it: {bad}"


# -- the import-linter contracts (pyproject.toml [tool.importlinter], run by scripts/test.sh) ----

LINT_PACKAGES = ("supervisor", "supervisor_entry", "shared_tools", "shared_strategies")
LINT_PACKAGES += ("backtest", "platforms", "chat_bridge")


def _lint_tree(tmp_path: Path) -> Path:
    """A copy of the project's packages and contracts that a test may break on purpose."""
    import shutil

    root = tmp_path / "tree"
    root.mkdir()
    for name in LINT_PACKAGES:
        shutil.copytree(
            REPO / name, root / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
        )
    shutil.copy(REPO / "pyproject.toml", root / "pyproject.toml")
    return root


def _lint_imports(root: Path):
    import os
    import subprocess
    import sys

    exe = Path(sys.executable).with_name("lint-imports")
    env = {**os.environ, "PYTHONPATH": str(root)}  # the copy, not the installed tree
    return subprocess.run(
        [str(exe)], cwd=root, env=env, capture_output=True, text=True, timeout=300
    )


def test_the_layer_contracts_hold_and_a_wrong_import_breaks_them(tmp_path):
    root = _lint_tree(tmp_path)
    ok = _lint_imports(root)
    assert ok.returncode == 0, ok.stdout[-2000:]
    assert "0 broken" in ok.stdout
    # the supervisor reaching up into the backtester (a pure-Python module, so only the
    # contract can catch it: sys.modules would show no pandas)
    (root / "supervisor" / "layering_probe.py").write_text("import backtest.metrics\n")
    bad = _lint_imports(root)
    assert bad.returncode != 0
    assert "supervisor is not allowed to import backtest" in bad.stdout
