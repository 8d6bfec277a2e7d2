"""`self_predict`: before answering, the model predicts whether it will be right and a property of its answer.

Round 0 holds, each in its own fresh conversation: the correctness prediction (Yes/No read as P(Yes) at the first
reply position, renormalised over Yes/No, plus a stated "Probability: X%"), one hypothetical property prediction
per property of the task's answer type (scoring/properties.py), and the answer itself (the task's `cot` prompt).
The predictions embed the exact task prompt the model is then given. P(Yes) and the stated probability land in
the answer sample's `confidence` as `self_predict` and `self_predict_verbal`.

The optional `observer` role (`--role observer=SPEC`, or its alias `--observer-model SPEC`) runs a second stage after
the main run: its model is asked the same questions about "another AI assistant" (kinds `observe_*`), for the
introspective-advantage comparison.
"""
from __future__ import annotations

from dataclasses import dataclass

from evalsuite.errors import UsageError
from evalsuite.protocols.base import GENERIC_SUMMARIES, Protocol, Settings, Turn, render
from evalsuite.protocols.multiround import protocol_card
from evalsuite.records import Doc, Kind, Request, prediction_kind
from evalsuite.options import Options, flag, run_options
from evalsuite.registry import protocol
from evalsuite.roles import Role
from evalsuite.scoring.confidence import PROBABILITY_RE, option_probability, parse_verbal
from evalsuite.scoring.properties import CHOICES, properties_for
from evalsuite.tasks.cards import TaskCard

PREDICT_TOKENS = {"correct": 24, "property": 8}



@run_options("self_predict protocol options")
@dataclass(frozen=True)
class SelfPredictOptions(Options):
    """The observer stage: a second model predicting the first one's behaviour."""

    observer_model: str | None = flag(None, "self_predict: a second model (hf:PATH, vllm:..., openai:..., or "
                                      "'embedded') that predicts the first model's behaviour, for the introspective "
                                      "advantage", parse=str, metavar="SPEC")
    observer_model_args: str | None = flag(None, "backend options of --observer-model, key=value,...", parse=str,
                                           metavar="K=V,...")

    def check(self) -> None:
        if self.observer_model_args and not self.observer_model:
            raise UsageError("--observer-model-args needs --observer-model; add it or drop the args")


@protocol("self_predict")
class SelfPredict(Protocol):
    """Predictions and the answer in round 0; an observer instance asks only the predictions, in third person."""

    summaries = GENERIC_SUMMARIES + ("calibration", "self_predict")
    Options = SelfPredictOptions
    roles = (Role("observer", optional=True, alias="observer_model",
                  help="a second model predicting the first one's behaviour (the observer stage)"),)
    single_round = True

    def __init__(self, card: TaskCard, settings: Settings, observer: bool = False):
        super().__init__(card, settings)
        self.pcard = protocol_card("self_predict")
        self.observer_mode = observer
        self.key = next((k for k in self.pcard.first_prompt if k in card.prompts), None)
        if self.key is None:
            raise UsageError(f"task {card.name} has neither a 'cot' nor a 'direct' prompt; choose another --protocol")
        self.properties = properties_for(card.answer_type)

    def _ask(self, name: str, **fields) -> str:
        return render(self.pcard.prompts[("observer_" if self.observer_mode else "") + name], fields)

    def first(self, doc: Doc) -> list[Request]:
        task = render(self.prompt(self.key), doc.fields)
        who = "observe" if self.observer_mode else "predict"
        reqs = [Request(messages=(("user", self._ask("correct", task=task)),), want=(),
                        kind=prediction_kind(who, "correct"), choices=("Yes", "No"),
                        gen=self.settings.gen(temperature=0.0, max_tokens=PREDICT_TOKENS["correct"], stop=()))]
        for prop in self.properties:
            text = self._ask("property", task=task, question=self._ask(prop))
            reqs.append(Request(messages=(("user", text),), want=(), kind=prediction_kind(who, prop),
                                gen=self.settings.gen(temperature=0.0, max_tokens=PREDICT_TOKENS["property"], stop=()),
                                choices=CHOICES.get(prop)))
        if not self.observer_mode:
            reqs.append(Request(messages=(("user", task),), gen=self.settings.gen(), want=self.settings.want))
        return reqs

    def observer(self) -> "SelfPredict | None":
        """The same predictions asked about "another AI assistant", for the observer model."""
        return None if self.observer_mode else SelfPredict(self.card, self.settings, observer=True)

    def confidence(self, doc: Doc, history: list[list[Turn]], token_offsets) -> dict[int, dict[str, float]]:
        """P(Yes) and the stated probability of the correctness prediction, put on the answer sample."""
        if self.observer_mode:
            return {}
        turns = [t for t in history[0] if t.request.kind == Kind.PREDICT_CORRECT]
        if not turns:
            return {}
        gen = turns[0].generation
        p_yes = option_probability(gen.choice_logprobs, "Yes")
        stated = parse_verbal(gen.text, PROBABILITY_RE)
        nan = float("nan")
        return {0: {"self_predict": nan if p_yes is None else p_yes,
                    "self_predict_verbal": nan if stated is None else stated}}

