"""`critique_correct`: generation -> critique -> correction (Lin et al.'s G, Q, C), `--rounds k` times.

Round 0 answers the task's own prompt (G); the model then reviews that answer in the same conversation and ends
with a verdict (kind "critique"; Q is the F1 of flagging wrong answers); then it writes a corrected answer (C,
scored like the first). Every answer is corrected, whatever the verdict, as in Lin et al. (C is over all items).

`--policy-run DIR` makes the first answer another model's (the generator's): round 0 teacher-forces that run's first
answer of each doc, and this model critiques and corrects it (RealCritic's cross-model closed loop); `evalsuite
matrix` puts such runs in a critic x generator matrix.
"""
from __future__ import annotations

from evalsuite.errors import UsageError
from evalsuite.protocols.base import Settings, Turn
from evalsuite.protocols.critique import CritiqueOptions, given_responses, load_policy_run, policy_answer
from evalsuite.protocols.multiround import MultiRound, reply
from evalsuite.records import Doc, Kind, Request
from evalsuite.registry import protocol
from evalsuite.tasks.cards import TaskCard


@protocol("critique_correct")
class CritiqueCorrect(MultiRound):
    """answer -> critique with a verdict (kind "critique") -> corrected answer -> critique -> ..."""

    def __init__(self, card: TaskCard, settings: Settings):
        if given_responses(card):
            raise UsageError(f"critique_correct needs an answer task (e.g. gsm8k); {card.name} judges given "
                             "responses, so use --protocol critique")
        super().__init__(card, settings)
        policy_run = self.settings.options.of(CritiqueOptions).policy_run
        self.policy = load_policy_run(policy_run, card) if policy_run else None

    def first(self, doc: Doc) -> list[Request]:
        """The task's own answer, or (with --policy-run) the generator run's answer, teacher-forced."""
        req = super().first(doc)[0]
        return [req if self.policy is None else policy_answer(req, self.policy, self.card, doc)]

    def next(self, doc: Doc, history: list[list[Turn]]) -> list[Request] | None:
        last = history[-1][0]
        if last.request.kind == Kind.ANSWER:
            return [self.ask(reply(last), self.say("critique", doc), Kind.CRITIQUE)] if self.more(history) else None
        return [self.ask(reply(last), self.say("correct", doc), Kind.ANSWER)]
