"""The results.json schema (version 2) as typed classes: `Results` (the envelope), `TaskResult` and `GroupResult`
(metric rows, plot specs, each summarizer's extras) and `MetricRow`. A run, `evalsuite rescore` and
`evalsuite upgrade` write through them, and `Results.from_dict` is the one reader: the dataclass fields are the
field table, checked for their JSON types on read, so a file of the wrong shape is one UsageError line.

A leaf module (it imports metric names and plot specs only), so summaries, reporting and commands share it."""
from __future__ import annotations

import math
import types
from dataclasses import MISSING, dataclass, field, fields
from functools import lru_cache
from typing import Any, Callable, Union, get_args, get_origin, get_type_hints

from evalsuite.errors import UsageError
from evalsuite.metrics.base import MetricName
from evalsuite.plot_specs import PlotSpec, ShapeError, from_dict as plot_from_dict, to_dict as plot_to_dict

SCHEMA_VERSION = 2
"""results.json's `schema_version`. 1 (no key): written before results were typed; `evalsuite upgrade` converts."""


class SchemaError(UsageError):
    """A results.json payload that does not have the shape of schema SCHEMA_VERSION (the message says where)."""


@dataclass(frozen=True)
class MetricRow:
    """One tidy result row; `round` is the answer round (0 = first answer), -1 when not per round."""

    task: str
    subset: str
    protocol: str
    round: int
    metric: MetricName
    value: float
    ci_low: float
    ci_high: float
    n: int
    direction: str
    label: str
    note: str = ""

    def __post_init__(self) -> None:
        if isinstance(self.metric, str):
            object.__setattr__(self, "metric", MetricName.legacy(self.metric))

    def to_dict(self) -> dict[str, Any]:
        """The results.json row: `metric` is the readable id (`name[variant, K=V]`), the structured name beside it."""
        d = {f.name: getattr(self, f.name) for f in fields(self)}
        d["metric"] = self.metric.text
        d.update(self.metric.to_dict())
        return d

    @classmethod
    def from_dict(cls, d: Any, where: str) -> "MetricRow":
        kw = _fields(cls, d, where, skip=("metric",))
        for k in ("name", "variant"):
            if not isinstance(d.get(k), str):
                raise SchemaError(f"{where}.{k} is {_kind(d.get(k))}, expected a string")
        if not isinstance(d.get("params", {}), dict):
            raise SchemaError(f"{where}.params is {_kind(d['params'])}, expected an object")
        try:
            kw["metric"] = MetricName.from_row(d)
        except ValueError as e:
            raise SchemaError(f"{where}: {e}") from None
        return cls(**kw)


class _Section:
    """A results.json section's (de)serialisation: its fields as written, read back with each field checked
    against its annotation (the reader's one field table)."""

    def to_dict(self) -> dict[str, Any]:
        return _section_dict(self)

    @classmethod
    def from_dict(cls, d: Any, where: str) -> Any:
        return cls(**_section_kw(cls, d, where))


@dataclass
class TaskResult(_Section):
    """One task's results: where its docs came from and how they were asked and scored, its metric rows, the plot
    specs its summarizers returned, and each summarizer's extras (`{summarizer: {...}}`). A rescore of lm-eval
    samples also records lm-eval's task, filters, reported metrics and the per-sample agreement."""

    source: str = ""
    files: dict[str, str] = field(default_factory=dict)
    """Data file name -> sha256."""
    n_docs: int | None = None
    protocol: str = ""
    oracle: bool = False
    primary_convention: str = ""
    lm_eval_task: str | None = None
    lm_eval_native: bool | None = None
    lm_eval_filters: list[str] | None = None
    lm_eval_reported: dict[str, Any] | None = None
    per_sample_agreement: dict[str, Any] | None = None
    per_filter_agreement: dict[str, Any] | None = None
    metrics: list[MetricRow] = field(default_factory=list)
    extras: dict[str, Any] = field(default_factory=dict)
    plots: list[PlotSpec] = field(default_factory=list)


@dataclass
class GroupResult(_Section):
    """A task group's results (e.g. `correctbench`): what the group card's `aggregate:` summarizers computed over
    its member tasks, with the members that had samples, rows, plots and extras (`{summarizer: {protocol: ...}}`)."""

    tasks: list[str] = field(default_factory=list)
    aggregate: list[str] = field(default_factory=list)
    metrics: list[MetricRow] = field(default_factory=list)
    extras: dict[str, Any] = field(default_factory=dict)
    plots: list[PlotSpec] = field(default_factory=list)


MODEL_FIELDS = ("spec", "backend", "model_id", "revision")
"""The keys of `Results.model` every reader may index (each a string or null)."""


@dataclass
class Results:
    """results.json: who produced it (model, versions, git hash, when), how (config, run counts, execution), and per
    task and task group its results. Optional parts left None are not written."""

    model: dict[str, Any]
    config: dict[str, Any]
    tasks: dict[str, TaskResult]
    versions: dict[str, str] = field(default_factory=dict)
    git_hash: str | None = None
    created: str = ""
    run: dict[str, Any] | None = None
    """Counts and timings of a run (generated, from the store, tokens/s, wall seconds); None for a rescore."""
    execution: dict[str, Any] | None = None
    partial: bool | None = None
    """True while a run goes on (rewritten after each round), False when done; None for a rescore."""
    rounds_done: int | None = None
    groups: dict[str, GroupResult] = field(default_factory=dict)
    glossary: dict[str, Any] | None = None
    """What the report shows about each metric and variant of the rows (reporting/glossary.py)."""
    schema_version: int = SCHEMA_VERSION

    ORDER = ("schema_version", "model", "versions", "git_hash", "created", "run", "execution", "partial", "config",
             "tasks", "rounds_done", "groups", "glossary")
    HEADER = ("model", "versions", "git_hash", "created", "run", "execution")
    """The run info a run returns."""

    def header(self) -> dict[str, Any]:
        d = self.to_dict()
        return {k: d[k] for k in self.HEADER if k in d}

    def to_dict(self) -> dict[str, Any]:
        """The JSON form, in ORDER (floats as they are: the writer turns NaN into null)."""
        out: dict[str, Any] = {}
        for k in self.ORDER:
            v = getattr(self, k)
            if k in ("tasks", "groups"):
                out[k] = {name: sec.to_dict() for name, sec in v.items()}
            elif v is not None:
                out[k] = v
        return out

    def sections(self) -> dict[str, TaskResult | GroupResult]:
        """Groups, then tasks, by name (a task of the same name as a group wins)."""
        return {**self.groups, **self.tasks}

    @classmethod
    def from_dict(cls, d: Any) -> "Results":
        """The typed results of a results.json payload; a SchemaError names the first field of the wrong shape."""
        if not isinstance(d, dict):
            raise SchemaError(f"the top level is {_kind(d)}, not an object")
        version = d.get("schema_version")
        if version is None:
            raise SchemaError("it has no schema_version (written before results schema 2)")
        if version != SCHEMA_VERSION:
            raise SchemaError(f"schema_version is {version!r}; this evalsuite reads {SCHEMA_VERSION}")
        for k in ("model", "config", "tasks"):
            if k not in d:
                raise SchemaError(f"the top level lacks {k!r}")
        kw = _fields(cls, d, "", skip=("tasks", "groups"))
        for k in MODEL_FIELDS:
            if k not in kw["model"]:
                raise SchemaError(f"model lacks {k!r}")
            if not isinstance(kw["model"][k], (str, type(None))):
                raise SchemaError(f"model.{k} is {_kind(kw['model'][k])}, expected a string or null")
        temperature = kw["config"].get("temperature")
        if not isinstance(temperature, (int, float, type(None))) or isinstance(temperature, bool):
            raise SchemaError(f"config.temperature is {_kind(temperature)}, expected a number")
        kw["tasks"] = _named(d["tasks"], "tasks", TaskResult.from_dict)
        kw["groups"] = _named(d.get("groups") or {}, "groups", GroupResult.from_dict)
        return cls(**kw)


def _named(d: Any, where: str, parse: Callable[[Any, str], Any]) -> dict[str, Any]:
    if not isinstance(d, dict):
        raise SchemaError(f"{where} is {_kind(d)}, expected an object")
    return {name: parse(sec, f"{where}.{name}") for name, sec in d.items()}


def _section_dict(sec: TaskResult | GroupResult) -> dict[str, Any]:
    """A task's or group's JSON entry: its fields in order, optional ones left out when None."""
    out: dict[str, Any] = {}
    for f in fields(sec):
        v = getattr(sec, f.name)
        if f.name == "metrics":
            v = [r.to_dict() for r in v]
        elif f.name == "plots":
            v = [plot_to_dict(p) for p in v]
        if v is not None:
            out[f.name] = v
    return out


def _section_kw(cls: type, d: Any, where: str) -> dict[str, Any]:
    kw = _fields(cls, d, where, skip=("metrics", "plots"))
    rows, plots = d.get("metrics", []), d.get("plots", [])
    for k, v in (("metrics", rows), ("plots", plots)):
        if not isinstance(v, list):
            raise SchemaError(f"{where}.{k} is {_kind(v)}, expected a list")
    kw["metrics"] = [MetricRow.from_dict(r, f"{where}.metrics[{i}]") for i, r in enumerate(rows)]
    kw["plots"] = []
    for i, p in enumerate(plots):
        try:
            kw["plots"].append(plot_from_dict(p))
        except ShapeError as e:
            raise SchemaError(f"{where}.plots[{i}]: {e}") from None
    return kw


_JSON_NAMES = {dict: "an object", list: "a list", str: "a string", int: "a number", float: "a number",
               bool: "true/false", type(None): "null"}


def _kind(v: Any) -> str:
    return "missing" if v is ... else _JSON_NAMES.get(type(v), type(v).__name__)


def _accepts(hint: Any) -> tuple[type, ...]:
    """The JSON types a field annotated `hint` accepts (a float also takes an int, and null for NaN)."""
    origin = get_origin(hint)
    if origin in (Union, types.UnionType):
        return tuple(t for a in get_args(hint) for t in _accepts(a))
    if hint is Any:
        return (object,)
    if hint is float:
        return (int, float, type(None))
    return (origin or hint,)


def _fields(cls: type, d: Any, where: str, skip: tuple[str, ...] = ()) -> dict[str, Any]:
    """The keyword arguments of `cls` from JSON object `d`, each checked against its field's annotation; absent
    fields keep their defaults, unknown keys are ignored (a newer writer's additions)."""
    if not isinstance(d, dict):
        raise SchemaError(f"{where or 'the top level'} is {_kind(d)}, not an object")
    hints = _hints(cls)
    kw: dict[str, Any] = {}
    for f in fields(cls):
        if f.name in skip or f.name not in d:
            continue
        v, ok = d[f.name], _accepts(hints[f.name])
        if not isinstance(v, ok) or (isinstance(v, bool) and bool not in ok and object not in ok):
            want = " or ".join(dict.fromkeys(_JSON_NAMES.get(t, "any") for t in ok))
            raise SchemaError(f"{where + '.' if where else ''}{f.name} is {_kind(v)}, expected {want}")
        kw[f.name] = math.nan if v is None and hints[f.name] is float else v
    missing = [f.name for f in fields(cls) if f.name not in d and f.name not in skip and _required(f)]
    if missing:
        raise SchemaError(f"{where or 'the top level'} lacks {missing[0]!r}")
    return kw


def _required(f: Any) -> bool:
    return f.default is MISSING and f.default_factory is MISSING


@lru_cache(maxsize=None)
def _hints(cls: type) -> dict[str, Any]:
    return get_type_hints(cls)
