"""`evaluate()`: the Python entry point; the CLI resolves flags and calls it."""
from __future__ import annotations

import datetime as _dt
import json
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Mapping

from evalsuite import engine, runlock, runner, validate
from evalsuite.backends.base import Backend, load_backend
from evalsuite.config import RunConfig
from evalsuite.executors.factory import make_executor
from evalsuite.executors.roles import RoleExecutors, role_backends
from evalsuite.scoring.code_exec import ExecOptions, apply_exec_options
from evalsuite.records import Sample
from evalsuite.roles import EMBEDDED
from evalsuite.reporting.results_file import git_hash, prepare_output_dir, versions
from evalsuite.run_outputs import RunOutputs
from evalsuite.summaries import MetricRow
from evalsuite.tasks.cards import resolve_tasks
from evalsuite.tasks.roots import add_task_folders


@dataclass
class Results:
    """What a run produced: metric rows, every sample of every round, the run's counts, and where it wrote."""

    metrics: list[MetricRow]
    samples: list[Sample]
    stats: engine.RunStats
    config: dict[str, Any]
    output_dir: Path
    info: dict[str, Any] = field(default_factory=dict)
    run_config: RunConfig | None = None
    """The run's settings as it ran (`config` is their results.json form)."""

    def metric(self, task: str, name: str = "accuracy", round: int = 0, protocol: str | None = None) -> MetricRow:
        """The row for one task metric (first protocol match)."""
        for r in self.metrics:
            if r.task == task and r.metric.text == name and r.round == round and protocol in (None, r.protocol):
                return r
        raise KeyError(f"no metric {name!r} for task {task!r} round {round}")

    def to_dataframe(self):
        import pandas as pd

        return pd.DataFrame([r.to_dict() for r in self.metrics])


def _threads_line(backend: Backend, log: Callable[[str], None]) -> None:
    """The run header's line on torch CPU threads (written once the run has passed every input check)."""
    if backend.threads is not None:
        log(f"{backend.name} backend, {backend.model_id}: torch CPU threads {backend.threads} "
            f"({backend.threads_from}; --threads N sets them)")


def evaluate(tasks: list[str] | str | None = None, model: "str | Backend | None" = None, *,
             config: RunConfig | None = None, progress: bool = True, log: Callable[[str], None] = print,
             **settings: Any) -> Results:
    """Run tasks under a protocol with a model; write results.json, samples.jsonl, results.csv and report.html.

    The keywords are `RunConfig`'s fields (evalsuite/config.py: `max_tokens`, `limit`, `options`, `roles`, ...),
    checked there; `config` is a whole `RunConfig` (e.g. `load_config("RUN_DIR/results.json")`), which the keywords
    given beside it override. `model` may also be a `Backend` object (results.json names it by its backend and id).
    `options` carries protocol- and metric-specific settings keyed by option name (`borda_p` for `--borda-p`);
    `roles` gives the model roles the protocols ask ({"critic": "hf:PATH"}, or "self" for this run's model) and
    `role_args` their backend options ({"critic": "batch_size=4"}); `executor` is "local" or "ray" (`replicas`,
    `ray_address`, `replica_env`), and every role runs through an executor of that kind.
    """
    t_start = time.perf_counter()
    backend = model if isinstance(model, Backend) else None
    if tasks is not None:
        settings["tasks"] = tasks
    if model is not None:
        settings["model"] = f"{backend.name}:{backend.model_id}" if backend is not None else model
    return run(RunConfig.build(config, **settings), backend, progress, log, t_start)


def run(cfg: RunConfig, backend: Backend | None = None, progress: bool = True, log: Callable[[str], None] = print,
        t_start: float | None = None) -> Results:
    """Run a checked `RunConfig` (on `backend` when given, else the backend its `model` names)."""
    t_start = time.perf_counter() if t_start is None else t_start
    if cfg.include_path:
        add_task_folders(list(cfg.include_path))
    cards = resolve_tasks(list(cfg.tasks))
    output_dir = Path(cfg.output_dir or f"runs/run-{_dt.datetime.now():%Y%m%d-%H%M%S}")
    backend = load_backend(backend or cfg.model, cfg.model_args)
    if cfg.threads is not None:
        backend.set_threads(cfg.threads, "--threads")
    apply_exec_options(cfg.run_options.of(ExecOptions), log)
    prepare_output_dir(output_dir)
    settings = cfg.settings()
    plans, data_info = runner.plan(cards, cfg.protocol, settings, cfg.limit, cfg.data_source, cfg.data_dir, log)
    run_roles = validate.check_plans(plans, cfg.run_options, cfg.role_models)
    role_models = role_backends(run_roles, cfg.threads)  # built, not loaded: a role's model loads on first request
    cfg = replace(cfg, threads=backend.threads, output_dir=str(output_dir))  # as it runs, so a rerun is the same
    with runlock.run_dir_lock(output_dir, log):  # a second run into this dir waits, then reads the store
        execution = _executors(cfg, backend, run_roles, role_models, log)
        _say_if_another_build(output_dir, backend.revision, log)
        header = {"model": {"spec": cfg.model or EMBEDDED, "backend": backend.name, "model_id": backend.model_id,
                            "revision": backend.revision,
                            **({"roles": execution.identities()} if run_roles else {})},
                  "versions": versions(), "git_hash": git_hash()}
        config = cfg.to_dict()
        out = RunOutputs(output_dir, list(cfg.tasks), plans, data_info, config, header, settings.options, cfg.seed,
                         cfg.rounds, t_start, log)
        all_samples, stats, rows, info = runner.run(plans, execution, out, cfg.samples, progress, log,
                                                    opened=lambda: _threads_line(backend, log))
        return Results(rows, all_samples, stats, config, output_dir, info, cfg)


def _executors(cfg: RunConfig, backend: Backend, roles: Mapping[str, Any], role_models: Mapping[str, Backend],
               log: Callable[[str], None]) -> RoleExecutors:
    """The main model's executor and, made on first use, each role's: all of the kind and settings `cfg` asks,
    each built from its model's backend (which carries the spec a replica builds its own from)."""
    def build(b: Backend) -> Any:
        return make_executor(cfg.executor, b, cfg.replicas, cfg.ray_address, log, replica_env=cfg.replica_env)

    return RoleExecutors(build(backend), roles, role_models, build, main_args=cfg.model_args)


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
