"""One results.json schema: a run (evaluate) and `evalsuite rescore` write it through the typed Results, with the
same schema_version, provenance fields, per-task entries and the glossary the report reads instead of the live
registry, and both read back through the one reader (load_run)."""
from __future__ import annotations

import json
from pathlib import Path

from evalsuite import evaluate
from evalsuite.results import SCHEMA_VERSION, Results, TaskResult
from evalsuite.rundir import load_run

LMEVAL = Path(__file__).parents[1] / "fixtures" / "lmeval_gsm8k"


def _keys(path: Path) -> tuple[dict, set[str]]:
    payload = json.loads((path / "results.json").read_text())
    return payload, set(payload)


def test_a_run_and_a_rescore_write_one_schema(cli, tiny_model_dir, tmp_path):
    evaluate(tasks="gsm8k", model=f"hf:{tiny_model_dir}", limit=2, output_dir=tmp_path / "run", max_tokens=4,
             progress=False, log=lambda m: None)
    samples = next(LMEVAL.glob("samples_gsm8k_*.jsonl"))
    assert cli("rescore", "--lm-eval-samples", str(samples), "--output-dir", str(tmp_path / "rescore")).returncode == 0
    run, run_keys = _keys(tmp_path / "run")
    rescore, rescore_keys = _keys(tmp_path / "rescore")
    assert run_keys <= set(Results.ORDER) and rescore_keys <= set(Results.ORDER)
    assert run["schema_version"] == rescore["schema_version"] == SCHEMA_VERSION == 2
    common = {"model", "versions", "git_hash", "created", "config", "tasks", "glossary"}
    assert common <= run_keys and common <= rescore_keys
    assert {"run", "partial"} <= run_keys and not {"run", "partial"} & rescore_keys
    assert set(run["versions"]) >= {"python", "evalsuite", "torch"} and "python" in rescore["versions"]
    for payload in (run, rescore):
        entry = payload["tasks"]["gsm8k"]
        assert {"metrics", "extras", "plots"} <= set(entry)
        assert payload["glossary"]["metrics"]["accuracy"]["label"] == "Accuracy"
        assert payload["glossary"]["metrics"]["accuracy"]["plot"] == "rounds"
    assert {m["name"] for m in rescore["tasks"]["gsm8k"]["metrics"]} >= {"accuracy", "parse_rate"}
    mine = load_run(tmp_path / "run").results.tasks["gsm8k"]
    assert isinstance(mine, TaskResult) and mine.n_docs == 2 and mine.metrics and mine.lm_eval_task is None
    back = load_run(tmp_path / "rescore").results.tasks["gsm8k"]
    assert back.lm_eval_task == "gsm8k" and back.lm_eval_native is True and back.source == "lm-eval samples"
    assert (tmp_path / "rescore" / "report.html").is_file(), "rescore draws its report through the reader too"


def test_optional_parts_left_unset_are_not_written():
    r = Results(model={"spec": "x"}, config={}, tasks={}, versions={"python": "3"}, created="now")
    assert list(r.to_dict()) == ["schema_version", "model", "versions", "created", "config", "tasks", "groups"]
    assert r.header() == {"model": {"spec": "x"}, "versions": {"python": "3"}, "created": "now"}
