"""Confidence elicitation: parsing, P(True) option probabilities on the tiny model, answer-span token
probability, and the `confidence` protocol end to end."""
from __future__ import annotations

import json
import math

import pytest
import torch

from evalsuite import evaluate
from evalsuite.backends.hf_decode import choice_token_ids
from evalsuite.errors import UsageError
from evalsuite.records import GenParams, Generation, Request
from evalsuite.scoring.confidence import (answer_span, mask_verbal, option_probability, parse_verbal, span_tokens,
                                          token_probability)
from evalsuite.tasks.gsm8k.utils import GSM8KScorer


@pytest.mark.parametrize("text, value", [
    ("#### 18\nConfidence: 85%", 0.85),
    ("confidence: 0.7", 0.7),
    ("Confidence: 85", 0.85),
    ("Confidence: 20%. On reflection, Confidence: 60%", 0.6),
    ("**Confidence:** 90 %", 0.9),
    ("Confidence level: 1", 1.0),
    ("Confidence: 150%", 1.0),
    ("Confidence: .25", 0.25),
    ("Confidence: high", None),
    ("Confidence = 3/4 * 100%", None),
    ("I am sure. Confidence: 0.9.", 0.9),
    ("Confidence: 90%.", 0.9),
    ("Confidence: 75 % (3 / 4)", 0.75),
    ("no statement here, 90%", None),
])
def test_parse_verbal(text, value):
    got = parse_verbal(text)
    assert got == (pytest.approx(value) if value is not None else None)


def test_masked_confidence_is_not_read_as_the_answer():
    reply = "She sells 16 - 3 - 4 = 9 eggs, so she makes 9 * 2 = 18 dollars.\nConfidence: 90%"
    assert GSM8KScorer().score(reply, "18").extracted == "90"
    masked = mask_verbal(reply)
    assert len(masked) == len(reply)
    assert GSM8KScorer().score(masked, "18").correct


def test_option_probability_renormalises():
    lp = {"True": math.log(0.2), "False": math.log(0.6)}
    assert option_probability(lp, "True") == pytest.approx(0.25)
    assert option_probability({"True": -math.inf, "False": -math.inf}, "True") is None
    assert option_probability(None, "True") is None


def test_answer_span_and_tokens():
    text = "The total is 1,234 apples.\n#### 1,234"
    start, end = answer_span(text, "1234")
    assert text[start:end] == "1,234" and start == text.rindex("1,234")
    assert answer_span("But the answer is B", "B") == (18, 19)
    assert answer_span("118 and 18.5", "18") is None
    assert answer_span("x", None) is None
    # tokens "ab" | " ####" | " 18" end at 2, 7, 10
    assert span_tokens([2, 7, 10], (8, 10)) == [2]
    assert span_tokens([2, 7, 10], (1, 4)) == [0, 1]
    assert token_probability([-1.0, -2.0, -0.5], [2, 7, 10], "ab #### 18", "18") == pytest.approx(math.exp(-0.5))
    assert token_probability([-1.0, -2.0, -0.4], [2, 7, 10], "ab #### 18", "####") == pytest.approx(math.exp(-2.0))
    assert token_probability([-1.0], None, "18", "18") is None


def test_choice_logprobs_match_the_full_distribution(tiny_backend):
    be = tiny_backend
    req = Request(messages=(("user", "Is 2 + 2 = 4? Reply True or False."),), gen=GenParams(max_tokens=1), want=(),
                  choices=("True", "False"))
    plain = Request(messages=req.messages, gen=req.gen, want=())
    gen, other = be.generate([req, plain])
    assert other.choice_logprobs is None
    text, special = be.render(req)
    ids = be.tokenizer(text, add_special_tokens=special)["input_ids"]
    with torch.inference_mode():
        logp = torch.log_softmax(be.model(input_ids=torch.tensor([ids])).logits[0, -1].double(), -1)
    for choice in ("True", "False"):
        tids = choice_token_ids(be.tokenizer, choice)
        assert tids and all(be.tokenizer.decode([t]).strip() for t in tids)
        assert gen.choice_logprobs[choice] == pytest.approx(torch.logsumexp(logp[tids], 0).item(), abs=1e-5)


def test_token_offsets_follow_the_decoded_reply(tiny_backend):
    be = tiny_backend
    gen = be.generate([Request(messages=(("user", "Tom has 5 pens."),), gen=GenParams(max_tokens=16))])[0]
    offsets = be.token_offsets(gen.token_ids)
    full = be.tokenizer.decode(gen.token_ids, skip_special_tokens=True)
    assert len(offsets) == len(gen.token_ids) and offsets[-1] == len(full)
    assert all(a <= b for a, b in zip(offsets, offsets[1:]))
    for i, end in enumerate(offsets):
        assert full.startswith(be.tokenizer.decode(gen.token_ids[: i + 1], skip_special_tokens=True)[:end])


def test_request_and_generation_records_stay_compatible():
    plain = Request(messages=(("user", "q"),))
    assert "choices" not in plain.to_dict() and "score_offset" not in plain.to_dict()
    with_choices = Request(messages=(("user", "q"),), choices=("True", "False"))
    assert plain.key("hf", "m", "r", 0) != with_choices.key("hf", "m", "r", 0)
    g = Generation(text="t", token_ids=[1], stats={}, finish_reason="stop", backend="hf", model_id="m",
                   choice_logprobs={"True": -0.1, "False": -2.3})
    assert Generation.from_dict(json.loads(json.dumps(g.to_dict()))) == g
    old = g.to_dict()
    del old["choice_logprobs"]
    assert Generation.from_dict(old).choice_logprobs is None


def test_confidence_protocol_end_to_end(tiny_model_dir, tmp_path):
    res = evaluate("gsm8k", model=f"hf:{tiny_model_dir}", limit=3, output_dir=tmp_path, max_tokens=12,
                   options={"confidence": "verbal,ptrue,tokenprob"}, progress=False, log=lambda m: None)
    assert res.config["protocol"] == "confidence"
    answers = [s for s in res.samples if s.kind == "answer"]
    assert len(answers) == 3
    assert "Confidence: <number>%" in answers[0].request.messages[0][1]
    for s in answers:
        assert {"verbal", "ptrue", "tokenprob", "self_certainty_streamed"} <= set(s.confidence)
    ptrue = [s for s in res.samples if s.kind == "ptrue"]
    assert len(ptrue) == sum(s.extracted is not None for s in answers)
    for p in ptrue:
        assert p.request.choices == ("True", "False") and p.generation.choice_logprobs
        assert "Proposed answer: " in p.request.messages[0][1]
    by_doc = {s.doc_id: s for s in answers}
    for p in ptrue:
        assert by_doc[p.doc_id].confidence["ptrue"] == pytest.approx(
            option_probability(p.generation.choice_logprobs, "True"))
    names = {r.metric for r in res.metrics}
    assert {"confidence_missing[verbal]", "confidence_missing[ptrue]", "conf_auroc[self_certainty_streamed]"} <= names
    if ptrue:
        assert {"ece[ptrue]", "ece_mass[ptrue]", "brier[ptrue]", "conf_auroc[ptrue]", "aurc[ptrue]"} <= names
    lines = [json.loads(x) for x in (tmp_path / "samples.jsonl").read_text().splitlines()]
    assert all("ptrue" in x["confidence"] for x in lines if x["kind"] == "answer")


def test_confidence_flag_errors(tiny_model_dir, tmp_path):
    with pytest.raises(UsageError, match="--protocol confidence"):
        evaluate("gsm8k", model=f"hf:{tiny_model_dir}", limit=1, output_dir=tmp_path, protocol="cot",
                 options={"confidence": "verbal"}, progress=False, log=lambda m: None)
    with pytest.raises(UsageError, match="unknown --confidence method 'verbl'"):
        evaluate("gsm8k", model=f"hf:{tiny_model_dir}", limit=1, output_dir=tmp_path,
                 options={"confidence": "verbl"}, progress=False, log=lambda m: None)
