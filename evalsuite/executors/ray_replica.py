"""The Ray actor behind each replica: one warm evalsuite backend for the whole run, and how to place it.

The actor only turns requests into `Generation` records and sends them back; it never opens the sample store or
writes to the driver's filesystem. Ray is imported inside functions so this module imports without it.
"""
from __future__ import annotations

import os
import socket
import time
from dataclasses import dataclass
from typing import Any, Sequence

from evalsuite import __version__
from evalsuite.backends.base import Backend, ModelSpec
from evalsuite.errors import UsageError
from evalsuite.executors.local import call_backend
from evalsuite.records import Generation, Request


DEAD_ENGINE = ("EngineDeadError",)
"""vLLM's error for an engine whose core or workers died; Ray Data's vLLM stage also exits the actor on it."""


def expected_identity(backend: Backend) -> dict[str, str]:
    """What every replica must see to write under the driver's store key: the model's revision and evalsuite's
    version (a node with another copy of the model or another install would otherwise poison the store)."""
    return {"revision": backend.revision, "model_id": backend.model_id, "evalsuite": __version__}


class Replica:
    """Holds one backend, built once per actor process (a Ray restart builds it again, in the new process)."""

    def __init__(self, index: int, model: ModelSpec, threads: tuple[int, str] | None = None,
                 expected: dict[str, str] | None = None, on_gpu: bool = False):
        self.index = index
        self.expected = expected or {}
        self.backend = model.build()
        if threads is not None and self.backend.threads is not None:
            self.backend.set_threads(*threads)
        self.backend.prepare_replica(on_gpu)  # on_gpu decided by the driver: a num_gpus=0 actor may see no CUDA
        self.built_at = time.time()

    def ready(self) -> dict[str, Any]:
        """Check this replica serves what the driver keys the store on, load the model now (not during the first
        chunk) and say where this replica runs."""
        self.check_identity()
        self.backend.load()
        return self.where()

    def check_identity(self) -> None:
        """Refuse, in one line naming this node, when the model revision or evalsuite version differs from the
        driver's."""
        mine = expected_identity(self.backend)
        for key, want in self.expected.items():
            if mine.get(key) != want:
                import ray

                what = "evalsuite version" if key == "evalsuite" else f"model {key.replace('_', ' ')}"
                raise UsageError(
                    f"replica {self.index} on node {ray.util.get_node_ip_address()} ({socket.gethostname()}) sees "
                    f"{what} {mine.get(key)!r}, the driver {want!r}; give every node the same model files and "
                    "evalsuite install (a shared path or one image)")

    def where(self) -> dict[str, Any]:
        """Node, host, process and device of this replica (results.json records them)."""
        import ray

        ctx = ray.get_runtime_context()
        return {"replica": self.index, "node_id": ctx.get_node_id(), "node_ip": ray.util.get_node_ip_address(),
                "host": socket.gethostname(), "pid": os.getpid(), "built_at": self.built_at,
                "device": self.backend.device_label(), "threads": self.backend.threads}

    def run(self, requests: Sequence[Request]) -> tuple[list[Generation], float, str]:
        """Generate (or teacher-force) one chunk; return its generations, the seconds it took here, and which
        engine made them (process and model object: one per replica per run unless Ray restarted it)."""
        t0 = time.perf_counter()
        try:
            gens = call_backend(self.backend, list(requests))
        except Exception as e:
            if type(e).__name__ in DEAD_ENGINE:  # the engine (a TP worker, its GPU) is gone: only a new process
                os._exit(1)                       # helps, so die and let Ray restart this replica (chunk resent)
            raise
        return gens, time.perf_counter() - t0, f"{os.getpid()}:{id(self.backend.engine())}"

    def environ(self, names: Sequence[str]) -> dict[str, str | None]:
        """The values this replica's process sees for `names` (to check what reached it from the driver)."""
        return {n: os.environ.get(n) for n in names}

    def token_offsets(self, token_ids: Sequence[int]) -> list[int] | None:
        return self.backend.token_offsets(token_ids)

    def close(self) -> None:
        self.backend.close()


@dataclass(frozen=True)
class Resources:
    """What one replica reserves: CPUs, GPUs for itself, or a placement group of `bundle_gpus` one-GPU bundles."""

    cpus: float
    gpus: int = 0
    bundle_gpus: int = 0


def resources(backend: Backend, replicas: int, cluster: dict[str, float]) -> Resources:
    """A replica on a GPU cluster takes the GPUs one engine spans (a placement group when more than one); on CPUs
    (or for a backend whose model runs on servers, `Backend.uses_gpus`) one CPU, or its share when fewer."""
    cpus = min(1.0, float(cluster.get("CPU", 1.0)) / max(replicas, 1))
    per = max(1, int(backend.gpus_per_engine))
    if not backend.uses_gpus(cluster.get("GPU", 0)):
        return Resources(cpus=cpus)
    if per > 1:
        return Resources(cpus=cpus, bundle_gpus=per)
    return Resources(cpus=cpus, gpus=1)


def default_replicas(backend: Backend, available: dict[str, float], nodes: int,
                     cluster: dict[str, float] | None = None) -> int:
    """As many as fit in what is free now (other jobs may hold part of a shared cluster): available GPUs /
    (tensor x pipeline parallel size); on CPUs, one per node."""
    if backend.uses_gpus((cluster if cluster is not None else available).get("GPU", 0)):
        per = max(1, int(backend.gpus_per_engine))
        return max(1, int(available.get("GPU", 0) // per))
    return max(1, nodes)


def on_gpu_for(res: Resources) -> bool:
    """Whether a replica runs on GPUs, decided here from what it reserves: a tensor-parallel replica actor holds no
    GPU itself (its workers do), and on Ray versions that hide GPUs from such actors `torch.cuda` would say no."""
    return bool(res.gpus or res.bundle_gpus)


def pack_strategy(backend: Backend) -> str:
    """STRICT_PACK keeps an engine's GPU group on one node (PACK may split it over nodes on a fragmented cluster);
    only an engine that may span nodes (pipeline parallel, `Backend.engine_spans_nodes`) gets PACK."""
    return "PACK" if backend.engine_spans_nodes else "STRICT_PACK"


def spawn(index: int, name: str, backend: Backend, res: Resources, env: dict[str, str] | None = None,
          expected: dict[str, str] | None = None):
    """Start replica `index` of `backend`'s model (built in the actor from `backend.built_from`) as a restartable
    actor named `name` (as `ray list actors` shows it), with the driver's allow-listed environment `env`; returns
    (actor handle, placement group or None). Ray restarts it without limit: the driver's restart budget decides
    when it is gone for good. A replica uses the driver's torch CPU thread count (--threads, else the driver's
    default), not the one CPU Ray reserves: the thread count changes float rounding, and results must not depend on
    the executor."""
    import ray
    from ray.util.placement_group import placement_group
    from ray.util.scheduling_strategies import PlacementGroupSchedulingStrategy

    opts: dict[str, Any] = {"name": name, "max_restarts": -1, "max_task_retries": 0,
                            "num_cpus": res.cpus, "num_gpus": res.gpus}
    if env:
        opts["runtime_env"] = {"env_vars": dict(env)}
    pg = None
    if res.bundle_gpus:
        pg = placement_group([{"GPU": 1, "CPU": 1}] * res.bundle_gpus, strategy=pack_strategy(backend))
        opts.update(num_gpus=0, num_cpus=0, scheduling_strategy=PlacementGroupSchedulingStrategy(
            placement_group=pg, placement_group_capture_child_tasks=True))
    else:
        opts["scheduling_strategy"] = "SPREAD"
    threads = (backend.threads, f"the driver's {backend.threads_from}") if backend.threads is not None else None
    actor = ray.remote(Replica).options(**opts).remote(index, backend.built_from, threads, expected, on_gpu_for(res))
    return actor, pg
