"""The lm-eval task folder: a twin for every single-round task, loadable by lm-eval, with evalsuite's docs,
prompts and scores."""
from __future__ import annotations

import math

import pytest

pytest.importorskip("lm_eval")

from evalsuite.lmeval import build  # noqa: E402
from evalsuite.lmeval.twins import PREFIX, twin_named  # noqa: E402
from evalsuite.protocols.base import Settings  # noqa: E402
from evalsuite.registry import PROTOCOLS  # noqa: E402
from evalsuite.tasks.cards import TaskCard, catalog  # noqa: E402
from evalsuite.tasks.loader import load_docs  # noqa: E402

ISSUE_TASKS = ("gsm8k", "math500", "correctbench_aqua", "correctbench_csqa", "correctbench_hotpotqa", "cruxeval_o",
               "cruxeval_i", "humaneval", "critic_gsm8k", "critic_truthfulqa")
ONE_CALL_PROTOCOLS = ("direct", "cot")


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return build(tmp_path_factory.mktemp("lm-eval-tasks"))


@pytest.fixture(scope="module")
def manager(folder):
    from lm_eval.tasks import TaskManager

    return TaskManager(include_path=str(folder.path), include_defaults=False)


def test_every_available_task_has_a_twin_or_a_reason(folder):
    twins = {t.name for t in folder.twins}
    skipped = {s.name: s.reason for s in folder.skipped}
    for name, card in catalog().items():
        if not isinstance(card, TaskCard):
            continue
        twin = PREFIX + name
        assert twin in twins or twin in skipped, f"{name} has neither a twin nor a reason"
        if card.protocol in ONE_CALL_PROTOCOLS and not card.unavailable and not card.data.get("download"):
            assert twin in twins, f"single-round task {name} lost its twin: {skipped.get(twin)}"
    for name in ISSUE_TASKS:
        if name in catalog():
            assert PREFIX + name in twins, skipped.get(PREFIX + name)
    assert {"evalsuite_gsm8k", "evalsuite_math500", "evalsuite_gsm8k_conf"} <= twins


def test_lm_eval_indexes_every_twin_and_group_without_shadowing_builtins(folder, manager):
    from pathlib import Path

    import lm_eval.tasks

    assert {t.name for t in folder.twins} <= set(manager.all_subtasks)
    assert set(folder.groups) <= set(manager.all_groups)
    assert {"evalsuite", "evalsuite_conf"} <= set(folder.groups)
    assert all(name.startswith("evalsuite") for name in manager.all_tasks)
    builtin = [p for p in Path(lm_eval.tasks.__file__).parent.rglob("*.yaml") if "evalsuite" in p.read_text()]
    assert builtin == []
    assert set(folder.groups["evalsuite_cruxeval"]) == {"evalsuite_cruxeval_o", "evalsuite_cruxeval_i"}


def test_data_paths_are_absolute_files(folder):
    import yaml

    text = (folder.path / "evalsuite_gsm8k.yaml").read_text()
    assert "dataset_path: json" in text and "!function" in text
    cfg = yaml.load(text.replace("!function", ""), Loader=yaml.SafeLoader)
    (path,) = cfg["dataset_kwargs"]["data_files"]["test"]
    assert path.startswith("/") and path.endswith("gsm8k/test.jsonl")
    assert cfg["generation_kwargs"]["until"] == [] and cfg["generation_kwargs"]["do_sample"] is False
    crux = yaml.load((folder.path / "evalsuite_cruxeval_o.yaml").read_text().replace("!function", ""),
                     Loader=yaml.SafeLoader)
    assert crux["generation_kwargs"]["until"] == ["[/ANSWER]"]
    assert "unsafe_code" not in crux
    assert "unsafe_code: true" in (folder.path / "evalsuite_humaneval.yaml").read_text()


@pytest.mark.parametrize("task", ["evalsuite_gsm8k", "evalsuite_math500", "evalsuite_cruxeval_o",
                                  "evalsuite_critic_gsm8k", "evalsuite_correctbench_aqua"])
def test_lm_eval_docs_and_prompts_are_evalsuites(manager, task):
    """lm-eval's docs, prompt text and target equal evalsuite's load_docs + the default protocol's round 0."""
    twin = twin_named(task)
    card = twin.card
    lm_task = manager.load([task])["tasks"][task]
    lm_docs = list(lm_task.test_docs())[:3]
    docs = load_docs(card, limit=3)
    proto = PROTOCOLS[card.protocol](card, Settings())
    for lm_doc, doc in zip(lm_docs, docs):
        request = proto.first(doc)[0]
        assert lm_task.doc_to_text(lm_doc) == request.messages[-1][1]
        assert lm_task.doc_to_target(lm_doc) == doc.target
        assert lm_doc["_evalsuite_doc_id"] == doc.doc_id
        assert {k: v for k, v in lm_doc.items() if not k.startswith("_evalsuite_")} == doc.fields


def _results(task: str, doc_index: int, reply: str) -> dict:
    from evalsuite.lmeval import hooks

    twin = twin_named(task)
    doc = hooks._rows(twin, load_docs(twin.card, limit=doc_index + 1))[doc_index]
    return getattr(hooks, f"process_results__{twin.key}")(doc, [reply])


def test_process_results_scores_like_evalsuite():
    # GSM8K test doc 0: Janet's ducks, gold 18.
    right = _results("evalsuite_gsm8k", 0, "16 - 3 - 4 = 9 eggs, 9 * 2 = 18.\n#### 18")
    assert right == {"accuracy": 1.0, "accuracy[official]": 1.0, "parse_rate": 1.0}
    assert _results("evalsuite_gsm8k", 0, "The answer is 17.")["accuracy"] == 0.0
    flexible_only = _results("evalsuite_gsm8k", 0, "So she makes $18 a day.")
    assert flexible_only["accuracy"] == 1.0 and flexible_only["accuracy[official]"] == 0.0
    # MATH-500 doc 0: gold \left( 3, \frac{\pi}{2} \right).
    math = _results("evalsuite_math500", 0, "The point is $\\boxed{\\left( 3, \\frac{\\pi}{2} \\right)}$.")
    assert math["accuracy"] == 1.0 and math["parse_rate"] == 1.0


def test_code_twins_execute_in_the_sandbox():
    from evalsuite.tasks.loader import load_docs

    # CRUXEval-O sample_0: f([1, 1, 3, 1, 3, 1]) returns [(4, 1), (4, 1), (4, 1), (4, 1), (2, 3), (2, 3)]
    right = "[ANSWER]\nassert f([1, 1, 3, 1, 3, 1]) == [(4, 1), (4, 1), (4, 1), (4, 1), (2, 3), (2, 3)]\n[/ANSWER]"
    assert _results("evalsuite_cruxeval_o", 0, right)["accuracy"] == 1.0
    assert _results("evalsuite_cruxeval_o", 0, right.replace("(2, 3)]", "(2, 4)]"))["accuracy"] == 0.0
    (doc,) = load_docs(catalog()["humaneval"], limit=1)
    solution = "```python\n" + doc.fields["prompt"] + doc.fields["canonical_solution"] + "```"
    assert _results("evalsuite_humaneval", 0, solution)["accuracy"] == 1.0
    assert _results("evalsuite_humaneval", 0, "```python\ndef has_close_elements(n, t):\n    return 1\n```")[
        "accuracy"] == 0.0


def test_confidence_variant_masks_the_statement_and_reports_it():
    got = _results("evalsuite_gsm8k_conf", 0, "#### 18\nConfidence: 80%")
    assert got["accuracy"] == 1.0  # the last number, 80, is the confidence, not the answer
    assert got["ece"] == (0.8, True) and got["confidence_missing"] == 0.0
    missing = _results("evalsuite_gsm8k_conf", 0, "#### 18")
    assert missing["ece"] == (None, True) and missing["confidence_missing"] == 1.0


def test_calibration_aggregations_hand_worked():
    from evalsuite.lmeval import hooks

    items = [(0.8, True), (0.6, False), (None, True)]
    # bins: 0.8 -> acc 1 (gap 0.2), 0.6 -> acc 0 (gap 0.6); the unparsed item is left out: (0.2 + 0.6) / 2
    assert hooks.ece(items) == pytest.approx(0.4)
    assert hooks.brier(items) == pytest.approx((0.2 ** 2 + 0.6 ** 2) / 2)
    assert hooks.conf_auroc(items) == pytest.approx(1.0)
    assert math.isnan(hooks.ece([(None, True)]))


def test_unknown_hook_names():
    from evalsuite.errors import UsageError
    from evalsuite.lmeval import hooks

    with pytest.raises(AttributeError):
        hooks.__getattr__("no_such_hook__gsm8k")
    with pytest.raises(UsageError, match="no lm-eval twin named"):
        hooks.__getattr__("process_results__no_such_task")
