"""Protocol state machines on hand-built turns: self_refine's verdict stop, oracle's correct-only stop, CoVe's
verification round; and oracle's stop end to end on the tiny model."""
from __future__ import annotations

import json

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


def test_oracle_end_to_end_stops_chains_whose_first_answer_is_right(tiny_backend, tmp_path):
    from evalsuite.tasks.cards import DATA_DIR

    lines = (DATA_DIR / "gsm8k" / "test.jsonl").read_text().splitlines()[:4]
    first = evaluate(tasks="correctbench_gsm8k", model=tiny_backend, limit=4, rounds=2, protocol="oracle",
                     output_dir=tmp_path / "a", max_tokens=8, progress=False, log=lambda m: None)
    got = {s.doc_id: s.extracted for s in first.samples if s.attempt == 0}
    hit = {d for d, x in got.items() if x is not None}
    assert hit, "the tiny model produced no number at all; raise max_tokens"
    # Make the extracted first answers the gold ones (the prompt does not show the gold, so replies are unchanged).
    (tmp_path / "data" / "gsm8k").mkdir(parents=True)
    recs = [json.loads(x) for x in lines]
    for i, rec in enumerate(recs):
        if str(i) in hit:
            rec["answer"] = f"rewritten\n#### {got[str(i)]}"
    (tmp_path / "data" / "gsm8k" / "test.jsonl").write_text("".join(json.dumps(r) + "\n" for r in recs))
    res = evaluate(tasks="correctbench_gsm8k", model=tiny_backend, limit=4, rounds=2, protocol="oracle",
                   data_dir=tmp_path / "data", output_dir=tmp_path / "b", max_tokens=8, progress=False,
                   log=lambda m: None)
    attempts = {}
    for s in res.samples:
        attempts.setdefault(s.doc_id, []).append(s.attempt)
    for d, att in attempts.items():
        first_right = next(s.correct for s in res.samples if s.doc_id == d and s.attempt == 0)
        assert sorted(att) == ([0] if first_right else [0, 1, 2]), (d, att)
    assert any(next(s.correct for s in res.samples if s.doc_id == d and s.attempt == 0) for d in hit)
    carried = res.metric("correctbench_gsm8k", "accuracy_carried", round=2)
    assert carried.value >= res.metric("correctbench_gsm8k", "accuracy", round=0).value
    assert "oracle" in carried.note and "carried forward" in carried.note
