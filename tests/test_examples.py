"""The shipped example runs (reports/example, written by reports/make_examples.py) are current: they load through
the one results reader at this schema_version, and every metric row they show is what the summarizers compute
again from their own samples.jsonl (same seed, options and rounds), so a schema or summarizer change that would
leave them stale fails here until they are regenerated."""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from evalsuite.records import Generation, Request, Sample
from evalsuite.reporting.outputs import json_row
from evalsuite.results import SCHEMA_VERSION
from evalsuite.rundir import RunDir, load_run
from evalsuite.summaries import summarize
from evalsuite.tasks.cards import catalog

EXAMPLES = Path(__file__).resolve().parents[1] / "reports" / "example" / "runs"
RUNS = sorted(p for p in EXAMPLES.iterdir() if p.is_dir())


def sample_of(rec: dict[str, Any]) -> Sample:
    """A scored sample as far as samples.jsonl keeps it: what the summarizers read (correctness, conventions,
    answer, attempt, confidences, info, the number of tokens), not the token ids or per-token arrays."""
    prompt = rec["prompt"]
    req = Request(messages=tuple((m["role"], m["content"]) for m in prompt)) if isinstance(prompt, list) \
        else Request(prompt=prompt)
    gen = Generation(text=rec["output"] or "", token_ids=[0] * rec["n_tokens"], stats={},
                     finish_reason=rec["finish_reason"], backend="", model_id="")
    return Sample(task=rec["task"], doc_id=rec["doc_id"], protocol=rec["protocol"], round=rec["round"],
                  sample_idx=rec["sample_idx"], key=rec["key"], request=req, generation=gen, kind=rec["kind"],
                  attempt=rec["attempt"], target=rec["target"], extracted=rec["extracted"], correct=rec["correct"],
                  conventions=rec["conventions"] or {}, confidence=rec["confidence"] or {}, member=rec["member"],
                  info=rec["info"] or {})


def recomputed(run: RunDir) -> list[dict[str, Any]]:
    """The run's task rows computed again from its samples.jsonl, as results.json writes them."""
    res, cards = run.results, catalog()
    cfg = res.config
    rows, _ = summarize([sample_of(r) for r in run.samples()], seed=cfg["seed"],
                        primary={t: sec.primary_convention for t, sec in res.tasks.items()},
                        subsets={t: cards[t].extra.get("subset", "") for t in res.tasks},
                        options=cfg.get("options") or {}, rounds=cfg["rounds"],
                        metrics={t: tuple(cards[t].metrics) for t in res.tasks})
    return [json_row(r) for r in rows]


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
    return a == b


def test_there_are_example_runs():
    assert [p.name for p in RUNS] == ["smollm2-135m-instruct", "tiny-llama"]


@pytest.mark.parametrize("run_dir", RUNS, ids=lambda p: p.name)
def test_an_example_run_is_current(run_dir):
    run = load_run(run_dir)
    assert run.results.schema_version == SCHEMA_VERSION
    shown = [json_row(r) for sec in run.results.tasks.values() for r in sec.metrics]
    again = recomputed(run)
    key = lambda r: (r["task"], r["protocol"], r["subset"], r["round"], r["metric"])  # noqa: E731
    assert sorted(map(key, shown)) == sorted(map(key, again))
    by_key = {key(r): r for r in again}
    stale = [f"{key(r)}.{k}: {v!r} -> {by_key[key(r)][k]!r}" for r in shown for k, v in r.items()
             if not _same(v, by_key[key(r)][k])]
    assert stale == [], "reports/example is stale: run `python reports/make_examples.py`"
    assert (run_dir / "report.html").is_file() and (run_dir / "results.csv").is_file()
