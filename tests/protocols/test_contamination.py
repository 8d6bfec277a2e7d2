"""The contamination protocol: its requests per round, the top-k entropy statistic, and a tiny-model run of RL-MIA
docs through evaluate() (on the synthetic RL-MIA fixture, and on the real files when they are here)."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from evalsuite import evaluate
from evalsuite.backends.token_stats import logits_stats
from evalsuite.errors import UsageError
from evalsuite.metrics import contamination as det
from evalsuite.protocols.base import Settings, Turn
from evalsuite.protocols.contamination import Contamination
from evalsuite.records import Generation
from evalsuite.tasks import catalog, load_docs


@pytest.fixture
def kk_doc(rl_mia_data, monkeypatch):
    rl_mia_data.install(monkeypatch)
    return load_docs(catalog()["rl_mia_kk"], limit=1)[0]


def _gen(text: str) -> Generation:
    return Generation(text=text, token_ids=[1, 2], stats={}, finish_reason="stop", backend="t", model_id="t")


def test_rounds_of_requests(kk_doc):
    proto = Contamination(catalog()["rl_mia_kk"], Settings(max_tokens=40, seed=3, options={"cdd_samples": 3}))
    first = proto.first(kk_doc)
    assert [r.kind for r in first] == ["answer", "perturbed", "sample", "sample", "sample"]
    answer, pert, *samples = first
    chat = kk_doc.fields["prompt"]
    assert answer.messages == tuple((m["role"], m["content"]) for m in chat)
    assert answer.gen.temperature == 0 and {"logprob", "entropy", "mink_mu", "mink_sigma"} <= set(answer.want)
    user = chat[-1]["content"]
    assert pert.messages[:-1] == answer.messages[:-1]
    assert pert.messages[-1][1].startswith("The lighthouse keeper") and f" {user} " in pert.messages[-1][1]
    assert pert.messages[-1][1].endswith("slow waltz.")
    assert {s.gen.temperature for s in samples} == {0.8} and {s.gen.top_p for s in samples} == {0.95}
    assert len({s.gen.seed for s in samples}) == 3
    history = [[Turn(r, _gen("Zoe is a knight." if r.kind == "answer" else "x")) for r in first]]
    crit, rp, ro = proto.next(kk_doc, history)
    assert crit.kind == "rethink" and crit.gen.max_tokens == 80 and crit.gen.temperature == 0
    assert crit.messages[-1][1].startswith(user) and "---\nZoe is a knight.\n---" in crit.messages[-1][1]
    assert (rp.kind, rp.continuation, rp.messages) == ("recall_perturbed", "Zoe is a knight.", pert.messages)
    assert (ro.kind, ro.continuation, ro.messages) == ("recall_original", "Zoe is a knight.", answer.messages)
    assert proto.next(kk_doc, history + [[]]) is None


def test_only_the_probes_the_chosen_detectors_need(kk_doc):
    proto = Contamination(catalog()["rl_mia_kk"], Settings(options={"detectors": "ppl,mink"}))
    first = proto.first(kk_doc)
    assert [r.kind for r in first] == ["answer"]
    assert proto.next(kk_doc, [[Turn(first[0], _gen("a"))]]) is None
    topk = Contamination(catalog()["rl_mia_kk"], Settings(options={"entropy_topk": 50, "detectors": "self_critique"}))
    assert "entropy_top50" in topk.first(kk_doc)[0].want
    with pytest.raises(UsageError, match="--temperature"):
        Contamination(catalog()["rl_mia_kk"], Settings(temperature=0.7))
    with pytest.raises(UsageError, match="--cdd-samples"):
        Contamination(catalog()["rl_mia_kk"], Settings(options={"cdd_samples": 0}))


def test_top_k_entropy_is_not_renormalised():
    logits = torch.log(torch.tensor([[0.5, 0.3, 0.2]]))
    out = logits_stats(logits, torch.tensor([0]), ["entropy", "entropy_top2", "entropy_top3"])
    h2 = -(0.5 * math.log(0.5) + 0.3 * math.log(0.3))  # 0.707766, the 0.2 tail ignored
    assert out["entropy_top2"].item() == pytest.approx(h2, abs=1e-6)
    assert out["entropy_top3"].item() == pytest.approx(out["entropy"].item(), abs=1e-6)
    assert out["entropy"].item() == pytest.approx(h2 - 0.2 * math.log(0.2), abs=1e-6)


@pytest.fixture(scope="module")
def tiny_run(rl_mia_data, tiny_model_dir, tmp_path_factory):
    mp = pytest.MonkeyPatch()
    rl_mia_data.install(mp)
    out = tmp_path_factory.mktemp("rlmia")
    try:
        res = evaluate(tasks="rl_mia", model=f"hf:{tiny_model_dir}", model_args="batch_size=8", limit=2,
                       output_dir=out, max_tokens=6, progress=False, log=lambda m: None,
                       options={"cdd_samples": 2, "entropy_topk": 50})
    finally:
        mp.undo()
    return res, out


def test_tiny_model_run_reports_every_detector_per_subset(tiny_run):
    res, out = tiny_run
    # 10 docs: answer, perturbed, 2 samples; then critique and the two teacher-forced recall requests
    assert len(res.samples) == 10 * 7
    assert {s.member for s in res.samples} == {True, False}
    rows = [r for r in res.metrics if r.metric.name.startswith("mia_")]
    subsets = {"aime24", "aime25", "gsm8k", "kk", "sat", "mean"}
    for d in det.DETECTORS:
        for m in ("mia_auc", "mia_tpr_at_1fpr", "mia_tpr_at_5fpr", "mia_best_f1"):
            got = {r.subset for r in rows if r.metric == f"{m}[{d}]"}
            assert got == subsets, (m, d)
    auc = [r for r in rows if r.metric == "mia_auc[ppl]" and r.subset == "kk"][0]
    assert auc.n == 2 and auc.value in (0.0, 0.5, 1.0) and auc.ci_low <= auc.value <= auc.ci_high
    payload = json.loads((out / "results.json").read_text())
    extras = payload["tasks"]["rl_mia"]["extras"]["contamination"]
    assert extras["entropy"] == "entropy_top50" and len(extras["roc"]) == 5
    assert extras["roc"][0]["plot"] == "roc" and "self_critique" in extras["roc"][0]["detectors"]
    assert not [r for r in rows if r.metric.name.startswith("critique_")], "Self-Critique's second pass is no verdict"


def test_scores_come_from_the_right_probes(tiny_run):
    res, out = tiny_run
    extras = json.loads((out / "results.json").read_text())["tasks"]["rl_mia"]["extras"]["contamination"]
    by = {}
    for s in res.samples:
        by.setdefault(s.doc_id, {}).setdefault(s.kind, []).append(s.generation)
    matched = 0
    for doc, kinds in by.items():
        ans = kinds["answer"][0]
        assert len(ans.stats["entropy_top50"]) == len(ans.token_ids)
        assert all(t <= f + 1e-5 for t, f in zip(ans.stats["entropy_top50"], ans.stats["entropy"]))
        ppl = math.exp(-np.mean(ans.stats["logprob"]))
        assert extras["scores"]["ppl"][doc] == pytest.approx(-ppl)
        crit = kinds["rethink"][0]
        assert extras["scores"]["self_critique"][doc] == pytest.approx(
            det.penalized_cosine(ans.stats["entropy_top50"], crit.stats["entropy_top50"]))
        ro = kinds["recall_original"][0]
        if ro.token_ids == ans.token_ids:  # teacher forcing the same tokens gives the generation's log-probs
            np.testing.assert_allclose(ro.stats["logprob"], ans.stats["logprob"], atol=1e-4)
            matched += 1
    assert matched >= 1
