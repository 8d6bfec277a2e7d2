"""best_of_n: N sampled answers per doc on the tiny model, and the selector table on hand-built samples."""
from __future__ import annotations

import pytest

from evalsuite import evaluate
from evalsuite.errors import UsageError
from evalsuite.records import Generation, GenParams, Request, Sample
from evalsuite.summaries.base import Group
from evalsuite.summaries.best_of_n import summarize_best_of_n


def _sample(doc: str, idx: int, answer: str | None, correct: bool, sc: float, lp: float) -> Sample:
    gen = Generation(text="", token_ids=[], stats={}, finish_reason="stop", backend="hf", model_id="m")
    return Sample(task="t", doc_id=doc, protocol="best_of_n", round=0, sample_idx=idx, key=f"{doc}{idx}",
                  request=Request(gen=GenParams(temperature=0.7)), generation=gen, kind="answer", attempt=0,
                  target="", extracted=answer, correct=correct,
                  confidence={"self_certainty_streamed": sc, "mean_logprob": lp})


def test_selector_table_on_hand_built_samples():
    # doc a: majority says 5 (wrong), the most self-certain says 7 (right), mean log-prob prefers the 5s
    a = [("5", False, 1.0, -0.1), ("7", True, 9.0, -0.9), ("5", False, 2.0, -0.2), ("7", True, 8.0, -0.8)]
    a += [("5", False, 1.5, -0.3), ("9", False, 0.5, -0.05), ("7", True, 7.0, -0.7), (None, False, 99.0, 0.0)]
    # doc b: every sample right
    b = [("3", True, 1.0, -1.0)] * 8
    samples = [_sample("a", i, *x) for i, x in enumerate(a)] + [_sample("b", i, *x) for i, x in enumerate(b)]
    out = summarize_best_of_n(Group("t", "best_of_n", samples, options={"borda_p": 1.0}))
    val = {r.metric: r.value for r in out.rows}
    # N=1: sample 0 of each doc: a wrong, b right
    assert val["bon_accuracy[majority, N=1]"] == 0.5
    assert val["oracle_pass[N=1]"] == 0.5
    # N=2: a's first two are 5 and 7 (tie -> 5, the first seen); self-certainty picks 7
    assert val["bon_accuracy[majority, N=2]"] == 0.5
    assert val["bon_accuracy[self_certainty (streamed), N=2]"] == 1.0
    assert val["oracle_pass[N=2]"] == 1.0
    # N=8, a: 5 x3, 7 x3, 9, unparsed; majority tie 5/7 -> 5. Borda p=1, ranks by sc: None(99)->8, 7(9)->7,
    # 7(8)->6, 7(7)->5, 5(2)->4, 5(1.5)->3, 5(1)->2, 9(.5)->1: 7 gets 18, 5 gets 9 -> right.
    assert val["bon_accuracy[majority, N=8]"] == 0.5
    assert val["bon_accuracy[borda p=1 (streamed), N=8]"] == 1.0
    # mean log-prob: the unparsed output never wins, so 9 (-0.05) is chosen: wrong
    assert val["bon_accuracy[mean_logprob, N=8]"] == 0.5
    assert out.extras["n"] == [1, 2, 4, 8]
    assert out.extras["accuracy"]["oracle pass@N"] == [0.5, 1.0, 1.0, 1.0]


def test_best_of_n_end_to_end(tiny_model_dir, tmp_path):
    res = evaluate("gsm8k", model=f"hf:{tiny_model_dir}", limit=2, output_dir=tmp_path, max_tokens=8, samples=4,
                   protocol="best_of_n", options={"self_certainty_convention": "official"}, progress=False,
                   log=lambda m: None)
    answers = [s for s in res.samples if s.kind == "answer"]
    assert len(answers) == 8
    assert {s.request.gen.temperature for s in answers} == {0.7}
    assert len({(s.doc_id, s.generation.text) for s in answers}) > 2
    forced = [s for s in res.samples if s.kind == "sc_official"]
    assert len(forced) == 8 and all(s.request.score_offset == 1 for s in forced)
    for s in answers:
        assert {"self_certainty_streamed", "self_certainty_official", "mean_logprob"} <= set(s.confidence)
    names = {r.metric for r in res.metrics}
    for n in (1, 2, 4):
        assert {f"bon_accuracy[majority, N={n}]", f"bon_accuracy[borda p=0.5 (streamed), N={n}]",
                f"bon_accuracy[borda p=0.5 (official), N={n}]", f"bon_accuracy[self_certainty (official), N={n}]",
                f"bon_accuracy[mean_logprob, N={n}]", f"oracle_pass[N={n}]"} <= names


def test_bad_borda_power_is_a_usage_error(tiny_model_dir, tmp_path):
    with pytest.raises(UsageError, match="--borda-p"):
        evaluate("gsm8k", model=f"hf:{tiny_model_dir}", limit=1, output_dir=tmp_path, protocol="best_of_n",
                 options={"borda_p": -1.0}, progress=False, log=lambda m: None)
