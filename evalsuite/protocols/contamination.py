"""`contamination`: the RL-MIA probes of one doc (SPEC-metrics §4), scored later by evalsuite.metrics.contamination.

Round 0: the greedy answer (kind "answer"), the greedy answer to a perturbed prompt ("perturbed") and
`--cdd-samples` replies at T=0.8, top-p 0.95 with distinct seeds ("sample"). Round 1: Self-Critique's second
greedy pass, told the first answer and asked for a different solution ("rethink", up to 2x --max-tokens), and the
first answer teacher-forced under the perturbed prompt ("recall_perturbed") and the original one
("recall_original"). Only the requests the chosen `--detectors` need are sent. Detectors see only the prompt:
a doc's chat-format `prompt` field when it has one, else the task's `cot`/`direct` template as one user turn.
"""
from __future__ import annotations

from dataclasses import dataclass

from evalsuite.errors import UsageError
from evalsuite.metrics.contamination import DETECTORS, chosen_detectors, entropy_key
from evalsuite.protocols.base import GENERIC_SUMMARIES, Protocol, Settings, Turn, render
from evalsuite.protocols.multiround import protocol_card
from evalsuite.records import Doc, Kind, Request
from evalsuite.options import Options, flag, run_options
from evalsuite.registry import protocol
from evalsuite.tasks.cards import TaskCard



def _detectors(raw: "str | tuple[str, ...]") -> tuple[str, ...]:
    return chosen_detectors({"detectors": raw if isinstance(raw, str) else ",".join(raw)})


@run_options("contamination protocol options")
@dataclass(frozen=True)
class ContaminationOptions(Options):
    """Which detectors run, and the probes they need."""

    entropy_topk: int | None = flag(None, "contamination: entropies over the K likeliest tokens only, as RL-MIA's "
                                    "vLLM code (K=50 reproduces the paper); default: the full distribution",
                                    parse=int, type=int, metavar="K")
    cdd_samples: int | None = flag(None, "contamination: temperature samples per doc for CDD and Entropy-Temp "
                                   "(default 10)", parse=int, type=int, metavar="N")
    """None: the protocol card's `cdd_samples` (10)."""
    detectors: tuple[str, ...] = flag(tuple(DETECTORS), "contamination: comma-separated detectors to run (default "
                                      f"all: {','.join(DETECTORS)})", parse=_detectors, metavar="LIST")

    def check(self) -> None:
        if self.entropy_topk is not None and self.entropy_topk <= 0:
            raise UsageError(f"--entropy-topk must be a positive number of tokens, got {self.entropy_topk}")
        if self.cdd_samples is not None and self.cdd_samples <= 0:
            raise UsageError(f"--cdd-samples must be positive, got {self.cdd_samples}")

    @property
    def entropy(self) -> str:
        """The per-token statistic the entropy-based detectors read: `entropy` or `entropy_top<K>`."""
        return entropy_key({"entropy_topk": self.entropy_topk})

NEEDS = {
    "perturbed": {"entropy_noise", "recall_repo"},
    "sample": {"cdd", "entropy_temp"},
    "critique": {"self_critique"},
    "recall": {"recall"},
}
"""Which detectors need each optional probe (the greedy answer is always sent)."""


@protocol("contamination")
class Contamination(Protocol):
    """Greedy, perturbed and sampled replies; then the Self-Critique pass and the teacher-forced Recall pair."""

    summaries = GENERIC_SUMMARIES + ("contamination",)
    Options = ContaminationOptions
    needs_doc_fields = {"member": "membership labels"}
    """Every detector is scored by AUC of members against non-members (evalsuite.validate refuses docs without)."""

    def __init__(self, card: TaskCard, settings: Settings):
        super().__init__(card, settings)
        self.pcard = protocol_card("contamination")
        if settings.temperature != 0:
            raise UsageError("the contamination protocol fixes its own temperatures (greedy, and T=0.8 samples); "
                             "drop --temperature")
        self.n_samples = self.options.cdd_samples or int(self.pcard.defaults["cdd_samples"])
        self.detectors = set(self.options.detectors)
        self.entropy = self.options.entropy
        self.want = tuple(dict.fromkeys(("logprob", "entropy", self.entropy, "mink_mu", "mink_sigma")))

    def _text(self, key: str, doc: Doc) -> str:
        source = self.card.prompts.get(key) or self.pcard.prompts[key]
        return render(source, doc.fields).strip()

    def messages(self, doc: Doc) -> tuple[tuple[str, str], ...]:
        """The prompt the model answers: the doc's chat `prompt`, else the task's cot/direct template."""
        chat = doc.fields.get("prompt")
        if isinstance(chat, (list, tuple)) and chat and all(isinstance(m, dict) for m in chat):
            return tuple((str(m["role"]), str(m["content"])) for m in chat)
        key = next((k for k in ("cot", "direct") if k in self.card.prompts), None)
        if key is None:
            raise UsageError(f"task {self.card.name} has neither a chat `prompt` field nor a cot/direct prompt; "
                             "the contamination protocol needs one of them")
        return (("user", render(self.card.prompts[key], doc.fields)),)

    def perturbed(self, doc: Doc) -> tuple[tuple[str, str], ...]:
        """The prompt with two unrelated sentences around its last turn (RL-MIA's perturbation)."""
        msgs = self.messages(doc)
        role, content = msgs[-1]
        text = f"{self._text('perturb_prefix', doc)} {content} {self._text('perturb_suffix', doc)}".strip()
        return msgs[:-1] + ((role, text),)

    def _needs(self, probe: str) -> bool:
        return bool(NEEDS[probe] & self.detectors)

    def first(self, doc: Doc) -> list[Request]:
        greedy = self.settings.gen(temperature=0.0, top_p=1.0)
        reqs = [Request(messages=self.messages(doc), gen=greedy, want=self.want, kind=Kind.ANSWER)]
        if self._needs("perturbed"):
            reqs.append(Request(messages=self.perturbed(doc), gen=greedy, want=self.want, kind=Kind.PERTURBED))
        if self._needs("sample"):
            d = self.pcard.defaults
            reqs += [Request(messages=self.messages(doc), kind=Kind.SAMPLE, want=("logprob", self.entropy),
                             gen=self.settings.gen(temperature=float(d["cdd_temperature"]), top_p=float(d["cdd_top_p"]),
                                                   seed=self.settings.seed * 1000 + j))
                     for j in range(self.n_samples)]
        return reqs

    def next(self, doc: Doc, history: list[list[Turn]]) -> list[Request] | None:
        if len(history) != 1:
            return None
        answer = next(t for t in history[0] if t.request.kind == Kind.ANSWER).generation.text
        reqs = []
        if self._needs("critique"):
            msgs = self.messages(doc)
            role, content = msgs[-1]
            text = content + render(self.card.prompts.get("critique") or self.pcard.prompts["critique"],
                                    {**doc.fields, "response": answer})
            gen = self.settings.gen(temperature=0.0, top_p=1.0, max_tokens=2 * self.settings.max_tokens)
            reqs.append(Request(messages=msgs[:-1] + ((role, text),), gen=gen, want=self.want, kind=Kind.RETHINK))
        if self._needs("recall"):
            gen = self.settings.gen(temperature=0.0, top_p=1.0)
            reqs += [Request(messages=m, continuation=answer, gen=gen, want=("logprob",), kind=kind)
                     for m, kind in ((self.perturbed(doc), Kind.RECALL_PERTURBED),
                                     (self.messages(doc), Kind.RECALL_ORIGINAL))]
        return reqs or None
