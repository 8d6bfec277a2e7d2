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


def lookup(table: dict, kind: str, name: str):
    """Return the registered entry or raise a UsageError that lists the valid names."""
    _load_builtins()
    try:
        return table[name]
    except KeyError:
        known = ", ".join(sorted(table)) or "none"
        raise UsageError(f"unknown {kind} {name!r}; choose one of: {known}") from None


def _load_builtins() -> None:
    """Import the built-in modules so their decorators run (idempotent)."""
    import evalsuite.backends  # noqa: F401
    import evalsuite.metrics  # noqa: F401
    import evalsuite.protocols  # noqa: F401
    import evalsuite.scoring  # noqa: F401
