"""The import graph of the project's packages (ADR 0015; docs/ARCHITECTURE.md, "Layers").

import-linter (`lint-imports`, pyproject [tool.importlinter]) checks the layers at module
level. These tests add what it does not see: imports inside functions. Every import of a
project module, wherever it stands, is an edge of the graph; the graph has no cycle, and
an import inside a function is allowed only where ALLOWED_FUNCTION_IMPORTS names the ADR
that justifies it. The checker is tested on small synthetic trees too, so it can fail.
No database, no Django: it reads the source with ``ast``.
"""

from __future__ import annotations

import ast
import tomllib
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
ROOTS = ("cartassist", "agents", "policies")

# (importing module, imported module) → the ADR that justifies importing inside a function.
ALLOWED_FUNCTION_IMPORTS: dict[tuple[str, str], str] = {
    # AppConfig.ready wires the ports: services and tasks are importable only once the
    # models are loaded (docs/adr/0015-layers-and-ports.md, "Wiring").
    ("cartassist.apps", "cartassist.tasks"): "0015",
    ("cartassist.apps", "cartassist.outcomes.services.followups"): "0015",
    ("cartassist.apps", "cartassist.outcomes.services.outcomes"): "0015",
    ("cartassist.apps", "cartassist.integrations.discounts"): "0015",
    ("cartassist.apps", "cartassist.integrations.tasks"): "0015",
    ("cartassist.apps", "agents.services.cart_updates"): "0015",
    ("cartassist.apps", "agents.tasks"): "0015",
    # The Celery app is created once Django starts, so that cartassist.client (stdlib only)
    # imports no Celery (docs/adr/0015-layers-and-ports.md, "Wiring").
    ("cartassist.apps", "cartassist.celery"): "0015",
    # The Oscar integration (in the shop's process) connects to Oscar's order_placed signal
    # in its own AppConfig.ready, once Oscar's models are loaded (ADR 0015, "Wiring").
    ("cartassist.integrations.oscar.apps", "cartassist.integrations.oscar.receivers"): "0015",
}


@dataclass
class ImportGraph:
    modules: set[str] = field(default_factory=set)
    edges: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    # (importing module, imported module, file:line) of each import inside a function or class
    function_level: list[tuple[str, str, str]] = field(default_factory=list)


def _module_name(path: Path, base: Path) -> str:
    parts = list(path.relative_to(base).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _source_files(base: Path, roots: Iterable[str]) -> list[Path]:
    return sorted(
        p for root in roots for p in (base / root).rglob("*.py") if "migrations" not in p.parts
    )


def _imported(node: ast.Import | ast.ImportFrom, package: str, modules: set[str]) -> list[str]:
    """The project modules an import statement names (a name imported from a package that
    is itself a module counts as that module)."""
    if isinstance(node, ast.Import):
        targets = [alias.name for alias in node.names]
    else:
        if node.level:
            base = package.split(".")
            base = base[: len(base) - node.level + 1]
            source = ".".join(base + ([node.module] if node.module else []))
        else:
            source = node.module or ""
        targets = [
            f"{source}.{alias.name}" if f"{source}.{alias.name}" in modules else source
            for alias in node.names
        ]
    found = []
    for target in targets:
        while target not in modules and "." in target:
            target = target.rpartition(".")[0]
        if target in modules:
            found.append(target)
    return found


def _module_level_nodes(tree: ast.Module) -> set[int]:
    """Imports that run when the module is imported: top level, or inside a top-level
    ``if``/``try`` (TYPE_CHECKING blocks, optional dependencies)."""
    ids = set()
    for node in tree.body:
        nested = ast.walk(node) if isinstance(node, (ast.If, ast.Try)) else [node]
        ids.update(id(sub) for sub in nested if isinstance(sub, (ast.Import, ast.ImportFrom)))
    return ids


def import_graph(base: Path, roots: Iterable[str] = ROOTS) -> ImportGraph:
    files = _source_files(base, roots)
    graph = ImportGraph(modules={_module_name(p, base) for p in files})
    for path in files:
        module = _module_name(path, base)
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        tree = ast.parse(path.read_text(), filename=str(path))
        module_level = _module_level_nodes(tree)
        for node in ast.walk(tree):
            if not isinstance(node, (ast.Import, ast.ImportFrom)):
                continue
            for target in _imported(node, package, graph.modules):
                if target == module:
                    continue
                graph.edges[module].add(target)
                if id(node) not in module_level:
                    where = f"{path.relative_to(base)}:{node.lineno}"
                    graph.function_level.append((module, target, where))
    return graph


def import_cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []
    counter = 0
    nodes = set(edges) | {t for targets in edges.values() for t in targets}
    for start in sorted(nodes):
        if start in index:
            continue
        work = [(start, iter(sorted(edges.get(start, ()))))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    components.append(sorted(component))
    return components


def unjustified_function_imports(
    graph: ImportGraph, allowed: dict[tuple[str, str], str]
) -> list[str]:
    return [
        f"{where}: {module} imports {target} inside a function"
        for module, target, where in graph.function_level
        if (module, target) not in allowed
    ]


# --- the project ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def project() -> ImportGraph:
    return import_graph(REPO)


def test_the_project_has_no_import_cycle(project):
    assert import_cycles(project.edges) == []


def test_no_project_module_is_imported_inside_a_function_without_an_adr(project):
    assert unjustified_function_imports(project, ALLOWED_FUNCTION_IMPORTS) == []


def test_each_allowed_function_level_import_exists_and_names_an_existing_adr(project):
    used = {(module, target) for module, target, _ in project.function_level}
    adrs = {p.name[:4] for p in (REPO / "docs" / "adr").glob("[0-9][0-9][0-9][0-9]-*.md")}
    for pair, adr in ALLOWED_FUNCTION_IMPORTS.items():
        assert pair in used, f"{pair} is allowed but no longer imported: drop it"
        assert adr in adrs, f"{pair} names ADR {adr}, which does not exist"


def test_every_project_module_is_in_a_layer(project):
    """A module outside every layer would escape the layers contract unnoticed."""
    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["importlinter"]
    (layers,) = [c["layers"] for c in config["contracts"] if c["type"] == "layers"]
    members = {m.strip() for layer in layers for m in layer.replace("|", ":").split(":")}
    outside = sorted(
        module
        for module in project.modules
        if module not in ROOTS
        and not any(module == m or module.startswith(m + ".") for m in members)
    )
    assert outside == []


# --- the checker itself, on synthetic trees -----------------------------------------------


def _tree(base: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = base / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return base


def test_a_cycle_through_a_function_level_import_is_found(tmp_path):
    base = _tree(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/a.py": "from pkg import b\n",
            "pkg/b.py": "def f():\n    from pkg.a import x\n",
            "pkg/c.py": "import pkg.a\n",
        },
    )
    graph = import_graph(base, roots=["pkg"])
    assert import_cycles(graph.edges) == [["pkg.a", "pkg.b"]]
    assert unjustified_function_imports(graph, {}) == [
        "pkg/b.py:2: pkg.b imports pkg.a inside a function"
    ]
    assert unjustified_function_imports(graph, {("pkg.b", "pkg.a"): "0015"}) == []


def test_a_relative_import_and_a_longer_cycle_are_found(tmp_path):
    base = _tree(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/sub/__init__.py": "from .one import thing\n",
            "pkg/sub/one.py": "from ..two import y\n",
            "pkg/two.py": "if True:\n    from pkg.three import z\n",
            "pkg/three.py": "from pkg.sub import thing\n",
        },
    )
    graph = import_graph(base, roots=["pkg"])
    assert import_cycles(graph.edges) == [["pkg.sub", "pkg.sub.one", "pkg.three", "pkg.two"]]
    assert graph.function_level == []  # the import under a top-level `if` runs on import


def test_an_acyclic_tree_passes(tmp_path):
    base = _tree(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/low.py": "import os\n",
            "pkg/high.py": "from pkg.low import os\nfrom pkg import low\n",
        },
    )
    graph = import_graph(base, roots=["pkg"])
    assert import_cycles(graph.edges) == []
    assert graph.edges["pkg.high"] == {"pkg.low"}
