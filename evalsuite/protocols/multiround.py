"""Shared machinery of the self-correction protocols: prompt cards, extended conversations and round counting.

Round 0 asks the task's own `cot` (or `direct`) prompt. Each later turn extends the previous request's message
tuple with the assistant's reply and the protocol's next user turn, so a history is built once. `--rounds k`
(Settings.rounds) is the number of corrected answers after the first one.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any

import yaml

from evalsuite.errors import UsageError
from evalsuite.protocols.base import GENERIC_SUMMARIES, Protocol, Settings, Turn, render
from evalsuite.records import Doc, Kind, Request
from evalsuite.tasks.cards import TaskCard


@dataclass(frozen=True)
class ProtocolCard:
    """A protocol's prompts as data: which task prompt opens a chain, its user turns, and defaults."""

    name: str
    description: str
    first_prompt: tuple[str, ...]
    prompts: dict[str, str]
    defaults: dict[str, Any] = field(default_factory=dict)


@lru_cache(maxsize=None)
def protocol_card(name: str) -> ProtocolCard:
    """Load `evalsuite/protocols/cards/<name>.yaml` (shipped in the wheel)."""
    path = resources.files("evalsuite.protocols") / "cards" / f"{name}.yaml"
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    return ProtocolCard(raw["name"], raw.get("description", ""), tuple(raw.get("first_prompt", ("cot", "direct"))),
                        dict(raw["prompts"]), dict(raw.get("defaults", {})))


def reply(turn: Turn) -> tuple[tuple[str, str], ...]:
    """The turn's conversation with the model's reply appended."""
    return tuple(turn.request.messages or ()) + (("assistant", turn.generation.text),)


def answers(history: list[list[Turn]]) -> list[Turn]:
    """Every answer turn of a chain, in order."""
    return [t for rnd in history for t in rnd if t.request.kind == Kind.ANSWER]


class MultiRound(Protocol):
    """Base of the self-correction protocols: subclasses implement `next` with `ask`, `say` and `more`."""

    summaries = GENERIC_SUMMARIES + ("self_correction",)
    correction_rounds = True

    def __init__(self, card: TaskCard, settings: Settings):
        super().__init__(card, settings)
        self.pcard = protocol_card(self.registry_name)
        self.first_key = next((k for k in self.pcard.first_prompt if k in card.prompts), None)
        if self.first_key is None:
            want = " or ".join(repr(k) for k in self.pcard.first_prompt)
            raise UsageError(f"task {card.name} has no {want} prompt for protocol {self.registry_name} to start "
                             "from; choose another --protocol")

    def first(self, doc: Doc) -> list[Request]:
        return [self.ask((), render(self.card.prompts[self.first_key], doc.fields), Kind.ANSWER)]

    def ask(self, messages: tuple[tuple[str, str], ...], text: str, kind: Kind) -> Request:
        """A request that extends `messages` with one user turn."""
        return Request(messages=tuple(messages) + (("user", text),), gen=self.settings.gen(),
                       want=self.settings.want, kind=kind)

    def say(self, key: str, doc: Doc, **values: Any) -> str:
        """Render the protocol card's prompt `key`; `answer_format` comes from the task card when it has one."""
        fmt = self.card.prompts.get("answer_format")
        fmt = render(fmt, doc.fields) if fmt else self.pcard.defaults.get("answer_format", "")
        said = self.__dict__.setdefault("_said", {})  # one string per (prompt, format): not one per request
        if not values and (key, fmt) in said:
            return said[key, fmt]
        text = render(self.pcard.prompts[key], {**self.pcard.defaults, "answer_format": fmt, **values}).strip()
        if not values:
            said[key, fmt] = text
        return text

    def more(self, history: list[list[Turn]]) -> bool:
        """Whether the chain may give another corrected answer (fewer than `rounds` so far)."""
        return len(answers(history)) - 1 < self.settings.rounds

    @staticmethod
    def question(history: list[list[Turn]]) -> str:
        """The chain's opening user turn (the task prompt as asked)."""
        return history[0][0].request.messages[0][1]
