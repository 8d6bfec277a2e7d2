"""The in-process executor: one backend in this process, the round sent in batches of its `batch_size`."""
from __future__ import annotations

import dataclasses
import time
from typing import Any, Callable, Sequence

from evalsuite.backends.base import Backend, OnResult
from evalsuite.errors import UsageError
from evalsuite.executors.base import ExecutionSettings, Executor, Identity, WorkItem, deliver
from evalsuite.records import Generation, Request
from evalsuite.registry import executor


def call_backend(backend: Backend, reqs: Sequence[Request], on_result: OnResult | None = None,
                 on_rows: Callable[[list[tuple[int, Generation]]], None] | None = None) -> list[Generation]:
    """Generate, or teacher-force the requests that carry a continuation, keeping the order; a reply whose request
    `want_offsets` carries its token offsets (`with_offsets`), computed here, where the tokenizer is.

    `on_result(i, gen)` is called as each request finishes where the backend streams rows, so a caller can store it
    before the rest of the batch is done; the rows a call returns together go to `on_rows(rows)` in one call when
    it is given (else to `on_result` one by one).
    """
    forced = [i for i, r in enumerate(reqs) if r.continuation is not None]
    free = [i for i, r in enumerate(reqs) if r.continuation is None]
    out: list[Generation | None] = [None] * len(reqs)

    def done(pos: list[int]):
        def report(j: int, gen: Generation) -> None:
            gen = with_offsets(backend, reqs[pos[j]], gen)
            out[pos[j]] = gen
            if on_result is not None:
                on_result(pos[j], gen)
        return report

    def rest(pos: list[int], gens: Sequence[Generation]) -> None:
        rows = [(pos[j], with_offsets(backend, reqs[pos[j]], g)) for j, g in enumerate(gens) if out[pos[j]] is None]
        for i, g in rows:
            out[i] = g
        if not rows:
            return
        if on_rows is not None:
            on_rows(rows)
        elif on_result is not None:
            for i, g in rows:
                on_result(i, g)

    if free:
        rest(free, backend.generate([reqs[i] for i in free], on_result=done(free)))
    if forced:
        rest(forced, backend.score_requests([reqs[i] for i in forced]))
    return out  # type: ignore[return-value]


def with_offsets(backend: Backend, req: Request, gen: Generation) -> Generation:
    """`gen` with the end offset of each token in its text when `req` wants them and the backend can say (its
    `token_offsets`); otherwise `gen` itself. Only where asked: decoding each prefix costs ~40 ms a 512-token reply."""
    if not req.want_offsets or gen.token_offsets is not None or not len(gen.token_ids):
        return gen
    offsets = backend.token_offsets(gen.token_ids)
    return gen if offsets is None else dataclasses.replace(gen, token_offsets=list(offsets))


@executor("local")
class LocalExecutor(Executor):
    """Runs every round on one warm backend in this process."""

    name = "local"

    @classmethod
    def check(cls, settings: ExecutionSettings) -> None:
        if (settings.replicas or 1) > 1 or settings.address or settings.replica_env:
            raise UsageError("--replicas, --ray-address and --replica-env need --executor ray (the local executor "
                             "is one process)")

    @classmethod
    def create(cls, backend: Backend, settings: ExecutionSettings, log: Callable[[str], None]) -> "LocalExecutor":
        return cls(backend)

    def __init__(self, backend: Backend):
        self.backend = backend
        self.seconds = 0.0
        self.tokens = 0

    @property
    def identity(self) -> Identity:
        return Identity(self.backend.name, self.backend.model_id, self.backend.revision)

    def prepare(self) -> None:
        self.backend.load()

    def run_round(self, items: Sequence[WorkItem], on_result: OnResult) -> None:
        size = self.backend.batch_size or max(1, len(items))
        for b in range(0, len(items), size):
            t0 = time.perf_counter()
            batch = items[b : b + size]
            gens = call_backend(self.backend, [it.request for it in batch],
                                lambda j, g, b=b: on_result(b + j, g),
                                lambda rows, b=b: deliver(on_result, [(b + j, g) for j, g in rows]))
            self.seconds += time.perf_counter() - t0
            self.tokens += sum(len(g.token_ids) or len(g.token_logprobs) for g in gens)

    def token_offsets(self, token_ids: Sequence[int]) -> list[int] | None:
        return self.backend.token_offsets(token_ids)

    def describe(self) -> dict[str, Any]:
        return {"executor": self.name, "replicas": 1,
                "replica_info": [{"replica": 0, "node": "local", "device": self.backend.device_label(),
                                  "tokens": self.tokens, "seconds": round(self.seconds, 3),
                                  "tokens_per_s": round(self.tokens / self.seconds, 2) if self.seconds else 0.0}]}
