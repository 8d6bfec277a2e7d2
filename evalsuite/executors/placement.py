"""Where a round's work goes: chunks of work items, each chain kept on one replica from round to round.

Two ways to cut a round into chunks, chosen by what the backend's numbers depend on:

- `batch`: a backend whose per-row floats depend on which rows share its batch (the hf backend left-pads a batch,
  so its width and row count change the last bits of every statistic) gets chunks that are exactly the batches the
  in-process executor would send: consecutive `batch_size` slices of the round, which the engine orders
  shortest prompt first. A chunk's rows are then computed together whatever the replica count, so samples are
  byte-identical to an in-process run. Each chunk goes to the replica that most of its chains ran on before.
- `chain`: a backend whose rows are computed one by one (`Backend.batch_invariant`, e.g. one HTTP request per
  row) or that batches a whole round itself (vLLM) gets exact stickiness: every chain stays on its replica, and
  each replica's items are cut into chunks of `chunk_size`.
"""
from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Sequence

from evalsuite.executors.base import WorkItem


@dataclass
class Chunk:
    """A slice of a round: positions into the round's items, and their chains."""

    index: list[int]
    chains: list[str]
    tries: int = 0


@dataclass
class Placement:
    """Sticky chain -> replica homes for the whole run, and where each chain has run (for results and tests)."""

    home: dict[str, int] = field(default_factory=dict)
    history: dict[str, list[int]] = field(default_factory=dict)

    def plan(self, items: Sequence[WorkItem], replicas: Sequence[int], mode: str, size: int) -> dict[int, deque[Chunk]]:
        """One queue of chunks per replica in `replicas`; `size` is the batch size (`batch`) or chunk size."""
        if not replicas:
            raise ValueError("no replica to place work on")
        queues: dict[int, deque[Chunk]] = {r: deque() for r in replicas}
        load = Counter({r: 0 for r in replicas})
        if mode == "batch":
            for lo in range(0, len(items), size):
                idx = list(range(lo, min(lo + size, len(items))))
                chunk = Chunk(idx, [items[i].chain for i in idx])
                r = self._vote(chunk.chains, replicas, load)
                queues[r].append(chunk)
                load[r] += len(idx)
            return queues
        mine: dict[int, list[int]] = {r: [] for r in replicas}
        for i, it in enumerate(items):
            r = self.home.get(it.chain)
            if r not in mine:
                r = min(replicas, key=lambda x: (load[x], x))
                self.home[it.chain] = r
            mine[r].append(i)
            load[r] += 1
        for r, idx in mine.items():
            for lo in range(0, len(idx), size):
                part = idx[lo : lo + size]
                queues[r].append(Chunk(part, [items[i].chain for i in part]))
        return queues

    def _vote(self, chains: list[str], replicas: Sequence[int], load: Counter) -> int:
        """The replica most of `chains` ran on last; ties and new chains go to the least loaded."""
        votes = Counter(self.home[c] for c in chains if self.home.get(c) in replicas)
        return min(replicas, key=lambda r: (-votes[r], load[r], r))

    def ran(self, chunk: Chunk, replica: int) -> None:
        """Record that `chunk` ran on `replica`: its chains now live there (their prefix cache is there)."""
        for c in chunk.chains:
            self.home[c] = replica
            seen = self.history.setdefault(c, [])
            if not seen or seen[-1] != replica:
                seen.append(replica)

    def forget(self, replica: int) -> None:
        """A replica was lost: its chains find a new home at the next plan."""
        for c in [c for c, r in self.home.items() if r == replica]:
            del self.home[c]

    def moved(self) -> int:
        """How many chains ran on more than one replica (0 when placement was perfectly sticky)."""
        return sum(len(v) > 1 for v in self.history.values())


def steal(queues: dict[int, deque[Chunk]], thief: int) -> Chunk | None:
    """An idle replica takes the last queued chunk of the longest other queue (None when nothing waits)."""
    victims = [r for r, q in queues.items() if r != thief and q]
    if not victims:
        return None
    victim = max(victims, key=lambda r: (len(queues[r]), -r))
    return queues[victim].pop()


def spread(queues: dict[int, deque[Chunk]], chunks: Sequence[Chunk], replicas: Sequence[int]) -> None:
    """Hand a lost replica's chunks to the replicas with the shortest queues, one at a time."""
    for chunk in chunks:
        r = min(replicas, key=lambda x: (len(queues.setdefault(x, deque())), x))
        queues[r].append(chunk)
