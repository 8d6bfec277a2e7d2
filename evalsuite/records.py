"""Frozen records that flow through the pipeline: Doc -> Request -> Generation -> Sample."""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any

STATS = ("logprob", "entropy", "sc_term", "mink_mu", "mink_sigma", "entropy_top50")
"""Per-token statistics a backend can return, each one float per generated token.

logprob: log p of the chosen token; entropy: H of the full next-token distribution; sc_term: the self-certainty
term -log V - mean_j log p_j (SPEC-metrics §3.1); mink_mu / mink_sigma: mean and std of log p under p (Min-K%++).
entropy_top50: -sum p log p over the 50 likeliest tokens only, not renormalised (RL-MIA's entropy, SPEC §4.2).
All come from the model's own (untempered) distribution.
"""


@dataclass(frozen=True)
class Doc:
    """One benchmark item."""

    task: str
    doc_id: str
    fields: dict[str, Any]
    target: str


@dataclass(frozen=True)
class GenParams:
    """Generation parameters of one request."""

    temperature: float = 0.0
    top_p: float = 1.0
    max_tokens: int = 256
    stop: tuple[str, ...] = ()
    seed: int = 0


@dataclass(frozen=True)
class Request:
    """A chat (`messages`) or raw-text (`prompt`) request, with what statistics it wants back.

    `kind` says what the reply is: "answer" replies are scored, anything else (feedback, plans) is kept but not.
    A request with a `continuation` is teacher-forced instead of generated: the backend returns the statistics of
    that given text after the prompt (contamination baselines, re-scoring).
    """

    messages: tuple[tuple[str, str], ...] | None = None
    prompt: str | None = None
    continuation: str | None = None
    gen: GenParams = field(default_factory=GenParams)
    want: tuple[str, ...] = ("logprob", "entropy", "sc_term")
    kind: str = "answer"
    choices: tuple[str, ...] | None = None
    """Also return the log-probability of each choice's first token at the first generated position (P(True))."""
    score_offset: int = 0
    """For a teacher-forced request: 1 scores the Self-Certainty repository's off-by-one positions (SPEC §3.2)."""

    def chat(self) -> list[dict[str, str]]:
        return [{"role": r, "content": c} for r, c in (self.messages or ())]

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["messages"] = self.chat() if self.messages is not None else None
        if d["choices"] is None:
            del d["choices"]
        if not d["score_offset"]:
            del d["score_offset"]
        return d

    def key(self, backend: str, model_id: str, revision: str, sample_idx: int) -> str:
        """The sample-store key: sha256 of backend, model id/revision, the full request and sample index."""
        payload = json.dumps(
            [backend, model_id, revision, self.to_dict(), sample_idx], sort_keys=True, ensure_ascii=False
        )
        return hashlib.sha256(payload.encode()).hexdigest()


@dataclass(frozen=True)
class Generation:
    """One backend reply: text, chosen tokens and per-token statistics (scalars only, never vocab vectors)."""

    text: str
    token_ids: list[int]
    stats: dict[str, list[float]]
    finish_reason: str
    backend: str
    model_id: str
    seconds: float = 0.0
    prompt_tokens: int = 0
    approximate: tuple[str, ...] = ()
    choice_logprobs: dict[str, float] | None = None

    @property
    def token_logprobs(self) -> list[float]:
        return self.stats.get("logprob", [])

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["approximate"] = list(self.approximate)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Generation":
        d = dict(d)
        d["approximate"] = tuple(d.get("approximate", ()))
        return cls(**d)


@dataclass(frozen=True)
class Sample:
    """One scored unit: a doc's reply at one round of one sample chain."""

    task: str
    doc_id: str
    protocol: str
    round: int
    sample_idx: int
    key: str
    request: Request
    generation: Generation
    kind: str
    attempt: int | None
    target: str
    extracted: str | None = None
    correct: bool | None = None
    conventions: dict[str, bool] = field(default_factory=dict)
    confidence: dict[str, float] = field(default_factory=dict)
    member: bool | None = None
    info: dict[str, Any] = field(default_factory=dict)
