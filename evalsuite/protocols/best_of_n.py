"""`best_of_n`: N sampled answers per doc (`--samples N`), each with its self-certainty, for best-of-N selection.

Sampling needs a temperature: when the run's `--temperature` is 0 this protocol samples at 0.7 (the value is on
every stored request and in the summary's note). Self-certainty is the streamed one (no second pass); with
`--self-certainty-convention official` a teacher-forced pass over prompt + reply at the Self-Certainty
repository's off-by-one positions (SPEC-metrics §3.2) is added, and both are reported with their labels.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from evalsuite.errors import UsageError
from evalsuite.metrics.self_certainty import self_certainty
from evalsuite.protocols.base import GENERIC_SUMMARIES, Protocol, Settings, Turn, render
from evalsuite.options import Options, flag, run_options
from evalsuite.records import Doc, Kind, Request
from evalsuite.registry import protocol
from evalsuite.scoring.confidence import mean
from evalsuite.tasks.cards import TaskCard

DEFAULT_TEMPERATURE = 0.7
CONVENTIONS = ("streamed", "official")

GROUP = "best_of_n protocol options"


@run_options(GROUP)
@dataclass(frozen=True)
class SelfCertaintyOptions(Options):
    """How self-certainty is computed (best_of_n and confidence report it)."""

    self_certainty_convention: str = flag(
        "streamed", "streamed (default: from generation, no second pass) or official (adds the Self-Certainty "
        "repository's teacher-forced, off-by-one positions; both are reported)", parse=str, choices=list(CONVENTIONS))

    def check(self) -> None:
        if self.self_certainty_convention not in CONVENTIONS:
            raise UsageError(f"--self-certainty-convention must be one of {', '.join(CONVENTIONS)}, "
                             f"got {self.self_certainty_convention!r}")


@run_options(GROUP)
@dataclass(frozen=True)
class BestOfNOptions(SelfCertaintyOptions):
    """best_of_n's selectors."""

    borda_p: float = flag(0.5, "Borda voting power p for best_of_n (default 0.5; p=0 is majority vote)",
                          parse=float, type=float, metavar="P")

    def check(self) -> None:
        super().check()
        if not math.isfinite(self.borda_p) or self.borda_p < 0:
            raise UsageError(f"--borda-p must be a number >= 0 (0 is majority vote), got {self.borda_p}")


def sc_convention(settings: Settings) -> str:
    """The `--self-certainty-convention` of a run (streamed unless told otherwise)."""
    return settings.options.of(SelfCertaintyOptions).self_certainty_convention


def sc_requests(answer: Turn, settings: Settings) -> list[Request]:
    """The teacher-forced request that reproduces the official self-certainty of one reply (official only)."""
    if sc_convention(settings) != "official":
        return []
    return [Request(messages=answer.request.messages, prompt=answer.request.prompt,
                    continuation=answer.generation.text, score_offset=1, want=("sc_term",), kind=Kind.SC_OFFICIAL)]


def sc_values(history: list[list[Turn]]) -> dict[str, float]:
    """Self-certainty of a chain's first answer: streamed, and official when its teacher-forced turn exists."""
    answer = next(t for rnd in history for t in rnd if t.request.kind == Kind.ANSWER)
    out: dict[str, float] = {}
    if "sc_term" in answer.generation.stats:
        out["self_certainty_streamed"] = self_certainty(answer.generation.stats["sc_term"])
    for t in (t for rnd in history for t in rnd if t.request.kind == Kind.SC_OFFICIAL):
        out["self_certainty_official"] = self_certainty(t.generation.stats.get("sc_term", []))
    return out


@protocol("best_of_n")
class BestOfN(Protocol):
    """One sampled chain-of-thought answer per chain; the engine runs `--samples` chains per doc."""

    first_prompt = ("cot", "direct")
    summaries = GENERIC_SUMMARIES + ("calibration", "best_of_n")
    Options = BestOfNOptions

    def __init__(self, card: TaskCard, settings: Settings):
        super().__init__(card, settings)
        self.temperature = settings.temperature or DEFAULT_TEMPERATURE
        self.key = next((k for k in self.first_prompt if k in card.prompts), None)
        if self.key is None:
            raise UsageError(f"task {card.name} has neither a 'cot' nor a 'direct' prompt; choose another --protocol")

    @property
    def single_round(self) -> bool:
        return sc_convention(self.settings) != "official"

    def first(self, doc: Doc) -> list[Request]:
        text = render(self.prompt(self.key), doc.fields)
        return [Request(messages=(("user", text),), gen=self.settings.gen(temperature=self.temperature),
                        want=self.settings.want)]

    def next(self, doc: Doc, history: list[list[Turn]]) -> list[Request] | None:
        return (sc_requests(history[0][0], self.settings) or None) if len(history) == 1 else None

    def confidence(self, doc: Doc, history: list[list[Turn]], token_offsets) -> dict[int, dict[str, float]]:
        """Per answer: self-certainty (each convention run) and mean token log-prob, the selectors' scores."""
        answer = history[0][0]
        lp = mean(answer.generation.token_logprobs)
        return {0: {**sc_values(history), "mean_logprob": float("nan") if lp is None else lp}}
