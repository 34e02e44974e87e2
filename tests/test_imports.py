"""The package's import graph: every module imports on its own, and no two modules import each other,
directly or round a loop, counting imports inside functions too (those once hid two cycles)."""

from __future__ import annotations

import ast
import importlib
import pkgutil
from pathlib import Path

import polytope_lens

PACKAGE = Path(polytope_lens.__file__).parent


def module_names() -> list[str]:
    return ["polytope_lens"] + [m.name for m in pkgutil.walk_packages([str(PACKAGE)], prefix="polytope_lens.")]


def module_file(name: str) -> Path:
    path = PACKAGE.joinpath(*name.split(".")[1:])
    return path / "__init__.py" if path.is_dir() else path.with_suffix(".py")


def imported_modules(name: str, known: set[str]) -> set[str]:
    """The package's modules that ``name`` imports anywhere in its file (relative imports resolved)."""
    path = module_file(name)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([node.module] if node.module else []))
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)  # `from . import x`: a module
    return {m for m in found if m in known and m != name}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One loop of the graph (its modules in import order, the first repeated at the end), or None."""
    state: dict[str, str] = {}  # "open" while on the path being walked, "done" after

    def walk(node: str, path: list[str]) -> list[str] | None:
        state[node] = "open"
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":  # back to a module on the path: the loop from there
                here = path + [node]
                return here[here.index(nxt):] + [nxt]
            if nxt not in state and (loop := walk(nxt, path + [node])):
                return loop
        state[node] = "done"
        return None

    for start in sorted(graph):
        if start not in state and (loop := walk(start, [])):
            return loop
    return None


def test_find_cycle_finds_a_loop():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]


def test_every_module_imports():
    for name in module_names():
        importlib.import_module(name)


def test_no_import_cycles():
    names = module_names()
    known = set(names)
    graph = {name: imported_modules(name, known) for name in names}
    assert graph["polytope_lens.output.render"] >= {"polytope_lens.output.classmap"}  # the parser sees imports
    loop = find_cycle(graph)
    assert loop is None, "import cycle: " + " -> ".join(loop)
