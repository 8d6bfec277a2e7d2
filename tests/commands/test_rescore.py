"""`evalsuite rescore`: bad lm-eval samples input is one line on stderr and exit 2 (the real lm-eval round trip is
in tests/lmeval/test_lm_eval_cli.py); run in-process through the CLI's main()."""
from __future__ import annotations

import pytest


@pytest.fixture
def _rescore(cli):
    return lambda *args: cli("rescore", *args)


def _one_line(proc, needle: str) -> None:
    assert proc.returncode == 2, proc.stderr
    lines = [x for x in proc.stderr.splitlines() if x.strip()]
    assert len(lines) == 1 and needle in lines[0], proc.stderr


@pytest.mark.parametrize("name, body, extra, needle", [
    ("samples_evalsuite_gsm8k_2026-01-01T00-00-00.000000.jsonl", "{not json\n", [], "line 1 is not JSON"),
    ("samples_evalsuite_gsm8k_2026-01-01T00-00-00.000000.jsonl", '{"doc_id": 0}\n', [], "has no 'doc' and 'resps'"),
    ("replies.jsonl", '{"doc_id": 0}\n', [], "pass --task NAME"),
    ("samples_arc_easy_2026-01-01T00-00-00.000000.jsonl", '{"doc_id": 0}\n', [], "not an evalsuite twin"),
    ("samples_gsm8k_2026-01-01T00-00-00.000000.jsonl", '{"doc_id": 0}\n', [], "has no 'doc' and 'resps'"),
    ("samples_gsm8k_2026-01-01T00-00-00.000000.jsonl", "[1, 2]\n", [], "has no 'doc' and 'resps'"),
    ("samples_gsm8k_2026-01-01T00-00-00.000000.jsonl", '{"doc": {}, "resps": "x"}\n', [], "not a list of lists"),
    ("samples_gsm8k_2026-01-01T00-00-00.000000.jsonl", "", ["--task", "math500"], "drop --task"),
    ("samples_evalsuite_gsm8k_2026-01-01T00-00-00.000000.jsonl", "", ["--task", "nosuch"], "no lm-eval twin named"),
    ("samples_evalsuite_gsm8k_2026-01-01T00-00-00.000000.jsonl", "\n", [], "holds no samples"),
])
def test_bad_samples_files(_rescore, tmp_path, name, body, extra, needle):
    f = tmp_path / name
    f.write_text(body)
    _one_line(_rescore("--lm-eval-samples", str(f), *extra, "--output-dir", str(tmp_path / "out")), needle)


def test_non_utf8_file(_rescore, tmp_path):
    f = tmp_path / "samples_gsm8k_2026-01-01T00-00-00.000000.jsonl"
    f.write_bytes(b'{"doc": {}, "resps": [["ok"]]}\n\xff\xfe\x00binary\n')
    _one_line(_rescore("--lm-eval-samples", str(f), "--output-dir", str(tmp_path / "out")), "is not UTF-8 text")


def test_missing_file(_rescore, tmp_path):
    _one_line(_rescore("--lm-eval-samples", str(tmp_path / "nope.jsonl"), "--task", "gsm8k"), "cannot read")


def test_doc_that_does_not_fit_the_task(_rescore, tmp_path):
    f = tmp_path / "samples_gsm8k_2026-01-01T00-00-00.000000.jsonl"
    f.write_text('{"doc_id": 0, "doc": {"problem": "1+1?"}, "resps": [["2"]]}\n')
    _one_line(_rescore("--lm-eval-samples", str(f), "--task", "gsm8k", "--output-dir", str(tmp_path / "o")),
              "lacks field(s) question, answer")


def test_builtin_lm_eval_gsm8k_samples_compared_per_filter(_rescore, tmp_path):
    """Lines in the shape lm-eval logs for its own `gsm8k` task (one per doc and filter), with the values its
    filters give by hand: strict-match reads the first `#### N`, flexible-extract the last number."""
    import json

    from evalsuite.tasks.cards import DATA_DIR

    docs = [json.loads(x) for x in (DATA_DIR / "gsm8k" / "test.jsonl").read_text().splitlines()[:3]]
    # doc 0 (gold 18) ends in `#### 18`; doc 1 (gold 3) says 4; doc 2 (gold 70000) ends "5 + 3 = 8" with no ####
    replies = ["16 - 3 - 4 = 9, and 9 * 2 = 18.\n#### 18", "It takes 4 bolts.", "So the answer is 5 + 3 = 8."]
    lm_eval = {"strict-match": [(["18"], 1.0), (["[invalid]"], 0.0), (["[invalid]"], 0.0)],
               "flexible-extract": [(["18"], 1.0), (["4"], 0.0), (["8"], 0.0)]}
    lines = [{"doc_id": i, "doc": d, "target": d["answer"], "arguments": {"gen_args_0": {"arg_0": "Q", "arg_1": {
              "until": ["Question:"], "do_sample": False}}}, "resps": [[r]], "filtered_resps": lm_eval[f][i][0],
              "filter": f, "metrics": ["exact_match"], "exact_match": lm_eval[f][i][1]}
             for i, (d, r) in enumerate(zip(docs, replies)) for f in lm_eval]
    f = tmp_path / "samples_gsm8k_2026-01-01T00-00-00.000000.jsonl"
    f.write_text("".join(json.dumps(x) + "\n" for x in lines))
    proc = _rescore("--lm-eval-samples", str(f), "--output-dir", str(tmp_path / "out"))
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(x) for x in (tmp_path / "out" / "samples.jsonl").read_text().splitlines()]
    assert [(r["doc_id"], r["correct"], r["extracted"], r["protocol"]) for r in rows] == [
        ("0", True, "18", "lm-eval:gsm8k"), ("1", False, "4", "lm-eval:gsm8k"), ("2", False, "8", "lm-eval:gsm8k")]
    entry = json.loads((tmp_path / "out" / "results.json").read_text())["tasks"]["gsm8k"]
    assert entry["lm_eval_task"] == "gsm8k" and entry["lm_eval_native"] is True
    assert entry["protocol"] == "lm-eval:gsm8k" and entry["lm_eval_filters"] == ["strict-match", "flexible-extract"]
    strict, flexible = entry["per_filter_agreement"]["strict-match"], entry["per_filter_agreement"]["flexible-extract"]
    assert (strict["metric"], strict["lm_eval_metric"], strict["agree"], strict["compared"]) == (
        "accuracy[official]", "exact_match", 3, 3)
    assert (flexible["metric"], flexible["agree"], flexible["compared"]) == ("accuracy", 3, 3)
    assert entry["per_sample_agreement"] == {"agree": 3, "compared": 3}
    assert "filter strict-match exact_match vs accuracy[official]: per-sample agreement 3/3" in proc.stdout
    assert "filter flexible-extract exact_match vs accuracy: per-sample agreement 3/3" in proc.stdout
    assert "gsm8k: evalsuite accuracy 0.3333 (lm-eval's own task" in proc.stdout


def test_builtin_lm_eval_disagreement_is_listed(_rescore, tmp_path):
    """lm-eval's strict-match strips a trailing `.` ("#### 18." counts); the official rule compares "18." as is."""
    import json

    from evalsuite.tasks.cards import DATA_DIR

    doc = json.loads((DATA_DIR / "gsm8k" / "test.jsonl").read_text().splitlines()[0])
    lines = [{"doc_id": 0, "doc": doc, "resps": [["#### 18."]], "filtered_resps": ["18."], "filter": "strict-match",
              "metrics": ["exact_match"], "exact_match": 1.0}]
    f = tmp_path / "samples_gsm8k_2026-01-01T00-00-00.000000.jsonl"
    f.write_text("".join(json.dumps(x) + "\n" for x in lines))
    proc = _rescore("--lm-eval-samples", str(f), "--output-dir", str(tmp_path / "out"))
    assert proc.returncode == 0, proc.stderr
    entry = json.loads((tmp_path / "out" / "results.json").read_text())["tasks"]["gsm8k"]
    strict = entry["per_filter_agreement"]["strict-match"]
    assert (strict["agree"], strict["compared"]) == (0, 1)
    assert strict["disagreements"] == [{"doc_id": "0", "lm_eval": 1.0, "evalsuite": False,
                                        "lm_eval_filtered": ["18."], "evalsuite_extracted": "18",
                                        "official_extracted": "18."}]


def test_real_lm_eval_gsm8k_samples_file(_rescore, tmp_path):
    """Lines of a real `lm_eval --tasks gsm8k --log_samples` run (tests/fixtures/lmeval_gsm8k/README.md): gold
    18, 64, 260, 20; replies `#### 54`, `#### 16`, empty, and a cut-off text whose last number is 20."""
    import json
    from pathlib import Path

    f = next((Path(__file__).parents[1] / "fixtures" / "lmeval_gsm8k").glob("samples_gsm8k_*.jsonl"))
    proc = _rescore("--lm-eval-samples", str(f), "--output-dir", str(tmp_path / "out"))
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(x) for x in (tmp_path / "out" / "samples.jsonl").read_text().splitlines()]
    assert [(r["doc_id"], r["extracted"], r["info"]["official_extracted"], r["correct"]) for r in rows] == [
        ("0", "54", "54", False), ("5", "16", "16", False), ("6", None, None, False), ("44", "20", None, True)]
    entry = json.loads((tmp_path / "out" / "results.json").read_text())["tasks"]["gsm8k"]
    agreement = {k: (v["metric"], v["agree"], v["compared"]) for k, v in entry["per_filter_agreement"].items()}
    assert agreement == {"strict-match": ("accuracy[official]", 4, 4), "flexible-extract": ("accuracy", 4, 4)}
    assert "gsm8k: evalsuite accuracy 0.2500 (lm-eval's own task" in proc.stdout
