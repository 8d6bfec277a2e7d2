"""Frozen records that flow through the pipeline: Doc -> Request -> Generation -> Sample."""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, fields
from enum import Enum
from functools import lru_cache
from typing import Any, Callable, Sequence

try:
    from enum import StrEnum
except ImportError:  # Python 3.10
    class StrEnum(str, Enum):
        """A str whose members print as their value (Python 3.11's enum.StrEnum)."""

        __str__ = str.__str__
        __format__ = str.__format__

STATS = ("logprob", "entropy", "sc_term", "mink_mu", "mink_sigma", "entropy_top50")
"""Per-token statistics a backend can return, each one float per generated token.

logprob: log p of the chosen token; entropy: H of the full next-token distribution; sc_term: the self-certainty
term -log V - mean_j log p_j (SPEC-metrics §3.1); mink_mu / mink_sigma: mean and std of log p under p (Min-K%++).
entropy_top50: -sum p log p over the 50 likeliest tokens only, not renormalised (RL-MIA's entropy, SPEC §4.2).
All come from the model's own (untempered) distribution.
"""


class Kind(StrEnum):
    """What a request's reply is. Only ANSWER replies are scored; the others feed the next round or a summary.
    The values are the strings stored in samples, so store keys and samples.jsonl do not depend on this enum."""

    ANSWER = "answer"
    FEEDBACK = "feedback"
    """self_refine's feedback on its own answer."""
    PLAN = "plan"
    """CoVe's verification questions."""
    VERIFY = "verify"
    """CoVe's independent answer to one verification question."""
    REFLECT = "reflect"
    """Reflexion's reflection and plan."""
    CRITIQUE = "critique"
    """A verdict on an answer (critique, self_critique, critique_correct; the critique summary reads it)."""
    ARGUMENT = "argument"
    """pushback: the arguer's paragraph for a wrong answer, shown to the model in the next challenge turn."""
    RETHINK = "rethink"
    """contamination: Self-Critique's second greedy pass."""
    PERTURBED = "perturbed"
    """contamination: the greedy answer to the perturbed prompt."""
    SAMPLE = "sample"
    """contamination: a temperature sample for CDD and Entropy-Temp."""
    RECALL_PERTURBED = "recall_perturbed"
    RECALL_ORIGINAL = "recall_original"
    """contamination: the answer teacher-forced under the perturbed / original prompt (ReCaLL)."""
    SC_OFFICIAL = "sc_official"
    """The teacher-forced pass of the official self-certainty convention."""
    PTRUE = "ptrue"
    """confidence: P(True) of the extracted answer."""
    PREDICT_CORRECT = "predict_correct"
    PREDICT_LAST_DIGIT = "predict_last_digit"
    PREDICT_PARITY = "predict_parity"
    PREDICT_OPTION = "predict_option"
    PREDICT_FIRST_WORD = "predict_first_word"
    OBSERVE_CORRECT = "observe_correct"
    OBSERVE_LAST_DIGIT = "observe_last_digit"
    OBSERVE_PARITY = "observe_parity"
    OBSERVE_OPTION = "observe_option"
    OBSERVE_FIRST_WORD = "observe_first_word"


PREDICTIONS: dict[Kind, tuple[str, str]] = {
    k: (who, k.value[len(who) + 1:]) for k in Kind for who in ("predict", "observe") if k.value.startswith(who + "_")
}
"""self_predict's kinds -> (who: "predict" the model itself or "observe" the observer, the predicted property)."""


def prediction_kind(who: str, prop: str) -> Kind:
    """The kind of a self_predict request: `who` ("predict" or "observe") predicts `prop` ("correct", "parity"...)."""
    return next(k for k, wp in PREDICTIONS.items() if wp == (who, prop))


@dataclass(frozen=True)
class Doc:
    """One benchmark item."""

    task: str
    doc_id: str
    fields: dict[str, Any]
    target: str


@dataclass(frozen=True)
class GenParams:
    """Generation parameters of one request; these defaults are the run's too (`Settings`, `RunConfig`, the CLI)."""

    temperature: float = 0.0
    top_p: float = 1.0
    max_tokens: int = 512
    stop: tuple[str, ...] = ()
    seed: int = 0


@dataclass(frozen=True)
class Request:
    """A chat (`messages`) or raw-text (`prompt`) request, with what statistics it wants back.

    `kind` says what the reply is: ANSWER replies are scored, anything else (feedback, plans) is kept but not.
    A request with a `continuation` is teacher-forced instead of generated: the backend returns the statistics of
    that given text after the prompt (contamination baselines, re-scoring).
    """

    messages: tuple[tuple[str, str], ...] | None = None
    prompt: str | None = None
    continuation: str | None = None
    gen: GenParams = field(default_factory=GenParams)
    want: tuple[str, ...] = ("logprob", "entropy", "sc_term")
    kind: Kind = Kind.ANSWER
    choices: tuple[str, ...] | None = None
    """Also return the log-probability of each choice's first token at the first generated position (P(True))."""
    score_offset: int = 0
    """For a teacher-forced request: 1 scores the Self-Certainty repository's off-by-one positions (SPEC §3.2)."""
    role: str | None = None
    """The model role that answers it (`Protocol.roles`, e.g. "critic"); None: the run's main model. Left out of
    `to_dict` when None, so the store keys of main-model requests do not depend on roles existing."""
    want_offsets: bool = False
    """Also return where each generated token ends in the reply's text (`Generation.token_offsets`, for answer
    spans). Never part of `to_dict` or the key: the offsets follow from the token ids, so a reply stored without
    them is the same reply."""

    def chat(self) -> list[dict[str, str]]:
        return [{"role": r, "content": c} for r, c in (self.messages or ())]

    def to_dict(self, chat: bool = True) -> dict[str, Any]:
        """The request as plain data (what `key` hashes and the store keeps); built field by field because
        `dataclasses.asdict`'s deep copy was most of the driver's per-request cost. `chat=False` leaves
        `messages` as given (for `key`, which encodes them itself)."""
        d = {f: getattr(self, f) for f in _REQUEST_FIELDS}
        if chat and self.messages is not None:
            d["messages"] = self.chat()
        d["gen"] = {f: getattr(self.gen, f) for f in _GEN_FIELDS}
        if d["choices"] is None:
            del d["choices"]
        if not d["score_offset"]:
            del d["score_offset"]
        if d["role"] is None:
            del d["role"]
        return d

    def key(self, backend: str, model_id: str, revision: str, sample_idx: int) -> str:
        """The sample-store key: sha256 of backend, model id/revision, the full request and sample index, as
        `json.dumps([backend, model_id, revision, self.to_dict(), sample_idx], sort_keys=True,
        ensure_ascii=False)` writes them. The chat messages, most of those bytes, are spliced in from each turn's
        encoding, cached per string: a question and its few-shot turns recur in every sample and round."""
        d = self.to_dict(chat=False)
        payload = [backend, model_id, revision, d, sample_idx]
        text = None if self.messages is None else encode_with_chat(_key_json, payload, d, "messages", self.messages,
                                                                    sort_keys=True)
        if text is None:
            d["messages"] = None if self.messages is None else self.chat()
            text = _key_json(payload)
        return hashlib.sha256(text.encode()).hexdigest()

    def with_gen(self, gen: GenParams) -> "Request":
        """This request with other generation parameters: `dataclasses.replace(self, gen=gen)` at a sixth of
        its cost (the engine gives every sample of every request its own seed)."""
        new = object.__new__(Request)
        new.__dict__.update(self.__dict__)
        new.__dict__["gen"] = gen
        return new


def _key_json(payload: Any) -> str:
    return json.dumps(payload, sort_keys=True, ensure_ascii=False)


_MARK = "\x00messages\x00"
_MARK_JSON = json.dumps(_MARK, ensure_ascii=False)


def encode_with_chat(encode: Callable[[Any], str], obj: Any, holder: dict[str, Any], field: str,
                     messages: Sequence[tuple[str, str]], sort_keys: bool = False) -> str | None:
    """`encode(obj)` where `holder[field]` is the chat `messages` (as `Request.chat()` lists them): encoded with a
    mark in that place, then the messages' JSON spliced in from each turn's cached encoding (same bytes, a
    fraction of the cost). None when the mark also occurs elsewhere in `obj`: the caller encodes the plain way."""
    given = holder[field]
    holder[field] = _MARK
    try:
        text = encode(obj)
    finally:
        holder[field] = given
    head, found, tail = text.partition(_MARK_JSON)
    if not found or _MARK_JSON in tail:
        return None
    return f"{head}{chat_json(messages, sort_keys)}{tail}"


def chat_json(messages: Sequence[tuple[str, str]], sort_keys: bool = False) -> str:
    """`json.dumps(<messages as [{"role", "content"}]>, ensure_ascii=False, sort_keys=sort_keys)`, from each
    string's cached encoding (a run's questions and few-shot turns recur in every sample and round)."""
    if sort_keys:
        turns = ", ".join(f'{{"content": {_json_str(c)}, "role": {_json_str(r)}}}' for r, c in messages)
    else:
        turns = ", ".join(f'{{"role": {_json_str(r)}, "content": {_json_str(c)}}}' for r, c in messages)
    return f"[{turns}]"


@lru_cache(maxsize=4096)
def _json_str(s: str) -> str:
    """A string as `json.dumps(..., ensure_ascii=False)` writes it. A question recurs within a few dozen turns
    (its samples and rounds run together), and a model's replies never do, so a small cache holds every hit and a
    few MB at most."""
    return json.dumps(s, ensure_ascii=False)


@dataclass(frozen=True, eq=False)
class Generation:
    """One backend reply: text, chosen tokens and per-token statistics (scalars only, never vocab vectors)."""

    text: str
    token_ids: list[int]
    stats: dict[str, list[float]]
    finish_reason: str
    backend: str
    model_id: str
    seconds: float = 0.0
    prompt_tokens: int = 0
    approximate: tuple[str, ...] = ()
    choice_logprobs: dict[str, float] | None = None
    token_offsets: Sequence[int] | None = None
    """End offset of each generated token in `text` (filled where the request set `want_offsets` and the backend
    can detokenize; None otherwise, and in replies stored before offsets were kept). Derived from `token_ids`, so
    equality ignores it."""

    @property
    def token_logprobs(self) -> list[float]:
        return self.stats.get("logprob", [])

    def __eq__(self, other: object) -> bool:
        """Equal values: token ids and statistics compare as sequences, whether lists or the typed arrays the
        driver keeps (evalsuite.store_codec.compact_generation); token offsets, derived from the ids, are left out."""
        if not isinstance(other, Generation):
            return NotImplemented
        return self._values() == other._values()

    __hash__ = None  # type: ignore[assignment]

    def _values(self) -> tuple:
        return tuple(list(v) if f == "token_ids" else {k: list(a) for k, a in v.items()} if f == "stats" else v
                     for f, v in ((f, getattr(self, f)) for f in _GENERATION_FIELDS if f != "token_offsets"))

    def to_dict(self) -> dict[str, Any]:
        d = {f: getattr(self, f) for f in _GENERATION_FIELDS}
        d["token_ids"] = list(self.token_ids)
        d["stats"] = {k: list(v) for k, v in self.stats.items()}
        d["approximate"] = list(self.approximate)
        if self.choice_logprobs is not None:
            d["choice_logprobs"] = dict(self.choice_logprobs)
        if self.token_offsets is None:
            del d["token_offsets"]
        else:
            d["token_offsets"] = list(self.token_offsets)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Generation":
        d = dict(d)
        d["approximate"] = tuple(d.get("approximate", ()))
        return cls(**d)


_GEN_FIELDS = tuple(f.name for f in fields(GenParams))
_REQUEST_FIELDS = tuple(f.name for f in fields(Request) if f.name != "want_offsets")
_GENERATION_FIELDS = tuple(f.name for f in fields(Generation))


@dataclass(frozen=True)
class Sample:
    """One scored unit: a doc's reply at one round of one sample chain."""

    task: str
    doc_id: str
    protocol: str
    round: int
    sample_idx: int
    key: str
    request: Request
    generation: Generation
    kind: Kind
    attempt: int | None
    target: str
    extracted: str | None = None
    correct: bool | None = None
    conventions: dict[str, bool] = field(default_factory=dict)
    confidence: dict[str, float] = field(default_factory=dict)
    member: bool | None = None
    info: dict[str, Any] = field(default_factory=dict)
