"""What the Ray executor does when replicas fail: chunk deadlines, a lost or unreachable replica's chunks resent,
deaths charged to a per-replica budget, a replica dropped for good when over it (the run goes on with the rest),
and one line when none is left. A mixin of `RayExecutor`, which owns the slots, queues and log; the error
classes and the budget are in `ray_faults`.
"""
from __future__ import annotations

import time
from collections import deque
from typing import Any

from evalsuite.errors import UsageError
from evalsuite.executors.placement import Chunk, spread
from evalsuite.executors.ray_connect import import_ray
from evalsuite.executors.ray_faults import RESTART_WINDOW, chunk_deadline, lost_errors, preempted, unavailable_error


class ReplicaLost(UsageError):
    """A replica died for good (restarts used up) or none came back: the run stops; the store keeps its work."""


class Recovery:
    """Failure handling over `self.slots` (see `RayExecutor`)."""

    slots: list[Any]
    placement: Any
    log: Any
    max_restarts: int
    restart_wait: float
    resent: int
    _sent: dict[Any, tuple[float, int]]

    def _up(self) -> list[int]:
        return [i for i, s in enumerate(self.slots) if s.up]

    def _wait_time(self, flying: dict) -> float:
        """Seconds until the earliest chunk deadline (at most `restart_wait`)."""
        due = [at for _, at in self._deadlines(flying)]
        return max(0.05, min([self.restart_wait] + [at - time.monotonic() for at in due]))

    def _deadlines(self, flying: dict) -> list[tuple[int, float]]:
        """(replica, when its oldest chunk is overdue) for each live replica with chunks in flight. A replica works
        through its chunks in order, so the clock starts when it sent its last result or got the chunk."""
        oldest: dict[int, Any] = {}
        for ref, (r, _) in flying.items():
            oldest.setdefault(r, ref)
        out = []
        for r, ref in oldest.items():
            slot, (sent, budget) = self.slots[r], self._sent.get(ref, (time.monotonic(), 0))
            if slot.up:
                out.append((r, max(sent, slot.progress_at) + chunk_deadline(budget, slot.tokens, slot.seconds)))
        return out

    def _expire(self, flying: dict) -> None:
        """Restart every replica whose oldest chunk is past its deadline; its chunks come back as lost and are
        resent to the others."""
        ray = import_ray()
        now = time.monotonic()
        for r, at in self._deadlines(flying):
            if at <= now:
                slot = self.slots[r]
                self.log(f"ray: replica {r} on {_node(slot)} has not returned a chunk by its deadline; restarting it "
                         "and resending its chunks")
                slot.progress_at = now
                ray.kill(slot.actor, no_restart=False)

    def _unavailable(self, r: int, chunk: Chunk, queues: dict[int, deque[Chunk]]) -> None:
        """The replica could not be reached (a network blip, or its process died and Ray is restarting it): resend
        its chunks and ping it; the ping tells which (a new process is a death, charged then; see `_revived`)."""
        slot = self.slots[r]
        orphans = [chunk]
        if slot.up:
            slot.up, slot.suspect, slot.down_since = False, True, time.monotonic()
            slot.deaths += 1  # counted now (the run may end first), taken back if the same process answers
            self.placement.forget(r)
            orphans += list(queues.pop(r, deque()))
            slot.ping = slot.actor.ready.remote()
        self.resent += len(orphans)
        alive = self._up() or [i for i, s in enumerate(self.slots) if not s.gone]
        spread(queues, orphans, alive)

    def _lost(self, r: int, chunk: Chunk, queues: dict[int, deque[Chunk]], error: BaseException) -> None:
        """Replica r died: resend its chunks to the live replicas and ping it until Ray has restarted it (or drop
        it when it is over its restart budget)."""
        slot = self.slots[r]
        orphans = [chunk]
        if slot.up:
            slot.up, slot.down_since = False, time.monotonic()
            self.placement.forget(r)
            orphans += list(queues.pop(r, deque()))
            if self._charge(r, error, "died"):
                slot.ping = slot.actor.ready.remote()
        self.resent += len(orphans)
        alive = self._up() or [i for i, s in enumerate(self.slots) if not s.gone]
        if not alive:
            raise self._none_left()
        if self._up():
            spread(queues, orphans, alive)
        else:
            queues.setdefault(alive[0], deque()).extendleft(reversed(orphans))

    def _charge(self, r: int, error: BaseException | None, what: str, counted: bool = False) -> bool:
        """Count a death of replica r (unless `counted` already) against its budget (not a preemption) and say so;
        False when it was dropped for good."""
        slot = self.slots[r]
        slot.deaths += 0 if counted else 1
        if error is not None and preempted(error):
            self.log(f"ray: replica {r} on {_node(slot)} was preempted; resending its chunks")
            return True
        assert slot.budget is not None
        if slot.budget.charge():
            self.log(f"ray: replica {r} on {_node(slot)} {what} ({len(slot.budget.deaths)} of {self.max_restarts} "
                     f"restarts in {RESTART_WINDOW / 60:.0f} min); resending its chunks")
            return True
        self._drop(r, f"{what} more than {self.max_restarts} time(s) in {RESTART_WINDOW / 60:.0f} min")
        return False

    def _drop(self, r: int, why: str) -> None:
        """Replica r is gone for good: stop it, and go on with the others (the run stops when none is left)."""
        ray = import_ray()
        slot = self.slots[r]
        slot.up, slot.ping, slot.gone = False, None, why
        try:
            ray.kill(slot.actor, no_restart=True)
        except Exception:  # already gone
            pass
        left = [i for i, s in enumerate(self.slots) if not s.gone]
        if not left:
            raise self._none_left()
        self.log(f"ray: replica {r} on {_node(slot)} is gone for good ({why}); going on with {len(left)} replica(s)")

    def _none_left(self) -> ReplicaLost:
        why = "; ".join(f"replica {i} on {_node(s)}: {s.gone or 'down'}" for i, s in enumerate(self.slots))
        return ReplicaLost(f"no replica is left ({why}); everything finished is in the sample store: run the same "
                           "command again to resume")

    def _revived(self, r: int, ref: Any) -> None:
        ray = import_ray()
        slot = self.slots[r]
        slot.ping = None
        try:
            where = ray.get(ref)
        except unavailable_error(ray):
            slot.ping = slot.actor.ready.remote()
            return
        except lost_errors(ray) as e:
            counted, slot.suspect = slot.suspect, False
            if self._charge(r, e, "died" if counted else "died again while restarting", counted=counted):
                slot.ping = slot.actor.ready.remote()
            return
        except ray.exceptions.RayTaskError as e:  # it came back but could not load the model (OOM, missing files)
            self._drop(r, f"it could not reload the model: {_first(_cause(e))}")
            return
        suspect, restarted = slot.suspect, slot.suspect and where.get("pid") != slot.where.get("pid")
        slot.where, slot.suspect = where, False
        if suspect and not restarted:
            slot.deaths -= 1  # it was only unreachable: no restart spent
        if restarted and not self._charge(r, None, "died", counted=True):
            return
        slot.up, slot.progress_at = True, time.monotonic()
        self.log(f"ray: replica {r} is back on {_node(slot)}")

    def _wait_for_a_replica(self, pings: dict) -> None:
        """Every replica is down: wait for Ray to restart one, or stop with one line after `restart_wait`."""
        ray = import_ray()
        if not pings:
            raise self._none_left()
        ready, _ = ray.wait(list(pings), num_returns=1, timeout=self.restart_wait)
        if ready:
            self._revived(pings[ready[0]], ready[0])
            return
        down = ", ".join(f"replica {i} on {_node(s)}" for i, s in enumerate(self.slots))
        raise ReplicaLost(f"no replica came back within {self.restart_wait:.0f} s ({down}); everything finished is in "
                          "the sample store: run the same command again (on a healthy cluster) to resume")


def _node(slot: Any) -> str:
    w = slot.where
    if not w:
        return "an unknown node"
    return f"node {w.get('node_ip')} ({w.get('host')}, id {str(w.get('node_id'))[:8]})"


def _cause(e: Exception) -> Exception:
    """The backend's own exception inside a RayTaskError (a UsageError stays one line)."""
    cause = getattr(e, "cause", None)
    return cause if isinstance(cause, Exception) else e


def _first(e: BaseException) -> str:
    """The first line of an error, at most 200 characters."""
    return (str(e).strip().splitlines() or [type(e).__name__])[0][:200]
