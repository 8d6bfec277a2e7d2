"""CorrectBench's data hook: GPQA rows get lettered, shuffled options (named by correctbench_gpqa.yaml as
`data.prepare: !function utils.gpqa_prepare`)."""
from __future__ import annotations

import hashlib
import random
from typing import Any

from evalsuite.scoring.choice import LETTERS


def gpqa_prepare(record: dict[str, Any]) -> dict[str, Any]:
    """GPQA row -> the row plus `choices` A–D and `answerKey`, shuffled with a seed taken from the question.

    CorrectBench shuffles with an unseeded `random.shuffle`; seeding by the question makes runs repeatable."""
    texts = [record["Correct Answer"], record["Incorrect Answer 1"], record["Incorrect Answer 2"],
             record["Incorrect Answer 3"]]
    order = list(range(4))
    seed = int.from_bytes(hashlib.sha256(str(record["Question"]).encode()).digest()[:8], "little")
    random.Random(seed).shuffle(order)
    choices = [{"label": LETTERS[i], "text": str(texts[j]).strip()} for i, j in enumerate(order)]
    return {**record, "choices": choices, "answerKey": LETTERS[order.index(0)]}
