"""The shape of the house: data flows one way, documents -> extract -> kg <- reason, with the front
door (kgreason) above all three, and no module imports another that imports it back.

Run alone with ``python -m pytest tests/test_layout.py``; it reads the source, imports nothing of it.
"""
from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("kg", "extract", "reason", "feedback", "kgreason")
# what each package may import from the project (besides itself)
ALLOWED = {"kg": set(), "extract": {"kg"}, "reason": {"kg"}, "feedback": {"kg"},
           "kgreason": {"kg", "extract", "reason", "feedback"}}


def _modules() -> dict[str, Path]:
    out = {}
    for package in PACKAGES:
        for path in sorted((REPO / package).rglob("*.py")):
            parts = path.relative_to(REPO).with_suffix("").parts
            out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


MODULES = _modules()


def _imports(name: str, path: Path) -> set[str]:
    """Project modules ``name`` imports anywhere in its file (module level, in functions, or under
    TYPE_CHECKING), resolved to the longest known module name."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(tree):
        targets = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
            targets = [f"{base}.{a.name}" for a in node.names] + [base]
        for target in targets:
            while target and target not in MODULES:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}


def test_the_layout_is_what_this_test_reads():
    assert {"kg.model", "kg.store", "extract.loaders", "reason.retrieve", "kgreason.cli", "kgreason.eval.runner"} <= set(MODULES)


@pytest.mark.parametrize("package", PACKAGES)
def test_no_package_imports_one_above_it(package):
    wrong = sorted(f"{m} -> {t}" for m, targets in GRAPH.items() if m.split(".")[0] == package
                   for t in targets if t.split(".")[0] not in ALLOWED[package] | {package})
    assert wrong == []


def test_the_core_names_no_module_above_it_even_in_strings():
    pattern = re.compile(r"""["'](?:extract|reason|feedback|kgreason)[.:]\w""")
    wrong = [f"{m}: {hit.group(0)}" for m, path in MODULES.items() if m.split(".")[0] == "kg"
             for hit in pattern.finditer(path.read_text(encoding="utf-8"))]
    assert wrong == []


def test_no_import_circles_between_modules():
    """Tarjan's strongly connected components over the module import graph: every one is a single module."""
    index, low, stack, on_stack, circles = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in GRAPH[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for v in sorted(GRAPH):
        if v not in index:
            visit(v)
    assert circles == []


def test_importing_the_core_loads_nothing_above_it_nor_heavy_libraries():
    code = ("import sys, kg, kg.model, kg.graph, kg.store, kg.config; "
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'kgreason', 'extract', 'reason', 'feedback', 'torch', 'spacy'}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True).stdout
    assert out.strip() == "[]"


def test_kg_build_still_reaches_the_front_door():
    import kg
    import kgreason

    assert (kg.build, kg.open, kg.remove, kg.KnowledgeBase) == (
        kgreason.build, kgreason.open, kgreason.remove, kgreason.KnowledgeBase)
    with pytest.raises(AttributeError, match="module 'kg' has no attribute 'nothing'"):
        kg.nothing  # noqa: B018
