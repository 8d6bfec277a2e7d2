"""Pick the executor a run asked for from the `@executor` registry: `local` (this process), `ray` (replicas on a
local Ray or a cluster), or one a plugin registers."""
from __future__ import annotations

from typing import Callable, Sequence

from evalsuite.backends.base import Backend
from evalsuite.errors import UsageError
from evalsuite.executors.base import ExecutionSettings, Executor
from evalsuite.registry import EXECUTORS, lookup


def check_execution(kind: str | None, replicas: int | None = None, ray_address: str | None = None,
                    replica_env: Sequence[str] | None = None) -> str:
    """The executor kind these settings ask for (without one: `ray` for more than one replica or a Ray address),
    refusing settings that cannot work together."""
    if kind is None:
        kind = "ray" if (replicas or 1) > 1 or ray_address else "local"
    cls = lookup(EXECUTORS, "executor", kind)
    if replicas is not None and replicas < 1:
        raise UsageError(f"--replicas must be at least 1, got {replicas}")
    cls.check(ExecutionSettings(replicas, ray_address, tuple(replica_env or ())))
    return kind


def make_executor(kind: str | None, backend: Backend, replicas: int | None = None, ray_address: str | None = None,
                  log: Callable[[str], None] = print, replica_env: Sequence[str] | None = None) -> Executor:
    """The executor of `backend`'s model for `kind`; without one, more than one replica or a Ray address means
    `ray` (whose replicas build their backends from `backend.built_from`).

    A kind's module is imported only when it is used (Ray only for `ray`; without it installed that is one line
    saying how to install it)."""
    kind = check_execution(kind, replicas, ray_address, replica_env)
    settings = ExecutionSettings(replicas, ray_address, tuple(replica_env or ()))
    return EXECUTORS[kind].create(backend, settings, log)
