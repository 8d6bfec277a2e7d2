"""Layering read from the source with `ast`: backends and protocols never import the engine, the runner or the
executors that drive them (function-local imports included), so the order of stages lives in one place."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "evalsuite"
UPPER = ("evalsuite.engine", "evalsuite.runner", "evalsuite.api", "evalsuite.executors")


def imported_modules(path: Path) -> set[str]:
    """Every module a file imports, at any depth (`from evalsuite import engine` counts as evalsuite.engine)."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            out.add(node.module)
            out |= {f"{node.module}.{a.name}" for a in node.names}
    return out


def upward(path: Path) -> list[str]:
    return sorted(m for m in imported_modules(path) if m.startswith(UPPER))


@pytest.mark.parametrize("layer", ["backends", "protocols"])
def test_lower_layers_never_import_the_engine_or_runner(layer):
    files = sorted((PKG / layer).rglob("*.py"))
    assert files
    bad = {str(f.relative_to(PKG)): up for f in files if (up := upward(f))}
    assert bad == {}


def test_the_scan_sees_local_and_aliased_imports(tmp_path):
    src = tmp_path / "m.py"
    src.write_text("def f():\n    from evalsuite import engine\n    import evalsuite.runner as r\n"
                   "from evalsuite.records import Kind\n")
    assert upward(src) == ["evalsuite.engine", "evalsuite.runner"]
