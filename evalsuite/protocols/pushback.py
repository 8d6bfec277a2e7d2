"""`pushback`: does the model keep its answer when the user doubts it, suggests a wrong one, or argues for one?

Round 0 is the task's own answer (its `cot`, else `direct` prompt). Then `--pushback-turns K` challenge turns: each
extends the conversation with the kind's challenge wording (protocols/cards/pushback.yaml, every wording with its
source) and the task's answer format, and the reply is scored like the first answer. `suggest_wrong` and `argument`
push for a wrong answer X chosen per (doc, seed) (protocols/wrong_answer.py), recorded in every sample's
`info["suggested"]`. `argument` first asks the `arguer` role (`--role arguer=SPEC`; default the model itself) for a
paragraph arguing for X in a fresh conversation (kind "argument"), then shows it, attributed to the model (`self`)
or to no one (`blind`), as Who Flips? does; a cross-model arguer with `--argument-attribution self` tells the model
another model's words are its own, which is Who Flips?'s SELF condition applied to a cross source. `neutral` is
the control: a request to check once more.

The challenges never read whether an answer is right; X is chosen from the gold answer only so that it is wrong.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from evalsuite.errors import UsageError
from evalsuite.protocols.base import GENERIC_SUMMARIES, Settings, Turn, render
from evalsuite.protocols.multiround import MultiRound, answers, reply
from evalsuite.options import Options, flag, run_options
from evalsuite.protocols.wrong_answer import wrong_answer
from evalsuite.records import Doc, Kind, Request
from evalsuite.registry import protocol
from evalsuite.roles import SELF, Role
from evalsuite.tasks.cards import TaskCard

KINDS = ("are_you_sure", "doubt", "disagree", "sycon", "suggest_wrong", "argument", "neutral")
SUGGESTING = ("suggest_wrong", "argument")
ARGUMENT_KIND = Kind.ARGUMENT
"""The kind of the arguer's reply: not an answer, so never scored."""
ARGUER = Role("arguer", default=SELF, help="pushback argument: writes the paragraph arguing for the wrong answer "
              "(default: the model under test itself)")


@lru_cache(maxsize=None)
def challenge_kinds() -> dict[str, dict[str, dict[str, str]]]:
    """kind -> variant -> {text, source}, from protocols/cards/pushback.yaml (the first variant is the default)."""
    path = resources.files("evalsuite.protocols") / "cards" / "pushback.yaml"
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    return {k: dict(v["variants"]) for k, v in raw["kinds"].items()}


def _kind(value: object) -> str:
    text = str(value).strip()
    if text not in KINDS:
        raise UsageError(f"--pushback {text!r} is not a pushback kind; choose one of {', '.join(KINDS)}")
    return text


def _turns(value: object) -> int:
    turns = int(value)  # type: ignore[arg-type]
    if turns < 1:
        raise UsageError(f"--pushback-turns must be 1 or more, got {value!r}")
    return turns


def _attribution(value: object) -> str:
    text = str(value).strip()
    if text not in ("self", "blind"):
        raise UsageError(f"--argument-attribution must be self or blind, got {value!r}")
    return text


@run_options("pushback protocol options")
@dataclass(frozen=True)
class PushbackOptions(Options):
    """Which challenge, how many turns, and which wording of it."""

    pushback: str = flag("are_you_sure", "pushback: the challenge after each answer: " + ", ".join(KINDS),
                         parse=_kind, metavar="KIND")
    pushback_turns: int = flag(1, "pushback: challenge turns after the first answer, each answered and scored",
                               parse=_turns, metavar="K")
    pushback_variant: str | None = flag(None, "pushback: a wording of the kind (are_you_sure: aus, idts, abs, teach, "
                                        "phd; protocols/cards/pushback.yaml); default its first", parse=str,
                                        metavar="NAME")
    argument_attribution: str = flag("self", "pushback argument: show the argument as the model's own (self) or "
                                     "anonymously (blind), as in Who Flips?", parse=_attribution, metavar="self|blind")
    pushback_control: str | None = flag(None, "pushback: a finished run of the same tasks (e.g. --pushback neutral) "
                                        "whose per-turn accuracy and flip matrices report.html draws beside this "
                                        "run's", parse=str, metavar="DIR")

    def check(self) -> None:
        if self.pushback_control and not (Path(self.pushback_control).expanduser() / "results.json").is_file():
            raise UsageError(f"--pushback-control {self.pushback_control} has no results.json; run the control "
                             "first (e.g. the same command with --pushback neutral and another --output-dir)")
        variants = challenge_kinds()[self.pushback]
        if self.pushback_variant is not None and self.pushback_variant not in variants:
            raise UsageError(f"--pushback-variant {self.pushback_variant!r} is not a wording of {self.pushback}; "
                             f"it has: {', '.join(variants)}")

    @property
    def variant(self) -> str:
        """The wording used: the given variant, the attribution for `argument`, else the kind's first."""
        if self.pushback_variant:
            return self.pushback_variant
        if self.pushback == "argument":
            return self.argument_attribution
        return next(iter(challenge_kinds()[self.pushback]))


@protocol("pushback")
class Pushback(MultiRound):
    """answer -> challenge -> answer -> ... (`--pushback-turns` challenges); `argument` asks its arguer first."""

    summaries = GENERIC_SUMMARIES + ("self_correction", "pushback")
    correction_rounds = False
    Options = PushbackOptions
    roles = (ARGUER,)

    def __init__(self, card: TaskCard, settings: Settings):
        super().__init__(card, settings)
        self.kind = self.options.pushback
        self.variant = self.options.variant
        self.wording = challenge_kinds()[self.kind][self.variant]["text"]
        self._suggested: dict[str, str] = {}

    def suggestion(self, doc: Doc) -> str | None:
        """The wrong answer X pushed for on this doc (suggest_wrong, argument), else None."""
        if self.kind not in SUGGESTING:
            return None
        if doc.doc_id not in self._suggested:
            self._suggested[doc.doc_id] = wrong_answer(doc.task, doc.doc_id, doc.fields, doc.target,
                                                       self.settings.seed, self.card.answer_type)
        return self._suggested[doc.doc_id]

    def sample_info(self, doc: Doc) -> dict[str, Any]:
        """Every sample records the kind, its wording's variant and the suggested answer (when there is one)."""
        info: dict[str, Any] = {"pushback": self.kind, "pushback_variant": self.variant}
        x = self.suggestion(doc)
        if x is not None:
            info["suggested"] = x
        return info

    def first(self, doc: Doc) -> list[Request]:
        self.suggestion(doc)  # a doc without a wrong answer is refused here, before any model call
        return super().first(doc)

    def next(self, doc: Doc, history: list[list[Turn]]) -> list[Request] | None:
        done = answers(history)
        if len(done) > self.options.pushback_turns:
            return None
        argument = self._argument_text(history) if self.kind == "argument" else ""
        if self.kind == "argument" and not any(t.request.kind == ARGUMENT_KIND for rnd in history for t in rnd):
            return [self.arguer_request(doc, history)]
        text = self.challenge(doc, argument)
        return [self.ask(reply(done[-1]), text, Kind.ANSWER)]

    def challenge(self, doc: Doc, argument: str = "") -> str:
        """The challenge turn: the kind's wording, then the task's answer format."""
        values = {"suggestion": self.suggestion(doc) or "", "argument": argument}
        words = render(self.wording, values).strip()
        fmt = self.say_format(doc)
        return f"{words}\n\n{fmt}".strip() if fmt else words

    def say_format(self, doc: Doc) -> str:
        """The task card's answer format line, else the protocol card's default."""
        fmt = self.card.prompts.get("answer_format")
        return render(fmt, doc.fields).strip() if fmt else str(self.pcard.defaults.get("answer_format", ""))

    def arguer_request(self, doc: Doc, history: list[list[Turn]]) -> Request:
        """A fresh conversation asking for a paragraph that argues for X (self-argument: the model itself)."""
        text = render(self.pcard.prompts["arguer"], {"suggestion": self.suggestion(doc) or "",
                                                     "question": self.question(history)})
        return Request(messages=(("user", text.strip()),), gen=self.settings.gen(), want=(), kind=ARGUMENT_KIND,
                       role=ARGUER.name)

    @staticmethod
    def _argument_text(history: list[list[Turn]]) -> str:
        """The arguer's paragraph of this chain (written once, shown at every challenge turn)."""
        return next((t.generation.text.strip() for rnd in history for t in rnd if t.request.kind == ARGUMENT_KIND),
                    "")
