"""Pick the executor a run asked for: `local` (this process) or `ray` (replicas on a local Ray or a cluster)."""
from __future__ import annotations

from typing import Any, Callable, Sequence

from evalsuite.backends.base import Backend
from evalsuite.errors import UsageError
from evalsuite.executors.base import Executor

EXECUTORS = ("local", "ray")


def check_execution(kind: str | None, replicas: int | None = None, ray_address: str | None = None,
                    replica_env: Sequence[str] | None = None) -> str:
    """The executor kind these settings ask for (without one: `ray` for more than one replica or a Ray address),
    refusing settings that cannot work together."""
    if kind is None:
        kind = "ray" if (replicas or 1) > 1 or ray_address else "local"
    if kind not in EXECUTORS:
        raise UsageError(f"unknown executor {kind!r}; choose one of: {', '.join(EXECUTORS)}")
    if replicas is not None and replicas < 1:
        raise UsageError(f"--replicas must be at least 1, got {replicas}")
    if kind == "local" and ((replicas or 1) > 1 or ray_address or replica_env):
        raise UsageError("--replicas, --ray-address and --replica-env need --executor ray (the local executor "
                         "is one process)")
    return kind


def make_executor(kind: str | None, backend: Backend, model: Any, model_args: Any, replicas: int | None = None,
                  ray_address: str | None = None, log: Callable[[str], None] = print,
                  replica_env: Sequence[str] | None = None) -> Executor:
    """The executor for `kind`; without one, more than one replica or a Ray address means `ray`.

    Ray is imported only here, only for `ray`; without it installed that is one line saying how to install it."""
    kind = check_execution(kind, replicas, ray_address, replica_env)
    if kind == "local":
        from evalsuite.executors.local import LocalExecutor

        return LocalExecutor(backend)
    from evalsuite.executors.ray import RayExecutor

    return RayExecutor(backend, model, model_args, replicas=replicas, address=ray_address,
                       replica_env_names=replica_env or (), log=log)
