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
    ("samples_gsm8k_2026-01-01T00-00-00.000000.jsonl", '{"doc_id": 0}\n', [], "not an evalsuite twin"),
    ("samples_evalsuite_gsm8k_2026-01-01T00-00-00.000000.jsonl", "", ["--task", "nosuch"], "no lm-eval twin named"),
    ("samples_evalsuite_gsm8k_2026-01-01T00-00-00.000000.jsonl", "\n", [], "holds no samples"),
])
def test_bad_samples_files(_rescore, tmp_path, name, body, extra, needle):
    f = tmp_path / name
    f.write_text(body)
    _one_line(_rescore("--lm-eval-samples", str(f), *extra, "--output-dir", str(tmp_path / "out")), needle)


def test_missing_file(_rescore, tmp_path):
    _one_line(_rescore("--lm-eval-samples", str(tmp_path / "nope.jsonl"), "--task", "gsm8k"), "cannot read")


def test_doc_that_does_not_fit_the_task(_rescore, tmp_path):
    f = tmp_path / "samples_gsm8k_2026-01-01T00-00-00.000000.jsonl"
    f.write_text('{"doc_id": 0, "doc": {"problem": "1+1?"}, "resps": [["2"]]}\n')
    _one_line(_rescore("--lm-eval-samples", str(f), "--task", "gsm8k", "--output-dir", str(tmp_path / "o")),
              "lacks field(s) question, answer")


def test_builtin_lm_eval_gsm8k_samples_rescored_with_evalsuite_scorer(_rescore, tmp_path):
    """Lines in the shape lm-eval logs for its own `gsm8k` task (two filters per doc): read once per doc."""
    import json

    from evalsuite.tasks.cards import DATA_DIR

    docs = [json.loads(x) for x in (DATA_DIR / "gsm8k" / "test.jsonl").read_text().splitlines()[:2]]
    replies = ["16 - 3 - 4 = 9, and 9 * 2 = 18.\n#### 18", "It takes 4 bolts."]
    lines = [{"doc_id": i, "doc": d, "target": d["answer"], "resps": [[r]], "filtered_resps": ["x"], "filter": f,
              "exact_match": 0.0} for f in ("strict-match", "flexible-extract") for i, (d, r) in
             enumerate(zip(docs, replies))]
    f = tmp_path / "samples_gsm8k_2026-01-01T00-00-00.000000.jsonl"
    f.write_text("".join(json.dumps(x) + "\n" for x in lines))
    proc = _rescore("--lm-eval-samples", str(f), "--task", "gsm8k", "--output-dir", str(tmp_path / "out"))
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(x) for x in (tmp_path / "out" / "samples.jsonl").read_text().splitlines()]
    # doc 1 (robe: 2 blue + 1 white bolts) has gold 3, so "4 bolts" is wrong
    assert [(r["doc_id"], r["correct"], r["extracted"]) for r in rows] == [("0", True, "18"), ("1", False, "4")]
    assert "evalsuite accuracy 0.5000" in proc.stdout
