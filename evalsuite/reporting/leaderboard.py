"""`evalsuite leaderboard`: merge run dirs into one table, a row per (model, protocol, settings) (leaderboard.csv,
.md, .html).

Columns come from a spec (see leaderboard_spec.py). A cell is missing when the run lacks the metric, when it is
undefined (NaN), or when several rows match it (e.g. two protocols and the spec names none); missing cells are never
0 and an entrant missing a weighted column gets no overall score. When runs used different configs for the same
task (protocol, docs, data files, generation settings), every column of that task is flagged. Runs of one model under
different protocols or settings are different rows, labelled by what differs, so they are never one row with holes.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, replace
from typing import Any

from evalsuite.errors import UsageError
from evalsuite.reporting.leaderboard_spec import Column, Spec, default_spec
from evalsuite.results import GroupResult, MetricRow, TaskResult
from evalsuite.rundir import RunDir

CONFIG_KEYS = ("max_tokens", "temperature", "top_p", "samples", "rounds", "token_stats", "options")
"""Run config that changes a task's numbers (with the task's protocol, doc count, data and scoring convention)."""


@dataclass(frozen=True)
class Cell:
    """One entrant's value in one column, or why it is missing (`value` None)."""

    value: float | None
    ci_low: float | None = None
    ci_high: float | None = None
    n: int | None = None
    run: str = ""
    round: int | None = None
    protocol: str = ""
    missing: str = ""


@dataclass
class Entry:
    """One leaderboard row: a model under one protocol set and one set of settings (runs that cover the same task
    are never mixed in one row)."""

    key: tuple[str, str, str]
    model: dict[str, Any]
    protocol: str = ""
    settings: tuple[tuple[str, str], ...] = ()
    runs: list[RunDir] = field(default_factory=list)
    cells: dict[str, Cell] = field(default_factory=dict)
    ranks: dict[str, int] = field(default_factory=dict)
    overall: float | None = None
    overall_missing: list[str] = field(default_factory=list)
    rank: int | None = None
    label: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def tasks(self) -> set[str]:
        return {t for r in self.runs for t in _sections(r)}

    @property
    def task_protocols(self) -> set[tuple[str, str]]:
        return {tp for r in self.runs for tp in _task_protocols(r)}


@dataclass
class Board:
    spec: Spec
    columns: list[Column]
    entries: list[Entry]
    task_flags: dict[str, str]
    notes: list[str]

    def all_notes(self) -> list[str]:
        """Board-wide notes, then each entrant's (ambiguous or undefined cells)."""
        return self.notes + [f"{e.label}: {n}" for e in self.entries for n in e.notes]

    def flags_for(self, e: Entry) -> list[str]:
        """The config flags of the tasks this entrant ran."""
        return [f"{t}: {msg}" for t, msg in sorted(self.task_flags.items()) if t in e.tasks]


def _sections(run: RunDir) -> dict[str, TaskResult | GroupResult]:
    """A run's tasks and groups (groups hold rows aggregated over their subsets), by name."""
    return run.results.sections()


def _task_protocols(run: RunDir) -> set[tuple[str, str]]:
    return {(name, r.protocol) for name, t in _sections(run).items() for r in t.metrics}


def _finite(x: float | None) -> float | None:
    return x if isinstance(x, (int, float)) and math.isfinite(x) else None


def _model_key(run: RunDir) -> tuple[str, str, str]:
    m = run.results.model
    return (str(m.get("backend", "")), str(m.get("model_id") or m.get("spec", "")), str(m.get("revision", "")))


def _protocols(run: RunDir) -> str:
    """The protocols a run used, as a row shows them (`cot`, `review+self_refine`)."""
    return "+".join(sorted({p for _, p in _task_protocols(run)} - {""})) or "-"


def _settings(run: RunDir) -> tuple[tuple[str, str], ...]:
    """The run config that changes numbers (CONFIG_KEYS), as comparable strings."""
    cfg = run.results.config
    return (*((k, _short(cfg.get(k))) for k in CONFIG_KEYS), ("roles", _short(_roles(run))))


def _roles(run: RunDir) -> dict[str, str]:
    """The models of the run's roles (a critic's or an arguer's model changes the numbers as the main one does)."""
    roles = run.results.model.get("roles") or {}
    return {name: f"{r.get('backend')}:{r.get('model_id')}@{str(r.get('revision') or '')[:12]}"
            for name, r in sorted(roles.items()) if isinstance(r, dict)}


def _assign(runs: list[RunDir]) -> tuple[list[Entry], list[str]]:
    """Group runs into rows of one model, protocol set and settings; a run that covers a task an earlier run of
    that row covers starts its own row, so the two are never mixed."""
    entries: list[Entry] = []
    notes = []
    for run in runs:
        key, proto, sets, tasks = _model_key(run), _protocols(run), _settings(run), set(_sections(run))
        same = [e for e in entries if (e.key, e.protocol, e.settings) == (key, proto, sets)]
        home = next((e for e in same if not (e.tasks & tasks)), None)
        if home is None:
            if same:
                notes.append(f"{key[1]}: runs {', '.join(r.name for e in same for r in e.runs)} and {run.name} "
                             f"cover the same task with the same protocol and settings; kept as separate rows")
            home = Entry(key, run.results.model, proto, sets)
            entries.append(home)
        home.runs.append(run)
    _label(entries)
    return entries, notes


def _label(entries: list[Entry]) -> None:
    """Each row's label: the model, then (only where rows differ in them) backend and revision, protocol, the
    settings that differ between the model's rows, and as a last resort the run names."""
    show_protocol = len({e.protocol for e in entries}) > 1
    by_name: dict[str, list[Entry]] = {}
    for e in entries:
        by_name.setdefault(e.key[1], []).append(e)
    for name, es in by_name.items():
        for e in es:
            parts = [name + (f" ({e.key[0]}, {e.key[2]})" if len({x.key for x in es}) > 1 else "")]
            if show_protocol:
                parts.append(e.protocol)
            peers = [dict(x.settings) for x in es if (x.key, x.protocol) == (e.key, e.protocol)]
            mine = dict(e.settings)
            parts += [f"{k}={v}" for k, v in mine.items() if any(p.get(k) != v for p in peers)]
            e.label = " · ".join(parts)
        twins = [e for e in es if sum(x.label == e.label for x in es) > 1]
        for e in twins:
            e.label += " [" + ", ".join(r.name for r in e.runs) + "]"


def _cell(run: RunDir, col: Column) -> Cell:
    task = _sections(run).get(col.task)
    if task is None:
        return Cell(None, missing="task not run")
    rows = [r for r in task.metrics if r.metric == col.metric
            and (col.protocol is None or r.protocol == col.protocol)
            and (col.subset is None or r.subset == col.subset)]
    if not rows:
        return Cell(None, run=run.name, missing="metric not in run")
    rnd = max(r.round for r in rows) if col.round == "last" else col.round
    rows = [r for r in rows if r.round == rnd]
    if not rows:
        return Cell(None, run=run.name, missing=f"no round {rnd}")
    if len(rows) > 1:
        which = sorted({f"{r.protocol}/{r.subset or '-'}" for r in rows})
        return Cell(None, run=run.name, missing=f"ambiguous ({', '.join(which)}); name protocol/subset in the spec")
    r = rows[0]
    if _finite(r.value) is None:
        return Cell(None, run=run.name, round=rnd, missing="undefined" + (f": {r.note}" if r.note else ""))
    return Cell(float(r.value), _finite(r.ci_low), _finite(r.ci_high), r.n, run.name, rnd, r.protocol)


def task_config(run: RunDir, task: str) -> dict[str, Any]:
    """The settings that make one run's numbers on `task` comparable (or not) with another's."""
    cfg = run.results.config
    t = _sections(run).get(task)
    t = t if isinstance(t, TaskResult) else None  # a group records none of these of its own
    sig = {"protocol": t and t.protocol, "docs": t and t.n_docs, "data source": t and t.source,
           "data files": t and t.files, "scoring convention": t and t.primary_convention,
           **{k: cfg.get(k) for k in CONFIG_KEYS}, "roles": _roles(run)}
    if (cfg.get("temperature") or 0) > 0:
        sig["seed"] = cfg.get("seed")
    return sig


def _short(v: Any) -> str:
    if isinstance(v, dict) and all(isinstance(x, str) and len(x) == 64 for x in v.values()):
        return "{" + ", ".join(f"{k}: {h[:8]}" for k, h in sorted(v.items())) + "}"
    return json.dumps(v, sort_keys=True, ensure_ascii=False) if isinstance(v, (dict, list)) else str(v)


def _config_flags(entries: list[Entry], tasks: list[str], shown: tuple[str, ...] = ()) -> dict[str, str]:
    """Per task, the settings that differ between the rows that ran it (`shown`: keys the row labels already say)."""
    flags = {}
    for task in tasks:
        sigs = [(e.label, task_config(r, task)) for e in entries for r in e.runs if task in _sections(r)]
        if len(sigs) < 2:
            continue
        diffs = []
        for k in (k for k in sigs[0][1] if k not in shown):
            vals = [s.get(k) for _, s in sigs]
            if any(v != vals[0] for v in vals):
                diffs.append(f"{k} (" + "; ".join(f"{lab}: {_short(s.get(k))}" for lab, s in sigs) + ")")
        if diffs:
            flags[task] = "configs differ across entrants: " + ", ".join(diffs)
    return flags


def _rank(values: dict[int, float], direction: str) -> dict[int, int]:
    """Competition ranks (1, 2, 2, 4): 1 is best in the given direction."""
    sign = -1.0 if direction == "higher" else 1.0
    order = sorted(values.items(), key=lambda kv: sign * kv[1])
    ranks, prev, prev_rank = {}, None, 0
    for pos, (i, v) in enumerate(order, 1):
        rank = prev_rank if v == prev else pos
        ranks[i], prev, prev_rank = rank, v, rank
    return ranks


def build_leaderboard(runs: list[RunDir], spec: Spec | None = None) -> Board:
    """Merge runs into a board: cells, per-column ranks, overall score and rank, and comparability flags."""
    if not runs:
        raise UsageError("leaderboard needs at least one RUN_DIR written by `evalsuite run`")
    entries, notes = _assign(runs)
    by_protocol = len({e.protocol for e in entries}) > 1
    if spec is None:
        rows: dict[str, list[MetricRow]] = {}
        for run in runs:
            for task, t in _sections(run).items():
                # Rows split by protocol name it in their label; the columns then need not.
                rows.setdefault(task, []).extend(replace(r, protocol="") if by_protocol else r for r in t.metrics)
        spec = default_spec(rows)
    columns = []
    for col in spec.columns:
        for e in entries:
            cands = [_cell(r, col) for r in e.runs]
            found = [c for c in cands if c.value is not None]
            if len(found) > 1:
                e.cells[col.id] = Cell(None, missing=f"ambiguous: in runs {', '.join(c.run for c in found)}; "
                                                     "name the protocol in the spec")
            else:
                e.cells[col.id] = (found or [c for c in cands if c.missing != "task not run"] or cands)[0]
        if col.direction is None:
            dirs = {r.direction for run in runs for t in [_sections(run).get(col.task)] if t is not None
                    for r in t.metrics if r.metric == col.metric} - {"none"}
            if len(dirs) == 1:
                col = Column(**{**col.__dict__, "direction": dirs.pop()})
            elif col.weight > 0 and any(e.cells[col.id].value is not None for e in entries):
                raise UsageError(f"leaderboard spec {spec.name}: column {col.id} has a weight but no direction; "
                                 "add `direction: higher` or `lower`")
        columns.append(col)
        if col.direction in ("higher", "lower"):
            vals = {i: e.cells[col.id].value for i, e in enumerate(entries) if e.cells[col.id].value is not None}
            for i, rank in _rank(vals, col.direction).items():
                entries[i].ranks[col.id] = rank
    for col in columns:
        reasons = {e.cells[col.id].missing for e in entries}
        if all(e.cells[col.id].value is None for e in entries) and not any(
                r.startswith(("ambiguous", "undefined")) for r in reasons):
            notes.append(f"no run has {col.id} ({'; '.join(sorted(reasons))}); check the spec's names")
    weighted = [c for c in columns if c.weight > 0]
    for e in entries:
        e.overall_missing = [c.id for c in weighted if e.cells[c.id].value is None]
        if weighted and not e.overall_missing:
            e.overall = sum(c.weight * c.score(e.cells[c.id].value) for c in weighted) / sum(c.weight for c in weighted)
    for i, rank in _rank({i: e.overall for i, e in enumerate(entries) if e.overall is not None}, "higher").items():
        entries[i].rank = rank
    task_flags = _config_flags(entries, sorted({c.task for c in columns}), ("protocol",) if by_protocol else ())
    for e in entries:
        e.notes = [f"{c.id}: {e.cells[c.id].missing}" for c in columns
                   if e.cells[c.id].value is None and e.cells[c.id].missing.startswith(("ambiguous", "undefined"))]
    entries.sort(key=lambda e: (e.rank is None, e.rank or 0, e.label))
    return Board(spec, columns, entries, task_flags, notes)
