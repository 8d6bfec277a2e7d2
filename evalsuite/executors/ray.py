"""The Ray executor: one Ray Core actor per replica, each with a warm backend; the driver keeps rounds and store.

Each round is cut into chunks (see `placement`), at most `max_in_flight` per replica at a time, collected with
`ray.wait` and reported to the engine as each arrives, so the driver stores a chunk the moment it lands. A replica
that dies is restarted by Ray while its unfinished chunks go to the others; one over its restart budget (per time
window, see `ray_faults`) is dropped and the run goes on with the rest; when none is left the run stops with one
line and everything stored so far stays stored, so the same command resumes. A chunk past its deadline restarts
its replica and is resent (failure handling is in `ray_recovery`). Connection and the replicas' environment are in
`ray_connect`, the actor and its placement in `ray_replica`.
"""
from __future__ import annotations

import os
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Sequence

from evalsuite.backends.base import Backend, OnResult
from evalsuite.errors import UsageError
from evalsuite.executors.base import ExecutionSettings, Executor, Identity, WorkItem, deliver
from evalsuite.executors.placement import Chunk, Placement, steal
from evalsuite.executors.ray_connect import INSTALL, check_env_names, connect, import_ray, replica_env
from evalsuite.executors.ray_faults import RESTART_WINDOW, RestartBudget, lost_errors, unavailable_error
from evalsuite.executors.ray_recovery import Recovery, ReplicaLost, _cause, _first, _node
from evalsuite.executors.ray_replica import default_replicas, expected_identity, resources, spawn
from evalsuite.registry import executor

__all__ = ["INSTALL", "RayExecutor", "ReplicaLost", "connect", "import_ray"]
MAX_RESTARTS = 3
"""How often one replica may die (a crash, a lost node, a hung chunk) within `RESTART_WINDOW` before it is dropped."""
WHOLE_SHARE = 1 << 30


@dataclass
class _Slot:
    """The driver's view of one replica: its actor, where it runs, what it did."""

    actor: Any
    pg: Any = None
    where: dict[str, Any] = field(default_factory=dict)
    up: bool = False
    deaths: int = 0
    budget: RestartBudget | None = None
    gone: str = ""
    suspect: bool = False
    ping: Any = None
    progress_at: float = 0.0
    down_since: float = 0.0
    requests: int = 0
    tokens: int = 0
    seconds: float = 0.0
    engines: set[str] = field(default_factory=set)


@executor("ray")
class RayExecutor(Recovery, Executor):
    """Runs rounds on `replicas` Ray actors, each holding a backend built where the actor runs from the model spec
    the driver's (unloaded) backend was built from."""

    name = "ray"

    @classmethod
    def create(cls, backend: Backend, settings: ExecutionSettings, log: Any) -> "RayExecutor":
        return cls(backend, replicas=settings.replicas, address=settings.address,
                   replica_env_names=settings.replica_env, log=log)

    def __init__(self, backend: Backend, replicas: int | None = None, address: str | None = None,
                 max_in_flight: int = 2, max_restarts: int | None = None, chunk_size: int | None = None,
                 restart_wait: float = 300.0, start_wait: float = 3600.0, replica_env_names: Sequence[str] = (),
                 log=print):
        if replicas is not None and replicas < 1:
            raise UsageError(f"--replicas must be at least 1, got {replicas}")
        if backend.built_from is None:
            raise UsageError("the ray executor builds each replica's backend from the model's spec; give the model "
                             "as a spec string (e.g. hf:PATH) or a backend made by load_backend, not one made directly")
        import_ray()
        self.backend = backend
        self.wanted, self.address = replicas, address
        self.max_in_flight = max(1, max_in_flight)
        self.max_restarts = MAX_RESTARTS if max_restarts is None else max_restarts
        self.env_names = check_env_names(replica_env_names)
        self.restart_wait, self.start_wait = restart_wait, start_wait
        self.mode = "batch" if backend.batch_size and not backend.batch_invariant else "chain"
        # an engine that batches a whole round itself (vLLM) gets one chunk per replica per round, so it does not
        # drain to an empty batch every 256 requests (a lost replica's share is resent whole)
        share = WHOLE_SHARE if backend.whole_round_batches else 256
        self.size = backend.batch_size if self.mode == "batch" else (chunk_size or backend.batch_size or share)
        self.placement = Placement()
        self.slots: list[_Slot] = []
        self.rounds: list[dict[str, float]] = []
        self.stolen = 0
        self.resent = 0
        self.log = log
        self._started_ray = False
        self._last_end: float | None = None
        self._sent: dict[Any, tuple[float, int]] = {}

    @property
    def identity(self) -> Identity:
        return Identity(self.backend.name, self.backend.model_id, self.backend.revision)

    def start(self) -> None:
        """Connect to Ray and start the replicas (once; a run whose replies are all stored never starts them)."""
        if self.slots:
            return
        self._started_ray = connect(self.address)
        ray = import_ray()
        cluster = ray.cluster_resources()
        nodes = sum(1 for n in ray.nodes() if n.get("Alive"))
        n = self.wanted or default_replicas(self.backend, ray.available_resources(), nodes, cluster)
        res = resources(self.backend, n, cluster)
        if n * (res.gpus + res.bundle_gpus) > cluster.get("GPU", 0):
            raise UsageError(f"{n} replica(s) of {_fmt_res(res)} each do not fit the cluster ({_fmt(cluster)}); "
                             "lower --replicas or the parallel sizes in --model-args")
        run = uuid.uuid4().hex[:8]
        env = replica_env(self.backend, self.env_names)
        for i in range(n):
            actor, pg = spawn(i, f"evalsuite-{run}-replica-{i}", self.backend, res, env,
                              expected_identity(self.backend))
            self.slots.append(_Slot(actor, pg, budget=RestartBudget(self.max_restarts, RESTART_WINDOW)))
        try:
            infos = ray.get([s.actor.ready.remote() for s in self.slots], timeout=self.start_wait)
        except ray.exceptions.GetTimeoutError:
            raise UsageError(f"{n} replica(s) did not load the model within {self.start_wait:.0f} s (the cluster has "
                             f"{_fmt(cluster)}, each replica needs {_fmt_res(res)}); check `ray status`") from None
        except ray.exceptions.RayActorError as e:
            first = (str(e).strip().splitlines() or ["died"])[0]
            raise UsageError(f"a replica died while loading the model ({first[:200]}); see the Ray logs") from None
        except ray.exceptions.RayTaskError as e:
            raise _cause(e) from None
        except ray.exceptions.RayError as e:  # a runtime_env that cannot be set up, an unschedulable actor...
            raise UsageError(f"the replicas could not start ({type(e).__name__}: {_first(e)}); see the Ray logs "
                             "(`ray list actors`)") from None
        for slot, info in zip(self.slots, infos):
            slot.where, slot.up, slot.progress_at = info, True, time.monotonic()
        size = "each replica's whole share" if self.size == WHOLE_SHARE else str(self.size)
        self.log(f"ray: {n} replica(s) ready on {len({s.where['node_id'] for s in self.slots})} node(s), "
                 f"{self.mode} chunks of {size}")

    def prepare(self) -> None:
        self.start()

    def run_round(self, items: Sequence[WorkItem], on_result: OnResult) -> None:
        self.start()
        ray = import_ray()
        t0 = time.perf_counter()
        busy = [0.0] * len(self.slots)
        while not self._up():
            self._wait_for_a_replica({s.ping: i for i, s in enumerate(self.slots) if s.ping is not None})
        queues = self.placement.plan(items, self._up(), self.mode, self.size)
        flying: dict[Any, tuple[int, Chunk]] = {}
        while True:
            self._fill(queues, flying, items)
            pings = {s.ping: i for i, s in enumerate(self.slots) if s.ping is not None}
            if not flying and not any(queues.values()):
                break
            if not flying:
                self._wait_for_a_replica(pings)
                continue
            ready, _ = ray.wait(list(flying) + list(pings), num_returns=1, timeout=self._wait_time(flying))
            if not ready:
                self._expire(flying)
            for ref in ready:
                if ref in pings:
                    self._revived(pings[ref], ref)
                    continue
                r, chunk = flying.pop(ref)
                self._sent.pop(ref, None)
                try:
                    gens, seconds, engine = ray.get(ref)
                except unavailable_error(ray):
                    self._unavailable(r, chunk, queues)
                    continue
                except lost_errors(ray) as e:
                    self._lost(r, chunk, queues, e)
                    continue
                except ray.exceptions.RayTaskError as e:
                    raise _cause(e) from None
                self.slots[r].progress_at = time.monotonic()
                self._account(r, chunk, gens, seconds, busy)
                self.slots[r].engines.add(engine)
                deliver(on_result, list(zip(chunk.index, gens)))  # one store transaction per chunk
        end = time.perf_counter()
        gap = t0 - self._last_end if self._last_end is not None else 0.0
        self.rounds.append({"seconds": end - t0, "busiest_replica_seconds": max(busy, default=0.0),
                            "driver_seconds_before": gap})
        self._last_end = end

    def _fill(self, queues: dict[int, deque[Chunk]], flying: dict, items: Sequence[WorkItem]) -> None:
        """Top every live replica up to `max_in_flight` chunks from its own queue; one with nothing in flight and
        nothing queued takes the last chunk of the longest queue."""
        def send(r: int, chunk: Chunk) -> None:
            ref = self.slots[r].actor.run.remote([items[i].request for i in chunk.index])
            flying[ref] = (r, chunk)
            self._sent[ref] = (time.monotonic(), sum(items[i].request.gen.max_tokens for i in chunk.index))

        def load(r: int) -> int:
            return sum(1 for rr, _ in flying.values() if rr == r)

        for r in self._up():
            q = queues.setdefault(r, deque())
            while q and load(r) < self.max_in_flight:
                send(r, q.popleft())
        for r in self._up():
            if not load(r) and not queues[r]:
                chunk = steal(queues, r)
                if chunk is not None:
                    self.stolen += 1
                    send(r, chunk)

    def _account(self, r: int, chunk: Chunk, gens: list, seconds: float, busy: list[float]) -> None:
        slot = self.slots[r]
        slot.requests += len(gens)
        slot.tokens += sum(len(g.token_ids) or len(g.token_logprobs) for g in gens)
        slot.seconds += seconds
        busy[r] += seconds
        self.placement.ran(chunk, r)

    def token_offsets(self, token_ids: Sequence[int]) -> list[int] | None:
        """Ask a live replica (it has the tokenizer; the driver never loads the model): only for a reply stored
        without its offsets, since a request that wants them gets them with its reply (`Request.want_offsets`)."""
        self.start()
        ray = import_ray()
        r = (self._up() or [0])[0]
        return ray.get(self.slots[r].actor.token_offsets.remote(list(token_ids)))

    def describe(self) -> dict[str, Any]:
        info = []
        for i, s in enumerate(self.slots):
            info.append({"replica": i, "node": _node(s), "host": s.where.get("host"), "device": s.where.get("device"),
                         "threads": s.where.get("threads"), "requests": s.requests, "tokens": s.tokens,
                         "seconds": round(s.seconds, 3), "tokens_per_s": round(s.tokens / s.seconds, 2) if s.seconds else 0.0,
                         "restarts": s.deaths, "engines_built": len(s.engines), "gone": s.gone or None})
        return {"executor": self.name, "replicas": len(self.slots) or (self.wanted or 0),
                "ray_address": self.address or os.environ.get("RAY_ADDRESS") or "local",
                "chunking": self.mode, "chunk_size": self.size, "max_in_flight": self.max_in_flight,
                "replica_info": info, "chains_moved": self.placement.moved(), "chunks_stolen": self.stolen,
                "chunks_resent": self.resent, "rounds": [{k: round(v, 4) for k, v in r.items()} for r in self.rounds]}

    def close(self) -> None:
        """Stop the replicas (and the local Ray this executor started); the driver's store is untouched."""
        if not self.slots and not self._started_ray:
            return
        ray = import_ray()
        from ray.util.placement_group import remove_placement_group

        for s in self.slots:
            try:
                ray.kill(s.actor, no_restart=True)
                if s.pg is not None:
                    remove_placement_group(s.pg)
            except Exception:  # a replica already gone needs no stopping
                pass
        self.slots = []
        if self._started_ray:
            ray.shutdown()
            self._started_ray = False


def _fmt(cluster: dict[str, float]) -> str:
    return ", ".join(f"{cluster.get(k, 0):g} {k}" for k in ("CPU", "GPU"))


def _fmt_res(res: Any) -> str:
    gpus = res.bundle_gpus or res.gpus
    return f"{res.cpus:g} CPU" + (f" and {gpus} GPU(s)" if gpus else "")
