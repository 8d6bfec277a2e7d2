"""The code task cards: CRUXEval-O/-I (group `cruxeval`) and HumanEval, their data, prompts and stop string."""
from __future__ import annotations

import re

import pytest

from evalsuite.protocols.base import Settings, render
from evalsuite.registry import PROTOCOLS, lookup
from evalsuite.tasks import catalog, load_docs, resolve_tasks
from evalsuite.tasks.card_code import scorer_class


def test_cruxeval_group_expands_to_both_modes():
    assert [c.name for c in resolve_tasks("cruxeval")] == ["cruxeval_o", "cruxeval_i"]


@pytest.mark.parametrize("name, size, first_id, first_target", [
    ("cruxeval_o", 800, "sample_0", "[(4, 1), (4, 1), (4, 1), (4, 1), (2, 3), (2, 3)]"),
    ("cruxeval_i", 800, "sample_0", "f([1, 1, 3, 1, 3, 1])"),
    ("humaneval", 164, "HumanEval/0", None),
])
def test_data_loads_with_ids_and_golds(name, size, first_id, first_target):
    card = catalog()[name]
    docs = load_docs(card)
    assert len(docs) == card.size == size and len({d.doc_id for d in docs}) == size
    assert docs[0].doc_id == first_id
    if first_target is not None:
        assert docs[0].target == first_target
    else:
        assert docs[0].target.startswith("    for idx, elem in enumerate(numbers):")


@pytest.mark.parametrize("name, shown", [("cruxeval_o", "assert f([1, 1, 3, 1, 3, 1]) == ??"),
                                         ("cruxeval_i", "assert f(??) == [(4, 1), (4, 1)")])
def test_cruxeval_prompts_keep_the_official_structure(name, shown):
    card = catalog()[name]
    doc = load_docs(card, limit=1)[0]
    direct, cot = render(card.prompts["direct"], doc.fields), render(card.prompts["cot"], doc.fields)
    assert direct.count("[ANSWER]\nassert f(") == 2 and "[THOUGHT]\n" not in direct  # two worked examples
    assert cot.count("[THOUGHT]\n") == 1 and cot.count("[ANSWER]\nassert f(") == 1  # one, with its reasoning
    for text in (direct, cot):
        assert text.rstrip().endswith("[/PYTHON]") and shown in text and doc.fields["code"] in text
    assert card.extra["stop"] == ["[/ANSWER]"]


@pytest.mark.parametrize("protocol", ["direct", "cot", "exec_feedback"])
def test_requests_stop_at_the_answer_tag(protocol):
    card = catalog()["cruxeval_o"]
    proto = lookup(PROTOCOLS, "protocol", protocol)(card, Settings(max_tokens=32))
    req = proto.first(load_docs(card, limit=1)[0])[0]
    assert req.gen.stop == ("[/ANSWER]",) and req.gen.max_tokens == 32
    plain = lookup(PROTOCOLS, "protocol", "direct")(catalog()["humaneval"], Settings())
    assert plain.first(load_docs(catalog()["humaneval"], limit=1)[0])[0].gen.stop == ()


def test_humaneval_prompt_shows_the_stub_in_a_python_block():
    card = catalog()["humaneval"]
    doc = load_docs(card, limit=1)[0]
    text = render(card.prompts["direct"], doc.fields)
    assert re.search(r"```python\n" + re.escape(doc.fields["prompt"]) + "```$", text)


def test_correctbench_humaneval_subset_is_available():
    card = catalog()["correctbench_humaneval"]
    assert card.unavailable is None and scorer_class(card).registry_name == "humaneval"
    assert len(load_docs(card, limit=5)) == 5
