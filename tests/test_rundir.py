"""rundir.read_samples: a run dir's samples.jsonl read on its own (no results.json), as `--policy-run` needs."""
from __future__ import annotations

import json

import pytest

from evalsuite.errors import UsageError
from evalsuite.rundir import read_samples

REC = {"task": "gsm8k", "protocol": "direct", "doc_id": 3, "sample_idx": 0, "round": 0, "kind": "answer",
       "output": "#### 4", "correct": True}


def test_samples_of_a_dir_without_results_json(tmp_path):
    second = {**REC, "doc_id": 7, "token_stats": {"mean_logprob": -0.5}}
    (tmp_path / "samples.jsonl").write_text(json.dumps(REC) + "\n\n" + json.dumps(second) + "\n")
    got = list(read_samples(tmp_path))
    assert [r["doc_id"] for r in got] == [3, 7]  # file order, the blank line skipped
    # a record's token stats gain the keys it lacks, as None
    assert got[1]["token_stats"] == {"mean_logprob": -0.5, "mean_entropy": None, "self_certainty": None}


def test_no_samples_file_is_no_records_and_a_bad_line_is_one_usage_error(tmp_path):
    assert list(read_samples(tmp_path)) == []
    (tmp_path / "samples.jsonl").write_text(json.dumps(REC) + "\n" + json.dumps({**REC, "round": "0"}) + "\n")
    with pytest.raises(UsageError, match=r"samples.jsonl line 2: the record.round is a string, expected a number"):
        list(read_samples(str(tmp_path)))
