"""The import graph of the project's packages, read with `ast`: no module imports itself back
through others (no cycle), and imports run one way: front door (failwhale) -> engine (chaos,
bench, reliability) -> load (loadtest) -> stack -> services, never back.

Two graphs, both acyclic: every import written (in functions too, and under TYPE_CHECKING:
what a reader must follow), and what Python runs (without TYPE_CHECKING, with each package's
`__init__` run before its modules). Run as a script to print the strongly connected components:
    python tests/unit/test_import_graph.py [ROOT]
"""

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("failwhale", "chaos", "bench", "reliability", "loadtest", "stack", "services")
LAYER = {"failwhale": 0, "chaos": 1, "bench": 1, "reliability": 1, "loadtest": 2, "stack": 3,
         "services": 4}  # fmt: skip
Graph = dict[str, set[str]]


def modules(root: Path) -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def _type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST, typing_too: bool) -> Iterator[ast.Import | ast.ImportFrom]:
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and _type_checking(node) and not typing_too:
            yield from _imports(ast.Module(body=node.orelse, type_ignores=[]), typing_too)
            continue
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        yield from _imports(node, typing_too)


def _base(module: str, node: ast.ImportFrom, is_package: bool) -> str:
    if not node.level:
        return node.module or ""
    parts = module.split(".")
    anchor = parts if is_package else parts[:-1]
    anchor = anchor[: len(anchor) - node.level + 1]
    return ".".join(anchor + ([node.module] if node.module else []))


def graph(root: Path, runtime: bool) -> Graph:
    """Module -> the project's modules it imports. `runtime`: without TYPE_CHECKING imports,
    with an edge to each parent package (its `__init__` runs first)."""
    known = modules(root)
    edges: Graph = {name: set() for name in known}
    for name, path in known.items():
        tree = ast.parse(path.read_text(), str(path))
        targets = []
        for node in _imports(tree, typing_too=not runtime):
            if isinstance(node, ast.Import):
                targets += [alias.name for alias in node.names]
                continue
            base = _base(name, node, path.name == "__init__.py")
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                targets.append(sub if sub in known else base)
        for target in targets:
            if runtime:  # importing a.b.c runs a and a.b first
                parts = target.split(".")
                targets_with_parents = [".".join(parts[:n]) for n in range(1, len(parts) + 1)]
            else:
                targets_with_parents = [target]
            for each in targets_with_parents:
                if each in known and each != name and not name.startswith(each + "."):
                    edges[name].add(each)
    return edges


def cycles(edges: Graph) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for succ in sorted(edges[node]):
            if succ not in index:
                visit(succ)
                low[node] = min(low[node], low[succ])
            elif succ in stack:
                low[node] = min(low[node], index[succ])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def backward(edges: Graph) -> list[str]:
    """Imports against the direction of the layers."""
    return sorted(
        f"{source} -> {target}"
        for source, targets in edges.items()
        for target in targets
        if LAYER[target.split(".")[0]] < LAYER[source.split(".")[0]]
    )


@pytest.mark.parametrize("runtime", [False, True], ids=["as-written", "as-run"])
def test_no_module_imports_itself_back_through_others(runtime: bool) -> None:
    # A module that needs a driver's type takes a Protocol of what it uses (as
    # chaos/backends/docker/protocol.py), rather than import the driver that imports it.
    assert cycles(graph(ROOT, runtime)) == [], "these modules import each other in a loop"


def test_imports_run_from_the_front_door_down_to_the_services_never_back() -> None:
    assert backward(graph(ROOT, runtime=False)) == []


def test_the_check_sees_a_cycle_and_a_backward_import(tmp_path: Path) -> None:
    for package in PACKAGES:
        (tmp_path / package).mkdir()
        (tmp_path / package / "__init__.py").write_text("")
    (tmp_path / "chaos" / "a.py").write_text("from chaos import b\n")
    (tmp_path / "chaos" / "b.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from chaos.a import X\n"
    )
    (tmp_path / "stack" / "c.py").write_text("def f():\n    from failwhale import cli\n")
    (tmp_path / "failwhale" / "cli.py").write_text("from . import __init__\n")
    written = graph(tmp_path, runtime=False)
    assert cycles(written) == [["chaos.a", "chaos.b"]]
    assert cycles(graph(tmp_path, runtime=True)) == []  # the loop is for the type checker only
    assert backward(written) == ["stack.c -> failwhale.cli"]


if __name__ == "__main__":
    where = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT
    for runtime in (False, True):
        edges = graph(where, runtime)
        found = cycles(edges)
        label = "as run" if runtime else "as written"
        print(f"{label}: {sum(map(len, edges.values()))} imports, {len(found)} cycles")
        for component in found:
            print(f"  {len(component)} modules: {' '.join(component)}")
        for line in backward(edges):
            print(f"  backward: {line}")
