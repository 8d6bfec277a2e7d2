"""Leaderboard specs (`evalsuite/leaderboards/*.yaml`, or any file): which task metrics are columns, their direction, and the overall score.

A spec::

    title: Self-correction
    description: what the board compares (optional)
    columns:
      - task: [gsm8k, math500]   # a name or a list (one column per task)
        metric: accuracy         # a metric row name, e.g. accuracy, accuracy[official], ece
        round: last              # an answer round, or `last` (the run's highest round for that metric; default)
        protocol: review         # optional: only rows of this protocol (needed when a run has several)
        subset: ""               # optional: only rows of this subset
        weight: 1                # share of the overall score (default 1; 0 = shown and ranked, not scored)
        direction: higher        # optional: higher | lower (default: the metric's metadata)
        scale: [0, 1]            # optional: the range mapped onto [0, 1] before weighting (default [0, 1])
        label: GSM8K accuracy    # optional column title

Overall = sum(weight * score) / sum(weight) over the weighted columns, where score = (value - lo) / (hi - lo)
clipped to [0, 1], and 1 - that for lower-is-better metrics. An entrant missing any weighted column has no overall
score (shown as missing, never as 0).
"""
from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from evalsuite.errors import UsageError
from evalsuite.metrics.base import MetricName
from evalsuite.metrics.base import spec as metric_spec
from evalsuite.registry import load_plugins
from evalsuite.results import MetricRow

SPEC_DIR = Path(str(resources.files("evalsuite") / "leaderboards"))
"""The specs shipped inside the package (core, self_correction, introspection, contamination)."""
COLUMN_KEYS = {"task", "metric", "round", "protocol", "subset", "weight", "direction", "scale", "label"}
SPEC_KEYS = {"title", "description", "columns"}


@dataclass(frozen=True)
class Column:
    """One leaderboard column: a task metric at a round (or the last round), with its weight and orientation."""

    task: str
    metric: str
    round: int | str = "last"
    protocol: str | None = None
    subset: str | None = None
    weight: float = 0.0
    direction: str | None = None
    scale: tuple[float, float] = (0.0, 1.0)
    label: str = ""

    @property
    def id(self) -> str:
        """Stable column id for CSV headers: `task/metric[@protocol][#subset]/r0` or `.../last`."""
        where = (f"@{self.protocol}" if self.protocol else "") + (f"#{self.subset}" if self.subset else "")
        rnd = self.round if self.round == "last" else f"r{self.round}"
        return f"{self.task}/{self.metric}{where}/{rnd}"

    @property
    def title(self) -> str:
        if self.label:
            return self.label
        meta = metric_spec(self.metric)
        name = meta.label if meta else self.metric
        qualifier = MetricName.legacy(self.metric).qualifier
        if meta and qualifier:
            name += f" ({qualifier})"
        rnd = "last round" if self.round == "last" else f"round {self.round}"
        extra = " · ".join(x for x in (self.protocol, self.subset) if x)
        return f"{self.task} {name}, {rnd}" + (f" ({extra})" if extra else "")

    def score(self, value: float) -> float:
        """The value mapped onto [0, 1] with 1 = best, for the overall score."""
        lo, hi = self.scale
        s = min(max((value - lo) / (hi - lo), 0.0), 1.0)
        return 1.0 - s if self.direction == "lower" else s


@dataclass(frozen=True)
class Spec:
    name: str
    title: str
    description: str
    columns: tuple[Column, ...]

    @property
    def scored(self) -> bool:
        return any(c.weight > 0 for c in self.columns)


def _fail(where: str, problem: str) -> UsageError:
    return UsageError(f"leaderboard spec {where}: {problem}")


def _column(raw: Any, where: str) -> list[Column]:
    if not isinstance(raw, dict):
        raise _fail(where, "each column must be a mapping with task and metric")
    unknown = set(raw) - COLUMN_KEYS
    if unknown:
        raise _fail(where, f"unknown key(s) {', '.join(sorted(unknown))}; use {', '.join(sorted(COLUMN_KEYS))}")
    tasks = raw.get("task")
    tasks = [tasks] if isinstance(tasks, str) else tasks
    if not tasks or not all(isinstance(t, str) and t for t in tasks):
        raise _fail(where, "`task` must be a task name or a list of them")
    metric = raw.get("metric")
    if not isinstance(metric, str) or not metric:
        raise _fail(where, "`metric` must name a metric row (e.g. accuracy)")
    rnd = raw.get("round", "last")
    if not (rnd == "last" or (isinstance(rnd, int) and not isinstance(rnd, bool) and rnd >= -1)):
        raise _fail(where, f"`round` must be an answer round (0, 1, ...) or `last`, got {rnd!r}")
    weight = raw.get("weight", 1)
    if isinstance(weight, bool) or not isinstance(weight, (int, float)) or weight < 0:
        raise _fail(where, f"`weight` must be a number >= 0, got {weight!r}")
    direction = raw.get("direction")
    if direction is None:
        meta = metric_spec(metric)
        direction = meta.direction if meta and meta.direction != "none" else None
    elif direction not in ("higher", "lower"):
        raise _fail(where, f"`direction` must be higher or lower, got {direction!r}")
    scale = raw.get("scale", [0, 1])
    if not (isinstance(scale, list) and len(scale) == 2 and all(isinstance(x, (int, float)) for x in scale)
            and scale[0] < scale[1]):
        raise _fail(where, f"`scale` must be [low, high] with low < high, got {scale!r}")
    opt = {k: raw.get(k) for k in ("protocol", "subset")}
    for k, v in opt.items():
        if v is not None and not isinstance(v, str):
            raise _fail(where, f"`{k}` must be a string")
    return [Column(t, metric, rnd, opt["protocol"], opt["subset"], float(weight), direction,
                   (float(scale[0]), float(scale[1])), str(raw.get("label") or "")) for t in tasks]


def parse_spec(data: Any, name: str) -> Spec:
    """Validate a spec mapping; every problem is a one-line UsageError naming the key."""
    load_plugins()
    if not isinstance(data, dict):
        raise _fail(name, "must be a mapping with title and columns")
    unknown = set(data) - SPEC_KEYS
    if unknown:
        raise _fail(name, f"unknown key(s) {', '.join(sorted(unknown))}; use {', '.join(sorted(SPEC_KEYS))}")
    if not isinstance(data.get("title"), str):
        raise _fail(name, "`title` must be a string")
    raw_cols = data.get("columns")
    if not isinstance(raw_cols, list) or not raw_cols:
        raise _fail(name, "`columns` must be a non-empty list")
    cols = [c for i, raw in enumerate(raw_cols) for c in _column(raw, f"{name} column {i + 1}")]
    ids = [c.id for c in cols]
    dup = sorted({i for i in ids if ids.count(i) > 1})
    if dup:
        raise _fail(name, f"column {dup[0]} appears twice")
    return Spec(name, data["title"], str(data.get("description") or "").strip(), tuple(cols))


def load_spec(path: str | Path) -> Spec:
    """Read a spec file; a bare name (e.g. `self_correction`) is a spec shipped in the package (`SPEC_DIR`)."""
    p = Path(path)
    if not p.is_file() and p.suffix == "" and len(p.parts) == 1:
        p = SPEC_DIR / f"{p.name}.yaml"
    if not p.is_file():
        shipped = ", ".join(sorted(s.stem for s in SPEC_DIR.glob("*.yaml")))
        raise UsageError(f"leaderboard spec {path} not found; pass a spec file or a shipped name ({shipped})")
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        line = getattr(getattr(e, "problem_mark", None), "line", None)
        raise UsageError(f"leaderboard spec {p} is not valid YAML"
                         + (f" (line {line + 1})" if line is not None else "") + "; fix the file") from None
    except UnicodeDecodeError as e:
        raise UsageError(f"leaderboard spec {p} is not UTF-8 text (byte {e.start}); pass a YAML file") from None
    except OSError as e:
        raise UsageError(f"cannot read leaderboard spec {p} ({e.strerror or e}); check its permissions") from None
    return parse_spec(data, p.stem)


def default_spec(rows_by_task: dict[str, list[MetricRow]]) -> Spec:
    """Without a spec: every metric with a direction, one column per task/metric/protocol/subset/round, unscored."""
    seen: dict[str, Column] = {}
    for task, rows in rows_by_task.items():
        for r in rows:
            if r.direction not in ("higher", "lower"):
                continue
            c = Column(task, r.metric.text, r.round, r.protocol or None, r.subset or None, 0.0, r.direction)
            seen.setdefault(c.id, c)
    return Spec("all-metrics", "All metrics", "Every metric with a direction in the given runs; no spec was given, "
                "so there is no overall score.", tuple(seen[k] for k in sorted(seen)))
