"""Score one reply of a twin as evalsuite's engine would: through the protocol's `answer_text` and the task's
scorer, with the protocol's `confidence` values (used by the lm-eval hooks and by `evalsuite rescore`)."""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from evalsuite.lmeval.twins import Twin, protocol_of, scorer_for
from evalsuite.protocols.base import Turn
from evalsuite.records import Doc, Generation, Request
from evalsuite.scoring.base import Score


@dataclass(frozen=True)
class ScoredReply:
    score: Score
    confidence: dict[str, float] = field(default_factory=dict)

    def confidence_of(self, method: str | None) -> float | None:
        """The named confidence, None when the reply did not give one."""
        value = self.confidence.get(method) if method else None
        return None if value is None or not math.isfinite(value) else float(value)


def no_token_offsets(token_ids) -> None:
    """lm-eval logs no token ids, so answer spans cannot be mapped to tokens (token-probability stays missing)."""
    return None


def score_reply(twin: Twin, doc: Doc, request: Request, generation: Generation) -> ScoredReply:
    """The evalsuite score of `generation`, the reply to `request` for `doc`, under the twin's protocol."""
    proto = protocol_of(twin)
    text = generation.text
    score = scorer_for(twin.card.name).score(proto.answer_text(text), doc.target, doc.fields)
    history = [[Turn(request, generation, score.extracted, score.correct, dict(score.info))]]
    conf = dict(proto.confidence(doc, history, no_token_offsets).get(0, {}))
    return ScoredReply(score, conf)


def reply_generation(text: str, model_id: str = "lm-eval") -> Generation:
    """A reply read from lm-eval's samples: text only (lm-eval logs no tokens or token statistics)."""
    return Generation(text=text, token_ids=[], stats={}, finish_reason="unknown", backend="lm-eval",
                      model_id=model_id)
