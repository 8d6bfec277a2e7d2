"""`evaluate()`: the Python entry point; the CLI resolves flags and calls it."""
from __future__ import annotations

import datetime as _dt
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from evalsuite import engine, runlock, runner, validate
from evalsuite.backends.base import Backend, load_backend
from evalsuite.errors import UsageError
from evalsuite.executors.roles import RoleExecutors, role_backends
from evalsuite.scoring.code_exec import ExecOptions, apply_exec_options
from evalsuite.protocols.base import Settings
from evalsuite.protocols.options import RunOptions, TaskOptions
from evalsuite.records import STATS, Sample
from evalsuite.registry import PROTOCOLS, lookup
from evalsuite.roles import EMBEDDED
from evalsuite.reporting.results_file import git_hash, prepare_output_dir, versions
from evalsuite.run_outputs import RunOutputs
from evalsuite.summaries import MetricRow
from evalsuite.tasks.cards import resolve_tasks


@dataclass
class Results:
    """What a run produced: metric rows, every sample of every round, the run's counts, and where it wrote."""

    metrics: list[MetricRow]
    samples: list[Sample]
    stats: engine.RunStats
    config: dict[str, Any]
    output_dir: Path
    info: dict[str, Any] = field(default_factory=dict)

    def metric(self, task: str, name: str = "accuracy", round: int = 0, protocol: str | None = None) -> MetricRow:
        """The row for one task metric (first protocol match)."""
        for r in self.metrics:
            if r.task == task and r.metric.text == name and r.round == round and protocol in (None, r.protocol):
                return r
        raise KeyError(f"no metric {name!r} for task {task!r} round {round}")

    def to_dataframe(self):
        import pandas as pd

        return pd.DataFrame([r.to_dict() for r in self.metrics])


def _use_threads(backend: Backend, threads: int | None) -> None:
    """Apply `--threads` to a backend that runs torch on this CPU (the hf backend); others refuse it."""
    if threads is None:
        return
    if threads <= 0:
        raise UsageError(f"--threads must be a positive number of CPU threads, got {threads}")
    backend.set_threads(threads, "--threads")


def _threads_line(backend: Backend, log: Callable[[str], None]) -> None:
    """The run header's line on torch CPU threads (written once the run has passed every input check)."""
    if backend.threads is not None:
        log(f"{backend.name} backend, {backend.model_id}: torch CPU threads {backend.threads} "
            f"({backend.threads_from}; --threads N sets them)")


def _check_inputs(limit: int | None, samples: int, rounds: int, max_tokens: int, temperature: float, top_p: float,
                  data_source: str, opts: RunOptions) -> None:
    """Refuse run settings that cannot work, before any model is loaded."""
    if limit is not None and limit <= 0:
        raise UsageError(f"--limit must be a positive number of docs, got {limit}; omit it to run every doc")
    if limit is not None and opts.of(TaskOptions).full:
        raise UsageError("--full and --limit contradict each other; pass only one of them")
    for name, val in (("--samples", samples), ("--rounds", rounds), ("--max-tokens", max_tokens)):
        if val <= 0:
            raise UsageError(f"{name} must be positive, got {val}")
    validate.check_sampling(temperature, top_p)
    if temperature < 0 or not 0 < top_p <= 1:
        raise UsageError("--temperature must be >= 0 and --top-p in (0, 1]")
    if data_source not in ("local", "hub"):
        raise UsageError(f"--data-source must be local or hub, got {data_source!r}")


def _protocol_for(protocol: str | None, opts: RunOptions) -> str | None:
    """The `--protocol` of the run (`--confidence` implies confidence), checked to exist."""
    if "confidence" in opts.given and protocol in (None, "confidence"):
        protocol = "confidence"
    elif "confidence" in opts.given:
        raise UsageError(f"--confidence works with --protocol confidence, not {protocol}; drop one of the two")
    if protocol is not None:
        lookup(PROTOCOLS, "protocol", protocol)
    return protocol


def evaluate(
    tasks: list[str] | str,
    model: "str | Backend | None" = None,
    model_args: str | dict | None = None,
    limit: int | None = None,
    output_dir: str | Path | None = None,
    protocol: str | None = None,
    max_tokens: int = 512,
    temperature: float = 0.0,
    top_p: float = 1.0,
    seed: int = 0,
    samples: int = 1,
    rounds: int = 1,
    data_source: str = "local",
    data_dir: str | Path | None = None,
    token_stats: bool = True,
    options: "dict[str, Any] | RunOptions | None" = None,
    progress: bool = True,
    log: Callable[[str], None] = print,
    threads: int | None = None,
    executor: str | None = None,
    replicas: int | None = None,
    ray_address: str | None = None,
    replica_env: Sequence[str] | None = None,
    roles: "Mapping[str, str] | Sequence[str] | None" = None,
    role_args: "Mapping[str, Any] | Sequence[str] | None" = None,
) -> Results:
    """Run tasks under a protocol with a model; write results.json, samples.jsonl and results.csv.

    `options` carries protocol- and metric-specific settings (e.g. confidence methods, Borda power), keyed by
    option name (`borda_p` for `--borda-p`); they are parsed into each protocol's typed `Options` here, once.
    `executor` is "local" (this process) or "ray" (`replicas` Ray actors, on the cluster at `ray_address` /
    $RAY_ADDRESS or a local Ray; `auto` on a node of a cluster); `replica_env` names more of this process's
    environment variables for the replicas (beyond the allow-list in `executors.ray_connect`). `roles` gives the
    model roles the protocols ask ({"critic": "hf:PATH"}, or "self" for this run's model) and `role_args` their
    backend options ({"critic": "batch_size=4"}); each role runs through an executor of the same kind.
    """
    t_start = time.perf_counter()
    opts = RunOptions.parse(options)
    _check_inputs(limit, samples, rounds, max_tokens, temperature, top_p, data_source, opts)
    cards = resolve_tasks(tasks)
    protocol = _protocol_for(protocol, opts)
    output_dir = Path(output_dir or f"runs/run-{_dt.datetime.now():%Y%m%d-%H%M%S}")
    validate.check_model_args(model_args)
    given_roles = validate.given_roles(roles, role_args, opts)
    backend = load_backend(model, model_args)
    _use_threads(backend, threads)
    apply_exec_options(opts.of(ExecOptions), log)
    prepare_output_dir(output_dir)
    settings = Settings(max_tokens=max_tokens, temperature=temperature, top_p=top_p, seed=seed, rounds=rounds,
                        want=STATS[:3] if token_stats else (), options=opts)
    plans, data_info = runner.plan(cards, protocol, settings, limit, data_source, data_dir, log)
    run_roles = validate.check_plans(plans, opts, given_roles)
    role_models = role_backends(run_roles, threads)  # built, not loaded: a role's model loads on its first request
    with runlock.run_dir_lock(output_dir, log):  # a second run into this dir waits, then reads the store
        from evalsuite.executors.factory import make_executor

        def build(b: Backend, spec: Any, args: Any) -> Any:
            return make_executor(executor, b, spec, args, replicas, ray_address, log, replica_env=replica_env)

        execution = RoleExecutors(build(backend, model, model_args), run_roles, role_models,
                                  lambda b, m: build(b, None if m.spec == EMBEDDED else m.spec, m.args))
        spec = model if isinstance(model, str) else (f"{backend.name}:{backend.model_id}" if model else "embedded")
        config = dict(tasks=[c.name for c in cards], model=spec, model_args=model_args, limit=limit,
                      protocol=protocol, max_tokens=max_tokens, temperature=temperature, top_p=top_p, seed=seed,
                      samples=samples, rounds=rounds, data_source=data_source, token_stats=token_stats,
                      options=dict(opts.given if isinstance(options, RunOptions) else options or {}),
                      threads=backend.threads)
        if given_roles:
            config["roles"] = {name: m.spec for name, m in given_roles.items()}
            config["role_args"] = {name: m.args for name, m in given_roles.items() if m.args is not None}
        _say_if_another_build(output_dir, backend.revision, log)
        header = {"model": {"spec": spec, "backend": backend.name, "model_id": backend.model_id,
                            "revision": backend.revision,
                            **({"roles": execution.identities()} if run_roles else {})},
                  "versions": versions(), "git_hash": git_hash()}
        out = RunOutputs(output_dir, tasks, plans, data_info, config, header, settings.options, seed, rounds, t_start,
                         log)
        all_samples, stats, rows, info = runner.run(plans, execution, out, samples, progress, log,
                                                    opened=lambda: _threads_line(backend, log))
        return Results(rows, all_samples, stats, config, output_dir, info)


def _say_if_another_build(output_dir: Path, revision: str, log) -> None:
    """A re-run whose model build or library versions differ from the stored run's reuses none of its replies:
    say so, rather than regenerate silently."""
    try:
        before = json.loads((output_dir / "results.json").read_text())["model"]["revision"]
    except (OSError, ValueError, KeyError, TypeError):
        return
    if before and before != revision:
        log(f"note: the stored replies in {output_dir} were made with revision {before}; this run's model is "
            f"{revision}, so they are not reused (the store key names the model build and the library versions)")
