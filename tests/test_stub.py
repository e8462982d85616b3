"""python/fastcost/_core.pyi names exactly what the compiled module exports."""

from __future__ import annotations

import ast
import pathlib

import fastcost
from fastcost import _core

# Next to the package's Python files (an editable install keeps the compiled
# module elsewhere; a wheel has both in one folder).
STUB = pathlib.Path(fastcost.__file__).with_name("_core.pyi")


def _stub_names() -> set[str]:
    names = set()
    for node in ast.parse(STUB.read_text()).body:
        if isinstance(node, ast.FunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
    return {n for n in names if not n.startswith("_")}


def test_stub_covers_the_module_and_nothing_else():
    assert STUB.is_file(), f"no stub at {STUB}"
    exported = {n for n in dir(_core) if not n.startswith("_")}
    stub = _stub_names()
    assert exported - stub == set(), "add these to _core.pyi"
    assert stub - exported == set(), "_core.pyi names what _core no longer has"


def _stub_functions() -> dict[str, list[str]]:
    out = {}
    for node in ast.parse(STUB.read_text()).body:
        if isinstance(node, ast.FunctionDef):
            a = node.args
            out[node.name] = [p.arg for p in a.posonlyargs + a.args + a.kwonlyargs]
    return out


def _runtime_parameters(func) -> list[list[str]]:
    """Parameter names of each signature in a pybind11 docstring."""
    import re

    sigs = re.findall(rf"^(?:\d+\. )?{func.__name__}\((.*)\) ->", func.__doc__ or "", re.M)
    names = []
    for sig in sigs:
        params = [p.strip() for p in re.split(r",(?![^\[]*\])", sig) if p.strip()]
        names.append([p.split(":")[0].strip() for p in params if p.strip() not in ("*", "/")])
    return names


def test_stub_signatures_match_the_module():
    mismatched = {}
    for name, params in _stub_functions().items():
        runtime = _runtime_parameters(getattr(_core, name))
        if runtime and params not in runtime:
            mismatched[name] = (params, runtime)
    assert mismatched == {}, "_core.pyi parameters differ from the compiled module's"
