"""Data parallelism without Ray: `--data-parallel N` runs N engine processes, each on its own GPU set, each running
every round of its shard of the docs into the one shared sample store (SQLite WAL, safe across processes). The
parent then replays the run from the store, so scoring, metrics and outputs are those of a single-process run.
"""
from __future__ import annotations

import os
import pickle
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable

from evalsuite.errors import UsageError
from evalsuite.registry import run_option
from evalsuite.store import SampleStore

run_option("--data-parallel", type=int, metavar="N",
           help="N engine processes (each on its own GPUs: tensor x pipeline parallel size of them) sharding the "
                "docs over one sample store")


def visible_gpus() -> list[str]:
    """GPU ids this process may hand out: CUDA_VISIBLE_DEVICES if set, else every device torch sees."""
    env = os.environ.get("CUDA_VISIBLE_DEVICES")
    if env is not None:
        return [g.strip() for g in env.split(",") if g.strip()]
    try:
        import torch

        return [str(i) for i in range(torch.cuda.device_count())]
    except ImportError:
        return []


def gpu_sets(n: int, per_engine: int, gpus: list[str]) -> list[str]:
    """CUDA_VISIBLE_DEVICES for each of `n` engines: consecutive blocks of `per_engine` GPUs ("" on a CPU host)."""
    if not gpus:
        return [""] * n
    if n * per_engine > len(gpus):
        raise UsageError(f"--data-parallel {n} with {per_engine} GPU(s) per engine needs {n * per_engine} GPUs, "
                         f"{len(gpus)} visible; lower --data-parallel or the parallel sizes in --model-args")
    return [",".join(gpus[i * per_engine : (i + 1) * per_engine]) for i in range(n)]


def shard_plans(plans: list, i: int, n: int) -> list:
    """Shard i of n: every n-th doc of each task, so every shard gets a mix of tasks and lengths."""
    return [replace(p, docs=p.docs[i::n]) for p in plans if p.docs[i::n]]


def run_shards(n: int, model: Any, model_args: Any, backend: Any, plans: list, store_path: Path, samples: int,
               log: Callable[[str], None] = print) -> None:
    """Run n shard processes to completion; a failed shard is one UsageError line naming its log."""
    if n < 1:
        raise UsageError(f"--data-parallel must be at least 1, got {n}")
    if model is not None and not isinstance(model, str):
        raise UsageError("--data-parallel needs the model as a spec string (e.g. vllm:PATH), not a Backend object")
    per_engine = int(getattr(backend, "gpus_per_engine", 1) or 1)
    sets = gpu_sets(n, per_engine, visible_gpus())
    work = Path(store_path).parent / "shards"
    work.mkdir(parents=True, exist_ok=True)
    SampleStore(store_path).close()
    procs = []
    for i in range(n):
        part = shard_plans(plans, i, n)
        if not part:
            continue
        payload = work / f"shard-{i}.pkl"
        payload.write_bytes(pickle.dumps({"plans": part, "model": model, "model_args": model_args,
                                          "store": str(store_path), "samples": samples}))
        env = {**os.environ, "CUDA_VISIBLE_DEVICES": sets[i], "EVALSUITE_SHARD": f"{i}/{n}"}
        logf = open(work / f"shard-{i}.log", "w")
        procs.append((i, subprocess.Popen([sys.executable, "-m", "evalsuite.backends.data_parallel", str(payload)],
                                          env=env, stdout=logf, stderr=subprocess.STDOUT), logf))
        log(f"data-parallel: shard {i + 1}/{n} ({sum(len(p.docs) for p in part)} docs) on "
            f"{'GPUs ' + sets[i] if sets[i] else 'the CPU'}, log {work / f'shard-{i}.log'}")
    failed = []
    for i, proc, logf in procs:
        rc = proc.wait()
        logf.close()
        if rc != 0:
            failed.append((i, rc))
    if failed:
        i, rc = failed[0]
        path = work / f"shard-{i}.log"
        lines = [x for x in path.read_text(errors="replace").splitlines() if x.strip()]
        why = " ".join(lines[-1].split())[:300] if lines else "no output"
        raise UsageError(f"data-parallel shard {i + 1}/{n} failed (exit {rc}: {why}); see {path}; what the shards "
                         "stored is kept: re-run the same command to resume")


def _child(payload_path: str) -> int:
    """One shard: build the backend in this process and run the shard's chains into the shared store."""
    from evalsuite import engine
    from evalsuite.backends.base import load_backend
    from evalsuite.store import SampleStore

    payload = pickle.loads(Path(payload_path).read_bytes())
    backend = load_backend(payload["model"], payload["model_args"])
    store = SampleStore(payload["store"])
    try:
        _, stats = engine.run(payload["plans"], backend, store, samples=payload["samples"], progress=False,
                              log=lambda m: print(m, file=sys.stderr, flush=True))
    finally:
        store.close()
        backend.close()
    print(f"shard done: {stats.generated} generated, {stats.from_store} from the store", file=sys.stderr)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(_child(sys.argv[1]))
    except UsageError as e:
        print(f"evalsuite: error: {e}", file=sys.stderr)
        sys.exit(2)
