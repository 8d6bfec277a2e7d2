"""`evalsuite upgrade RUN_DIR`: rewrite a results.json written before results schema 2 (no `schema_version`) in
place as schema 2, keeping the old file as `results.json.v1`. The only place old files are translated: every other
reader refuses them with one line that names this command.

What changes: rows get their structured names (`name`, `variant`, `params`, read from the `name[variant, K=V]`
text) and the fields older writers left out; plots that were not stored are translated once from the extras shapes
the older summarizers wrote (reporting/legacy.py); a group's extras, once keyed by protocol, are keyed by the group
summarizer that computes them (`self_correction`, `critique`); a missing glossary is built from the installed
metrics. Metric values, CIs and counts are copied unchanged.
"""
from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evalsuite.errors import UsageError
from evalsuite.registry import command

if TYPE_CHECKING:
    from evalsuite.plot_specs import PlotSpec
    from evalsuite.results import GroupResult, MetricRow, Results, TaskResult


def _configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("run_dir", help="a directory whose results.json an older evalsuite wrote")


def _num(v: Any) -> float:
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else math.nan


def _row(d: Any, task: str, where: str) -> MetricRow:
    """A schema-2 metric row from an old row (missing label, protocol, round filled as the old readers did)."""
    from evalsuite.metrics.base import MetricName  # local: numpy; not on every CLI call
    from evalsuite.results import MetricRow  # local: numpy; not on every CLI call

    if not isinstance(d, dict) or not isinstance(d.get("metric"), str):
        raise UsageError(f"{where} is not a metric row (no `metric` text); this file cannot be upgraded")
    n = d.get("n")
    return MetricRow(str(d.get("task") or task), str(d.get("subset") or ""), str(d.get("protocol") or ""),
                     int(d.get("round") or 0), MetricName.from_row(d), _num(d.get("value")), _num(d.get("ci_low")),
                     _num(d.get("ci_high")), n if isinstance(n, int) and not isinstance(n, bool) else 0,
                     str(d.get("direction") or "none"), str(d.get("label") or d["metric"]), str(d.get("note") or ""))


def _plots(sec: dict[str, Any], extras: Any, where: str) -> list[PlotSpec]:
    """The section's stored plot specs, or those the old extras shapes translate to (reporting/legacy.py); an entry
    of no known shape is left out (and said)."""
    from evalsuite.plot_specs import ShapeError, from_dict  # local: numpy; not on every CLI call
    from evalsuite.reporting.legacy import legacy_plots  # local: numpy; not on every CLI call

    stored = sec.get("plots")
    entries = list(enumerate(stored)) if isinstance(stored, list) else \
        list(legacy_plots(extras, [r for r in sec.get("metrics") or [] if isinstance(r, dict)]))
    out = []
    for at, entry in entries:
        try:
            out.append(from_dict(entry))
        except ShapeError as e:
            print(f"note: {where} plot {at} left out ({e})")
    return out


def upgrade_task(name: str, sec: Any) -> TaskResult:
    """A task's old entry as a TaskResult: its known fields, rows with structured names, stored or translated plots."""
    from evalsuite.results import TaskResult  # local: numpy; not on every CLI call

    where = f"tasks.{name}"
    if not isinstance(sec, dict):
        raise UsageError(f"{where} is not an object; this file cannot be upgraded")
    extras = sec.get("extras") if isinstance(sec.get("extras"), dict) else {}
    known = {k: sec[k] for k in TaskResult.__dataclass_fields__ if k in sec and k not in ("metrics", "extras", "plots")}
    rows = [_row(r, name, f"{where}.metrics[{i}]") for i, r in enumerate(sec.get("metrics") or [])]
    return TaskResult(**known, metrics=rows, extras=extras, plots=_plots(sec, extras, where))


def upgrade_group(name: str, sec: Any) -> GroupResult:
    """A group's old entry: extras `{protocol: {"subsets", "pooled", "critique": {...}}}` become
    `{summarizer: {protocol: {"subsets", "pooled"}}}`, and their plots are drawn as the group summarizers draw them."""
    import dataclasses

    from evalsuite.results import GroupResult  # local: numpy; not on every CLI call
    from evalsuite.summaries.critique import verdict_matrix  # local: numpy; not on every CLI call
    from evalsuite.summaries.self_correction import flip_plots  # local: numpy; not on every CLI call

    where = f"groups.{name}"
    if not isinstance(sec, dict):
        raise UsageError(f"{where} is not an object; this file cannot be upgraded")
    extras: dict[str, dict[str, Any]] = {}
    plots, members = [], []
    for proto, ex in (sec.get("extras") or {}).items():
        if isinstance(ex, dict) and "pooled" in ex:
            extras.setdefault("self_correction", {})[proto] = {"subsets": ex.get("subsets", []),
                                                               "pooled": ex["pooled"]}
            plots += flip_plots(ex["pooled"], protocol=proto)
            members += ex.get("subsets", [])
        if isinstance(ex, dict) and isinstance(ex.get("critique"), dict):
            extras.setdefault("critique", {})[proto] = ex["critique"]
            plots.append(dataclasses.replace(verdict_matrix(ex["critique"]["pooled"], "Critique verdicts"),
                                             protocol=proto))
            members += ex["critique"].get("subsets", [])
    if isinstance(sec.get("plots"), list):
        plots = _plots(sec, {}, where)
    rows = [_row(r, name, f"{where}.metrics[{i}]") for i, r in enumerate(sec.get("metrics") or [])]
    return GroupResult(list(dict.fromkeys(members)), list(extras), rows, extras, plots)


def upgrade_results(old: dict[str, Any], source: Path) -> Results:
    """The schema-2 `Results` of an old results.json payload (read from `source`, named in errors)."""
    from evalsuite.reporting.results_file import glossary_of  # local: numpy; not on every CLI call
    from evalsuite.results import MODEL_FIELDS, Results  # local: numpy; not on every CLI call

    missing = [k for k in ("model", "config", "tasks") if not isinstance(old.get(k), dict)]
    if missing:
        raise UsageError(f"{source} has no {missing[0]!r} object; it was not written by `evalsuite run`, so it "
                         "cannot be upgraded")
    tasks = {name: upgrade_task(name, sec) for name, sec in old["tasks"].items()}
    groups = {name: upgrade_group(name, sec) for name, sec in (old.get("groups") or {}).items()}
    rows = [r for sec in [*tasks.values(), *groups.values()] for r in sec.metrics]
    optional = {k: old[k] for k in ("git_hash", "created", "run", "execution", "partial", "rounds_done")
                if old.get(k) is not None}
    return Results(model={**dict.fromkeys(MODEL_FIELDS), **old["model"]}, config=old["config"], tasks=tasks,
                   versions=old.get("versions") or {}, groups=groups,
                   glossary=old.get("glossary") or glossary_of(rows), **optional)


def _read(f: Path) -> Any:
    try:
        return json.loads(f.read_bytes().decode("utf-8"))
    except OSError as e:
        raise UsageError(f"cannot read {f} ({e.strerror or e}); check its permissions") from None
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as e:
        raise UsageError(f"{f} is not JSON text ({type(e).__name__}); it cannot be upgraded") from None


@command("upgrade", "rewrite a run dir's results.json from an older evalsuite as the current schema "
                    "(keeps results.json.v1)", _configure)
def cmd_upgrade(args: argparse.Namespace) -> int:
    from evalsuite.reporting.results_file import write_results  # local: numpy; not on every CLI call
    from evalsuite.results import SCHEMA_VERSION, Results, SchemaError  # local: numpy; not on every CLI call

    run = Path(args.run_dir)
    f, backup = run / "results.json", run / "results.json.v1"
    if not f.is_file():
        raise UsageError(f"{run} has no results.json; pass a directory written by `evalsuite run`")
    old = _read(f)
    if isinstance(old, dict) and old.get("schema_version") == SCHEMA_VERSION:
        print(f"{f} is already at results schema {SCHEMA_VERSION}; nothing to do")
        return 0
    if not isinstance(old, dict) or "schema_version" in old:
        got = old.get("schema_version") if isinstance(old, dict) else "not an object"
        raise UsageError(f"{f} has schema_version {got!r}; only files without one (schema 1) can be upgraded")
    new = upgrade_results(old, f)
    try:
        Results.from_dict(json.loads(json.dumps(new.to_dict(), allow_nan=True)))  # what every reader will check
    except SchemaError as e:
        raise UsageError(f"{f} cannot be upgraded: {e}") from None
    if backup.exists() and backup.read_bytes() != f.read_bytes():
        raise UsageError(f"{backup} exists and differs from {f}; move it aside, then upgrade again")
    try:
        backup.write_bytes(f.read_bytes())
    except OSError as e:
        raise UsageError(f"cannot write {backup} ({e.strerror or e}); check the folder's permissions") from None
    write_results(f, new)
    print(f"upgraded {f} to results schema {SCHEMA_VERSION} (the old file is {backup}); `evalsuite report {run}` "
          "redraws its report.html")
    return 0
