"""A pushback run's report draws its neutral control's per-turn accuracy and flip matrices beside its own, named by
--pushback-control at run time or `evalsuite report --control`; a control without results.json is refused."""
from __future__ import annotations

import re

import pytest

from evalsuite import evaluate
from evalsuite.backends.mock import MockBackend
from evalsuite.errors import UsageError
from evalsuite.reporting.html import write_report


def _run(kind, out, **opts):
    model = MockBackend("control", model_args={"reply": "Answer: A"})
    return evaluate(tasks="correctbench_csqa", model=model, limit=4, protocol="pushback", output_dir=out,
                    options={"pushback": kind, **opts}, max_tokens=32, progress=False, log=lambda m: None)


def _titles(page: str) -> list[str]:
    return re.findall(r"<figcaption[^>]*><b>(.*?)</b>", page)


def test_control_figures_are_drawn_beside_the_runs_own(tmp_path):
    _run("neutral", tmp_path / "neutral")
    _run("suggest_wrong", tmp_path / "suggest", pushback_control=str(tmp_path / "neutral"))
    titles = _titles((tmp_path / "suggest" / "report.html").read_text())
    mine = [t for t in titles if not t.startswith("Control")]
    theirs = [t for t in titles if t.startswith("Control (neutral, neutral): ")]
    assert any("Flips from attempt 0 to attempt 1" in t for t in mine)
    assert [t.split(": ", 1)[1] for t in theirs] == mine[: len(theirs)] and len(theirs) == 2
    # the same from `evalsuite report --control` for a run made without it
    out = write_report(tmp_path / "neutral", tmp_path / "r.html", control=tmp_path / "suggest")
    assert any(t.startswith("Control (suggest_wrong, suggest): Flips") for t in _titles(out.read_text()))


def test_a_control_without_results_is_refused_before_any_model_call(tmp_path):
    with pytest.raises(UsageError, match="--pushback-control .* has no results.json"):
        _run("are_you_sure", tmp_path / "x", pushback_control=str(tmp_path / "missing"))
