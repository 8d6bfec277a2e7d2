"""How the Ray executor tells a lost replica from a failed backend, how many restarts it allows, and when a chunk
has taken too long.

- Lost (resend the chunk, count a death): the actor, its worker, its raylet or its node went away, or Ray ran out
  of memory or object store for it. `ActorUnavailableError` is not a death (a network blip; the actor may come
  back by itself): the chunk is resent and no restart is spent.
- Restarts: at most `max_restarts` deaths per replica within `window` seconds; a replica over budget is dropped
  for good and the run goes on with the others. Preemptions are not charged.
- Deadline: a chunk may take `factor` x what its token budget needs at the replica's measured rate, never less
  than `floor` seconds; after that the replica is restarted and the chunk resent elsewhere.
"""
from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

LOST = ("RayActorError", "ObjectLostError", "NodeDiedError", "WorkerCrashedError", "RaySystemError",
        "OutOfMemoryError", "ObjectStoreFullError", "OutOfDiskError", "ActorUnschedulableError",
        "LocalRayletDiedError", "ActorPlacementGroupRemoved", "TaskPlacementGroupRemoved", "OwnerDiedError")
CHUNK_DEADLINE_FLOOR = 900.0
"""The shortest deadline a chunk gets (seconds): generous, since a first chunk may compile kernels or warm caches."""
CHUNK_DEADLINE_FACTOR = 10.0
RESTART_WINDOW = 3600.0
"""The window (seconds) of the per-replica restart budget."""


def lost_errors(ray: Any) -> tuple[type[BaseException], ...]:
    """Errors that mean the replica (or its node) went away, not that the backend failed."""
    x = ray.exceptions
    return tuple(getattr(x, n) for n in LOST if hasattr(x, n))


def unavailable_error(ray: Any) -> tuple[type[BaseException], ...]:
    """`ActorUnavailableError` (Ray >= 2.33): the actor may or may not have run the call; it was not restarted."""
    x = getattr(ray.exceptions, "ActorUnavailableError", None)
    return (x,) if x is not None else ()


def preempted(error: BaseException) -> bool:
    """Whether Ray says the actor's node was preempted (spot capacity): not charged to the restart budget."""
    ctx = getattr(error, "preempted", False)
    return bool(ctx) if isinstance(ctx, bool) else False


@dataclass
class RestartBudget:
    """Deaths of one replica within a sliding time window."""

    max_restarts: int
    window: float
    deaths: deque[float] = field(default_factory=deque)
    total: int = 0

    def charge(self, now: float | None = None) -> bool:
        """Count a death; False when this one is over budget (the replica should be dropped)."""
        now = time.monotonic() if now is None else now
        self.total += 1
        self.deaths.append(now)
        while self.deaths and now - self.deaths[0] > self.window:
            self.deaths.popleft()
        return len(self.deaths) <= self.max_restarts


def chunk_deadline(budget_tokens: int, tokens: int, seconds: float, floor: float | None = None,
                   factor: float | None = None) -> float:
    """Seconds a chunk of `budget_tokens` (its requests' max tokens) may take on a replica that has made `tokens`
    in `seconds` so far: `factor` x the expected time, at least `floor`."""
    floor = CHUNK_DEADLINE_FLOOR if floor is None else floor
    factor = CHUNK_DEADLINE_FACTOR if factor is None else factor
    if tokens <= 0 or seconds <= 0:
        return floor
    return max(floor, factor * budget_tokens * seconds / tokens)
