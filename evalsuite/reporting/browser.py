"""The report's sample browser data: samples.jsonl records grouped into chains (one doc × sample index × protocol),
every round in order, with the chain's status for the correct / incorrect / flipped filter."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

import orjson


@dataclass
class Chain:
    """The rounds of one sample chain; `status` is correct, incorrect or unscored (by its last answer round)."""

    task: str
    protocol: str
    doc_id: str
    sample_idx: int
    records: list[dict[str, Any]] = field(default_factory=list)

    @property
    def answers(self) -> list[dict[str, Any]]:
        """Scored answer rounds, in answer order."""
        scored = [r for r in self.records if r.get("kind", "answer") == "answer" and r.get("correct") is not None]
        return sorted(scored, key=lambda r: (r.get("attempt") if r.get("attempt") is not None else r.get("round", 0)))

    @property
    def status(self) -> str:
        a = self.answers
        if not a:
            return "unscored"
        return "correct" if a[-1]["correct"] else "incorrect"

    @property
    def flipped(self) -> bool:
        """True when correctness changes between any two consecutive answer rounds."""
        a = self.answers
        return any(bool(x["correct"]) != bool(y["correct"]) for x, y in zip(a, a[1:]))

    @property
    def trajectory(self) -> str:
        """Correctness per answer round, e.g. `✓ → ✗`."""
        return " → ".join("✓" if r["correct"] else "✗" for r in self.answers)


@dataclass
class TaskSamples:
    """The chains of one task shown in the report, and how many it has in all."""

    chains: list[Chain]
    total: int
    counts: dict[str, int]


DEFAULT_MAX_CHAINS = 50
"""Sample chains shown per task unless every one is asked for (`evalsuite report RUN_DIR --samples all`)."""

RECORD_DEFAULTS: dict[str, Any] = {
    "task": "", "doc_id": "", "protocol": "", "round": 0, "attempt": None, "sample_idx": 0, "kind": "answer",
    "prompt": None, "output": "", "extracted": None, "target": "", "correct": None, "conventions": {},
    "confidence": {}, "member": None, "finish_reason": "", "n_tokens": 0, "token_stats": {},
}
"""samples.jsonl fields the browser shows; a record written by an older or newer version may lack some."""


class ChainGrouper:
    """Chains per task in first-seen order, fed one samples.jsonl record at a time: the first `max_chains` of each
    task (None = all) keep their records, and every chain is counted. A chain past the shown ones keeps only its
    answers' order and correctness (what its status needs), so counting a million-sample run holds no records."""

    def __init__(self, max_chains: int | None):
        self.max_chains = max_chains
        self.shown: dict[tuple, Chain] = {}
        self.tallies: dict[tuple, list[tuple[int, int, bool]]] = {}
        self.order: list[tuple] = []
        self.per_task: dict[str, int] = {}

    def add(self, rec: Mapping[str, Any], line: str | None = None) -> None:
        """Take one record; `line`, its samples.jsonl text, is what a shown chain keeps (parsed as a reader would)."""
        key = (rec.get("task", ""), rec.get("protocol", ""), str(rec.get("doc_id", "")), int(rec.get("sample_idx", 0)))
        chain = self.shown.get(key)
        if chain is None and key not in self.tallies:
            self.order.append(key)
            if self.max_chains is None or self.per_task.get(key[0], 0) < self.max_chains:
                self.per_task[key[0]] = self.per_task.get(key[0], 0) + 1
                chain = self.shown[key] = Chain(*key)
            else:
                self.tallies[key] = []
        if chain is not None:
            chain.records.append({**RECORD_DEFAULTS, **(_parse(line) if line is not None else rec)})
        elif rec.get("kind", "answer") == "answer" and rec.get("correct") is not None:
            rnd = rec.get("round", 0)
            att = rec.get("attempt")
            self.tallies[key].append((att if att is not None else rnd, rnd, bool(rec["correct"])))

    def result(self) -> dict[str, TaskSamples]:
        out: dict[str, TaskSamples] = {}
        for key in self.order:
            ts = out.setdefault(key[0], TaskSamples([], 0, {"correct": 0, "incorrect": 0, "flipped": 0,
                                                             "unscored": 0}))
            ts.total += 1
            if key in self.shown:
                chain = self.shown[key]
                chain.records.sort(key=lambda r: r.get("round", 0))
                ts.chains.append(chain)
                status, flipped = chain.status, chain.flipped
            else:
                marks = [ok for *_, ok in sorted(self.tallies[key], key=lambda t: (t[0], t[1]))]
                status = ("correct" if marks[-1] else "incorrect") if marks else "unscored"
                flipped = any(x != y for x, y in zip(marks, marks[1:]))
            ts.counts[status] += 1
            ts.counts["flipped"] += flipped
        return out


def _parse(line: str) -> dict[str, Any]:
    try:
        return orjson.loads(line)
    except orjson.JSONDecodeError:  # NaN / Infinity, as json.dumps writes them
        return json.loads(line)


def group_chains(records: Iterable[dict[str, Any]], max_chains: int | None) -> dict[str, TaskSamples]:
    """Chains per task in first-seen order; keep the first `max_chains` of each (None = all), count them all."""
    grouper = ChainGrouper(max_chains)
    for rec in records:
        grouper.add(rec)
    return grouper.result()
