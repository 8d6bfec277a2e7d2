"""`cove` (Chain-of-Verification): baseline answer, plan verification questions, answer each one independently
in a fresh conversation (several requests in one round), then a final revised answer."""
from __future__ import annotations

import re

from evalsuite.protocols.base import Turn
from evalsuite.protocols.multiround import MultiRound, reply
from evalsuite.records import Doc, Kind, Request
from evalsuite.registry import protocol

_NUMBERING = re.compile(r"^\s*(?:[-*•]|\(?\d+[.):]|\(?[Qq]\d*[.):]|[Qq]uestion\s*\d*[.):])\s*")


def verification_questions(plan: str, limit: int) -> list[str]:
    """The questions of a plan: one per line, numbering stripped, up to the last '?', unique, at most `limit`."""
    out: list[str] = []
    for line in plan.splitlines():
        line = _NUMBERING.sub("", line.replace("**", "")).strip()
        if "?" not in line:
            continue
        q = line[: line.rindex("?") + 1].strip()
        if len(q) > 3 and q not in out:
            out.append(q)
    return out[:limit]


@protocol("cove")
class ChainOfVerification(MultiRound):
    """answer -> plan (kind "plan") -> verify ×n (kind "verify", independent) -> final answer -> plan -> ..."""

    def questions(self, plan: Turn) -> list[str]:
        return verification_questions(plan.generation.text, int(self.pcard.defaults["max_questions"]))

    def final(self, doc: Doc, plan: Turn, checks: list[tuple[str, str]]) -> Request:
        return self.ask(reply(plan), self.say("final", doc, checks=checks), Kind.ANSWER)

    def next(self, doc: Doc, history: list[list[Turn]]) -> list[Request] | None:
        last = history[-1]
        kind = last[0].request.kind
        if kind == Kind.ANSWER:
            return [self.ask(reply(last[0]), self.say("plan", doc), Kind.PLAN)] if self.more(history) else None
        if kind == Kind.PLAN:
            qs = self.questions(last[0])
            if not qs:
                return [self.final(doc, last[0], [])]
            return [self.ask((), self.say("verify", doc, question=q), Kind.VERIFY) for q in qs]
        plan = history[-2][0]
        checks = [(q, t.generation.text.strip()) for q, t in zip(self.questions(plan), last)]
        return [self.final(doc, plan, checks)]
