"""Protocol state machines on hand-built turns: self_refine's verdict stop, oracle's correct-only stop, CoVe's
verification round; and oracle's stop end to end with a scripted model (the mock backend)."""
from __future__ import annotations

from evalsuite import evaluate
from evalsuite.protocols.base import Settings, Turn
from evalsuite.protocols.cove import verification_questions
from evalsuite.records import Generation, Request
from evalsuite.registry import PROTOCOLS, lookup
from evalsuite.tasks import catalog, load_docs

CARD = catalog()["correctbench_gsm8k"]
DOC = load_docs(CARD, limit=1)[0]


def make(name: str, rounds: int = 2):
    return lookup(PROTOCOLS, "protocol", name)(CARD, Settings(rounds=rounds))


def turn(req: Request, text: str, correct: bool | None = None) -> Turn:
    gen = Generation(text=text, token_ids=[], stats={}, finish_reason="stop", backend="hf", model_id="m")
    return Turn(req, gen, None, correct)


def test_self_refine_stops_on_its_own_correct_verdict_only():
    p = make("self_refine")
    first = p.first(DOC)[0]
    h = [[turn(first, "16 - 3 - 4 = 9, 9 * 2 = 18\n#### 18", correct=False)]]
    fb_req = p.next(DOC, h)[0]
    assert fb_req.kind == "feedback"
    assert p.next(DOC, h + [[turn(fb_req, "All steps check out.\n**Verdict:** correct")]]) is None
    again = p.next(DOC, h + [[turn(fb_req, "Step 2 is wrong.\nVerdict: incorrect")]])
    assert again[0].kind == "answer"
    # no verdict at all: refine; the gold answer (`correct`) is never consulted
    assert p.next(DOC, h + [[turn(fb_req, "Hmm, the answer is correct? Not sure.")]])[0].kind == "answer"
    assert p.verdict("Verdict: incorrect ... Verdict: correct") == "correct"


def test_oracle_stops_only_on_a_correct_answer_and_after_the_last_round():
    p = make("oracle", rounds=2)
    first = p.first(DOC)[0]
    assert p.next(DOC, [[turn(first, "#### 18", correct=True)]]) is None
    wrong = [[turn(first, "#### 17", correct=False)]]
    second = p.next(DOC, wrong)[0]
    assert second.kind == "answer" and second.messages[-1][1].startswith("Your answer is incorrect.")
    h = wrong + [[turn(second, "#### 16", correct=False)]]
    third = p.next(DOC, h)[0]
    assert p.next(DOC, h + [[turn(third, "#### 15", correct=False)]]) is None


def test_cove_verifies_each_question_in_a_fresh_conversation():
    p = make("cove", rounds=1)
    first = p.first(DOC)[0]
    h = [[turn(first, "#### 18")]]
    plan_req = p.next(DOC, h)[0]
    assert plan_req.kind == "plan"
    h.append([turn(plan_req, "1. How many eggs are left after breakfast?\n2) What is 9 * 2?\nThat is all.")])
    verify = p.next(DOC, h)
    assert [r.kind for r in verify] == ["verify", "verify"]
    assert all(len(r.messages) == 1 for r in verify)
    assert verify[1].messages[0][1].endswith("What is 9 * 2?")
    h.append([turn(verify[0], "13"), turn(verify[1], "18")])
    final = p.next(DOC, h)[0]
    text = final.messages[-1][1]
    assert final.kind == "answer" and final.messages[:-1][-1] == ("assistant", h[1][0].generation.text)
    assert "Q: What is 9 * 2?\nA: 18" in text and "#### <number>" in text
    assert p.next(DOC, h + [[turn(final, "#### 18")]]) is None


def test_cove_without_questions_goes_straight_to_the_final_answer():
    p = make("cove", rounds=1)
    first = p.first(DOC)[0]
    h = [[turn(first, "#### 18")]]
    plan_req = p.next(DOC, h)[0]
    final = p.next(DOC, h + [[turn(plan_req, "I cannot think of any.")]])
    assert [r.kind for r in final] == ["answer"]
    assert "No verification question" in final[0].messages[-1][1]


def test_verification_question_parsing():
    plan = "Here are the questions:\n1. Is 16 - 3 = 13?\n- **Is 13 - 4 = 9?** (check)\nQ3: Is 9*2 = 18?\n1. Is 16 - 3 = 13?"
    assert verification_questions(plan, 5) == ["Is 16 - 3 = 13?", "Is 13 - 4 = 9?", "Is 9*2 = 18?"]
    assert verification_questions(plan, 2) == ["Is 16 - 3 = 13?", "Is 13 - 4 = 9?"]


def test_oracle_end_to_end_stops_chains_whose_first_answer_is_right(tmp_path):
    """A scripted model answers docs 0 and 2 right at first and everything else wrong: the oracle stops exactly
    the chains that were right, the others run both corrections."""
    from evalsuite.backends.mock import MockBackend

    docs = load_docs(CARD, limit=4)
    right_first = {docs[0].doc_id, docs[2].doc_id}

    def script(req: Request) -> str:
        doc = next(d for d in docs if d.fields["question"] in req.messages[0][1])
        first = len(req.messages) == 1
        return f"#### {doc.target}" if first and doc.doc_id in right_first else "#### -1"

    model = MockBackend("oracle-script", script=script)
    res = evaluate(tasks="correctbench_gsm8k", model=model, limit=4, rounds=2, protocol="oracle",
                   output_dir=tmp_path, max_tokens=16, progress=False, log=lambda m: None)
    attempts: dict[str, list[int]] = {}
    for s in res.samples:
        attempts.setdefault(s.doc_id, []).append(s.attempt)
    assert attempts == {d.doc_id: [0] if d.doc_id in right_first else [0, 1, 2] for d in docs}
    assert {s.doc_id for s in res.samples if s.attempt == 0 and s.correct} == right_first
    assert len(model.calls) == 2 + 2 * 3, "each wrong chain was told twice that it was wrong"
    assert all("incorrect" in r.messages[-1][1] for r in model.calls if len(r.messages) > 1)
    carried = res.metric("correctbench_gsm8k", "accuracy_carried", round=2)
    assert carried.value == 0.5 == res.metric("correctbench_gsm8k", "accuracy", round=0).value
    assert "oracle" in carried.note and "carried forward" in carried.note
