"""No import cycles among fastcost's own modules.

The graph is read from the source with ``ast``, without importing anything:
every ``import`` / ``from ... import`` at module level (or under
``if TYPE_CHECKING:``) is an edge from the importing module to each fastcost
module it names; imports inside functions are lazy and are not edges. A
package's ``__init__`` importing its submodules is an edge like any other.
``from pkg import name`` is an edge to ``pkg.name`` when that is a module, else
to ``pkg`` itself. The parent packages Python initializes on the way to a
module are not edges (every submodule would otherwise form a cycle with its
package's ``__init__``).
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = "fastcost"
ROOT = Path(__file__).resolve().parent.parent / "python" / PACKAGE


def _module_names() -> dict[str, Path]:
    """Module name -> source file, for every .py file of the package."""
    modules = {}
    for path in sorted(ROOT.rglob("*.py")):
        parts = (PACKAGE, *path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        modules[".".join(parts)] = path
    return modules


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _module_level_imports(tree: ast.Module) -> list[ast.Import | ast.ImportFrom]:
    """Imports executed when the module is imported: top level, and the body
    of ``if TYPE_CHECKING:`` (what a type checker sees)."""
    found: list[ast.Import | ast.ImportFrom] = []
    pending: list[ast.stmt] = list(tree.body)
    while pending:
        node = pending.pop(0)
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            found.append(node)
        elif isinstance(node, ast.If):
            # Imports under other module-level conditions run too (one branch or the other).
            pending.extend(node.body if _is_type_checking(node.test) else node.body + node.orelse)
        elif isinstance(node, ast.Try):
            pending.extend(node.body + node.orelse + node.finalbody)
            for handler in node.handlers:
                pending.extend(handler.body)
        elif isinstance(node, (ast.With, ast.AsyncWith)):
            pending.extend(node.body)
    return found


def _resolve(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    """The absolute module name a ``from`` import's dots and module refer to."""
    if node.level == 0:
        return node.module or ""
    base = module.split(".")
    if not is_package:
        base = base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _compiled_module_names() -> set[str]:
    """Extension modules (``_core``, ``_cuda``), by their stub or binary: not
    nodes (they import nothing of fastcost), but ``from . import _core`` names
    them rather than the package's ``__init__``."""
    names = set()
    for pattern in ("*.pyi", "*.so", "*.pyd"):
        for path in ROOT.rglob(pattern):
            parts = (PACKAGE, *path.relative_to(ROOT).parent.parts, path.name.split(".")[0])
            names.add(".".join(parts))
    return names | {f"{PACKAGE}._core", f"{PACKAGE}._cuda"}


def import_graph() -> dict[str, set[str]]:
    """Edges between fastcost's modules (those with a .py source)."""
    modules = _module_names()
    submodules = set(modules) | _compiled_module_names()
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        is_package = path.name == "__init__.py"
        for node in _module_level_imports(tree):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                base = _resolve(name, is_package, node)
                for alias in node.names:
                    sub = f"{base}.{alias.name}"
                    targets.append(sub if sub in submodules else base)
            graph[name].update(t for t in targets if t in modules and t != name)
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle as [a, b, ..., a], or None (iterative depth-first search)."""
    WHITE, GREY, BLACK = 0, 1, 2
    color = dict.fromkeys(graph, WHITE)
    for start in sorted(graph):
        if color[start] != WHITE:
            continue
        path = [start]
        stack = [iter(sorted(graph[start]))]
        color[start] = GREY
        while stack:
            nxt = next(stack[-1], None)
            if nxt is None:
                color[path.pop()] = BLACK
                stack.pop()
            elif color[nxt] == GREY:
                return path[path.index(nxt) :] + [nxt]
            elif color[nxt] == WHITE:
                color[nxt] = GREY
                path.append(nxt)
                stack.append(iter(sorted(graph[nxt])))
    return None


def _assert_acyclic(graph: dict[str, set[str]]) -> None:
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_graph_sees_the_package():
    graph = import_graph()
    assert "fastcost.linear_model" in graph["fastcost"]  # package __init__ -> submodule
    assert "fastcost.preprocessing._scaler" in graph["fastcost.preprocessing"]
    assert "fastcost.linear_model" not in graph["fastcost.persistence"]  # in a function only
    assert "fastcost" not in graph["fastcost.linear_model"]  # from . import _core: not __init__


def test_module_level_imports():
    tree = ast.parse(
        "import a\n"
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    import b\n"
        "try:\n    import c\nexcept ImportError:\n    import d\n"
        "def f():\n    import e\n"
        "class C:\n    def g(self):\n        import f\n"
    )
    found = {alias.name for node in _module_level_imports(tree) for alias in node.names}
    assert found == {"a", "TYPE_CHECKING", "b", "c", "d"}
    rel = ast.parse("from ..x import y").body[0]
    assert isinstance(rel, ast.ImportFrom)
    assert _resolve("fastcost.preprocessing._scaler", False, rel) == "fastcost.x"
    assert _resolve("fastcost.preprocessing", True, rel) == "fastcost.x"


def test_find_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]


def test_no_import_cycles():
    _assert_acyclic(import_graph())


def test_worker_tasks_and_the_package_import_without_scikit_learn():
    # Dask workers unpickle tasks from fastcost._dask_tasks: on fresh workers
    # that import must stay cheap (numpy and the compiled module only).
    import subprocess
    import sys

    code = (
        "import sys, fastcost, fastcost._dask_tasks; "
        "print(sorted(m for m in ('sklearn', 'fastcost.dask', 'dask') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
