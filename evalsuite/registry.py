"""Name -> factory registries, filled by decorators at import time.

Every extension point (task scorer, backend, protocol, metric) is looked up here by name, so the CLI can list
them and results can record which one produced a number.
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Callable, TypeVar

from evalsuite.errors import UsageError

T = TypeVar("T")


class LazyTable(dict):
    """A registry whose entries may be declared as "module:attr" strings, imported the first time they are read.

    Backends are declared this way, so listing them or checking a model spec never imports torch or vLLM."""

    def __getitem__(self, name: str):
        entry = super().__getitem__(name)
        if isinstance(entry, str):
            import importlib

            module, _, attr = entry.partition(":")
            importlib.import_module(module)
            entry = super().__getitem__(name)
            if isinstance(entry, str):
                entry = getattr(importlib.import_module(module), attr)
                super().__setitem__(name, entry)
        return entry

    def get(self, name: str, default=None):
        return self[name] if name in self else default


BACKENDS: LazyTable = LazyTable()
EXECUTORS: LazyTable = LazyTable()
"""`--executor` name -> Executor class (executors/base.py), declared lazily like backends (Ray loads only for ray)."""
PROTOCOLS: dict[str, type] = {}
SCORERS: dict[str, type] = {}
METRICS: dict[str, object] = {}
COMMANDS: dict[str, tuple[str, Callable, Callable]] = {}
GROUP_SUMMARIZERS: dict[str, Callable] = {}
"""Group card `aggregate:` name -> `fn(members) -> Summary | None` over a group's member tasks (summaries/groups.py)."""
RUN_OPTIONS: dict[str, dict] = {}
"""`evalsuite run` flag -> its argparse keywords, from the registered options classes (evalsuite/options.py)."""
RUN_OPTION_GROUPS: dict[str, str] = {}
RUN_OPTION_CLASSES: list[type] = []
"""Every `@run_options` dataclass, parsed from a run's options once at the edge."""

PLUGIN_PACKAGES = ("backends", "executors", "protocols", "scoring", "metrics", "summaries", "commands")
"""Every module in these subpackages is read once, so dropping a file in registers what it declares. A module is
imported when it declares a registration (a decorator, `@run_options` or `command`); `@backend` and `@executor`
classes are only noted by name and imported when that backend or executor is used, and modules that declare nothing are not imported at all,
so `evalsuite --help` and `evalsuite tasks` never load torch. Import heavy libraries inside functions."""

PLUGINS_VAR = "EVALSUITE_PLUGINS"
"""Comma-separated modules to import as plugins (`--plugins`); EVALSUITE_* reaches Ray replicas too."""
ENTRY_POINT_GROUP = "evalsuite.plugins"
"""Installed packages declare their plugin modules here (`[project.entry-points."evalsuite.plugins"]`)."""

_DECLARATION = re.compile(r"^[ \t]*(?:\w+ = )?@?(backend|executor|protocol|scorer|metric|summarizer|group_summarizer"
                          r"|command|run_options)\(", re.M)
_DECLARED_CLASS = re.compile(
    r"^@(?P<kind>\w+)\(\s*[\"'](?P<name>[\w.-]+)[\"']\s*\)\s*\nclass\s+(?P<cls>\w+)", re.M)
LAZY = ("backend", "executor")
"""Kinds whose classes the scan notes by name without importing their module."""


def _register(table: dict, kind: str, name: str) -> Callable[[T], T]:
    def deco(obj: T) -> T:
        known = dict.get(table, name)
        declared = f"{getattr(obj, '__module__', '')}:{getattr(obj, '__qualname__', '')}"
        if known is not None and known is not obj and known != declared:
            raise ValueError(f"{kind} {name!r} registered twice")
        table[name] = obj
        setattr(obj, "registry_name", name)
        return obj

    return deco


def backend(name: str) -> Callable[[T], T]:
    """Register a backend class under the model-spec prefix `name` (e.g. `hf`)."""
    return _register(BACKENDS, "backend", name)


def executor(name: str) -> Callable[[T], T]:
    """Register an Executor class under `name` (`--executor name`); it builds itself with `Executor.create`."""
    return _register(EXECUTORS, "executor", name)


def protocol(name: str) -> Callable[[T], T]:
    """Register a protocol class under `name` (`--protocol name`)."""
    return _register(PROTOCOLS, "protocol", name)


def scorer(name: str) -> Callable[[T], T]:
    """Register a scorer class under `name` (named by task cards)."""
    return _register(SCORERS, "scorer", name)


def group_summarizer(name: str) -> Callable[[T], T]:
    """Register a group summarizer under `name`, the name a group card's `aggregate:` list gives it."""
    return _register(GROUP_SUMMARIZERS, "group summarizer", name)


def command(name: str, help: str, configure: Callable) -> Callable[[T], T]:
    """Register a CLI subcommand: `configure(parser)` adds its flags, the decorated `fn(args) -> int` runs it."""

    def deco(fn: T) -> T:
        COMMANDS[name] = (help, configure, fn)
        return fn

    return deco


def lookup(table: dict, kind: str, name: str):
    """Return the registered entry or raise a UsageError that lists the valid names."""
    load_plugins()
    try:
        return table[name]
    except KeyError:
        known = ", ".join(sorted(table)) or "none"
        raise UsageError(f"unknown {kind} {name!r}; choose one of: {known}") from None


_loaded: set[str] = set()


def load_plugins(packages: tuple[str, ...] = PLUGIN_PACKAGES) -> None:
    """Import the plugin modules of `packages` (default: all) that declare something, once each."""
    import importlib
    import pkgutil

    if packages == PLUGIN_PACKAGES:
        load_external_plugins()
        load_task_code()
    for sub in packages:
        if sub in _loaded:
            continue
        _loaded.add(sub)
        pkg = importlib.import_module(f"evalsuite.{sub}")
        for info in pkgutil.iter_modules(pkg.__path__):
            if info.name.startswith("_"):
                continue
            module = f"evalsuite.{sub}.{info.name}"
            base = Path(info.module_finder.path) / info.name
            kinds = plugin_declarations(base / "__init__.py" if info.ispkg else base.with_suffix(".py"), module)
            if kinds - set(LAZY):
                importlib.import_module(module)


def load_task_code() -> None:
    """The Python beside the shipped task cards (`evalsuite/tasks/<benchmark>/*.py`), read as the plugin packages
    are: a module that registers something (a scorer) is imported, so its registered name (`scorer: gsm8k`) works
    in any card, not only through `!function` from its own folder."""
    import importlib

    if "tasks" in _loaded:
        return
    _loaded.add("tasks")
    for path in sorted((Path(__file__).parent / "tasks").glob("*/[!_]*.py")):
        module = f"evalsuite.tasks.{path.parent.name}.{path.stem}"
        if plugin_declarations(path, module) - set(LAZY):
            importlib.import_module(module)


def load_external_plugins() -> None:
    """Out-of-tree plugins, each imported once: the modules installed packages declare under the
    `evalsuite.plugins` entry-point group, then those $EVALSUITE_PLUGINS (`--plugins`) names. Importing one runs
    its `@backend`, `@protocol`, `@scorer`, `@metric`... decorators, as for a module in the package."""
    import importlib
    import importlib.metadata

    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        key = f"entry point {ep.name} = {ep.value}"
        if key not in _loaded:
            _loaded.add(key)
            _import_plugin(ep.load, f"{key} (from {getattr(ep.dist, 'name', 'an installed package')})",
                           "reinstall or uninstall that package")
    for module in filter(None, (m.strip() for m in os.environ.get(PLUGINS_VAR, "").split(","))):
        if module not in _loaded:
            _loaded.add(module)
            _import_plugin(lambda m=module: importlib.import_module(m), f"plugin module {module!r}",
                           "install it or put its folder on PYTHONPATH, or fix --plugins")


def _import_plugin(load: Callable[[], object], what: str, fix: str) -> None:
    try:
        load()
    except UsageError:
        raise
    except Exception as e:
        raise UsageError(f"{what} cannot be imported ({type(e).__name__}: {e}); {fix}") from None


def plugin_declarations(path: Path, module: str) -> set[str]:
    """The kinds of registration a plugin module's source declares; its `@backend` and `@executor` classes are
    noted lazily."""
    try:
        source = path.read_text(encoding="utf-8")
    except OSError:
        return {"unreadable"}
    kinds = set(_DECLARATION.findall(source))
    noted = [m for m in _DECLARED_CLASS.finditer(source) if m["kind"] in LAZY]
    for m in noted:
        table = BACKENDS if m["kind"] == "backend" else EXECUTORS
        if m["name"] not in table:
            dict.__setitem__(table, m["name"], f"{module}:{m['cls']}")
    for kind in LAZY:
        if kind in kinds and sum(m["kind"] == kind for m in noted) < source.count(f"@{kind}("):
            kinds.add(f"{kind}_unparsed")  # a declaration this scan cannot read: import the module instead
    return kinds


def declared_classes(source: str, kind: str) -> dict[str, str]:
    """Class name -> registered name of the classes a module's source declares with `@kind("name")` right above
    them, read from the text: what a class is registered as, known without importing (running) its module."""
    return {m["cls"]: m["name"] for m in _DECLARED_CLASS.finditer(source) if m["kind"] == kind}
