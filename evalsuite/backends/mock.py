"""`mock:NAME`: a scripted backend for tests, so a test decides what the model says instead of rewriting gold data.

Replies come from a script: a dict (the request's prompt text, i.e. its last user turn or raw prompt -> reply), a
list (replies in the order requests arrive), or a function of the Request (it sees the messages, the seed, ...).
A reply is a string, or a `Reply` that also gives the probabilities of the request's `choices`.
Without a script the reply is `--model-args reply=TEXT`, else the last user turn echoed back. Each character is one
token; its statistics come from a fixed 6-outcome distribution derived from the character, of which the character
is the likeliest outcome, so every identity the contract tests check holds (to float32 rounding: values are float32,
as a GPU replica returns them) and a teacher-forced pass over a reply reproduces its generation. The statistics of each (character, statistics wanted) are computed once per
process and cached, so the backend's own cost stays negligible next to the harness it stands in front of.

`latency_ms=` and `tokens_per_s=` add a latency model: each request takes `latency_ms` plus its reply's length /
`tokens_per_s`, spent sleeping (never spinning), so a Ray replica of the mock behaves like a GPU replica that costs
the driver's CPU nothing (`benchmarks/scale.py --mock`)."""
from __future__ import annotations

import math
import re
import time
from array import array
from functools import lru_cache
from dataclasses import dataclass, field, replace
from typing import Callable, Mapping, Sequence, Union

from evalsuite.backends.base import Backend, OnResult, parse_model_args
from evalsuite.errors import UsageError
from evalsuite.records import Generation, Request
from evalsuite.registry import backend



@dataclass(frozen=True)
class Reply:
    """A scripted reply with the probabilities of a request's `choices` at its first position (e.g. P(True))."""

    text: str
    choices: Mapping[str, float] = field(default_factory=dict)


Text = Union[str, Reply]
Script = Union[Mapping[str, Text], Sequence[Text], Callable[[Request], Text], None]
OUTCOMES = 6
_TOP = re.compile(r"^entropy_top(\d+)$")


def prompt_text(req: Request) -> str:
    """What a dict script is keyed by: the last user turn of a chat request, or the raw prompt."""
    if req.messages:
        return next((c for r, c in reversed(req.messages) if r == "user"), req.messages[-1][1])
    return req.prompt or ""


def _distribution(ch: str) -> list[float]:
    """Log-probabilities of the outcomes at a position that emitted `ch` (outcome 0, the likeliest, is `ch`)."""
    code = ord(ch)
    logits = [((code * (j + 3) * 2654435761) % 1000) / 250.0 for j in range(OUTCOMES)]
    logits[0] = max(logits) + 0.5
    norm = math.log(sum(math.exp(v) for v in logits))
    return [v - norm for v in logits]


def char_stats(ch: str, want: Sequence[str]) -> dict[str, float]:
    """The per-token statistics of one character under its distribution (exact, never approximate), each rounded
    to float32 as a GPU replica returns them (so the store keeps 4 bytes a value, as it does for a real model)."""
    lp = _distribution(ch)
    p = [math.exp(v) for v in lp]
    mu = sum(pi * li for pi, li in zip(p, lp))
    out: dict[str, float] = {}
    for name in want:
        if name == "logprob":
            out[name] = lp[0]
        elif name == "entropy":
            out[name] = -mu
        elif name == "mink_mu":
            out[name] = mu
        elif name == "mink_sigma":
            out[name] = math.sqrt(max(sum(pi * (li - mu) ** 2 for pi, li in zip(p, lp)), 0.0))
        elif name == "sc_term":
            out[name] = -math.log(OUTCOMES) - sum(lp) / OUTCOMES
        elif m := _TOP.match(name):
            top = sorted(zip(p, lp), reverse=True)[: int(m[1])]
            out[name] = -sum(pi * li for pi, li in top)
        else:
            raise UsageError(f"the mock backend has no statistic {name!r}")
    return dict(zip(out, array("f", out.values()).tolist()))


@lru_cache(maxsize=65536)
def _cached_stats(ch: str, want: tuple[str, ...]) -> tuple[float, ...]:
    """`char_stats` of one character, as a tuple in `want`'s order (computed once per process)."""
    st = char_stats(ch, want)
    return tuple(st[w] for w in want)


@lru_cache(maxsize=4096)
def _text_columns(text: str, want: tuple[str, ...]) -> tuple[tuple[float, ...], ...]:
    """One tuple per statistic of `want` over the characters of `text` (cached per reply text)."""
    if not text:
        return tuple(() for _ in want)
    return tuple(zip(*[_cached_stats(c, want) for c in text]))


def text_stats(text: str, want: tuple[str, ...]) -> dict[str, list[float]]:
    """Every statistic of `want` for each character of `text`: fresh lists per call (no two generations share
    one), copied from the per-text cache."""
    return {w: list(col) for w, col in zip(want, _text_columns(text, want))}


@backend("mock")
class MockBackend(Backend):
    """Replies from a script (see the module doc); deterministic per-character statistics."""

    OPTIONS = {"reply": "", "batch_size": 8, "latency_ms": 0.0, "tokens_per_s": 0.0}
    batch_invariant = True

    def __init__(self, rest: str = "mock", model_args: str | dict | None = None, script: Script = None):
        self.name = "mock"
        self.opts = parse_model_args(model_args, self.OPTIONS, "mock")
        self.model_id, self.revision = rest or "mock", "scripted"
        self.batch_size = max(1, int(self.opts["batch_size"]))
        self.latency_s = float(self.opts["latency_ms"]) / 1000.0
        self.tokens_per_s = float(self.opts["tokens_per_s"])
        if self.latency_s < 0 or self.tokens_per_s < 0:
            raise UsageError("the mock backend's latency_ms and tokens_per_s must be >= 0 (0: no latency)")
        self.script = script
        self.calls: list[Request] = []
        """Every request generated, in order (tests read what was asked)."""

    def reply(self, req: Request) -> Text:
        """The scripted text for one request."""
        s = self.script
        if callable(s):
            return s(req)
        if isinstance(s, Mapping):
            key = prompt_text(req)
            if key not in s:
                raise UsageError(f"the mock script has no reply for the prompt {key[:80]!r}")
            return s[key]
        if s is not None:
            done = sum(1 for r in self.calls if r.continuation is None) - 1
            if done >= len(s):
                raise UsageError(f"the mock script's {len(s)} replies are used up")
            return s[done]
        return self.opts["reply"] or prompt_text(req)

    def _generation(self, req: Request, text: str, finish: str, given: Mapping[str, float] | None = None
                    ) -> Generation:
        want = tuple(dict.fromkeys((*req.want, "logprob")))
        stats = text_stats(text, want)
        choices = None
        if req.choices and given:
            choices = {c: math.log(given[c]) if given.get(c, 0) > 0 else -math.inf for c in req.choices}
        elif req.choices:  # unscripted: a choice that starts like the reply is the likeliest
            logits = [2.0 if text and c.startswith(text[0]) else 0.0 for c in req.choices] + [0.0]
            norm = math.log(sum(math.exp(v) for v in logits))
            choices = {c: v - norm for c, v in zip(req.choices, logits)}
        return Generation(text=text, token_ids=[ord(c) for c in text], stats=stats, finish_reason=finish,
                          backend=self.name, model_id=self.model_id, prompt_tokens=len(prompt_text(req)),
                          choice_logprobs=choices)

    def generate(self, requests: Sequence[Request], on_result: OnResult | None = None) -> list[Generation]:
        """Every request's scripted reply; the call returns them together (nothing streams mid-call), after the
        latency model's sleep when one is set."""
        out = []
        for req in requests:
            if req.continuation is not None:
                gen = self.score_requests([req])[0]
            else:
                self.calls.append(req)
                got = self.reply(req)
                text, finish = (got.text if isinstance(got, Reply) else got), "stop"
                cut = min((text.find(s) for s in req.gen.stop if s and s in text), default=-1)
                if cut >= 0:
                    text = text[:cut]
                elif len(text) > req.gen.max_tokens:
                    text, finish = text[: req.gen.max_tokens], "length"
                gen = self._generation(req, text, finish, got.choices if isinstance(got, Reply) else None)
            out.append(gen)
        self._wait(out)
        return out

    def _wait(self, gens: Sequence[Generation]) -> None:
        """Sleep as long as the latency model says these replies take, one after another."""
        if not self.latency_s and not self.tokens_per_s:
            return
        seconds = self.latency_s * len(gens)
        if self.tokens_per_s:
            seconds += sum(len(g.token_ids) for g in gens) / self.tokens_per_s
        time.sleep(seconds)

    def score(self, prompt: Request, continuation: str, want: Sequence[str], offset: int = 0) -> dict[str, list[float]]:
        """offset=1 reads each position's statistics one character early (the prompt's last one first)."""
        chars = (prompt_text(prompt)[-1:] or "\n") + continuation[:-1] if offset else continuation
        return text_stats(chars, tuple(want))

    def score_requests(self, requests: Sequence[Request]) -> list[Generation]:
        out = []
        for r in requests:
            gen = self._generation(r, r.continuation or "", "scored")
            if r.score_offset:
                gen = replace(gen, stats=self.score(r, r.continuation or "", tuple(gen.stats), r.score_offset))
            out.append(gen)
        return out

    def token_offsets(self, token_ids: Sequence[int]) -> list[int]:
        return list(range(1, len(token_ids) + 1))

    def device_label(self) -> str:
        return "mock"

