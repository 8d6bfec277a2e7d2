"""`self_refine`: feedback on the answer, then a refinement; stops when the model's own feedback says correct."""
from __future__ import annotations

import re

from evalsuite.protocols.base import Turn
from evalsuite.protocols.multiround import MultiRound, reply
from evalsuite.records import Doc, Kind, Request
from evalsuite.registry import protocol


@protocol("self_refine")
class SelfRefine(MultiRound):
    """answer -> feedback ending in a verdict -> (stop if the verdict is "correct") refined answer -> ...

    The stop reads only the model's feedback, never the gold answer. A chain that stops early keeps its last
    answer for the later rounds' metrics (the self-correction summary carries it forward)."""

    def verdict(self, feedback: str) -> str | None:
        """The last verdict the feedback states (lower case), or None when it states none."""
        hits = re.findall(self.pcard.defaults["verdict_pattern"], feedback)
        return hits[-1].lower() if hits else None

    def next(self, doc: Doc, history: list[list[Turn]]) -> list[Request] | None:
        last = history[-1][0]
        if last.request.kind == Kind.ANSWER:
            return [self.ask(reply(last), self.say("feedback", doc), Kind.FEEDBACK)] if self.more(history) else None
        if self.verdict(last.generation.text) in self.pcard.defaults["stop_verdicts"]:
            return None
        return [self.ask(reply(last), self.say("refine", doc), Kind.ANSWER)]
