"""The report's sample browser: chains grouped in first-seen order, statuses counted for every chain, shown or not."""
from __future__ import annotations

from evalsuite.reporting.browser import group_chains


def _rec(doc: str, rnd: int, correct: bool | None, kind: str = "answer", attempt: int | None = None) -> dict:
    return {"task": "t", "protocol": "review", "doc_id": doc, "sample_idx": 0, "round": rnd, "kind": kind,
            "correct": correct, "attempt": attempt}


# by hand: a ends right, never flips; b goes right -> wrong (flipped, incorrect); c has no scored answer;
# d's rounds arrive out of order: attempt 0 wrong (round 0), attempt 1 right (round 2) -> flipped, correct
RECORDS = [
    _rec("a", 0, True, attempt=0), _rec("b", 0, True, attempt=0), _rec("c", 0, None, kind="feedback"),
    _rec("d", 2, True, attempt=1), _rec("a", 1, None, kind="feedback"), _rec("b", 1, None, kind="feedback"),
    _rec("b", 2, False, attempt=1), _rec("d", 0, False, attempt=0), _rec("d", 1, None, kind="feedback"),
]
COUNTS = {"correct": 2, "incorrect": 1, "flipped": 2, "unscored": 1}


def test_every_chain_is_counted_and_the_first_ones_shown():
    for cap in (None, 4, 2, 1, 0):
        ts = group_chains(iter(RECORDS), cap)["t"]
        assert ts.total == 4 and ts.counts == COUNTS
        assert [c.doc_id for c in ts.chains] == ["a", "b", "c", "d"][: 4 if cap is None else cap]


def test_a_shown_chain_keeps_its_rounds_in_order():
    d = group_chains(iter(RECORDS), None)["t"].chains[3]
    assert [r["round"] for r in d.records] == [0, 1, 2] and d.trajectory == "✗ → ✓"
