"""The criticbench tasks: docs expanded from labelled responses, label checks against the source files, the
generic `data.expand` hook, and the hub-only Lin et al. loader on a fixture in that schema."""
from __future__ import annotations

import csv
import dataclasses
import json
import re
import sys
import types
from collections import Counter
from pathlib import Path

import pytest

from evalsuite.errors import UsageError
from evalsuite.tasks import catalog, load_docs, resolve_tasks
from evalsuite.tasks.card_code import scorer_class
from evalsuite.tasks.cards import DATA_DIR
from evalsuite.tasks.expand import expand_records
from evalsuite.tasks.availability import hub_only_reason

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "criticbench_lin" / "records.jsonl"


@pytest.fixture(scope="module")
def gsm_docs():
    return load_docs(catalog()["critic_gsm8k"])


def test_critic_gsm8k_has_four_labelled_solutions_per_question(gsm_docs):
    card = catalog()["critic_gsm8k"]
    assert len(gsm_docs) == card.size == 5276
    assert len({d.doc_id for d in gsm_docs}) == 5276
    assert Counter(d.target for d in gsm_docs) == {"correct": 2001, "incorrect": 3275}
    first = gsm_docs[:4]
    assert [d.doc_id for d in first] == ["0/6b_finetuning", "0/6b_verification", "0/175b_finetuning",
                                         "0/175b_verification"]
    assert all(d.fields["question"].startswith("Janet") and d.fields["gold_answer"] == "18" for d in first)
    assert not any(re.search(r"<<[^>]*>>", d.fields["response"]) for d in gsm_docs)
    assert sum("<<" in d.fields["response_raw"] for d in gsm_docs) > 4000


def test_critic_gsm8k_labels_agree_with_the_final_a_lines(gsm_docs):
    raw = [json.loads(x) for x in (DATA_DIR / "gsm8k" / "example_model_solutions.jsonl").read_text().splitlines()]

    def last_a(text):
        last = text.strip().splitlines()[-1]
        return last[2:].strip().replace(",", "") if last.startswith("A:") else None

    def same(a, b):
        try:
            return a == b or float(a) == float(b)
        except ValueError:
            return False

    checked = 0
    for d in gsm_docs:
        q, policy = d.doc_id.split("/")
        rec = raw[int(q)]
        said = last_a(rec[policy]["solution"])
        assert d.target == ("correct" if rec[policy]["is_correct"] else "incorrect")
        if said is not None:
            checked += 1
            assert same(said, last_a(rec["ground_truth"])) == (d.target == "correct")
    assert checked == 5265


def test_critic_truthfulqa_pairs_best_answer_with_best_incorrect_answer():
    docs = load_docs(catalog()["critic_truthfulqa"])
    rows = list(csv.DictReader(open(DATA_DIR / "truthfulqa" / "TruthfulQA.csv", encoding="utf-8")))
    assert len(docs) == 2 * len(rows) == catalog()["critic_truthfulqa"].size
    assert Counter(d.target for d in docs) == {"correct": 790, "incorrect": 790}
    a, b = docs[0], docs[1]
    assert a.fields["question"] == b.fields["question"] == rows[0]["Question"]
    assert (a.target, a.fields["response"]) == ("correct", rows[0]["Best Answer"])
    assert (b.target, b.fields["response"]) == ("incorrect", rows[0]["Best Incorrect Answer"])


def test_limit_counts_expanded_docs():
    docs = load_docs(catalog()["critic_truthfulqa"], limit=5)
    assert [d.doc_id for d in docs] == ["0/best", "0/best_incorrect", "1/best", "1/best_incorrect", "2/best"]


def test_group_lists_the_shipped_subsets():
    assert [c.name for c in resolve_tasks("criticbench")] == ["critic_gsm8k", "critic_truthfulqa",
                                                              "critic_humaneval"]
    hum = catalog()["critic_humaneval"]
    assert scorer_class(hum).registry_name == "humaneval" and not hum.unavailable


def test_expand_hook_is_generic_and_reports_bad_paths(monkeypatch):
    monkeypatch.setitem(sys.modules, "expand_plugin", types.SimpleNamespace(twice=_twice))
    card = catalog()["critic_truthfulqa"]
    twice = dataclasses.replace(card, data={**card.data, "expand": "expand_plugin:twice"})
    assert expand_records(twice, [{"x": 1}, {"x": 2}]) == [{"x": 1, "k": 0}, {"x": 1, "k": 1},
                                                           {"x": 2, "k": 0}, {"x": 2, "k": 1}]
    bad = dataclasses.replace(card, data={**card.data, "expand": "evalsuite.tasks.criticbench.utils:nope"})
    with pytest.raises(UsageError, match="cannot be imported"):
        expand_records(bad, [{}])
    with pytest.raises(UsageError, match="record 0 cannot be expanded"):
        expand_records(card, [{"Question": "q"}])


def _twice(rec, index):
    return [{**rec, "k": k} for k in range(2)]


def _lin_dir(tmp_path: Path) -> Path:
    import datasets

    rows = [json.loads(x) for x in FIXTURE.read_text().splitlines()]
    (tmp_path / "criticbench_lin").mkdir()
    datasets.Dataset.from_list(rows).to_parquet(str(tmp_path / "criticbench_lin" / "test-00000-of-00001.parquet"))
    return tmp_path


def test_lin_loader_maps_the_hub_schema(tmp_path):
    root = _lin_dir(tmp_path)
    docs = load_docs(catalog()["criticbench_lin"], data_dir=root)
    assert [d.doc_id for d in docs] == ["gsm8k_0001", "gsm8k_0002", "csqa_0001", "date_0001", "humaneval_0001",
                                        "objcount_0001"]
    assert [d.target for d in docs] == ["correct", "incorrect", "correct", "incorrect", "incorrect", "correct"]
    assert [d.fields["domain"] for d in docs] == ["math", "math", "commonsense", "symbolic", "code", "algorithmic"]
    assert docs[3].fields["source"] == "Date" and docs[0].fields["gold_answers"] == ["31"]


def test_lin_is_unavailable_offline_until_a_copy_is_there(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.delenv("HF_DATASETS_CACHE", raising=False)
    monkeypatch.delenv("EVALSUITE_DATA_DIR", raising=False)
    data = catalog()["criticbench_lin"].data
    reason = hub_only_reason(data)
    assert "llm-agents/CriticBench" in reason and "criticbench_lin/" in reason and "\n" not in reason
    assert catalog()["criticbench_lin"].unavailable == reason
    monkeypatch.setenv("EVALSUITE_DATA_DIR", str(_lin_dir(tmp_path)))
    assert hub_only_reason(data) is None and catalog()["criticbench_lin"].unavailable is None
    monkeypatch.setenv("EVALSUITE_DATA_DIR", str(tmp_path / "empty"))
    (tmp_path / "hf" / "hub" / "datasets--llm-agents--CriticBench").mkdir(parents=True)
    assert hub_only_reason(data) is None
