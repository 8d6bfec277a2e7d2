"""The round-synchronous engine: round r of every chain goes to the backend in batches, stored as each returns.

Within a round it knows the order: protocol -> store/executor -> scorer -> protocol. What happens around the
rounds (plans, the observer stage, summaries, outputs) is the runner's (evalsuite/runner.py).
"""
from __future__ import annotations

import dataclasses
import gc
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Callable, Iterator

from evalsuite.backends.base import Backend
from evalsuite.executors.base import Executor, Identity, WorkItem
from evalsuite.executors.local import LocalExecutor
from evalsuite.executors.roles import RoleExecutors
from evalsuite.progress import RoundBar, token_listener
from evalsuite.protocols.base import Protocol, Turn
from evalsuite.records import Doc, GenParams, Generation, Kind, Request, Sample
from evalsuite.scoring.base import Score, Scorer
from evalsuite.store import SampleStore
from evalsuite.store_codec import compact_generation
from evalsuite.tasks.cards import TaskCard


@dataclass
class TaskPlan:
    """What to run for one task: its docs, the protocol instance and the scorer."""

    card: TaskCard
    docs: list[Doc]
    protocol: Protocol
    scorer: Scorer


@dataclass
class RunStats:
    """Counts a run reports: model calls made and generations read back from the store."""

    generated: int = 0
    from_store: int = 0
    gen_tokens: int = 0
    gen_seconds: float = 0.0
    rounds: int = 0

    @property
    def tokens_per_s(self) -> float:
        return self.gen_tokens / self.gen_seconds if self.gen_seconds else 0.0


@dataclass
class _Chain:
    plan: TaskPlan
    doc: Doc
    sample_idx: int
    pending: list[Request] | None
    history: list[list[Turn]] = field(default_factory=list)
    answers: int = 0
    answer_at: dict[int, int] = field(default_factory=dict)
    """Engine round -> index of this chain's answer sample in the run's sample list."""
    member: bool | None = None
    """The doc's membership label (`Protocol.member`), read once per chain rather than once per sample."""


@dataclass
class _Shared:
    """Equal values the run's requests and samples share instead of each holding a copy (samples and requests are
    never changed in place): a million samples need not hold a million equal small objects."""

    params: dict[tuple[GenParams, int], GenParams] = field(default_factory=dict)
    """(parameters, seed) -> the one GenParams with that seed."""
    conventions: dict[tuple, dict[str, bool]] = field(default_factory=dict)
    """A scorer's convention verdicts (a task has a handful of distinct sets)."""


def _seeded(req: Request, sample_idx: int, shared: _Shared | None = None) -> Request:
    """Give each sample of a sampled request its own seed; greedy requests do not depend on the seed."""
    seed = req.gen.seed * 1_000_003 + sample_idx if req.gen.temperature > 0 else 0
    if seed == req.gen.seed:
        return req
    gen = shared.params.get((req.gen, seed)) if shared is not None else None
    if gen is None:
        gen = dataclasses.replace(req.gen, seed=seed)
        if shared is not None:
            shared.params[(req.gen, seed)] = gen
    return req.with_gen(gen)


OnRound = Callable[[list[Sample], RunStats, int], None]


@contextmanager
def long_lived_heap() -> Iterator[Callable[[], None]]:
    """Yields `keep()`, which moves every object now alive out of the cyclic garbage collector's view
    (`gc.freeze`) until the outermost such block ends: a run's samples live until its outputs are written, and the
    collector's full passes over them were a fifth of a 100k-generation run. Refcounting still frees what dies;
    cycles among kept objects are collected after the block. An inner block (the engine's inside the runner's, or
    a run in another thread) stops keeping once the outermost has ended, so nothing stays frozen after it."""
    outermost = gc.get_freeze_count() == 0

    def keep() -> None:
        if outermost or gc.get_freeze_count():  # not after the outermost block ended (a run in another thread)
            gc.freeze()

    keep()
    try:
        yield keep
    finally:
        if outermost:
            gc.unfreeze()


def run(
    plans: list[TaskPlan],
    backend: "Backend | Executor | RoleExecutors",
    store: SampleStore,
    samples: int = 1,
    progress: bool = True,
    log=print,
    on_round: OnRound | None = None,
) -> tuple[list[Sample], RunStats]:
    """Run every plan's chains to completion; return every sample of every round, and the run's counts.

    `backend` is a backend (run in this process), an executor (e.g. Ray replicas) or the run's executors by model
    role (each request goes to its `role`'s, keyed by that role's model); `on_round(samples, stats, round)` is
    called after each round is scored, with every sample so far (for a live report).
    """
    with long_lived_heap() as keep:
        return _run(plans, _role_executors(backend), store, samples, progress, log, on_round, keep)


def _run(plans: list[TaskPlan], executors: RoleExecutors, store: SampleStore, samples: int, progress: bool, log,
         on_round: OnRound | None, keep: Callable[[], None]) -> tuple[list[Sample], RunStats]:
    executor = executors.main
    idents: dict[str | None, Identity] = {None: executor.identity}
    stats = RunStats()
    shared = _Shared()
    chains = [
        _Chain(plan, doc, s, [_seeded(r, s, shared) for r in first], member=member)
        for plan in plans
        for doc in plan.docs
        for first, member in [(plan.protocol.first(doc), plan.protocol.member(doc))]
        for s in range(samples)
    ]
    out: list[Sample] = []
    rnd = 0
    while active := [c for c in chains if c.pending]:
        items = [(c, req, _key(executors, idents, req, c.sample_idx)) for c in active for req in c.pending]
        got = store.get_many(k for _, _, k in items)
        stats.from_store += len(got)
        for role, part in _by_role(items):
            _generate_missing(executors.executor(role), store, part, got, stats, rnd, progress, log, keep)
        _advance(active, items, got, rnd, out, executor, shared)
        rnd += 1
        stats.rounds = rnd
        keep()
        if on_round is not None:
            on_round(out, stats, rnd - 1)
    stats.rounds = rnd
    return out, stats


def _role_executors(backend: "Backend | Executor | RoleExecutors") -> RoleExecutors:
    if isinstance(backend, RoleExecutors):
        return backend
    return RoleExecutors(backend if isinstance(backend, Executor) else LocalExecutor(backend))


def _key(executors: RoleExecutors, idents: dict[str | None, Identity], req: Request, sample_idx: int) -> str:
    """The store key of a request: keyed on the model of its role (the main model's when it has none); `idents`
    caches each role's identity for the run."""
    ident = idents.get(req.role)
    if ident is None:
        ident = idents[req.role] = executors.identity(req.role)
    return req.key(ident.backend, ident.model_id, ident.revision, sample_idx)


def _by_role(items: list) -> list[tuple[str | None, list]]:
    """A round's items per model role (the main model's first), each role's in the round's order; a round with
    no role is one part, the round itself."""
    if all(req.role is None for _, req, _ in items):
        return [(None, items)]
    parts: dict[str | None, list] = {None: []}
    for it in items:
        parts.setdefault(it[1].role, []).append(it)
    return [(role, part) for role, part in parts.items() if part]


def _advance(active: list[_Chain], items: list, got: dict[str, Generation], rnd: int, out: list[Sample],
             executor: Executor, shared: _Shared) -> None:
    """Score the round's replies into samples, hand each chain its turns and take its next requests; a chain that
    ends gets its confidences (the protocol's `confidence` hook) on its answer samples now."""
    turns: dict[int, list[Turn]] = {}
    for (c, req, key), sc in zip(items, _score_answers(items, got)):
        sample = _score(c, req, key, got[key], rnd, sc, shared)
        if sample.attempt is not None:
            c.answer_at[rnd] = len(out)
        out.append(sample)
        turns.setdefault(id(c), []).append(Turn(req, sample.generation, sample.extracted, sample.correct,
                                                sample.info))
    for c in active:
        c.history.append(turns[id(c)])
        nxt = c.plan.protocol.next(c.doc, c.history)
        c.pending = [_seeded(r, c.sample_idx, shared) for r in nxt] if nxt else None
        if c.pending is None:
            _attach_confidence(c, out, executor)


def _generate_missing(executor: Executor, store: SampleStore, items: list, got: dict[str, Generation],
                      stats: RunStats, rnd: int, progress: bool, log, keep: Callable[[], None] = lambda: None
                      ) -> None:
    """Send the round's requests that the store lacks (shortest prompt first); store each reply as it arrives."""
    todo = sorted((i for i, (_, _, k) in enumerate(items) if k not in got),
                  key=lambda i: len(str(items[i][1].messages or items[i][1].prompt)))
    if not todo:
        return
    executor.prepare()
    t_round = time.perf_counter()
    bar = RoundBar(len(todo), f"round {rnd}", progress)
    work = [WorkItem(items[i][1], _chain_key(items[i][0])) for i in todo]

    arrived = _Arrivals(items, todo, store, got, stats, bar, t_round, keep)
    try:
        with token_listener(bar.tokens):
            executor.run_round(work, arrived)
    finally:
        arrived.flush()  # whole batches only: what a kill leaves resumes into the same batches
        bar.close()
    missing = [items[i][2] for i in todo if items[i][2] not in got]
    if missing:
        raise RuntimeError(f"the executor returned no generation for {len(missing)} request(s) of round {rnd}")
    log(f"round {rnd}: {len(todo)} generated, {len(items) - len(todo)} from store, "
        f"{len(todo) / max(time.perf_counter() - t_round, 1e-9):.2f} req/s, {stats.tokens_per_s:.0f} tok/s")


FLUSH_ROWS = 1024
FLUSH_SECONDS = 1.0
"""Whole batches that arrive together are stored at once when the last store transaction is this many seconds old
(so a slow backend's every batch is stored as it arrives), else together with the next ones once this many rows
wait, or the next batch comes after the interval, or the round ends: a fast backend's small batches do not each pay
a commit."""


class _Arrivals:
    """The round's `on_result`. A reply the executor reports alone (a row a backend finished mid-batch) is stored
    at once. Replies reported together (`many`: a backend batch, a Ray chunk) are stored whole batches at a time,
    in one transaction per `FLUSH_ROWS` rows or `FLUSH_SECONDS`, so a store never holds part of a batch and a
    resume after a kill re-slices the missing items into the same batches."""

    def __init__(self, items: list, todo: list[int], store: SampleStore, got: dict[str, Generation],
                 stats: RunStats, bar: RoundBar, t_round: float, keep: Callable[[], None] = lambda: None):
        self.items, self.todo, self.store, self.got, self.stats, self.bar = items, todo, store, got, stats, bar
        self.keep = keep
        """Called after each transaction: the replies just stored live until the run's end (long_lived_heap)."""
        self.t_round, self.before = t_round, stats.gen_seconds
        self.pending: list[tuple[str, dict, Generation]] = []
        self.flushed_at = float("-inf")

    def __call__(self, j: int, gen: Generation) -> None:
        self._take([(j, gen)])
        self.flush()

    def many(self, rows: list[tuple[int, Generation]]) -> None:
        """Take `rows` (index into the round's work, generation) of one batch; store when enough wait."""
        self._take(rows)
        if len(self.pending) >= FLUSH_ROWS or time.perf_counter() - self.flushed_at >= FLUSH_SECONDS:
            self.flush()

    def _take(self, rows: list[tuple[int, Generation]]) -> None:
        tokens = 0
        for j, gen in rows:
            _, req, key = self.items[self.todo[j]]
            gen = compact_generation(gen)
            self.pending.append((key, req.to_dict(chat=False), gen))  # the store reads (role, content) pairs
            tokens += len(gen.token_ids) or len(gen.token_logprobs)
        self.stats.generated += len(rows)
        self.stats.gen_tokens += tokens
        self.stats.gen_seconds = self.before + time.perf_counter() - self.t_round
        self.bar.finished(tokens, len(rows))

    def flush(self) -> None:
        """Store every waiting row in one transaction."""
        if not self.pending:
            return
        self.store.put_many(self.pending)
        for key, _, gen in self.pending:
            self.got[key] = gen
        self.pending = []
        self.keep()
        self.flushed_at = time.perf_counter()


def _chain_key(c: _Chain) -> str:
    return f"{c.doc.task}/{c.doc.doc_id}/{c.sample_idx}"


def _attach_confidence(c: _Chain, out: list[Sample], executor: Executor) -> None:
    """Put a finished chain's confidences, {answer's engine round: {method: value}}, on its answer samples."""
    for rnd, conf in c.plan.protocol.confidence(c.doc, c.history, executor.token_offsets).items():
        i = c.answer_at.get(rnd)
        if i is not None and conf:
            out[i] = dataclasses.replace(out[i], confidence={**out[i].confidence, **conf})


def _score_answers(items: list, got: dict[str, Generation]) -> list[Score | None]:
    """Score a round's answer turns with one `score_many` call per scorer (code scorers run them in parallel)."""
    out: list[Score | None] = [None] * len(items)
    by_scorer: dict[int, tuple[Scorer, list[int]]] = {}
    for i, (c, req, _) in enumerate(items):
        if req.kind == Kind.ANSWER:
            by_scorer.setdefault(id(c.plan.scorer), (c.plan.scorer, []))[1].append(i)
    for scorer, idx in by_scorer.values():
        scores = scorer.score_many([(c.plan.protocol.answer_text(got[key].text), c.doc.target, c.doc.fields)
                                    for c, _, key in (items[i] for i in idx)])
        for i, sc in zip(idx, scores):
            out[i] = sc
    return out


def _score(c: _Chain, req: Request, key: str, gen: Generation, rnd: int, sc: Score | None, shared: _Shared
           ) -> Sample:
    """The sample of one reply; an answer carries its score (every answer of a round was scored together)."""
    proto = c.plan.protocol
    info = proto.sample_info(c.doc)
    base = dict(task=c.doc.task, doc_id=c.doc.doc_id, protocol=proto.registry_name, round=rnd,
                sample_idx=c.sample_idx, key=key, request=req, generation=gen, kind=req.kind, target=c.doc.target,
                member=c.member)
    if sc is None:
        return Sample(attempt=None, info=info, **base)
    c.answers += 1
    conventions = dict(sc.conventions)
    conventions = shared.conventions.setdefault(tuple(conventions.items()), conventions)
    return Sample(attempt=c.answers - 1, extracted=sc.extracted, correct=sc.correct, conventions=conventions,
                  info={**info, **sc.info} if info and sc.info else (info if not sc.info else sc.info), **base)
