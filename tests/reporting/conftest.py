"""Run directories written through the real output writers from hand-made samples and metric rows."""
from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from evalsuite.records import Generation, Request, Sample
from evalsuite.reporting import outputs
from evalsuite.reporting.results_file import glossary_of, write_results
from evalsuite.results import GroupResult, MetricRow, Results, TaskResult


def make_sample(task: str, doc_id: str, rnd: int, output: str, correct: bool | None, *, attempt: int | None = None,
                kind: str = "answer", prompt: str = "What is 2 + 2?", target: str = "4", sample_idx: int = 0,
                protocol: str = "review", extracted: str | None = None) -> Sample:
    req = Request(messages=(("user", prompt),), kind=kind)
    gen = Generation(text=output, token_ids=[1, 2, 3], stats={"logprob": [-0.5, -0.25, -0.25]},
                     finish_reason="stop", backend="hf", model_id="hand")
    return Sample(task=task, doc_id=doc_id, protocol=protocol, round=rnd, sample_idx=sample_idx, key=f"k{doc_id}{rnd}",
                  request=req, generation=gen, kind=kind,
                  attempt=rnd if attempt is None and kind == "answer" else attempt,
                  target=target, extracted=extracted, correct=correct)


def row(task: str, metric: str, value: float, rnd: int = 0, *, direction: str = "higher", protocol: str = "direct",
        subset: str = "", ci: tuple[float, float] = (0.0, 1.0), n: int = 10, label: str = "",
        note: str = "") -> MetricRow:
    return MetricRow(task, subset, protocol, rnd, metric, value, ci[0], ci[1], n, direction, label or metric, note)


def write_run(path: Path, rows: list[MetricRow], samples: list[Sample] = (), *, model_id: str = "hand-model",
              extras: dict[str, dict[str, Any]] | None = None, config: dict[str, Any] | None = None,
              plots: dict[str, list[Any]] | None = None, groups: dict[str, GroupResult] | None = None,
              roles: dict[str, dict[str, Any]] | None = None) -> Path:
    """A run dir with results.json, samples.jsonl and results.csv as `evaluate()` writes them."""
    path.mkdir(parents=True, exist_ok=True)
    tasks = sorted({r.task for r in rows} | {s.task for s in samples})
    cfg = {"tasks": tasks, "model": f"hf:{model_id}", "limit": 10, "protocol": None, "max_tokens": 64,
           "temperature": 0.0, "top_p": 1.0, "seed": 0, "samples": 1, "rounds": 1, "data_source": "local",
           "token_stats": True, "options": {}, **(config or {})}
    results = Results(
        model={"spec": f"hf:{model_id}", "backend": "hf", "model_id": model_id, "revision": "local-1",
               **({"roles": roles} if roles else {})},
        versions={"python": "3.11", "evalsuite": "0.1.0"}, git_hash="abc123", created="2025-01-01T00:00:00+00:00",
        run={"generated": len(samples), "from_store": 0, "gen_tokens": 30, "gen_seconds": 1.5, "rounds": 1,
             "tokens_per_s": 20.0, "wall_seconds": 2.0},
        config=cfg,
        tasks={t: TaskResult(source="local", files={"test.jsonl": "ab" * 32}, n_docs=10,
                             protocol=next((r.protocol for r in rows if r.task == t), "direct"), oracle=False,
                             primary_convention="flexible", metrics=[r for r in rows if r.task == t],
                             extras=(extras or {}).get(t, {}), plots=list((plots or {}).get(t, [])))
               for t in tasks},
        groups=groups or {}, glossary=glossary_of(rows))
    write_results(path / "results.json", results)
    outputs.write_samples(path / "samples.jsonl", samples)
    outputs.write_results_csv(path / "results.csv", rows)
    return path


@pytest.fixture
def rd():
    """The helpers above, for tests (conftest modules are not importable under --import-mode=importlib)."""
    return SimpleNamespace(sample=make_sample, row=row, write_run=write_run)
