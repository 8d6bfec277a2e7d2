"""Group aggregation is declared by the group card (`aggregate:`) and applied by name from the group summarizer
registry: a new summarizer needs no edit where groups are summarized, an undeclared one is not run, and an unknown
name is refused with one line before any model call."""
from __future__ import annotations

from pathlib import Path

import pytest

from evalsuite.errors import UsageError
from evalsuite.records import Generation, Request, Sample
from evalsuite.registry import GROUP_SUMMARIZERS, group_summarizer, load_plugins
from evalsuite.summaries import Summary
from evalsuite.summaries.base import Group
from evalsuite.summaries.groups import Members, group_cards, summarize_groups
from evalsuite.tasks.cards import GroupCard, catalog


def _answer(task: str, doc: str, correct: bool) -> Sample:
    gen = Generation(text="", token_ids=[1], stats={}, finish_reason="stop", backend="hf", model_id="m")
    return Sample(task=task, doc_id=doc, protocol="direct", round=0, sample_idx=0, key=task + doc,
                  request=Request(prompt="q"), generation=gen, kind="answer", attempt=0, target="1", extracted="1",
                  correct=correct)


def _card_folder(tmp_path: Path, monkeypatch, aggregate: str) -> None:
    folder = tmp_path / "cards"
    folder.mkdir(parents=True)
    (folder / "pair.yaml").write_text(f"name: pair\ndescription: two\n{aggregate}tasks: [gsm8k, math500]\n")
    monkeypatch.setenv("EVALSUITE_TASKS_PATH", str(folder))


@pytest.fixture
def members_counted():
    """A group summarizer registered as a plugin would be: one row, the number of member tasks with samples."""
    @group_summarizer("members_counted")
    def count(m: Members) -> Summary:
        g = Group(m.group, m.protocol, [s for ss in m.samples.values() for s in ss])
        return Summary([g.row(-1, "accuracy", len(m.samples), (0.0, 0.0), len(m.samples))], {"n": len(m.samples)})

    yield
    del GROUP_SUMMARIZERS["members_counted"]


def test_every_shipped_group_declares_registered_summarizers():
    load_plugins()
    groups = {n: c.aggregate for n, c in catalog().items() if isinstance(c, GroupCard)}
    assert groups["correctbench"] == ("self_correction",) and groups["criticbench"] == ("self_correction", "critique")
    assert all(set(agg) <= set(GROUP_SUMMARIZERS) for agg in groups.values())


def test_the_card_decides_which_summarizers_run(tmp_path, monkeypatch, members_counted):
    samples = [_answer("gsm8k", "0", True), _answer("gsm8k", "1", False), _answer("math500", "0", True)]
    _card_folder(tmp_path, monkeypatch, "aggregate: members_counted\n")
    rows, groups = summarize_groups("pair,gsm8k", samples)
    assert [(r.task, r.metric.text, r.value) for r in rows] == [("pair", "accuracy", 2.0)]
    assert groups["pair"].aggregate == ["members_counted"] and groups["pair"].extras == {"members_counted":
                                                                                         {"direct": {"n": 2}}}
    _card_folder(tmp_path / "none", monkeypatch, "")
    assert summarize_groups("pair", samples) == ([], {}), "a card that declares nothing gets per-task results only"


def test_an_unknown_aggregate_is_one_line_before_the_run(tmp_path, monkeypatch, cli):
    _card_folder(tmp_path, monkeypatch, "aggregate: [self_correction, nope]\n")
    with pytest.raises(UsageError, match="group pair declares aggregate nope, which no group summarizer is "
                                         "registered as; choose from: .*critique.*self_correction"):
        group_cards(["pair"])
    cli("run", "--tasks", "pair", "--model", "mock:m", "--limit", "1", "--output-dir", str(tmp_path / "out")
        ).one_line(2, "aggregate nope")
    assert not (tmp_path / "out" / "samples.sqlite").exists(), "refused before any model call"


def test_a_malformed_aggregate_is_refused_at_the_card(tmp_path, monkeypatch):
    _card_folder(tmp_path, monkeypatch, "aggregate: {self_correction: 1}\n")
    with pytest.raises(UsageError, match="aggregate must name group summarizers"):
        catalog()
