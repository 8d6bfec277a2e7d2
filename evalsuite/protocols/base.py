"""The protocol interface: a per-doc state machine that emits each round's requests and reads replies back."""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any, Callable, ClassVar, Sequence

import jinja2

from evalsuite.errors import UsageError
from evalsuite.options import NoOptions, Options as OptionsBase, RunOptions
from evalsuite.records import Doc, GenParams, Generation, Request
from evalsuite.roles import Role
from evalsuite.tasks.cards import TaskCard


@dataclass(frozen=True)
class Settings:
    """Run-wide settings a protocol builds its requests from; `options` holds the typed options of the run (a dict
    given here is parsed and checked at once, as at the CLI)."""

    max_tokens: int = GenParams.max_tokens
    temperature: float = GenParams.temperature
    top_p: float = GenParams.top_p
    seed: int = GenParams.seed
    rounds: int = 1
    want: tuple[str, ...] = ("logprob", "entropy", "sc_term")
    options: RunOptions = field(default_factory=RunOptions)
    stop: tuple[str, ...] = ()
    """Stop strings of every request; a task card's `stop:` list is added per protocol instance."""

    def __post_init__(self) -> None:
        if not isinstance(self.options, RunOptions):
            object.__setattr__(self, "options", RunOptions.parse(self.options))

    def gen(self, **override: Any) -> GenParams:
        """The run's generation parameters with `override`; one shared (frozen) object per distinct override, as
        every request of a run asks for the same few."""
        memo = self.__dict__.setdefault("_gen_memo", {})
        key = tuple(override.items())
        got = memo.get(key)
        if got is None:
            kw = dict(temperature=self.temperature, top_p=self.top_p, max_tokens=self.max_tokens, seed=self.seed)
            if self.stop:
                kw["stop"] = self.stop
            kw.update(override)
            got = memo[key] = GenParams(**kw)
        return got


@dataclass(frozen=True)
class Turn:
    """One finished request of a chain, with its scored answer when it was an answer turn.

    `correct` is there for the oracle protocol alone; every other protocol must decide without it.
    `info` is the scorer's Score.info (e.g. `info["exec"]`, what running the answer's program printed/raised).
    """

    request: Request
    generation: Generation
    extracted: str | None = None
    correct: bool | None = None
    info: dict[str, Any] = field(default_factory=dict)


@lru_cache(maxsize=256)
def _template(text: str) -> jinja2.Template:
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=False)
    return env.from_string(text)


def render(text: str, fields: dict[str, Any]) -> str:
    """Fill a card's prompt template with a doc's fields (jinja2, missing fields are an error). A text with no
    `{` has nothing to fill: it comes back as jinja2 gives it (one trailing newline dropped), without a render."""
    if "{" not in text and "\r" not in text:
        return text[:-1] if text.endswith("\n") else text
    try:
        return _template(text).render(**fields)
    except jinja2.UndefinedError as e:
        raise UsageError(f"prompt template needs a field the doc lacks ({e.message})") from e


GENERIC_SUMMARIES = ("accuracy", "pass_at_k", "critique")
"""Summaries of answer samples that any protocol's chains get; each reports what its task's scorer records
(per-answer metrics, execution reports, verdicts) and nothing for a task without it."""


class Protocol(ABC):
    """Subclasses register with `@protocol(name)`; `first` opens a chain, `next` continues it or ends it (None).

    What the run needs to know about a protocol is declared here, never probed: its summaries, whether `--rounds`
    counts its corrections, whether a chain is one request, whether it reads the gold answer (`oracle`) and which
    doc fields it needs."""

    oracle: ClassVar[bool] = False
    """Reads the gold answer (every sample is marked oracle, and so is every metric row of its runs)."""
    summaries: ClassVar[tuple[str, ...]] = GENERIC_SUMMARIES
    """Names of the registered summarizers that apply to this protocol's samples."""
    correction_rounds: ClassVar[bool] = False
    """`--rounds k` is the number of corrected answers after the first (the self-correction protocols): summaries
    report rounds 0..k even when every chain stopped earlier."""
    single_round: bool = False
    """A chain is one request and its reply (the lm-eval twin of such a protocol is the whole run, not round 0);
    a protocol whose round count depends on its options or task overrides this with a property."""
    needs_doc_fields: ClassVar[dict[str, str]] = {}
    """Doc fields the protocol reads -> what they are, e.g. {"member": "membership labels"} (checked at the edge)."""
    Options: ClassVar[type[OptionsBase]] = NoOptions
    """Its `@run_options` dataclass; an instance's `options` holds the run's parsed values of it."""
    roles: ClassVar[tuple[Role | str, ...]] = ()
    """The model roles its requests name (`Request(role="critic")`): a bare name must be given by the run
    (`--role critic=SPEC`, else the run is refused before any model call), `Role(name, default=SELF)` is the run's
    own model unless given, `Role(name, optional=True)` adds a stage only when given (self_predict's observer)."""

    def __init__(self, card: TaskCard, settings: Settings):
        self.card = card
        stop = tuple(s for s in card.extra.get("stop", ()) if s not in settings.stop)
        self.settings = replace(settings, stop=settings.stop + stop) if stop else settings
        self.options = self.settings.options.of(self.Options)

    def prompt(self, key: str) -> str:
        if key not in self.card.prompts:
            have = ", ".join(sorted(self.card.prompts))
            raise UsageError(f"task {self.card.name} has no {key!r} prompt (it has: {have}); choose another --protocol")
        return self.card.prompts[key]

    @abstractmethod
    def first(self, doc: Doc) -> list[Request]:
        """The requests of round 0."""

    def next(self, doc: Doc, history: list[list[Turn]]) -> list[Request] | None:
        """The requests of the next round given every earlier round, or None when the chain is done."""
        return None

    def observer(self) -> "Protocol | None":
        """The protocol a second model runs on the same docs in the observer stage (`--observer-model`), or None."""
        return None

    def sample_info(self, doc: Doc) -> dict[str, Any]:
        """What every sample of `doc` under this protocol records besides its score (the oracle mark)."""
        return {"oracle": True} if self.oracle else {}

    def member(self, doc: Doc) -> bool | None:
        """The doc's membership label (a `member` field: training data or not), None when it has none."""
        value = doc.fields.get("member")
        return None if value is None else bool(value)

    def answer_text(self, text: str) -> str:
        """The part of a reply the scorer reads; a protocol that asks for more than the answer drops the rest."""
        return text

    def confidence(
        self, doc: Doc, history: list[list[Turn]], token_offsets: Callable[[Sequence[int]], list[int] | None]
    ) -> dict[int, dict[str, float]]:
        """Confidences of a finished chain's answers, {answer round: {method: value}}; called once, when the chain
        ends. `token_offsets` maps a reply's token ids to text offsets (None when the backend cannot): the fallback
        for a reply that does not carry them (see `reply_offsets`)."""
        return {}


def reply_offsets(gen: Generation, token_offsets: Callable[[Sequence[int]], list[int] | None]
                  ) -> Sequence[int] | None:
    """The end offset of each token of `gen` in its text: those it carries (a request with `want_offsets`), else
    computed by `token_offsets` (a reply stored before offsets were kept); None without token ids."""
    if gen.token_offsets is not None:
        return gen.token_offsets
    return token_offsets(gen.token_ids) if len(gen.token_ids) else None
