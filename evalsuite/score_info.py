"""Typed facts a scorer records in `Score.info`, read back through these classes instead of string keys.

Each class writes its keys with `to_info()` (the samples.jsonl `info` layout stays as it always was) and reads them
with `from_info(info)`, which returns None when the sample carries no such fact.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ExecReport:
    """What running an answer's program did (`info["exec"]`): drives exec_feedback, shown in samples.jsonl."""

    status: str
    """passed, failed, timeout, crashed or skipped."""
    exception: str | None
    failing_line: str | None
    message: str
    wall_time: float

    @property
    def passed(self) -> bool:
        return self.status == "passed"

    def to_info(self) -> dict[str, Any]:
        return {"exec": {"status": self.status, "exception": self.exception, "failing_line": self.failing_line,
                         "message": self.message, "wall_time": self.wall_time}}

    @classmethod
    def from_info(cls, info: dict[str, Any]) -> "ExecReport | None":
        d = info.get("exec")
        if not isinstance(d, dict):
            return None
        return cls(str(d.get("status", "")), d.get("exception"), d.get("failing_line"), str(d.get("message") or ""),
                   float(d.get("wall_time") or 0.0))


@dataclass(frozen=True)
class Verdict:
    """A critique item: the gold label of the response judged, the critic's parsed verdict and the item's origin."""

    critique_label: str
    verdict: str | None
    domain: str = ""
    source: str = ""
    cluster: str = ""
    """Items sharing a cluster (the question a response answers) are resampled together."""

    @property
    def response_ok(self) -> bool:
        return self.critique_label == "correct"

    def to_info(self) -> dict[str, Any]:
        return {"critique_label": self.critique_label, "verdict": self.verdict, "domain": self.domain,
                "source": self.source, "cluster": self.cluster}

    @classmethod
    def from_info(cls, info: dict[str, Any]) -> "Verdict | None":
        if "critique_label" not in info:
            return None
        return cls(info["critique_label"], info.get("verdict"), info.get("domain", ""), info.get("source", ""),
                   info.get("cluster") or "")


@dataclass(frozen=True)
class Overlap:
    """Token-overlap scores of a short free-text answer (HotpotQA's official F1) and the rule that extracted it."""

    rule: str | None
    """Which extraction rule found the answer (None: nothing to extract)."""
    f1: float
    precision: float
    recall: float

    def to_info(self) -> dict[str, Any]:
        return {"rule": self.rule, "f1": self.f1, "precision": self.precision, "recall": self.recall}

    @classmethod
    def from_info(cls, info: dict[str, Any]) -> "Overlap | None":
        if "f1" not in info:
            return None
        return cls(info.get("rule"), float(info["f1"]), float(info.get("precision", 0.0)),
                   float(info.get("recall", 0.0)))


@dataclass(frozen=True)
class SubsetLabel:
    """The data source a doc of a mixed task comes from (e.g. an RL-MIA subset), reported per source."""

    subset: str

    def to_info(self) -> dict[str, Any]:
        return {"subset": self.subset}

    @classmethod
    def from_info(cls, info: dict[str, Any]) -> "SubsetLabel | None":
        return cls(str(info["subset"])) if info.get("subset") else None


@dataclass(frozen=True)
class Skip:
    """A benchmark rule that refused to run a generation (CRUXEval): it leaves pass@k's n unless all were refused."""

    skipped: bool
    reason: str | None = None

    def to_info(self) -> dict[str, Any]:
        return {"skipped": self.skipped, **({"skip_reason": self.reason} if self.reason else {})}

    @classmethod
    def from_info(cls, info: dict[str, Any]) -> "Skip | None":
        return cls(bool(info["skipped"]), info.get("skip_reason")) if "skipped" in info else None
