"""`critique`: the model judges a response to a question and ends with a fixed-form verdict.

Critique cards (`responses: given`) bring their responses: one request shows the doc's question and response; it is
the chain's answer, scored by the card's `verdict` scorer against the response's label. On an answer task (e.g.
`critic_humaneval`, `gsm8k`) the responses come from a policy: round 0 answers the task's own prompt (its scorer
gives the label), round 1 shows that question and answer in a fresh conversation, as someone else's response, and
asks for the verdict (kind "critique", parsed by the critique summary).

`--policy-run DIR` makes the policy another model: round 0 takes the first answer of each doc from that earlier
run's samples.jsonl and teacher-forces it (so the text is the policy's, and the task's scorer labels it again
here); run the policy first, e.g. `evalsuite run --tasks humaneval --model POLICY --output-dir DIR`.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evalsuite.errors import UsageError
from evalsuite.protocols.base import Protocol, Settings, Turn, render
from evalsuite.protocols.multiround import protocol_card
from evalsuite.records import Doc, Kind, Request
from evalsuite.options import Options, flag, run_options
from evalsuite.registry import protocol
from evalsuite.rundir import read_samples
from evalsuite.tasks.cards import TaskCard



@run_options("critique protocol options")
@dataclass(frozen=True)
class CritiqueOptions(Options):
    """Where the judged answers come from."""

    policy_run: str | None = flag(None, "critique, critique_correct: judge (and correct) the first answers of an "
                                  "earlier run in DIR (another model) instead of generating them; that run must cover "
                                  "the same task docs", parse=str,
                                  metavar="DIR")


def given_responses(card: TaskCard) -> bool:
    """Whether the task's docs carry the responses to judge (critique cards)."""
    return card.extra.get("responses") == "given"


def policy_answer(ask: Request, policy: dict[str, str], card: TaskCard, doc: Doc) -> Request:
    """`ask` teacher-forced on the --policy-run's answer to `doc` (what a critic then judges or corrects)."""
    if doc.doc_id not in policy:
        raise UsageError(f"--policy-run has no answer for {card.name} doc {doc.doc_id}; run the policy on the same "
                         "docs (same --limit)")
    return dataclasses.replace(ask, continuation=policy[doc.doc_id])


def load_policy_run(path: str | Path, card: TaskCard) -> dict[str, str]:
    """doc_id -> the text of the first answer (round 0, sample 0) of `card`'s task in a run's samples.jsonl."""
    f = Path(path).expanduser() / "samples.jsonl"
    if not f.is_file():
        raise UsageError(f"--policy-run {path} has no samples.jsonl; point it at the output dir of a finished run")
    names = {card.name, card.extra.get("policy_task", card.name)}
    out: dict[str, str] = {}
    for rec in read_samples(f.parent):
        if (rec.get("task") in names and rec.get("kind") == Kind.ANSWER and rec.get("attempt") == 0
                and rec.get("sample_idx") == 0):
            out.setdefault(str(rec["doc_id"]), rec.get("output") or "")
    if not out:
        want = " or ".join(sorted(names))
        raise UsageError(f"--policy-run {path} has no answers for task {want}; run the policy on that task first")
    return out


@protocol("critique")
class Critique(Protocol):
    """Judge a given response (one round), or the policy's answer in a fresh conversation (two rounds)."""

    Options = CritiqueOptions

    def __init__(self, card: TaskCard, settings: Settings):
        super().__init__(card, settings)
        self.pcard = protocol_card("critique")
        self.given = given_responses(card)
        policy_run = self.options.policy_run
        self.policy: dict[str, str] | None = None
        if self.given:
            if policy_run:
                raise UsageError(f"--policy-run needs an answer task; {card.name} already has its responses")
            return
        self.first_key = next((k for k in self.pcard.first_prompt if k in card.prompts), None)
        if self.first_key is None:
            raise UsageError(f"task {card.name} has neither given responses nor a cot/direct prompt to generate "
                             "them; choose another task for --protocol critique")
        if policy_run:
            self.policy = load_policy_run(policy_run, card)

    @property
    def single_round(self) -> bool:
        """A given response is judged in one request; a generated one is answered first, then judged."""
        return self.given

    def critique_request(self, fields: dict[str, Any], question: str, response: str) -> Request:
        """The critique prompt (the task card's `critique` if it has one, else the protocol card's)."""
        template = self.card.prompts.get("critique") or self.pcard.prompts["critique"]
        text = render(template, {**self.pcard.defaults, **fields, "question": question, "response": response})
        return Request(messages=(("user", text.strip()),), gen=self.settings.gen(), want=self.settings.want,
                       kind=Kind.ANSWER if self.given else Kind.CRITIQUE)

    def first(self, doc: Doc) -> list[Request]:
        if self.given:
            return [self.critique_request(doc.fields, doc.fields["question"], doc.fields["response"])]
        ask = Request(messages=(("user", render(self.card.prompts[self.first_key], doc.fields)),),
                      gen=self.settings.gen(), want=self.settings.want, kind=Kind.ANSWER)
        return [ask if self.policy is None else policy_answer(ask, self.policy, self.card, doc)]

    def next(self, doc: Doc, history: list[list[Turn]]) -> list[Request] | None:
        if self.given or len(history) > 1:
            return None
        answer = history[0][0]
        question = answer.request.messages[-1][1]
        return [self.critique_request(doc.fields, question, answer.generation.text)]
