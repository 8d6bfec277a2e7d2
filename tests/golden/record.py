"""Record (or check) the golden outputs: results.json and samples.jsonl of fixed runs on the tiny test model.

The runs cover every protocol family plus a rescore of lm-eval samples. `python tests/golden/record.py OUT_DIR`
writes them; tests/test_golden.py re-runs the same set with the current code and compares. Volatile fields
(timings, dates, versions, paths, run counts) are dropped; everything a user reads as a result is kept.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

GEN = dict(max_tokens=12, progress=False, log=lambda *_: None)
RUNS: dict[str, dict] = {
    "direct": dict(tasks="gsm8k", protocol="direct", limit=3),
    "cot_math": dict(tasks="math500", limit=3),
    "review": dict(tasks="correctbench_aqua", limit=3, rounds=2),
    "oracle": dict(tasks="correctbench_gsm8k", protocol="oracle", limit=3, rounds=2),
    "self_refine": dict(tasks="correctbench_csqa", protocol="self_refine", limit=2, rounds=2),
    "critique": dict(tasks="critic_gsm8k", limit=4),
    "confidence": dict(tasks="gsm8k", limit=3, options={"confidence": "verbal,ptrue,tokenprob"}),
    "best_of_n": dict(tasks="gsm8k", protocol="best_of_n", limit=2, samples=4, temperature=0.7, seed=1),
    "self_predict": dict(tasks="self_predict_csqa", limit=3),
    "cruxeval": dict(tasks="cruxeval_o", limit=3, samples=2, temperature=0.8, seed=2),
    "exec_feedback": dict(tasks="correctbench_humaneval", protocol="exec_feedback", limit=2, rounds=2),
}
VOLATILE = {"created", "versions", "git_hash", "run", "wall_seconds", "seconds", "output_dir", "files",
            "execution", "partial", "lm_eval_samples", "wall_time", "cpu_time"}
RESCORE_REPLIES = ["She makes 9 * 2 = 18 dollars.\n#### 18", "The answer is 3.", "So 5 are left", "\\boxed{540}"]


def normalise(obj):
    """Drop volatile keys at every depth (timings, dates, versions, absolute paths)."""
    if isinstance(obj, dict):
        return {k: normalise(v) for k, v in obj.items() if k not in VOLATILE}
    if isinstance(obj, list):
        return [normalise(v) for v in obj]
    return obj


def read_outputs(run_dir: Path) -> dict:
    """results.json read through the one reader (`load_run`, the typed results) and samples.jsonl, normalised."""
    from evalsuite.reporting.outputs import _clean
    from evalsuite.rundir import load_run

    results = normalise(_clean(load_run(run_dir).results.to_dict()))
    results.get("config", {}).pop("model", None)
    results.pop("model", None)
    samples = [normalise(json.loads(x)) for x in (run_dir / "samples.jsonl").read_text().splitlines()]
    return {"results": results, "samples": samples}


def rescore_input(folder: Path) -> Path:
    """A hand-made lm-eval samples file of the evalsuite_gsm8k twin: 4 GSM8K docs with fixed replies."""
    from evalsuite.lmeval.hooks import DOC_ID, TARGET
    from evalsuite.tasks.cards import DATA_DIR

    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "samples_evalsuite_gsm8k_2026-01-01T00-00-00.000000.jsonl"
    lines = (DATA_DIR / "gsm8k" / "test.jsonl").read_text().splitlines()[:4]
    rows = []
    for i, (line, reply) in enumerate(zip(lines, RESCORE_REPLIES)):
        rec = json.loads(line)
        gold = rec["answer"].split("####")[-1].strip()
        rows.append({"doc_id": i, "doc": {**rec, DOC_ID: str(i), TARGET: gold}, "target": gold,
                     "arguments": {}, "resps": [[reply]], "filtered_resps": [reply], "filter": "none",
                     "metrics": ["exact_match"], "exact_match": 0.0})
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def run_all(model_dir: Path, work: Path) -> dict[str, dict]:
    import evalsuite
    from evalsuite.cli import main

    out = {}
    for name, kw in RUNS.items():
        run_dir = work / name
        evalsuite.evaluate(model=f"hf:{model_dir}", output_dir=run_dir, **{**GEN, **kw})
        out[name] = read_outputs(run_dir)
    src = rescore_input(work / "lmeval")
    rc = main(["rescore", "--lm-eval-samples", str(src), "--output-dir", str(work / "rescore")])
    assert rc in (0, None), f"rescore exited {rc}"
    out["rescore"] = read_outputs(work / "rescore")
    return out


if __name__ == "__main__":
    import tempfile

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from conftest import build_tiny_model

    dest = Path(sys.argv[1])
    with tempfile.TemporaryDirectory() as tmp:
        model = build_tiny_model(Path(tmp) / "tiny")
        got = run_all(model, Path(tmp) / "runs")
    dest.mkdir(parents=True, exist_ok=True)
    for name, data in got.items():
        (dest / f"{name}.json").write_text(json.dumps(data, indent=1, sort_keys=True, ensure_ascii=False) + "\n")
    print(f"wrote {len(got)} golden runs to {dest}")
