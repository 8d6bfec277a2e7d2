"""The scorer interface: gold answer from a doc, extraction and equivalence for one output."""
from __future__ import annotations

from dataclasses import dataclass, field
from abc import ABC, abstractmethod
from typing import Any

from evalsuite.metrics.base import term

term("official", "Official scorer", "Scored as the benchmark's own released evaluation reads a reply (GSM8K: the "
     "`#### N` line, exact string match; CRUXEval: its evaluate_generations post-processing; HumanEval: its unit "
     "tests), so the number compares with the paper's.", "each benchmark's released evaluation code")


@dataclass(frozen=True)
class Score:
    """Result of scoring one model output.

    `correct` follows the task's primary convention; `conventions` holds every convention the scorer
    computes (the primary one included) so official numbers can be reproduced side by side.
    """

    extracted: str | None
    correct: bool
    conventions: dict[str, bool] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def parse_ok(self) -> bool:
        return self.extracted is not None


class Scorer(ABC):
    """Base class: subclasses register with `@scorer(name)` and implement `gold` and `score`."""

    primary: str = "correct"
    conventions: tuple[str, ...] = ()
    executes: bool = False
    """True when scoring runs the answer as a program (in the sandbox); execution feedback needs such a scorer."""

    @abstractmethod
    def gold(self, fields: dict[str, Any]) -> str:
        """The reference answer of a doc, in the form `score` compares against."""

    @abstractmethod
    def score(self, output: str, target: str, fields: dict[str, Any] | None = None) -> Score:
        """Extract the answer from `output` and compare it with `target`."""

    @classmethod
    def for_card(cls, card: Any) -> "Scorer":
        """The scorer for a task card: most take nothing from it; declarative ones (`regex`) read their settings."""
        return cls()

    def score_many(self, items: list[tuple[str, str, dict[str, Any]]]) -> list[Score]:
        """Score (output, target, fields) triples in order; scorers that run code override it to run in parallel."""
        return [self.score(output, target, fields) for output, target, fields in items]
