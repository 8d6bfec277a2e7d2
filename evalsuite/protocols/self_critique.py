"""`self_critique`: the model answers a task (round 0), then judges its own answer in the same conversation.

The verdict turn is kind "critique"; its label is the round-0 answer's correctness, which the critique summary
reads from the scored sample. The protocol never looks at that correctness. With `--samples k` (and a
temperature) the same run gives Luo et al.'s self-check vs self-consistency comparison. It gives no second
answer, so it is not a self-correction protocol (no `--rounds`).
"""
from __future__ import annotations

from evalsuite.errors import UsageError
from evalsuite.protocols.base import Protocol, Settings, Turn, render
from evalsuite.protocols.critique import given_responses
from evalsuite.protocols.multiround import protocol_card, reply
from evalsuite.records import Doc, Kind, Request
from evalsuite.registry import protocol
from evalsuite.tasks.cards import TaskCard


@protocol("self_critique")
class SelfCritique(Protocol):
    """answer (the task's cot/direct prompt) -> "check your answer ... Verdict: correct|incorrect" (kind "critique")."""

    def __init__(self, card: TaskCard, settings: Settings):
        if given_responses(card):
            raise UsageError(f"self_critique needs an answer task (e.g. gsm8k); {card.name} judges given responses, "
                             "so use --protocol critique")
        super().__init__(card, settings)
        self.pcard = protocol_card("self_critique")
        self.first_key = next((k for k in self.pcard.first_prompt if k in card.prompts), None)
        if self.first_key is None:
            raise UsageError(f"task {card.name} has no cot or direct prompt for self_critique to start from; "
                             "choose another --protocol")

    def first(self, doc: Doc) -> list[Request]:
        text = render(self.card.prompts[self.first_key], doc.fields)
        return [Request(messages=(("user", text),), gen=self.settings.gen(), want=self.settings.want)]

    def next(self, doc: Doc, history: list[list[Turn]]) -> list[Request] | None:
        if len(history) > 1:
            return None
        text = render(self.pcard.prompts["critique"], {**self.pcard.defaults, **doc.fields}).strip()
        return [Request(messages=reply(history[0][0]) + (("user", text),), gen=self.settings.gen(),
                        want=self.settings.want, kind=Kind.CRITIQUE)]
