"""`reflexion` (intrinsic): reflect on the attempt and write a plan, then retry with the reflections in memory.

As in Reflexion, a retry is a new trial: a fresh conversation holding the task and the reflections so far (the
last `max_reflections`), not the failed attempt itself. No environment or gold-answer signal is used."""
from __future__ import annotations

from evalsuite.protocols.base import Turn
from evalsuite.protocols.multiround import MultiRound, reply
from evalsuite.records import Doc, Kind, Request
from evalsuite.registry import protocol


@protocol("reflexion")
class Reflexion(MultiRound):
    """answer -> reflection + plan (kind "reflect") -> retry in a new conversation -> reflection -> ..."""

    def next(self, doc: Doc, history: list[list[Turn]]) -> list[Request] | None:
        last = history[-1][0]
        if last.request.kind == Kind.ANSWER:
            return [self.ask(reply(last), self.say("reflect", doc), Kind.REFLECT)] if self.more(history) else None
        memory = [t.generation.text.strip() for rnd in history for t in rnd if t.request.kind == Kind.REFLECT]
        keep = int(self.pcard.defaults.get("max_reflections", 3))
        text = self.say("retry", doc, question=self.question(history), reflections=memory[-keep:])
        return [self.ask((), text, Kind.ANSWER)]
