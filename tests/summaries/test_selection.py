"""Which summaries run for a group comes from declarations: the protocol's `summaries` and `correction_rounds`, and
the task card's `metrics:`; no summarizer tests a protocol's name or class."""
from __future__ import annotations

import pytest

from evalsuite.protocols.base import GENERIC_SUMMARIES, Protocol, Turn
from evalsuite.records import Doc, Generation, Kind, Request, Sample
from evalsuite.registry import PROTOCOLS
from evalsuite.summaries.base import applicable, summarize

GEN = Generation(text="", token_ids=[1, 2], stats={}, finish_reason="stop", backend="hf", model_id="m")


def answer(doc: str, attempt: int, correct: bool, protocol: str) -> Sample:
    return Sample(task="t", doc_id=doc, protocol=protocol, round=attempt, sample_idx=0, key=f"{doc}{attempt}",
                  request=Request(), generation=GEN, kind=Kind.ANSWER, attempt=attempt, target="1",
                  extracted="1" if correct else "2", correct=correct)


class AskTwice(Protocol):
    """A multi-round protocol outside MultiRound's shape: it asks the same question again, answers only."""

    summaries = GENERIC_SUMMARIES + ("self_correction",)
    correction_rounds = True

    def first(self, doc: Doc) -> list[Request]:
        return [Request(messages=(("user", "q"),))]

    def next(self, doc: Doc, history: list[list[Turn]]) -> list[Request] | None:
        return [Request(messages=(("user", "q"),))] if len(history) <= self.settings.rounds else None


def _metrics(rows) -> set[tuple[int, str]]:
    return {(r.round, str(r.metric)) for r in rows}


def test_a_new_protocol_gets_the_summaries_it_declares(monkeypatch):
    monkeypatch.setitem(PROTOCOLS, "ask_twice", AskTwice)
    # docs a, b answered right then wrong / wrong then right; every chain stopped after one correction
    samples = [answer("a", 0, True, "ask_twice"), answer("a", 1, False, "ask_twice"),
               answer("b", 0, False, "ask_twice"), answer("b", 1, True, "ask_twice")]
    rows, _ = summarize(samples, rounds=2)
    got = _metrics(rows)
    assert (1, "delta") in got and (1, "delta_i2c") in got
    assert (2, "delta") in got, "--rounds 2 pads round 2 for a protocol that counts corrections"
    delta = next(r for r in rows if str(r.metric) == "delta" and r.round == 1)
    assert delta.value == 0.0  # accuracy 1/2 at round 0 and at round 1
    assert "self_correction" in applicable("ask_twice") and "best_of_n" not in applicable("ask_twice")


def test_undeclared_summaries_do_not_run(monkeypatch):
    """The same two-answer chains under a protocol that declares no self-correction summary get none of its rows."""

    class Plain(AskTwice):
        summaries = ("accuracy",)
        correction_rounds = False

    monkeypatch.setitem(PROTOCOLS, "plain", Plain)
    samples = [answer("a", 0, True, "plain"), answer("a", 1, False, "plain")]
    rows, _ = summarize(samples, rounds=2)
    assert {m for _, m in _metrics(rows)} == {"accuracy", "parse_rate", "mean_tokens"}
    assert {r for r, _ in _metrics(rows)} == {0, 1}


def test_a_card_metrics_list_narrows_the_reported_families():
    samples = [answer("a", 0, True, "direct"), answer("b", 0, False, "direct")]
    rows, _ = summarize(samples)
    assert {m for _, m in _metrics(rows)} == {"accuracy", "parse_rate", "mean_tokens"}
    rows, _ = summarize(samples, metrics={"t": ("accuracy",)})
    assert [(str(r.metric), r.value) for r in rows] == [("accuracy", 0.5)]


def test_every_protocol_declares_registered_summaries_only(monkeypatch):
    from evalsuite.registry import load_plugins
    from evalsuite.summaries.base import SUMMARIZERS

    load_plugins()
    for name, cls in PROTOCOLS.items():
        assert set(cls.summaries) <= set(SUMMARIZERS), name
        assert applicable(name)

    class Misspelt(AskTwice):
        summaries = ("accuracy", "self_corection")

    monkeypatch.setitem(PROTOCOLS, "misspelt", Misspelt)
    with pytest.raises(ValueError, match="self_corection"):  # a misspelt name never switches a summary off
        applicable("misspelt")
