"""`confidence`: the task's answer prompt plus confidence elicitation, three ways (`--confidence`):

- verbal: round 0 also asks for "Confidence: X%"; the last such statement is parsed (and hidden from the scorer);
- ptrue: round 1 shows the question and the extracted answer in a fresh conversation, asks whether it is true,
  and reads P(True) from the first reply position, restricted to True/False and renormalised;
- tokenprob: exp(mean log-prob) of the answer's tokens only: the last place the extracted answer is written in
  the reply is located and mapped to tokens with the backend's detokenizer (missing when it is not written
  literally, e.g. `1,234` extracted as `1234` still matches, a normalised LaTeX answer may not).
Values land in each answer sample's `confidence`; one that cannot be read is NaN (null in samples.jsonl).
Self-certainty (streamed, and official with `--self-certainty-convention official`) is added as a score.
"""
from __future__ import annotations

from dataclasses import dataclass

from evalsuite.errors import UsageError
from evalsuite.protocols.base import GENERIC_SUMMARIES, Protocol, Settings, Turn, render, reply_offsets
from evalsuite.protocols.best_of_n import SelfCertaintyOptions, sc_convention, sc_requests, sc_values
from evalsuite.protocols.multiround import protocol_card
from evalsuite.records import Doc, Kind, Request
from evalsuite.options import flag, run_options
from evalsuite.registry import protocol
from evalsuite.scoring.confidence import mask_verbal, option_probability, parse_verbal, token_probability
from evalsuite.tasks.cards import TaskCard

METHODS = ("verbal", "ptrue", "tokenprob")
NAN = float("nan")



def parse_methods(text: "str | tuple[str, ...] | None") -> tuple[str, ...]:
    """`verbal,ptrue` -> ("verbal", "ptrue"); None or empty means all three."""
    parts = text.split(",") if isinstance(text, str) else list(text or ())
    names = [m.strip() for m in parts if m.strip()] or list(METHODS)
    bad = [m for m in names if m not in METHODS]
    if bad:
        raise UsageError(f"unknown --confidence method {bad[0]!r}; choose from {','.join(METHODS)}")
    return tuple(m for m in METHODS if m in names)


@run_options("confidence protocol options")
@dataclass(frozen=True)
class ConfidenceOptions(SelfCertaintyOptions):
    """Which confidences to elicit (and self-certainty's convention, shared with best_of_n)."""

    confidence: tuple[str, ...] = flag(METHODS, "confidence methods, comma-separated: verbal,ptrue,tokenprob "
                                       "(default: all); implies --protocol confidence", parse=parse_methods,
                                       protocol="confidence", metavar="LIST")


def _first_key(card: TaskCard, keys) -> str:
    key = next((k for k in keys if k in card.prompts), None)
    if key is None:
        have = ", ".join(sorted(card.prompts))
        raise UsageError(f"task {card.name} has none of the prompts {', '.join(keys)} (it has: {have}); "
                         "choose another --protocol")
    return key


@protocol("confidence")
class Confidence(Protocol):
    """Answer, then P(True) when asked; confidences are attached to the answer sample by `confidence`."""

    summaries = GENERIC_SUMMARIES + ("calibration",)
    Options = ConfidenceOptions

    def __init__(self, card: TaskCard, settings: Settings):
        super().__init__(card, settings)
        self.methods = self.options.confidence
        self.pcard = protocol_card("confidence")
        self.answer_key = _first_key(card, self.pcard.first_prompt)
        self.question_key = _first_key(card, self.pcard.defaults["question_prompt"])

    @property
    def single_round(self) -> bool:
        return "ptrue" not in self.methods and sc_convention(self.settings) != "official"

    def first(self, doc: Doc) -> list[Request]:
        text = render(self.prompt(self.answer_key), doc.fields)
        if "verbal" in self.methods:
            text += "\n\n" + self.pcard.prompts["verbal"]
        # tokenprob reads the answer's tokens: the reply carries their offsets from where the tokenizer is
        return [Request(messages=(("user", text),), gen=self.settings.gen(), want=self.settings.want,
                        want_offsets="tokenprob" in self.methods)]

    def next(self, doc: Doc, history: list[list[Turn]]) -> list[Request] | None:
        if len(history) != 1:
            return None
        answer = history[0][0]
        reqs = []
        if "ptrue" in self.methods and answer.extracted is not None:
            question = render(self.prompt(self.question_key), doc.fields)
            text = render(self.pcard.prompts["ptrue"], {"question": question, "answer": answer.extracted})
            reqs.append(Request(messages=(("user", text),), gen=self.settings.gen(temperature=0.0, max_tokens=1),
                                want=(), kind=Kind.PTRUE, choices=("True", "False")))
        return reqs + sc_requests(answer, self.settings) or None

    def answer_text(self, text: str) -> str:
        """What the scorer reads: the reply with its confidence statements blanked."""
        return mask_verbal(text) if "verbal" in self.methods else text

    def confidence(self, doc: Doc, history: list[list[Turn]], token_offsets) -> dict[int, dict[str, float]]:
        answer = history[0][0]
        gen = answer.generation
        out: dict[str, float] = {}
        if "verbal" in self.methods:
            out["verbal"] = _nan(parse_verbal(gen.text))
        if "ptrue" in self.methods:
            turns = [t for rnd in history[1:] for t in rnd if t.request.kind == Kind.PTRUE]
            out["ptrue"] = _nan(option_probability(turns[0].generation.choice_logprobs, "True") if turns else None)
        if "tokenprob" in self.methods:
            offsets = reply_offsets(gen, token_offsets)
            out["tokenprob"] = _nan(token_probability(gen.token_logprobs, offsets, self.answer_text(gen.text),
                                                      answer.extracted))
        return {0: {**out, **sc_values(history)}}


def _nan(x: float | None) -> float:
    return NAN if x is None else float(x)
