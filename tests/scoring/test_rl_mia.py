"""The RL-MIA scorer per subset, on hand-written docs shaped like the parquet rows."""
from __future__ import annotations

from evalsuite.tasks.rl_mia.utils import RLMIAScorer, kk_roles, sat_problem, sat_satisfies

SAT_PROMPT = ('Solve it.\n**Example**\n{"n_sat": 2, "k": 2, "clause": "A!B"}\n'
              'Below:\n{"n_sat": 2, "k": 3, "clause": "AB & !A!C & B!C"}')
SAT = {"subset": "sat", "prompt": [{"role": "user", "content": SAT_PROMPT}],
       "reward_model": {"ground_truth": 10}}
KK = {"subset": "kk", "names": ["Zoe", "Max"], "solution": [True, False],
      "reward_model": {"ground_truth": {"solution_text_format": "(1) Zoe is a knight\n(2) Max is a knave"}}}


def test_sat_reads_the_last_problem_and_checks_every_clause():
    k, clauses = sat_problem(SAT)
    assert k == 3 and clauses == [[(0, False), (1, False)], [(0, True), (2, True)], [(1, False), (2, True)]]
    assert sat_satisfies("010", clauses) and sat_satisfies("110", clauses)
    assert not sat_satisfies("001", clauses)  # A or B fails
    s = RLMIAScorer()
    assert s.gold(SAT) == "010"  # the integer ground truth loses its leading zero
    assert s.score(r"so \boxed{110}", "010", SAT).correct  # another satisfying assignment counts
    assert not s.score(r"\boxed{101}", "010", SAT).correct
    assert not s.score(r"\boxed{01}", "010", SAT).correct


def test_knights_and_knaves_needs_every_role():
    s = RLMIAScorer()
    assert s.gold(KK).startswith("(1) Zoe")
    good = "<think>Zoe is a knave? no.</think><answer>(1) Zoe is a knight\n(2) Max is a knave</answer>"
    assert s.score(good, s.gold(KK), KK).correct
    assert kk_roles(good, ["Zoe", "Max"]) == {"Zoe": "knight", "Max": "knave"}
    assert not s.score("<answer>(1) Zoe is a knight</answer>", "", KK).correct
    assert not s.score("<answer>Zoe is a knave, Max is a knave</answer>", "", KK).correct


def test_math_subsets_use_their_checkers():
    s = RLMIAScorer()
    gsm = {"subset": "gsm8k", "answer": "2 + 4 = 6\n#### 6", "reward_model": {"ground_truth": "6"}}
    assert s.gold(gsm) == "6" and s.score("They save $6.\n#### 6", "6", gsm).correct
    aime = {"subset": "aime24", "reward_model": {"ground_truth": "204"}}
    assert s.score(r"The answer is \boxed{204}.", s.gold(aime), aime).correct
    assert not s.score(r"\boxed{205}", "204", aime).correct
