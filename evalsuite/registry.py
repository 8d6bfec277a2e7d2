"""Name -> factory registries, filled by decorators at import time.

Every extension point (task scorer, backend, protocol, metric) is looked up here by name, so the CLI can list
them and results can record which one produced a number.
"""
from __future__ import annotations

from typing import Callable, TypeVar

from evalsuite.errors import UsageError

T = TypeVar("T")

BACKENDS: dict[str, type] = {}
PROTOCOLS: dict[str, type] = {}
SCORERS: dict[str, type] = {}
METRICS: dict[str, object] = {}
COMMANDS: dict[str, tuple[str, Callable, Callable]] = {}
RUN_OPTIONS: dict[str, dict] = {}

PLUGIN_PACKAGES = ("backends", "protocols", "scoring", "metrics", "summaries", "commands")
"""Every module in these subpackages is imported once, so dropping a file in registers what it decorates.
Modules must import heavy optional libraries (vllm, openai clients) lazily, inside functions."""


def _register(table: dict, kind: str, name: str) -> Callable[[T], T]:
    def deco(obj: T) -> T:
        if name in table and table[name] is not obj:
            raise ValueError(f"{kind} {name!r} registered twice")
        table[name] = obj
        setattr(obj, "registry_name", name)
        return obj

    return deco


def backend(name: str) -> Callable[[T], T]:
    """Register a backend class under the model-spec prefix `name` (e.g. `hf`)."""
    return _register(BACKENDS, "backend", name)


def protocol(name: str) -> Callable[[T], T]:
    """Register a protocol class under `name` (`--protocol name`)."""
    return _register(PROTOCOLS, "protocol", name)


def scorer(name: str) -> Callable[[T], T]:
    """Register a scorer class under `name` (named by task cards)."""
    return _register(SCORERS, "scorer", name)


def command(name: str, help: str, configure: Callable) -> Callable[[T], T]:
    """Register a CLI subcommand: `configure(parser)` adds its flags, the decorated `fn(args) -> int` runs it."""

    def deco(fn: T) -> T:
        COMMANDS[name] = (help, configure, fn)
        return fn

    return deco


def run_option(flag: str, **argparse_kwargs) -> None:
    """Declare an `evalsuite run` flag whose value lands in `options[name]` (protocols and summarizers read it).

    The option name is the flag without dashes, with `-` as `_` (`--borda-p` -> `borda_p`)."""
    RUN_OPTIONS[flag] = argparse_kwargs


def lookup(table: dict, kind: str, name: str):
    """Return the registered entry or raise a UsageError that lists the valid names."""
    load_plugins()
    try:
        return table[name]
    except KeyError:
        known = ", ".join(sorted(table)) or "none"
        raise UsageError(f"unknown {kind} {name!r}; choose one of: {known}") from None


_loaded = False


def load_plugins() -> None:
    """Import every plugin module so its decorators run (idempotent)."""
    global _loaded
    if _loaded:
        return
    _loaded = True
    import importlib
    import pkgutil

    for sub in PLUGIN_PACKAGES:
        pkg = importlib.import_module(f"evalsuite.{sub}")
        for info in pkgutil.iter_modules(pkg.__path__):
            if not info.name.startswith("_"):
                importlib.import_module(f"evalsuite.{sub}.{info.name}")
