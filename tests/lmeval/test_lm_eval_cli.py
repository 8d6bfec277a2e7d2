"""End to end with the real `lm_eval` CLI on the tiny model: every twin runs offline, sends evalsuite's prompt,
generates what evalsuite generates, and `evalsuite rescore` reproduces lm-eval's scores sample by sample."""
from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("lm_eval")

from evalsuite.lmeval.samples import FILE_RE  # noqa: E402

pytestmark = pytest.mark.slow

OFFLINE = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
CHECKED = ("gsm8k", "math500", "cruxeval_o", "critic_gsm8k")


def _evalsuite(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "evalsuite", *args], capture_output=True, text=True, env=OFFLINE,
                          timeout=600)


@pytest.fixture(scope="module")
def lm_run(tmp_path_factory, tiny_model_dir):
    """One lm_eval run of every twin (groups `evalsuite` and `evalsuite_conf`), 2 docs each, chat template on."""
    tmp = tmp_path_factory.mktemp("lm-eval-run")
    path = _evalsuite("lm-eval-path", "--dir", str(tmp / "tasks"))
    assert path.returncode == 0, path.stderr
    lm_eval = shutil.which("lm_eval") or pytest.skip("the lm_eval command is not on PATH")
    proc = subprocess.run(
        [lm_eval, "--model", "hf", "--model_args", f"pretrained={tiny_model_dir}", "--include_path",
         path.stdout.strip(), "--tasks", "evalsuite,evalsuite_conf", "--limit", "2", "--gen_kwargs",
         "max_gen_toks=8", "--apply_chat_template", "--confirm_run_unsafe_code", "--log_samples",
         "--output_path", str(tmp / "out")],
        capture_output=True, text=True, env=OFFLINE, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    (results,) = glob.glob(str(tmp / "out" / "*" / "results_*.json"))
    samples = {FILE_RE.match(Path(f).name).group("task"): Path(f)
               for f in glob.glob(str(tmp / "out" / "*" / "samples_*.jsonl"))}
    return {"tmp": tmp, "tasks_dir": Path(path.stdout.strip()), "results": json.loads(Path(results).read_text()),
            "samples": samples, "stdout": proc.stdout}


def test_path_command_prints_only_the_folder(lm_run):
    assert (lm_run["tasks_dir"] / "evalsuite_gsm8k.yaml").is_file()
    assert (lm_run["tasks_dir"] / "evalsuite.yaml").is_file()


def test_every_twin_loads_and_runs(lm_run):
    from evalsuite.lmeval import build

    twins = [t.name for t in build(lm_run["tmp"] / "check").twins]
    assert len(twins) >= 10
    for name in twins:
        assert lm_run["results"]["results"][name]["accuracy,none"] in (0.0, 0.5, 1.0), name
        lines = lm_run["samples"][name].read_text().splitlines()
        assert len(lines) == 2, name
    assert "evalsuite_gsm8k" in lm_run["stdout"] and "accuracy" in lm_run["stdout"]


def test_same_prompt_reply_and_correctness_as_evalsuite(lm_run, tiny_model_dir):
    """`evalsuite run` on the same docs: lm-eval's chat-formatted context is the string evalsuite's backend
    renders, greedy replies are identical, and correctness matches per sample."""
    from evalsuite.api import evaluate
    from evalsuite.backends.hf import HFBackend

    res = evaluate(list(CHECKED), model=f"hf:{tiny_model_dir}", limit=2, max_tokens=8,
                   output_dir=lm_run["tmp"] / "evalsuite-run", progress=False, log=lambda m: None)
    backend = HFBackend(str(tiny_model_dir), {})
    backend.load()
    compared = 0
    for s in res.samples:
        if s.kind != "answer" or s.round != 0:
            continue
        logged = {r["doc"]["_evalsuite_doc_id"]: r for r in
                  map(json.loads, lm_run["samples"][f"evalsuite_{s.task}"].read_text().splitlines())}
        rec = logged[s.doc_id]
        assert rec["arguments"]["gen_args_0"]["arg_0"] == backend.render(s.request)[0]
        assert rec["resps"][0][0] == s.generation.text
        assert rec["accuracy"] == float(s.correct)
        compared += 1
    assert compared == 2 * len(CHECKED)


def test_rescore_reproduces_lm_eval(lm_run):
    out = lm_run["tmp"] / "rescored"
    proc = _evalsuite("rescore", "--lm-eval-samples", *map(str, lm_run["samples"].values()), "--output-dir", str(out))
    assert proc.returncode == 0, proc.stderr
    payload = json.loads((out / "results.json").read_text())
    assert {"model", "config", "tasks"} <= set(payload)
    seen = set()
    for entry in payload["tasks"].values():
        twin = entry["lm_eval_task"]
        seen.add(twin)
        assert entry["per_sample_agreement"] == {"agree": 2, "compared": 2}, twin
        accuracy = next(m["value"] for m in entry["metrics"] if m["metric"] == "accuracy" and m["round"] == 0)
        assert accuracy == pytest.approx(lm_run["results"]["results"][twin]["accuracy,none"]), twin
    assert seen == set(lm_run["samples"])
    assert (out / "results.csv").read_text().startswith("task,subset,protocol,attempt,metric")
    assert len((out / "samples.jsonl").read_text().splitlines()) == 2 * len(seen)


def test_rescore_scores_a_right_reply(lm_run):
    """A logged line whose reply is replaced by a right answer: evalsuite scores it right, and the disagreement
    with lm-eval's logged value is reported."""
    src = lm_run["samples"]["evalsuite_gsm8k"]
    lines = [json.loads(x) for x in src.read_text().splitlines()]
    first = next(r for r in lines if r["doc"]["_evalsuite_doc_id"] == "0")
    first["resps"] = [["She sells 16 - 3 - 4 = 9 eggs for 9 * 2 = 18 dollars.\n#### 18"]]
    edited = lm_run["tmp"] / "edited" / src.name
    edited.parent.mkdir()
    edited.write_text("".join(json.dumps(r) + "\n" for r in lines))
    out = lm_run["tmp"] / "rescored-edited"
    proc = _evalsuite("rescore", "--lm-eval-samples", str(edited), "--task", "gsm8k", "--output-dir", str(out))
    assert proc.returncode == 0, proc.stderr
    assert "per-sample agreement 1/2" in proc.stdout
    rows = [json.loads(x) for x in (out / "samples.jsonl").read_text().splitlines()]
    assert {r["doc_id"]: r["correct"] for r in rows}["0"] is True
    wrong_task = _evalsuite("rescore", "--lm-eval-samples", str(edited), "--task", "math500", "--output-dir",
                            str(out))
    assert wrong_task.returncode == 2 and "not evalsuite_math500" in wrong_task.stderr
