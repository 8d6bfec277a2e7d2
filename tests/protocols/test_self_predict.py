"""self_predict: answer properties, reading predictions, the summary on hand-built samples, and the protocol
with an observer model end to end on the tiny model."""
from __future__ import annotations

import math

import pytest

from evalsuite import evaluate
from evalsuite.errors import UsageError
from evalsuite.records import Generation, Request, Sample
from evalsuite.scoring.properties import answer_property, properties_for, read_prediction
from evalsuite.summaries.base import Group
from evalsuite.summaries.self_predict import summarize_self_predict
from evalsuite.tasks import resolve_tasks


def test_properties_by_answer_type():
    assert properties_for("number") == ("last_digit", "parity")
    assert properties_for("option letter") == ("option",)
    assert properties_for("latex") == ("first_word",)
    assert properties_for("python_literal") == ("first_word",)


@pytest.mark.parametrize("prop, answer, value", [
    ("last_digit", "1,234", "4"), ("last_digit", "-17", "7"), ("last_digit", "12.5", "5"), ("last_digit", None, None),
    ("parity", "18", "even"), ("parity", "-3", "odd"), ("parity", "2.5", None), ("parity", "4.0", "even"),
    ("option", "B", "B"), ("option", "(c)", "C"), ("option", "AB", None),
    ("first_word", "\\frac{1}{2}", "frac"), ("first_word", "'Hello world'", "hello"), ("first_word", "[1, 2]", "1"),
])
def test_answer_property(prop, answer, value):
    assert answer_property(prop, answer) == value


def test_read_prediction():
    digits = {str(d): -5.0 for d in range(10)} | {"7": -0.5}
    assert read_prediction("last_digit", "The digit is 3", digits) == "7"
    assert read_prediction("last_digit", "The digit is 3", None) == "3"
    assert read_prediction("parity", "It is odd.", None) == "odd"
    assert read_prediction("parity", "", {"Even": -0.1, "Odd": -2.0}) == "even"
    assert read_prediction("option", "I would pick a C", None) == "C" == answer_property("option", "c")
    assert read_prediction("option", "", {"A": -3.0, "B": -0.2}) == "B"
    assert read_prediction("first_word", "  Frac, surely", None) == "frac"
    assert read_prediction("last_digit", "none", {str(d): -math.inf for d in range(10)}) is None


def _s(doc: str, kind: str, text: str = "", choice=None, extracted=None, correct=None, observer=None) -> Sample:
    gen = Generation(text=text, token_ids=[], stats={}, finish_reason="stop", backend="hf", model_id="m",
                     choice_logprobs=choice)
    return Sample(task="t", doc_id=doc, protocol="self_predict", round=0, sample_idx=0, key=doc + kind,
                  request=Request(kind=kind), generation=gen, kind=kind, attempt=0 if kind == "answer" else None,
                  target="", extracted=extracted, correct=correct, info={"observer": observer} if observer else {})


def test_summary_hand_worked():
    yes, no = {"Yes": -0.1, "No": -2.0}, {"Yes": -2.0, "No": -0.1}
    rows = [  # (doc, answer, correct, self says correct?, self digit, observer says correct?, observer digit)
        ("a", "18", True, yes, "8", no, "8"),
        ("b", "27", False, no, "7", no, "1"),
        ("c", "30", False, yes, "0", no, "2"),
        ("d", "41", True, yes, "5", no, "1"),
    ]
    samples = []
    for doc, ans, ok, mine, digit, theirs, odigit in rows:
        samples += [_s(doc, "answer", extracted=ans, correct=ok), _s(doc, "predict_correct", choice=mine),
                    _s(doc, "predict_last_digit", digit), _s(doc, "observe_correct", choice=theirs, observer="hf:o"),
                    _s(doc, "observe_last_digit", odigit, observer="hf:o")]
    out = summarize_self_predict(Group("t", "self_predict", samples))
    val = {r.metric: r.value for r in out.rows}
    # correctness: self says yes,no,yes,yes vs actual yes,no,no,yes -> 3/4; baseline 2/4; observer always no -> 2/4
    assert val["self_predict_accuracy[correct]"] == 0.75
    assert val["self_predict_baseline[correct]"] == 0.5
    assert val["observer_accuracy[correct]"] == 0.5
    assert val["introspective_advantage[correct]"] == pytest.approx(0.25)
    # last digits 8,7,0,1: self gets 8,7,0 right (3/4), observer gets 8, 1 right (2/4); baseline 1/4
    assert val["self_predict_accuracy[last_digit]"] == 0.75
    assert val["self_predict_baseline[last_digit]"] == 0.25
    # the baseline's CI is that of the fixed predictor "always 8" (hits 1,0,0,0), so it holds the point value
    base = next(r for r in out.rows if r.metric == "self_predict_baseline[last_digit]")
    assert base.ci_low <= 0.25 <= base.ci_high and base.note.startswith("always '8'")
    assert val["introspective_advantage[last_digit]"] == pytest.approx(0.25)
    assert out.extras["self_predict"]["last_digit"]["actual"] == {"8": 1, "7": 1, "0": 1, "1": 1}


def test_self_predict_family_and_observer_end_to_end(tiny_model_dir, tmp_path):
    assert [c.name for c in resolve_tasks("self_predict")][:2] == ["self_predict_gsm8k", "self_predict_math500"]
    res = evaluate("self_predict_gsm8k", model=f"hf:{tiny_model_dir}", limit=3, output_dir=tmp_path, max_tokens=8,
                   options={"observer_model": f"hf:{tiny_model_dir}"}, progress=False, log=lambda m: None)
    kinds = sorted({s.kind for s in res.samples})
    assert kinds == ["answer", "observe_correct", "observe_last_digit", "observe_parity", "predict_correct",
                     "predict_last_digit", "predict_parity"]
    predict = [s for s in res.samples if s.kind == "predict_correct"]
    assert all(s.request.choices == ("Yes", "No") and s.generation.choice_logprobs for s in predict)
    task_prompt = next(s for s in res.samples if s.kind == "answer").request.messages[0][1]
    assert task_prompt in predict[0].request.messages[0][1]
    assert all("Another AI assistant" in s.request.messages[0][1] for s in res.samples if s.kind.startswith("obs"))
    answers = [s for s in res.samples if s.kind == "answer"]
    assert all(0 <= s.confidence["self_predict"] <= 1 for s in answers)
    names = {r.metric for r in res.metrics}
    assert {"self_predict_accuracy[correct]", "self_predict_baseline[correct]", "observer_accuracy[correct]",
            "introspective_advantage[correct]", "conf_auroc[self_predict]", "ece[self_predict]",
            "brier[self_predict]"} <= names


def test_observer_needs_a_self_predict_run(tiny_model_dir, tmp_path):
    with pytest.raises(UsageError, match="self_predict"):
        evaluate("gsm8k", model=f"hf:{tiny_model_dir}", limit=1, output_dir=tmp_path, max_tokens=4,
                 options={"observer_model": f"hf:{tiny_model_dir}"}, progress=False, log=lambda m: None)


@pytest.mark.parametrize("name, source", [("gsm8k", "gsm8k"), ("math500", "math500"), ("csqa", "correctbench_csqa"),
                                          ("aqua", "correctbench_aqua"), ("cruxeval", "cruxeval_o")])
def test_family_cards_mirror_their_source_cards(name, source):
    from evalsuite.tasks import catalog

    mine, theirs = catalog()[f"self_predict_{name}"], catalog()[source]
    assert mine.protocol == "self_predict"
    for field in ("prompts", "data", "scorer", "answer_type", "size", "doc_id"):
        assert getattr(mine, field) == getattr(theirs, field), field
    assert mine.extra.get("stop") == theirs.extra.get("stop")
