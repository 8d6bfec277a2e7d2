"""Tests for the GSM8K scorer: gold extraction, official and flexible rules."""
from __future__ import annotations

import json
import re

import pytest

from evalsuite.registry import SCORERS
from evalsuite.scoring.numbers import last_number, normalize_number, numbers_equal
from evalsuite.tasks.cards import DATA_DIR
from evalsuite.tasks.gsm8k import utils as gsm8k

DATA = DATA_DIR / "gsm8k"


def _jsonl(name: str) -> list[dict]:
    with open(DATA / name, encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def test_gold_of_first_test_records():
    records = _jsonl("test.jsonl")
    assert [gsm8k.gold(r) for r in records[:4]] == ["18", "3", "70000", "540"]


def test_gold_matches_reference_regex_on_every_test_record():
    for record in _jsonl("test.jsonl"):
        assert gsm8k.gold(record) == gsm8k.extract_official(record["answer"])


def test_a_line_gold_matches_hash_gold():
    tests, examples = _jsonl("test.jsonl"), _jsonl("example_model_solutions.jsonl")
    assert len(tests) == len(examples) == 1319
    for test, example in zip(tests, examples):
        assert gsm8k.gold_from_a_line(example["ground_truth"]) == gsm8k.gold(test)
    assert gsm8k.gold({"ground_truth": examples[0]["ground_truth"]}) == "18"


@pytest.mark.parametrize("model", ["6b_finetuning", "6b_verification", "175b_finetuning", "175b_verification"])
def test_scorer_agrees_with_published_is_correct_flags(model):
    """GSM8KScorer.score itself (not its helpers) on the 1,319 published solutions of each model: the flexible
    rule on the solution as written, and both rules once its final `A: N` line is rewritten as `#### N`."""
    tests, examples = _jsonl("test.jsonl"), _jsonl("example_model_solutions.jsonl")
    scorer = gsm8k.GSM8KScorer()
    compared = 0
    for test, example in zip(tests, examples):
        solution, expected = example[model]["solution"], example[model]["is_correct"]
        target = scorer.gold(test)
        assert scorer.score(solution, target, test).correct == expected
        hashed = scorer.score(re.sub(r"\nA: ", "\n#### ", solution), target, test)
        assert hashed.conventions == {"flexible": expected, "official": expected}
        compared += 1
    assert compared == 1319


def test_gold_edge_cases():
    assert gsm8k.gold({"answer": "So 1,000 + 234 = 1,234\n#### 1,234"}) == "1234"
    assert gsm8k.gold({"answer": "a #### b\n#### -3"}) == "-3"
    assert gsm8k.gold({"answer": "42"}) == "42"
    with pytest.raises(ValueError):
        gsm8k.gold({"answer": "no final line here"})
    with pytest.raises(ValueError):
        gsm8k.gold_from_a_line("The answer is 5")
    assert gsm8k.gold_from_a_line("step one\nA: 1,500\n\n") == "1500"


@pytest.mark.parametrize(
    "output, number, rule",
    [
        ("The total is 1,234 apples.", "1234", "last_number"),
        ("The temperature fell to -5 degrees.", "-5", "last_number"),
        ("Each ticket costs 2.75 dollars", "2.75", "last_number"),
        ("She makes $18.", "18", "last_number"),
        ("The discount is 18%", "18", "last_number"),
        ("First 3 eggs, then 5, finally 12 eggs", "12", "last_number"),
        ("We compute 10-3 = 7", "7", "last_number"),
        ("In LaTeX: $1{,}234$ dollars", "1234", "last_number"),
        ("The answer is 7. Check: 7*2=14", "7", "answer_is"),
        ("Answer: **-5**", "-5", "answer_is"),
        ("The final answer is $\\boxed{18}$. It took 3 steps", "18", "boxed"),
        ("6 bags of 7 gives $\\boxed{42}$", "42", "boxed"),
        ("So she gets \\boxed{\\$1,500} in 2 weeks", "1500", "boxed"),
        ("9 * 2 = 18\n#### 18", "18", "hash"),
        ("The answer is 5. Wait, recheck: the answer is 6", "6", "answer_is"),
        ("I am not sure how to solve this.", None, None),
        ("", None, None),
    ],
)
def test_extract_flexible(output, number, rule):
    assert gsm8k.extract_flexible(output) == (number, rule)


@pytest.mark.parametrize(
    "output, number, rule",
    [
        # marker + arithmetic chain: the number after the last `=`
        ("So the answer is 5 + 3 = 8.", "8", "answer_is"),
        ("The answer is: **12 * 3 = 36** eggs", "36", "answer_is"),
        ("Answer: 100 - 20 - 5 = 75 = 75\nDone, 3 checks.", "75", "answer_is"),
        # a statement of several chains: the last chain's result
        ("Answer: 16 - 3 - 4 = 9 eggs, 9*2 = 18", "18", "answer_is"),
        ("The answer is 5 + 3 = 8 apples, 2 more than 6.", "8", "answer_is"),
        ("The answer is 1,000 + 234 = 1,234. It took 2 days", "1234", "answer_is"),
        ("The answer is 2.5 * 4 = 10.0.", "10.0", "answer_is"),
        ("The answer is 5 \\times 3 = 15", "15", "answer_is"),
        ("#### 12 * 3 = 36", "36", "hash"),
        ("#### $6 / 2 = $3\nThanks for 4 tips", "3", "hash"),
        ("\\boxed{2 + 3 = 5}", "5", "boxed"),
        ("Total: $\\boxed{(4 + 2) \\times 3 = 18}$ after 7 days", "18", "boxed"),
        # marker + number + units/currency/separators: the number, as before
        ("The answer is 5 apples. 5 = 2 + 3", "5", "answer_is"),
        ("The answer is 18 = 2 * 9 eggs", "18", "answer_is"),
        ("#### 20 = 4 * 5 = 2 * 10", "20", "hash"),
        ("The answer is $1,500 per week, 4 weeks", "1500", "answer_is"),
        ("#### 18 dollars = 2 weeks of 9", "18", "hash"),
        ("#### 18. Then 9 * 2 = 18 checks out, 3", "18", "hash"),
        ("\\boxed{42 \\text{ apples}} from 6 bags", "42", "boxed"),
        # a chain without a marker: the last number, which is the chain's result
        ("She pays 3 * 4 = 12 dollars", "12", "last_number"),
        ("5 + 3 = 8", "8", "last_number"),
        # several markers: the last one wins, each read with its own statement
        ("The answer is 5 + 3 = 8. Wait, the answer is 9.", "9", "answer_is"),
        ("The answer is 9. No: the answer is 4 + 4 = 8", "8", "answer_is"),
        ("#### 12 * 3 = 36\nThe answer is 36 apples", "36", "answer_is"),
        ("The answer is 30.\n#### 10 * 3 = 30 = 30", "30", "hash"),
        ("\\boxed{7} and the answer is 2 * 3 = 6", "6", "answer_is"),
    ],
)
def test_flexible_reads_the_statement_after_a_marker(output, number, rule):
    assert gsm8k.extract_flexible(output) == (number, rule)


@pytest.mark.parametrize(
    "output, official",
    [
        ("#### 18", "18"),
        ("#### 1,234", "1234"),
        ("#### -5", "-5"),
        ("#### 18.", "18."),
        ("####18", None),
        ("#### 5\n#### 6", "5"),
        ("The answer is 18", None),
    ],
)
def test_extract_official(output, official):
    assert gsm8k.extract_official(output) == official


@pytest.mark.parametrize(
    "output, target, flexible, official",
    [
        ("#### 18", "18", True, True),
        ("#### 1,234", "1234", True, True),
        ("9 * 2 = $18 every day.", "18", True, False),
        ("#### 18.", "18", True, False),
        ("#### 18.00", "18", True, False),
        ("#### 5\nThe answer is 6", "5", False, True),
        ("The answer is 7. Check: 7*2=14", "7", True, False),
        ("The answer is 7. Check: 7*2=14", "14", False, False),
        ("It grows by 25%", "25", True, False),
        ("The loss is -3 dollars", "-3", True, False),
        ("The loss is 3 dollars", "-3", False, False),
        ("\\boxed{42}", "42", True, False),
        ("#### 17", "18", False, False),
        ("So the answer is 5 + 3 = 8.", "8", True, False),
        ("So the answer is 5 + 3 = 8.", "5", False, False),
        ("#### 12 * 3 = 36", "36", True, False),
        ("#### 12 * 3 = 36", "12", False, True),
        ("\\boxed{2 + 3 = 5}", "5", True, False),
    ],
)
def test_score_conventions(output, target, flexible, official):
    result = gsm8k.GSM8KScorer().score(output, target)
    assert result.correct is flexible
    assert result.conventions == {"flexible": flexible, "official": official}


def test_score_fields():
    result = gsm8k.GSM8KScorer().score("She makes $1,800.", "1800")
    assert result.extracted == "1800" and result.parse_ok
    assert result.info["rule"] == "last_number" and result.info["official_extracted"] is None
    empty = gsm8k.GSM8KScorer().score("No idea.", "5")
    assert empty.extracted is None and not empty.correct and not empty.parse_ok


def test_registered():
    assert SCORERS["gsm8k"] is gsm8k.GSM8KScorer
    assert gsm8k.GSM8KScorer.primary == "flexible"
    assert gsm8k.GSM8KScorer().gold({"answer": "x\n#### 7"}) == "7"


def test_number_helpers():
    assert normalize_number(" $1,234. ") == "1234"
    assert normalize_number("18%") == "18"
    assert numbers_equal("18.00", "18")
    assert numbers_equal("0.3333333", "0.33333334")
    assert not numbers_equal("18.5", "18")
    assert not numbers_equal("18.001", "18")
    assert numbers_equal("1,234", "1234")
    assert numbers_equal("abc", "abc") and not numbers_equal("abc", "5")
    assert last_number("from 3 to 4.5 km") == "4.5"
    assert last_number("nothing") is None
