"""A benchmark's code beside its card: `scorer: !function utils.Class` and `!function` data hooks, resolved in the
folder of the YAML file that names them, run from `--include-path` (as lm-eval's `!function utils.x`)."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from evalsuite.errors import UsageError
from evalsuite.tasks.card_code import FunctionRef, scorer_label
from evalsuite.tasks.cards import _catalog, parse_card

CARD = """\
name: shout_numbers
description: a folder task whose scorer and data hook are Python beside the card
size: 4
answer_type: number
scorer: !function utils.LastWordScorer
protocol: direct
data:
  files: shout_numbers/data.jsonl
  prepare: !function utils.upper_question
prompts:
  direct: "{{ question }}"
"""
UTILS = '''\
from evalsuite.scoring.base import Score, Scorer


class LastWordScorer(Scorer):
    """Right when the reply's last word is the gold answer."""

    primary = "last_word"

    def gold(self, fields):
        return str(fields["answer"])

    def score(self, output, target, fields=None):
        words = output.split()
        got = words[-1].strip(".") if words else None
        return Score(extracted=got, correct=got == target, conventions={"last_word": got == target})


def upper_question(record):
    return {**record, "question": record["question"].upper()}
'''
DOCS = [("what is two plus two", "4"), ("what is one plus one", "2"), ("what is three plus five", "8"),
        ("what is ten minus six", "4")]


@pytest.fixture
def task_folder(tmp_path):
    folder = tmp_path / "cards" / "shout_numbers"
    folder.mkdir(parents=True)
    (folder / "shout_numbers.yaml").write_text(CARD)
    (folder / "utils.py").write_text(UTILS)
    (folder / "data.jsonl").write_text("".join(json.dumps({"question": q, "answer": a}) + "\n" for q, a in DOCS))
    return tmp_path / "cards"


def test_function_tags_parse_relative_to_the_card_file(task_folder):
    card = parse_card(task_folder / "shout_numbers" / "shout_numbers.yaml", task_folder)
    assert card.scorer == FunctionRef("utils", "LastWordScorer", (task_folder / "shout_numbers").resolve())
    assert str(card.scorer) == "utils.LastWordScorer"


def test_a_folder_task_with_its_own_scorer_runs_from_include_path(task_folder, tmp_path, monkeypatch, cli):
    """The mock model answers "The answer is 4." to everything: right on docs 0 and 3, so accuracy 2/4; the
    prepare hook upper-cases every prompt."""
    monkeypatch.setenv("EVALSUITE_TASKS_PATH", "")
    out = tmp_path / "run"
    res = cli("run", "--tasks", "shout_numbers", "--include-path", str(task_folder), "--model", "mock:m",
              "--model-args", "reply=The answer is 4.", "--output-dir", str(out), "--no-progress")
    assert res.returncode == 0, res.stderr
    samples = [json.loads(x) for x in (out / "samples.jsonl").read_text().splitlines()]
    assert [s["correct"] for s in samples] == [True, False, False, True]
    assert all(s["prompt"][0]["content"].isupper() for s in samples)
    rows = {r["metric"]: r for r in json.loads((out / "results.json").read_text())["tasks"]["shout_numbers"]["metrics"]}
    assert rows["accuracy"]["value"] == 0.5 and rows["accuracy"]["n"] == 4
    listing = cli("tasks", "--include-path", str(task_folder))
    assert "utils.LastWordScorer" in listing.stdout


def test_a_missing_module_or_a_non_scorer_is_one_line(task_folder, tmp_path, monkeypatch, cli):
    monkeypatch.setenv("EVALSUITE_TASKS_PATH", "")
    card = task_folder / "shout_numbers" / "shout_numbers.yaml"
    args = ("run", "--tasks", "shout_numbers", "--include-path", str(task_folder), "--model", "mock:m",
            "--output-dir", str(tmp_path / "run"), "--no-progress")
    card.write_text(CARD.replace("utils.LastWordScorer", "helpers.LastWordScorer"))
    res = cli(*args)
    assert res.returncode == 2 and "helpers.py" in res.stderr and len(res.stderr.splitlines()) == 1
    card.write_text(CARD.replace("utils.LastWordScorer", "utils.upper_question"))
    _catalog.cache_clear()  # the catalog is parsed once per process; this test rewrote the card
    res = cli(*args)
    assert res.returncode == 2 and "not a subclass" in res.stderr and len(res.stderr.splitlines()) == 1


def test_a_malformed_tag_is_a_usage_error(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(CARD.replace("!function utils.LastWordScorer", "!function nodot"))
    with pytest.raises(UsageError, match="module.name"):
        parse_card(path, tmp_path)


def test_the_tasks_listing_names_a_registered_scorer_class_by_its_registered_name(tmp_path):
    (tmp_path / "utils.py").write_text(
        'from evalsuite.registry import scorer\n\n\n'
        '@scorer("last_word")\nclass Registered:\n    pass\n\n\n'
        'class Unregistered(Registered):  # a subclass is not registered under the parent\'s name\n    pass\n\n\n'
        'raise RuntimeError("listing must not run this file")\n')

    def ref(attr: str, module: str = "utils") -> FunctionRef:
        return FunctionRef(module, attr, tmp_path)

    assert scorer_label(ref("Registered")) == "last_word"
    assert scorer_label(ref("Unregistered")) == "utils.Unregistered"
    assert scorer_label(ref("Gone", module="nofile")) == "nofile.Gone"  # no such file: the card's text
    assert scorer_label("choice") == "choice"  # a card that names a registered scorer directly


def test_evalsuite_tasks_shows_the_registered_names_of_the_moved_scorers():
    # gsm8k.yaml says `scorer: !function utils.GSM8KScorer`; tasks/gsm8k/utils.py declares it `@scorer("gsm8k")`
    out = subprocess.run([sys.executable, "-m", "evalsuite", "tasks"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    scorer_of = {cells[1].strip(): cells[4].strip() for line in out.stdout.splitlines()
                 if len(cells := line.split("│")) == 8 and cells[1].strip()}
    assert {t: scorer_of[t] for t in ("gsm8k", "cruxeval_i", "correctbench_hotpotqa", "critic_humaneval", "rl_mia",
                                      "math500")} == \
        {"gsm8k": "gsm8k", "cruxeval_i": "cruxeval_i", "correctbench_hotpotqa": "hotpotqa",
         "critic_humaneval": "humaneval", "rl_mia": "rl_mia", "math500": "math"}
