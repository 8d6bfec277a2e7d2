"""A regex-scored single-round task added from a folder outside the package: one YAML card plus its data folder,
found through $EVALSUITE_TASKS_PATH, run on the tiny model and scored by the filters its card declares."""
from __future__ import annotations

import json
import re

import pytest

from evalsuite import evaluate
from evalsuite.registry import SCORERS, lookup
from evalsuite.tasks import catalog, load_docs

CARD = r"""name: iso_dates
description: Dates of well-known events, answered as ISO 8601 dates.
size: 3
answer_type: date
scorer: regex
protocol: direct
target: date
filter_list:
  - {name: strict, regex: 'Answer:\s*(\d{4}-\d{2}-\d{2})'}
  - {name: flexible, regex: '\d{4}-\d{2}-\d{2}', group_select: -1}
data:
  files: iso_dates/dates.jsonl
  required_fields: [question, date]
prompts:
  direct: |-
    {{ question }}
    End with a line "Answer: YYYY-MM-DD".
"""
ROWS = [{"question": "On what date did Apollo 11 land on the Moon?", "date": "1969-07-20"},
        {"question": "On what date did the Berlin Wall fall?", "date": "1989-11-09"},
        {"question": "On what date did the Titanic sink?", "date": "1912-04-15"}]
STRICT = re.compile(r"Answer:\s*(\d{4}-\d{2}-\d{2})")


@pytest.fixture
def tasks_path(tmp_path, monkeypatch):
    root = tmp_path / "my_tasks"
    (root / "iso_dates").mkdir(parents=True)
    (root / "iso_dates.yaml").write_text(CARD)
    (root / "iso_dates" / "dates.jsonl").write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    monkeypatch.setenv("EVALSUITE_TASKS_PATH", str(root))
    return root


def test_the_folder_task_is_in_the_catalog_and_scores_by_its_filters(tasks_path):
    card = catalog()["iso_dates"]
    assert card.home == tasks_path and card.unavailable is None
    docs = load_docs(card)
    assert [d.target for d in docs] == ["1969-07-20", "1989-11-09", "1912-04-15"]
    sc = lookup(SCORERS, "scorer", card.scorer).for_card(card)
    right = sc.score("Apollo 11 launched 1969-07-16.\nAnswer: 1969-07-20", docs[0].target)
    assert (right.extracted, right.correct, right.conventions) == ("1969-07-20", True,
                                                                   {"strict": True, "flexible": True})
    loose = sc.score("It fell on 1989-11-09.", docs[1].target)
    assert (loose.extracted, loose.correct, loose.conventions) == (None, False, {"strict": False, "flexible": True})


def test_the_folder_task_runs_end_to_end_on_the_tiny_model(tasks_path, tiny_model_dir, tmp_path):
    out = tmp_path / "run"
    evaluate(tasks="iso_dates", model=f"hf:{tiny_model_dir}", limit=3, output_dir=out, max_tokens=12,
             progress=False, log=lambda m: None)
    payload = json.loads((out / "results.json").read_text())
    task = payload["tasks"]["iso_dates"]
    assert task["n_docs"] == 3 and task["primary_convention"] == "strict"
    samples = [json.loads(x) for x in (out / "samples.jsonl").read_text().splitlines()]
    assert [s["target"] for s in samples] == [r["date"] for r in ROWS]
    for s in samples:
        m = STRICT.search(s["output"])
        assert s["extracted"] == (m.group(1) if m else None)
        assert s["correct"] == (s["extracted"] == s["target"]) and set(s["conventions"]) == {"strict", "flexible"}


def test_the_folder_task_runs_from_the_cli_with_include_path(tasks_path, tiny_model_dir, tmp_path, monkeypatch, cli):
    monkeypatch.setenv("EVALSUITE_TASKS_PATH", "")
    out = tmp_path / "cli-run"
    res = cli("run", "--tasks", "iso_dates", "--include-path", str(tasks_path), "--model", f"hf:{tiny_model_dir}",
              "--limit", "2", "--max-tokens", "4", "--output-dir", str(out))
    assert res.returncode == 0, res.stderr
    samples = [json.loads(x) for x in (out / "samples.jsonl").read_text().splitlines()]
    assert [s["target"] for s in samples] == ["1969-07-20", "1989-11-09"]
