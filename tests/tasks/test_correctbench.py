"""The `correctbench` group: its cards and shipped data, default_limit and --full, the unavailable subsets, and a
whole group run on the tiny model with per-subset and group rows."""
from __future__ import annotations

import json
import shutil

import pytest

from evalsuite import evaluate
from evalsuite.errors import UsageError
from evalsuite.tasks import catalog, load_docs, resolve_tasks
from evalsuite.tasks.availability import gated_reason as hub_access_reason
from evalsuite.tasks.cards import DATA_DIR, GroupCard

SUBSETS = ["gsm8k", "aqua", "math500", "csqa", "hotpotqa", "humaneval", "gpqa"]
SHIPPED = ["aqua", "csqa", "hotpotqa"]


def test_group_lists_every_subset_with_the_first_100_by_default():
    group = catalog()["correctbench"]
    assert isinstance(group, GroupCard)
    assert list(group.tasks) == [f"correctbench_{s}" for s in SUBSETS]
    for name, sub in zip(group.tasks, SUBSETS):
        card = catalog()[name]
        assert card.extra["subset"] == sub and card.default_limit == 100 and card.protocol == "review"
        assert "answer_format" in card.prompts and {"cot", "direct"} <= set(card.prompts)


@pytest.mark.parametrize("name", ["correctbench_aqua", "correctbench_csqa", "correctbench_hotpotqa"])
def test_declared_sizes_match_the_shipped_data(name):
    card = catalog()[name]
    docs = load_docs(card)
    assert len(docs) == card.size and len({d.doc_id for d in docs}) == card.size


@pytest.mark.parametrize("sub", SHIPPED)
def test_shipped_data_has_sources_and_license(sub):
    for f in ("SOURCES.md", "LICENSE"):
        assert (DATA_DIR / sub / f).stat().st_size > 200


def test_first_docs_and_golds():
    aqua = load_docs(catalog()["correctbench_aqua"], limit=2)
    assert [d.target for d in aqua] == ["A", "E"]
    csqa = load_docs(catalog()["correctbench_csqa"], limit=1)[0]
    assert csqa.doc_id == "075e483d21c29a511267ef62bedc0461" and csqa.target == "A"  # the train split's first item
    hot = load_docs(catalog()["correctbench_hotpotqa"], limit=2)
    assert hot[0].fields["question"].startswith("Were Scott Derrickson and Ed Wood")
    assert [d.target for d in hot] == ["yes", "Chief of Protocol"]


def test_prompts_show_the_options():
    from evalsuite.protocols.base import render

    card = catalog()["correctbench_csqa"]
    text = render(card.prompts["cot"], load_docs(card, limit=1)[0].fields)
    assert "A) ignore" in text and "E) avoid" in text and "Answer: X" in text
    hub_layout = {"question": "Where?", "choices": {"label": ["A", "B"], "text": ["bank", "mall"]}, "answerKey": "A"}
    assert "B) mall" in render(card.prompts["direct"], hub_layout)
    aqua = catalog()["correctbench_aqua"]
    assert "B) 6(√3 + √2)" in render(aqua.prompts["direct"], load_docs(aqua, limit=1)[0].fields)


def test_gpqa_is_unavailable_with_the_reason_when_offline(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    hub = {"path": "Idavidrein/gpqa", "name": "gpqa_extended", "split": "train"}
    assert "HF_HUB_OFFLINE" in hub_access_reason(hub) and "huggingface.co/datasets/Idavidrein/gpqa" in hub_access_reason(hub)
    card = catalog()["correctbench_gpqa"]  # parsed earlier or now: its availability is asked afresh each time
    assert card.unavailable and "Idavidrein/gpqa" in card.unavailable
    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.setenv("HF_TOKEN", "")
    monkeypatch.setenv("HF_TOKEN_PATH", str(tmp_path / "no-token"))
    assert "login" in hub_access_reason(hub)
    (tmp_path / "hub" / "datasets--Idavidrein--gpqa").mkdir(parents=True)
    assert hub_access_reason(hub) is None  # a cached copy is loadable offline
    assert card.unavailable is None


def _gsm8k_copy(tmp_path, n: int):
    (tmp_path / "gsm8k").mkdir(parents=True)
    lines = (DATA_DIR / "gsm8k" / "test.jsonl").read_text().splitlines()[:n]
    (tmp_path / "gsm8k" / "test.jsonl").write_text("\n".join(lines) + "\n")
    return tmp_path


def test_default_limit_and_full(tiny_model_dir, tmp_path):
    from evalsuite.backends.hf import HFBackend

    data = _gsm8k_copy(tmp_path / "data", 103)
    logs: list[str] = []
    kw = dict(tasks="correctbench_gsm8k", model=HFBackend(str(tiny_model_dir), {"batch_size": 128}), protocol="direct", max_tokens=1, data_dir=data,
              progress=False, token_stats=False)
    res = evaluate(output_dir=tmp_path / "a", log=logs.append, **kw)
    assert res.metric("correctbench_gsm8k").n == 100
    assert any("first 100 docs" in m and "--full" in m for m in logs)
    full = evaluate(output_dir=tmp_path / "b", options={"full": True}, log=lambda m: None, **kw)
    assert full.metric("correctbench_gsm8k").n == 103
    few = evaluate(output_dir=tmp_path / "c", limit=3, log=lambda m: None, **kw)
    assert few.metric("correctbench_gsm8k").n == 3
    with pytest.raises(UsageError, match="--full and --limit"):
        evaluate(output_dir=tmp_path / "d", limit=3, options={"full": True}, log=lambda m: None, **kw)


@pytest.fixture(scope="module")
def group_run(tiny_backend, tmp_path_factory):
    out = tmp_path_factory.mktemp("correctbench")
    logs: list[str] = []
    res = evaluate(tasks="correctbench", model=tiny_backend, limit=2, output_dir=out, max_tokens=6,
                   progress=False, log=logs.append)
    return res, out, logs


def test_group_run_reports_every_available_subset(group_run):
    res, out, logs = group_run
    ran = [n for n in catalog()["correctbench"].tasks if not catalog()[n].unavailable]
    assert {"correctbench_gsm8k", "correctbench_aqua", "correctbench_math500", "correctbench_csqa",
            "correctbench_hotpotqa"} <= set(ran)
    for name in set(catalog()["correctbench"].tasks) - set(ran):
        assert any(m.startswith(f"skipping {name}: ") for m in logs)
    have = {(r.task, r.metric, r.round) for r in res.metrics}
    for task in ran:
        for rnd in (0, 1):
            assert (task, "accuracy", rnd) in have
        for m in ("delta", "delta_i2c", "delta_c2i", "cl", "cs", "rss"):
            assert (task, m, 1) in have
    assert ("correctbench_hotpotqa", "answer_f1", 1) in have
    subsets = {r.task: r.subset for r in res.metrics if r.task in ran}
    assert subsets["correctbench_csqa"] == "csqa"
    group = [r for r in res.metrics if r.task == "correctbench"]
    assert {(r.subset, r.metric) for r in group if r.round == 1} >= {
        ("pooled", "accuracy"), ("mean over subsets", "accuracy"), ("pooled", "rss"), ("mean over subsets", "cs")}
    pooled0 = next(r for r in group if r.subset == "pooled" and r.metric == "accuracy" and r.round == 0)
    assert pooled0.n == 2 * len(ran)
    payload = json.loads((out / "results.json").read_text())
    assert set(payload["groups"]["correctbench"]["extras"]["self_correction"]["review"]["subsets"]) == set(ran)
    flips = payload["tasks"]["correctbench_aqua"]["extras"]["self_correction"]["flips"]
    assert flips[0]["from"] == 0 and sum(v for k, v in flips[0].items() if "→" in k) == 2
    lines = [json.loads(x) for x in (out / "samples.jsonl").read_text().splitlines()]
    assert {x["kind"] for x in lines} == {"answer", "feedback"} and len(lines) == len(ran) * 2 * 3


def test_unknown_group_member_is_a_usage_error():
    with pytest.raises(UsageError):
        resolve_tasks("correctbench_nope")


def test_data_copy_without_the_csqa_file_names_it(tmp_path):
    shutil.copytree(DATA_DIR / "aqua", tmp_path / "aqua")
    with pytest.raises(UsageError, match="train_rand_split.jsonl"):
        load_docs(catalog()["correctbench_csqa"], limit=1, data_dir=tmp_path)
