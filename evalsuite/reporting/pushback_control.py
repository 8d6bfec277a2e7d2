"""The control beside a pushback run: another run of the same task (usually `--pushback neutral`) whose per-turn
accuracy and flip matrices report.html draws right after this run's, so a challenge's effect is read against the
plain "check once more" on the same items. The control is named by `--pushback-control DIR` when the run is made
(results.json config.options) or by `evalsuite report RUN_DIR --control DIR`."""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from evalsuite.errors import UsageError
from evalsuite.reporting import plots
from evalsuite.reporting.glossary import Glossary
from evalsuite.rundir import RunDir, load_run

DRAWN = ("flip_matrix",)
"""The control's plot kinds drawn beside the run's (with its per-turn accuracy plot)."""


def control_dir(run: RunDir, given: str | Path | None = None) -> str | None:
    """The control run named for `run`: `given`, else its config's `pushback_control` option, else None."""
    if given:
        return str(given)
    value = (run.results.config.get("options") or {}).get("pushback_control")
    return str(value) if value else None


def _label(control: RunDir) -> str:
    opts = control.results.config.get("options") or {}
    kind = opts.get("pushback") or control.results.config.get("protocol") or "control"
    return f"Control ({kind}, {control.name})"


def control_figures(run: RunDir, task: str, given: str | Path | None = None) -> tuple[list[Any], list[str]]:
    """The control run's figures for `task`, titled as the control's; a note instead when it cannot be read."""
    where = control_dir(run, given)
    if not where:
        return [], []
    try:
        control = load_run(where)
    except UsageError as e:
        return [], [f"control run not drawn: {e}"]
    section = control.results.tasks.get(task)
    if section is None:
        return [], [f"control run {control.name} has no task {task}"]
    keep = dataclasses.replace(section, plots=[p for p in section.plots if p.KIND in DRAWN])
    figures, notes = plots.task_figures(keep, Glossary.from_dict(control.results.glossary))
    label = _label(control)
    return [dataclasses.replace(f, title=f"{label}: {f.title}") for f in figures], notes
