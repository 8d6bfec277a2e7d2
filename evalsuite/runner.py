"""One run, stage by stage: plans (each task's docs, protocol and scorer) -> engine rounds through the executors of
the run's model roles -> the observer stage (the `observer` role's model) -> summaries and outputs. The engine runs
the rounds; this module owns the order around them, so no protocol builds a backend or calls the engine, and no
backend knows about either."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Callable

from evalsuite import engine
from evalsuite.engine import RunStats, TaskPlan
from evalsuite.errors import UsageError
from evalsuite.executors.roles import RoleExecutors
from evalsuite.protocols.base import Settings
from evalsuite.options import TaskOptions
from evalsuite.records import Sample
from evalsuite.registry import PROTOCOLS, lookup
from evalsuite.run_outputs import RunOutputs
from evalsuite.store import SampleStore
from evalsuite.store_location import open_store
from evalsuite.tasks.card_code import build_scorer
from evalsuite.summaries import MetricRow
from evalsuite.tasks.cards import TaskCard
from evalsuite.tasks.loader import data_files, file_hashes, load_docs

Log = Callable[[str], None]


def plan(cards: list[TaskCard], protocol: str | None, settings: Settings, limit: int | None, data_source: str,
         data_dir: str | Path | None, log: Log) -> tuple[list[TaskPlan], dict[str, dict]]:
    """The plan of every available task (docs, protocol instance, scorer) and what results.json records of it."""
    full = settings.options.of(TaskOptions).full
    plans, data_info = [], {}
    for card in cards:
        if card.unavailable:
            log(f"skipping {card.name}: {card.unavailable}")
            continue
        card_limit = limit if limit is not None else (None if full else card.default_limit)
        if limit is None and card_limit is not None:
            log(f"{card.name}: first {card_limit} docs (the card's default; --full runs all {card.size})")
        try:
            docs = load_docs(card, card_limit, data_source, data_dir)
        except UsageError as e:
            if not card.data.get("gated"):
                raise
            log(f"skipping {card.name}: {e}")
            continue
        proto_name = protocol or card.protocol
        proto = lookup(PROTOCOLS, "protocol", proto_name)(card, settings)
        plans.append(TaskPlan(card, docs, proto, build_scorer(card)))
        files = data_files(card, data_dir) if data_source == "local" else []
        data_info[card.name] = {"source": data_source, "files": file_hashes(files), "n_docs": len(docs),
                                "protocol": proto_name, "oracle": proto.oracle,
                                "primary_convention": plans[-1].scorer.primary}
    if not plans:
        raise UsageError("none of the requested tasks is available here; see `evalsuite tasks`")
    return plans, data_info


def observer_plans(plans: list[TaskPlan]) -> list[TaskPlan]:
    """The plans of the observer stage: each protocol's observer instance (`Protocol.observer`) on the same docs."""
    return [TaskPlan(p.card, p.docs, obs, p.scorer) for p in plans if (obs := p.protocol.observer()) is not None]


def observer_stage(plans: list[TaskPlan], executors: RoleExecutors, store: SampleStore, samples: int,
                   progress: bool, log: Log) -> list[Sample]:
    """With an `observer` role (`--role observer=SPEC`, or its alias `--observer-model`), the role's model runs the
    observer plans through its executor; its samples join the run, marked with who produced them
    (`info["observer"]`). Nothing without the role."""
    if not executors.has("observer"):
        return []
    obs = observer_plans(plans)
    if not obs:
        raise UsageError("--observer-model applies to self_predict runs only; add --tasks self_predict or "
                         "--protocol self_predict (what was generated is stored, so a rerun resumes)")
    ident = executors.identity("observer")
    who = f"{ident.backend}:{ident.model_id}"
    log(f"observer stage: {who} predicts the subject's behaviour")
    out, _ = engine.run(obs, executors.executor("observer"), store, samples=samples, progress=progress, log=log)
    return [s if s.info.get("observer") else replace(s, info={**s.info, "observer": who}) for s in out]


def run(plans: list[TaskPlan], execution: RoleExecutors, outputs: RunOutputs, samples: int, progress: bool,
        log: Log, opened: Callable[[], None] = lambda: None
        ) -> tuple[list[Sample], RunStats, list[MetricRow], dict]:
    """Every stage after planning: live outputs, the engine's rounds (each request through its model role's
    executor), the observer stage, then the final summaries and outputs; `opened()` runs once the sample store is open (the run header's last lines). Returns (samples,
    counts, metric rows, the run info of results.json)."""
    outputs.live([], RunStats(), -1)
    with engine.long_lived_heap() as keep:  # the samples live through the final outputs
        with open_store(outputs.output_dir, log) as (store, sync):  # node-local when the output dir is networked
            opened()

            def on_round(*args) -> None:
                sync()
                outputs.live(*args)

            try:
                got, stats = engine.run(plans, execution, store, samples=samples, progress=progress, log=log,
                                        on_round=on_round)
                got += observer_stage(plans, execution, store, samples, progress, log)
            finally:
                execution_info = execution.describe()
                execution.close()
        keep()
        rows, info = outputs.write(got, stats, partial=False, execution=execution_info)
    return got, stats, rows, info
