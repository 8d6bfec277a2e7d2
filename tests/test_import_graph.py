"""Layering read from the source with `ast` (function-local imports included): every edge between evalsuite's
packages and top-level modules is in a table that has no cycle, so a new upward or circular import fails here;
backends and protocols never import the engine, the runner or the executors that drive them."""
from __future__ import annotations

import ast
import importlib
from collections import defaultdict
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


ALLOWED: dict[str, set[str]] = {  # unit -> the units it may import (a unit: a subpackage or top-level module)
    "__init__": {'api'},
    "__main__": {'cli'},
    "__version__": set(),
    "api": {'backends', 'config', 'engine', 'executors', 'records', 'reporting', 'roles', 'run_outputs', 'runlock', 'runner', 'scoring', 'summaries', 'tasks', 'validate'},
    "backends": {'errors', 'paths', 'progress', 'records', 'registry'},
    "cli": {'api', 'config', 'errors', 'registry', 'reporting', 'tasks'},
    "commands": {'errors', 'lmeval', 'metrics', 'plot_specs', 'registry', 'reporting', 'results', 'rundir', 'summaries'},
    "config": {'backends', 'errors', 'executors', 'options', 'protocols', 'records', 'registry', 'roles', 'rundir', 'validate'},
    "engine": {'backends', 'executors', 'progress', 'protocols', 'records', 'scoring', 'store', 'store_codec', 'tasks'},
    "errors": set(),
    "executors": {'__version__', 'backends', 'errors', 'records', 'registry', 'roles'},
    "lmeval": {'errors', 'metrics', 'paths', 'protocols', 'records', 'registry', 'scoring', 'tasks'},
    "metrics": {'errors', 'registry', 'score_info'},
    "options": {'errors', 'registry'},
    "paths": set(),
    "plot_specs": set(),
    "progress": set(),
    "protocols": {'errors', 'metrics', 'options', 'records', 'registry', 'roles', 'rundir', 'score_info', 'scoring', 'tasks'},
    "records": set(),
    "registry": {'errors'},
    "reporting": {'errors', 'metrics', 'plot_specs', 'records', 'registry', 'results', 'rundir'},
    "roles": {'backends', 'errors'},
    "results": {'errors', 'metrics', 'plot_specs'},
    "run_outputs": {'options', 'records', 'reporting', 'results', 'summaries'},
    "rundir": {'errors', 'results'},
    "runlock": {'errors'},
    "runner": {'engine', 'errors', 'executors', 'options', 'protocols', 'records', 'registry', 'run_outputs', 'store', 'store_location', 'summaries', 'tasks'},
    "sandbox": {'errors'},
    "score_info": set(),
    "scoring": {'errors', 'metrics', 'options', 'registry', 'sandbox', 'score_info'},
    "store": {'errors', 'records', 'store_codec'},
    "store_codec": {'records'},
    "store_location": {'errors', 'store'},
    "summaries": {'errors', 'metrics', 'options', 'plot_specs', 'protocols', 'records', 'registry', 'results', 'score_info', 'scoring', 'tasks'},
    "tasks": {'errors', 'metrics', 'paths', 'records', 'registry', 'score_info', 'scoring'},
    "validate": {'errors', 'options', 'registry', 'roles'},
}
"""Read bottom-up by test_the_table_has_no_cycle's layers. A new edge goes in only when it points down them: a
contract two layers share moves to a leaf module (options, plot_specs, score_info, results, rundir) instead."""

OLD_NAMES = {"reporting/plot_specs.py": "evalsuite.plot_specs", "scoring/info.py": "evalsuite.score_info",
             "protocols/options.py": "evalsuite.options", "reporting/rundir.py": "evalsuite.rundir"}
"""Modules that moved to the bottom; the old name is the same module object, for plugins written against it."""


def unit_edges(pkg: Path = PKG) -> dict[str, set[str]]:
    """unit -> the other units its files import, at any depth."""
    out: dict[str, set[str]] = defaultdict(set)
    for f in pkg.rglob("*.py"):
        rel = f.relative_to(pkg)
        if rel.as_posix() in OLD_NAMES:
            continue
        unit = rel.parts[0].removesuffix(".py")
        for m in imported_modules(f):
            parts = m.split(".")
            if parts[0] == "evalsuite" and len(parts) > 1 and parts[1] != unit:
                out[unit].add(parts[1])
    return out


def layers(table: dict[str, set[str]]) -> list[list[str]]:
    """Units by layer, the bottom first (a unit sits one above the highest it imports); a cycle raises."""
    level: dict[str, int] = {}

    def of(unit: str, path: tuple[str, ...]) -> int:
        if unit in path:
            raise ValueError("import cycle: " + " -> ".join(path[path.index(unit):] + (unit,)))
        if unit not in level:
            level[unit] = 1 + max((of(d, path + (unit,)) for d in table.get(unit, ())), default=-1)
        return level[unit]

    for unit in table:
        of(unit, ())
    out: list[list[str]] = [[] for _ in range(max(level.values()) + 1)]
    for unit, n in sorted(level.items()):
        out[n].append(unit)
    return out


def test_every_edge_between_packages_is_in_the_table():
    new = sorted(f"{a} -> {b}" for a, bs in unit_edges().items() for b in bs if b not in ALLOWED.get(a, set()))
    assert not new, f"imports not in tests/test_import_graph.py's ALLOWED table: {new}"


def test_the_table_has_no_cycle_and_prints_its_layers(capsys):
    table = layers(ALLOWED)
    with capsys.disabled():
        print("\nevalsuite layers, bottom first:\n" + "\n".join(f"  {i}: {' '.join(u)}" for i, u in enumerate(table)))
    assert table[0] and "errors" in table[0] and "cli" in table[-2]


def test_a_cycle_and_an_upward_import_are_caught(tmp_path):
    with pytest.raises(ValueError, match="import cycle: a -> b -> a"):
        layers({"a": {"b"}, "b": {"a"}})
    pkg = tmp_path / "evalsuite"
    (pkg / "metrics").mkdir(parents=True)
    (pkg / "metrics" / "m.py").write_text("def f():\n    from evalsuite.reporting import html\n")
    assert unit_edges(pkg) == {"metrics": {"reporting"}} and "reporting" not in ALLOWED["metrics"]


@pytest.mark.parametrize("old, new", sorted(OLD_NAMES.items()))
def test_an_old_module_name_is_the_moved_module(old, new):
    assert importlib.import_module("evalsuite." + old.removesuffix(".py").replace("/", ".")) is \
        importlib.import_module(new)


LOCAL_REASON = "# local:"
"""A function-local `from evalsuite...` import says why it is not at the top, e.g. `# local: imports torch, which
loads with the model`: the package graph is acyclic, so the only reason left is what an import costs where it runs
(`evalsuite --help`, `evalsuite tasks`, `import evalsuite`)."""


def unexplained_local_imports(path: Path) -> list[int]:
    """Lines of a file's function-local evalsuite imports whose statement carries no `# local:` comment."""
    source = path.read_text(encoding="utf-8")
    lines = source.splitlines()
    out = []
    for fn in ast.walk(ast.parse(source)):
        if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        for node in ast.walk(fn):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                     [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            if any(n == "evalsuite" or n.startswith("evalsuite.") for n in names) and \
                    LOCAL_REASON not in "\n".join(lines[node.lineno - 1:node.end_lineno]):
                out.append(node.lineno)
    return sorted(set(out))


def test_every_function_local_evalsuite_import_says_why():
    bad = {str(f.relative_to(PKG)): lines for f in sorted(PKG.rglob("*.py")) if (lines := unexplained_local_imports(f))}
    assert bad == {}, ("function-local evalsuite imports without a `# local: why` comment (move them to the top "
                       f"unless that loads something heavy on the CLI's path): {bad}")


def test_the_local_import_scan_wants_a_reason(tmp_path):
    src = tmp_path / "m.py"
    src.write_text("from evalsuite.errors import UsageError\n"  # 1: module level, fine
                   "def f():\n"
                   "    import json\n"  # 3: not evalsuite
                   "    from evalsuite import api  # local: the engine\n"  # 4: says why
                   "    from evalsuite.records import (Doc,\n"  # 5: says why on its second line
                   "                                   Sample)  # local: reason\n"
                   "    class C:\n"
                   "        def g(self):\n"
                   "            import evalsuite.runner\n"  # 9: no reason
                   "    from evalsuite.tasks import cards\n")  # 10: no reason
    assert unexplained_local_imports(src) == [9, 10]
