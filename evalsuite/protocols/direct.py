"""`direct`: one user turn asking for the answer alone."""
from __future__ import annotations

from evalsuite.protocols.base import Protocol, render
from evalsuite.records import Doc, Request
from evalsuite.registry import protocol


@protocol("direct")
class Direct(Protocol):
    """Ask once with the card's `direct` prompt."""

    template = "direct"
    single_round = True

    def first(self, doc: Doc) -> list[Request]:
        text = render(self.prompt(self.template), doc.fields)
        return [Request(messages=(("user", text),), gen=self.settings.gen(), want=self.settings.want)]
