"""Metric metadata, structured metric names and the aggregations metrics share.

A metric is declared once with its name, direction, label and either its own function or a registered
aggregation (`mean`, `sum`, ...). A metric that also declares what it `reads` from an answer sample is computed
by the generic per-answer summarizer, so it reaches results.csv without a summarizer of its own.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from evalsuite.metrics.bootstrap import bootstrap_mean_ci
from evalsuite.registry import METRICS

PARAMS: dict[str, str] = {"N": "samples per doc a best-of-N selector saw (the first N)"}
"""Parameter keys a metric name may carry, with what they mean; each is a results.csv column `param_<key>`."""


@dataclass(frozen=True, eq=False)
class MetricName:
    """What a metric row measures: the registered metric, a variant (a convention, a selector, a detector, a
    confidence method) and parameters. `text` is its readable id, e.g. `bon_accuracy[majority, N=4]`; a name
    equals (and hashes as) its id, so `row.metric == "accuracy[official]"` and dicts keyed by ids keep working."""

    name: str
    variant: str = ""
    params: tuple[tuple[str, Any], ...] = ()

    def __post_init__(self) -> None:
        unknown = [k for k, _ in self.params if k not in PARAMS]
        if unknown or "[" in self.name:
            raise ValueError(f"metric name {self.name!r}: unknown parameter(s) {unknown} or a bracket in the name; "
                             f"declare parameters in evalsuite.metrics.base.PARAMS")

    @classmethod
    def of(cls, name: str, variant: str = "", **params: Any) -> "MetricName":
        return cls(name, variant, tuple(params.items()))

    @property
    def qualifier(self) -> str:
        """The bracket's content: the variant, then `key=value` for each parameter."""
        return ", ".join([self.variant] * bool(self.variant) + [f"{k}={v}" for k, v in self.params])

    @property
    def text(self) -> str:
        q = self.qualifier
        return f"{self.name}[{q}]" if q else self.name

    def __str__(self) -> str:
        return self.text

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (MetricName, str)):
            return self.text == str(other)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.text)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "variant": self.variant, "params": dict(self.params)}

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> "MetricName":
        """The name of a results.json row; rows written before names were structured carry only the text."""
        if "name" in row:
            return cls(str(row["name"]), str(row.get("variant") or ""), tuple((row.get("params") or {}).items()))
        return cls.legacy(str(row.get("metric", "")))

    @classmethod
    def legacy(cls, text: str) -> "MetricName":
        """Read an old run's `name[variant, K=V]` text (only results written by older versions need this)."""
        name, _, inner = text.partition("[")
        parts = [p.strip() for p in inner.rstrip("]").split(",")] if inner else []
        params = tuple((k, int(v) if v.isdigit() else v) for k, _, v in (p.partition("=") for p in parts)
                       if k in PARAMS and v)
        variant = ", ".join(p for p in parts if p.partition("=")[0] not in PARAMS or "=" not in p)
        return cls(name, variant, params)


@dataclass(frozen=True)
class Aggregation:
    """A statistic over per-sample values and how its confidence interval is resampled (by doc)."""

    name: str
    fn: Callable[[np.ndarray], float]
    ci: Callable[[np.ndarray, np.ndarray, int], tuple[float, float]]


AGGREGATIONS: dict[str, Aggregation] = {}


def aggregation(name: str, ci: Callable[[np.ndarray, np.ndarray, int], tuple[float, float]]):
    """Register a statistic `fn(values) -> float` once, under `name`, with its doc-resampled CI."""

    def deco(fn: Callable[[np.ndarray], float]) -> Callable[[np.ndarray], float]:
        AGGREGATIONS[name] = Aggregation(name, fn, ci)
        return fn

    return deco


def _no_ci(values: np.ndarray, docs: np.ndarray, seed: int) -> tuple[float, float]:
    return float("nan"), float("nan")


@aggregation("mean", ci=lambda v, docs, seed: bootstrap_mean_ci(v, docs, seed=seed))
def mean(values: np.ndarray) -> float:
    """Mean of the values pooled over samples; NaN when there are none."""
    v = np.asarray(values, dtype=float)
    return float(v.mean()) if v.size else float("nan")


@aggregation("sum", ci=_no_ci)
def total(values: np.ndarray) -> float:
    """Count (sum) of the values; a count has no sampling CI here."""
    return float(np.asarray(values, dtype=float).sum())


@dataclass(frozen=True)
class MetricSpec:
    """What reports and leaderboards need to know about a metric without running it."""

    name: str
    fn: Callable
    higher_is_better: bool | None
    label: str
    plot: str | None = None
    fmt: str = ".3f"
    definition: str = ""
    """One line a report shows on hover and in its glossary."""
    source: str = ""
    """The paper (or convention) the metric follows."""
    aggregate: str | None = None
    """The registered aggregation `fn` is (None: a function of its own)."""
    reads: Callable[[Any], float | None] | None = None
    """Per answer sample -> its value (None: the sample does not count); set, the metric is summarized generically."""

    @property
    def direction(self) -> str:
        return {True: "higher", False: "lower", None: "none"}[self.higher_is_better]

    def __call__(self, *args, **kwargs):
        return self.fn(*args, **kwargs)


def _put(s: MetricSpec) -> None:
    old = METRICS.get(s.name)
    if old is not None and (old.fn is not s.fn or old.label != s.label):
        raise ValueError(f"metric {s.name!r} registered twice")
    METRICS[s.name] = s


def metric(name: str, higher_is_better: bool | None, label: str, plot: str | None = None, fmt: str = ".3f",
           definition: str = "", source: str = "", aggregate: str | None = None,
           reads: Callable[[Any], float | None] | None = None):
    """Declare metric `name` with its metadata (a one-line definition and its source).

    With `aggregate` (a registered aggregation) it is registered at once and the MetricSpec, callable, is returned;
    without, it is a decorator for the metric's own function."""
    if aggregate is not None:
        s = MetricSpec(name, AGGREGATIONS[aggregate].fn, higher_is_better, label, plot, fmt, definition, source,
                       aggregate, reads)
        _put(s)
        return s

    def deco(fn: Callable) -> Callable:
        _put(MetricSpec(name, fn, higher_is_better, label, plot, fmt, definition, source))
        return fn

    return deco


def per_answer_metrics() -> list[MetricSpec]:
    """Every registered metric that declares what it reads from an answer sample, in registration order."""
    return [s for s in METRICS.values() if isinstance(s, MetricSpec) and s.reads is not None]


def spec(name: "str | MetricName") -> MetricSpec | None:
    """Metadata of a metric name; `accuracy[official]` (an old run's text) shares `accuracy`'s metadata."""
    base = name.name if isinstance(name, MetricName) else MetricName.legacy(name).name
    return METRICS.get(base)


@dataclass(frozen=True)
class Term:
    """A variant a metric row names in brackets (a confidence method, a selector, a detector), for the glossary."""

    key: str
    label: str
    definition: str
    source: str


TERMS: dict[str, Term] = {}
"""Variant key (the start of a metric row's variant, e.g. `borda` in `bon_accuracy[borda p=0.5, N=4]`) -> Term."""


def term(key: str, label: str, definition: str, source: str) -> None:
    """Declare a variant's one-line definition and source where the variant is implemented."""
    TERMS[key] = Term(key, label, definition, source)


def variant_term(name: "str | MetricName") -> Term | None:
    """The declared term a metric name's variant starts with (the longest key that matches), if any."""
    inner = (name if isinstance(name, MetricName) else MetricName.legacy(name)).variant
    if not inner:
        return None
    keys = [k for k in TERMS if inner == k or inner.startswith((k + " ", k + ",", k + "_"))]
    return TERMS[max(keys, key=len)] if keys else None
