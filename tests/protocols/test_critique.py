"""The critique protocols: what each round asks, that labels never steer them, and runs on the tiny model."""
from __future__ import annotations

import json

import pytest

from evalsuite import evaluate
from evalsuite.errors import UsageError
from evalsuite.protocols.base import Settings, Turn
from evalsuite.records import Generation, Request
from evalsuite.registry import PROTOCOLS, lookup
from evalsuite.tasks import catalog, load_docs

VERDICT_LINE = '"Verdict: correct" or "Verdict: incorrect"'


def _proto(name: str, task: str, **options):
    card = catalog()[task]
    return lookup(PROTOCOLS, "protocol", name)(card, Settings(max_tokens=16, options=options)), card


def _turn(req: Request, text: str, correct: bool | None = None) -> Turn:
    gen = Generation(text=text, token_ids=[1], stats={}, finish_reason="stop", backend="hf", model_id="m")
    return Turn(req, gen, extracted=None, correct=correct)


def test_critique_of_a_given_response_is_one_scored_turn():
    proto, card = _proto("critique", "critic_gsm8k")
    doc = load_docs(card, limit=2)[1]
    [req] = proto.first(doc)
    text = req.messages[0][1]
    assert req.kind == "answer" and len(req.messages) == 1
    assert doc.fields["question"] in text and doc.fields["response"] in text and VERDICT_LINE in text
    assert proto.next(doc, [[_turn(req, "Verdict: correct")]]) is None


def test_critique_on_an_answer_task_judges_the_policy_answer_in_a_fresh_conversation():
    proto, card = _proto("critique", "gsm8k")
    doc = load_docs(card, limit=1)[0]
    [ask] = proto.first(doc)
    assert ask.kind == "answer" and ask.continuation is None and doc.fields["question"] in ask.messages[0][1]
    [crit] = proto.next(doc, [[_turn(ask, "She makes $18.\n#### 18")]])
    assert crit.kind == "critique" and len(crit.messages) == 1
    shown = crit.messages[0][1]
    assert ask.messages[0][1] in shown and "#### 18" in shown and VERDICT_LINE in shown
    assert proto.next(doc, [[_turn(ask, "x")], [_turn(crit, "Verdict: correct")]]) is None


def test_critic_humaneval_uses_its_own_critique_prompt():
    proto, card = _proto("critique", "critic_humaneval")
    doc = load_docs(card, limit=1)[0]
    [ask] = proto.first(doc)
    [crit] = proto.next(doc, [[_turn(ask, "```python\ndef has_close_elements(n, t):\n    return False\n```")]])
    shown = crit.messages[0][1]
    assert doc.fields["prompt"] in shown and "return False" in shown and "edge cases" in shown


@pytest.mark.parametrize("name, task", [("critique", "gsm8k"), ("self_critique", "gsm8k"),
                                        ("critique_correct", "humaneval")])
def test_the_label_of_the_answer_never_changes_what_is_asked(name, task):
    proto, card = _proto(name, task)
    doc = load_docs(card, limit=1)[0]
    [ask] = proto.first(doc)
    right = proto.next(doc, [[_turn(ask, "reply", correct=True)]])
    wrong = proto.next(doc, [[_turn(ask, "reply", correct=False)]])
    assert right == wrong and right[0].kind == "critique"


def test_self_critique_continues_the_conversation_once():
    proto, card = _proto("self_critique", "gsm8k")
    doc = load_docs(card, limit=1)[0]
    [ask] = proto.first(doc)
    [crit] = proto.next(doc, [[_turn(ask, "#### 18")]])
    assert [r for r, _ in crit.messages] == ["user", "assistant", "user"]
    assert crit.messages[1] == ("assistant", "#### 18") and VERDICT_LINE.split(" or ")[0] in crit.messages[2][1]
    assert proto.next(doc, [[_turn(ask, "#### 18")], [_turn(crit, "Verdict: correct")]]) is None


def test_critique_correct_alternates_critique_and_correction_for_each_round():
    card = catalog()["gsm8k"]
    proto = lookup(PROTOCOLS, "protocol", "critique_correct")(card, Settings(rounds=2))
    doc = load_docs(card, limit=1)[0]
    history = [[_turn(proto.first(doc)[0], "#### 17")]]
    kinds = []
    while (nxt := proto.next(doc, history)) is not None:
        kinds.append(nxt[0].kind)
        history.append([_turn(nxt[0], "Verdict: incorrect" if nxt[0].kind == "critique" else "#### 18")])
    assert kinds == ["critique", "answer", "critique", "answer"]
    assert "Based on the problems you found" in history[2][0].request.messages[-1][1]
    assert len(history[-1][0].request.messages) == 9


def test_misuse_is_one_line_usage_errors(tmp_path):
    for name in ("self_critique", "critique_correct"):
        with pytest.raises(UsageError, match="use --protocol critique"):
            _proto(name, "critic_truthfulqa")
    with pytest.raises(UsageError, match="already has its responses"):
        _proto("critique", "critic_gsm8k", policy_run=str(tmp_path))
    with pytest.raises(UsageError, match="has no samples.jsonl"):
        _proto("critique", "gsm8k", policy_run=str(tmp_path))


def test_policy_run_answers_are_teacher_forced(tmp_path):
    rec = {"task": "humaneval", "doc_id": "HumanEval/0", "kind": "answer", "attempt": 0, "sample_idx": 0,
           "output": "```python\nprint(1)\n```"}
    (tmp_path / "samples.jsonl").write_text(json.dumps(rec) + "\n")
    proto, card = _proto("critique", "critic_humaneval", policy_run=str(tmp_path))
    docs = load_docs(card, limit=2)
    [ask] = proto.first(docs[0])
    assert ask.continuation == rec["output"] and ask.kind == "answer"
    with pytest.raises(UsageError, match="no answer for critic_humaneval doc HumanEval/1"):
        proto.first(docs[1])


@pytest.mark.slow
def test_runs_on_the_tiny_model(tiny_backend, tmp_path):
    res = evaluate(tasks="criticbench", model=tiny_backend, limit=3, output_dir=tmp_path / "cb", max_tokens=6,
                   progress=False, log=lambda m: None)
    names = {(r.task, r.metric) for r in res.metrics}
    for task in ("critic_gsm8k", "critic_truthfulqa", "critic_humaneval"):
        assert {(task, "critique_accuracy"), (task, "critique_f1"), (task, "verdict_parse_rate")} <= names
    assert ("criticbench", "critique_f1") in names
    hum = [s for s in res.samples if s.task == "critic_humaneval"]
    assert sorted((s.round, s.kind) for s in hum) == [(0, "answer")] * 3 + [(1, "critique")] * 3
    # a second model's answers: the policy run first, then the critic reads them back
    pol = evaluate(tasks="gsm8k", model=tiny_backend, limit=2, output_dir=tmp_path / "policy", max_tokens=6,
                   protocol="direct", progress=False, log=lambda m: None)
    crit = evaluate(tasks="gsm8k", model=tiny_backend, limit=2, output_dir=tmp_path / "critic", max_tokens=6,
                    protocol="critique", options={"policy_run": str(tmp_path / "policy")}, progress=False,
                    log=lambda m: None)
    given = {s.doc_id: s.generation.text for s in pol.samples}
    firsts = [s for s in crit.samples if s.round == 0]
    assert all(s.generation.text == given[s.doc_id] and s.generation.finish_reason == "scored" for s in firsts)
    assert {s.doc_id: s.correct for s in firsts} == {s.doc_id: s.correct for s in pol.samples}
