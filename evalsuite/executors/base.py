"""The executor contract: the engine hands it a round of work items and gets each generation back as it finishes.

The engine (driver) keeps the rounds, the scoring and the one sample store; an executor only turns requests into
`Generation` records, so results never depend on which executor, or how many replicas, produced them.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, Callable, Sequence

from evalsuite.backends.base import Backend, OnResult
from evalsuite.records import Generation, Request

__all__ = ["ExecutionSettings", "Executor", "Identity", "OnResult", "WorkItem", "deliver"]


def deliver(on_result: OnResult, rows: list[tuple[int, Generation]]) -> None:
    """Report replies that arrived together (a backend batch, a Ray chunk) to `on_result`: through its `many(rows)`
    when it has one (the engine stores them in one transaction), else one `on_result(index, gen)` each."""
    many = getattr(on_result, "many", None)
    if many is not None:
        many(rows)
    else:
        for i, g in rows:
            on_result(i, g)


@dataclass(frozen=True)
class WorkItem:
    """One request of a round and the chain it belongs to (`task/doc_id/sample_idx`, the sticky-placement key)."""

    request: Request
    chain: str


@dataclass(frozen=True)
class Identity:
    """What the store keys on: the backend's name, model id and revision."""

    backend: str
    model_id: str
    revision: str


@dataclass(frozen=True)
class ExecutionSettings:
    """Where a run asked its models to run: replica count, cluster address, more environment names for replicas."""

    replicas: int | None = None
    address: str | None = None
    replica_env: tuple[str, ...] = ()


class Executor(ABC):
    """Runs rounds of work items; `run_round` calls `on_result(index, generation)` once per item, as each finishes.

    A kind registers with `@executor(name)` (registry.py; `--executor name`) right above its class line, and builds
    itself from a run's settings with `create`; `check` refuses settings it cannot honour, before any model loads."""

    name: str = ""

    @classmethod
    def check(cls, settings: ExecutionSettings) -> None:
        """Refuse `settings` this kind cannot honour (one UsageError line naming the flag)."""

    @classmethod
    @abstractmethod
    def create(cls, backend: Backend, settings: ExecutionSettings, log: Callable[[str], None]) -> "Executor":
        """The executor of one model: `backend` built on the driver (not loaded); a kind that runs the model
        elsewhere builds it there from `backend.built_from`, the `ModelSpec` it was built from."""

    @property
    @abstractmethod
    def identity(self) -> Identity:
        """The backend identity the store keys on (the same for every replica)."""

    def prepare(self) -> None:
        """Load the model (or start the replicas) before a round's clock starts, so tokens/s measures generation,
        not a first load or the embedded model's conversion; only a round with requests to send calls it."""

    @abstractmethod
    def run_round(self, items: Sequence[WorkItem], on_result: OnResult) -> None:
        """Generate (or teacher-force) every item; report each through `on_result` from the calling thread, the
        replies that arrive together through `deliver`."""

    @abstractmethod
    def token_offsets(self, token_ids: Sequence[int]) -> list[int] | None:
        """End offset of each token in the decoded reply (for answer spans), or None when it cannot detokenize."""

    def describe(self) -> dict[str, Any]:
        """What results.json records about the execution (executor, replicas, their nodes and throughput)."""
        return {"executor": self.name, "replicas": 1}

    def close(self) -> None:
        """Release replicas and engines."""
