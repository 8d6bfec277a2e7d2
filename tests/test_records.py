"""Request kinds are one enum whose values are the stored strings, so store keys and samples.jsonl are unchanged."""
from __future__ import annotations

import dataclasses
import hashlib
import json

import pytest

from evalsuite.records import PREDICTIONS, GenParams, Kind, Request, prediction_kind
from evalsuite.scoring.properties import properties_for


def test_kind_values_are_the_stored_strings():
    assert Kind.ANSWER == "answer" and f"{Kind.RECALL_PERTURBED}" == "recall_perturbed"
    assert json.dumps({"kind": Kind.PTRUE}) == '{"kind": "ptrue"}'
    assert Kind("sc_official") is Kind.SC_OFFICIAL


def test_store_key_of_a_request_is_what_the_string_kind_gave():
    # GenParams' default max_tokens is the run's (512; it was 256 while every run's requests set it explicitly)
    req = Request(messages=(("user", "2+3?"),), kind=Kind.FEEDBACK)
    payload = {"messages": [{"role": "user", "content": "2+3?"}], "prompt": None, "continuation": None,
               "gen": {"temperature": 0.0, "top_p": 1.0, "max_tokens": 512, "stop": [], "seed": 0},
               "want": ["logprob", "entropy", "sc_term"], "kind": "feedback"}
    want = hashlib.sha256(json.dumps(["hf", "m", "r", payload, 0], sort_keys=True,
                                     ensure_ascii=False).encode()).hexdigest()
    assert req.key("hf", "m", "r", 0) == want


def test_every_self_prediction_property_has_its_kinds():
    props = {p for t in ("number", "option letter", "latex") for p in properties_for(t)} | {"correct"}
    for who in ("predict", "observe"):
        for prop in props:
            assert PREDICTIONS[prediction_kind(who, prop)] == (who, prop)
    assert PREDICTIONS[Kind.OBSERVE_LAST_DIGIT] == ("observe", "last_digit") and Kind.ANSWER not in PREDICTIONS


def test_a_key_is_the_sha256_of_the_whole_request_as_json_dumps_writes_it():
    """The key is composed part by part (a shared conversation encoded once); it must equal the one-piece
    json.dumps of its definition for every shape of request: chat or prompt, non-ASCII, choices, roles, floats."""
    from evalsuite.records import GenParams

    convo = (("system", "Réponds."), ("user", 'Q: "2+2"?\n'), ("assistant", "4 ✓"), ("user", "Sure?"))
    requests = [
        Request(messages=convo, gen=GenParams(temperature=0.7, top_p=0.95, max_tokens=64, stop=("\n\n",), seed=3)),
        Request(messages=convo[:2], kind=Kind.FEEDBACK, choices=("Yes", "No"), role="critic"),
        Request(prompt="The capital of France is", continuation=" Paris", want=("logprob",), score_offset=1),
        Request(messages=()),
    ]
    for req in requests:
        for backend, model, revision, idx in [("hf", "m", "abc;transformers-5.25", 0), ("mock", "ü", "", 17)]:
            want = json.dumps([backend, model, revision, req.to_dict(), idx], sort_keys=True, ensure_ascii=False)
            assert req.key(backend, model, revision, idx) == hashlib.sha256(want.encode()).hexdigest()


@pytest.mark.parametrize("messages, continuation", [
    ((("system", "Réponds."), ("user", 'Say "hi"\n😀')), None),
    ((("user", "q"),), "\x00messages\x00"),  # the splice mark inside another field: the plain encoding
    ((), None),
    (None, None),
])
def test_store_key_is_the_sha256_of_the_documented_json(messages, continuation):
    """The key is sha256 of json.dumps([backend, model, revision, request dict, sample], sort_keys=True,
    ensure_ascii=False), however `key` assembles it (it splices each chat turn's cached encoding in)."""
    req = Request(messages=messages, prompt="p" if messages is None else None, continuation=continuation,
                  gen=GenParams(temperature=0.7, seed=5, stop=("\n\n",)))
    payload = json.dumps(["hf", "m", "r1", req.to_dict(), 3], sort_keys=True, ensure_ascii=False)
    assert req.key("hf", "m", "r1", 3) == hashlib.sha256(payload.encode()).hexdigest()
    assert req.with_gen(GenParams(seed=9)) == dataclasses.replace(req, gen=GenParams(seed=9))
