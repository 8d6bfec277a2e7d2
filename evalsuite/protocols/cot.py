"""`cot`: one user turn asking for step-by-step reasoning before the answer (zero-shot chain of thought)."""
from __future__ import annotations

from evalsuite.protocols.direct import Direct
from evalsuite.registry import protocol


@protocol("cot")
class ChainOfThought(Direct):
    """Ask once with the card's `cot` prompt."""

    template = "cot"
