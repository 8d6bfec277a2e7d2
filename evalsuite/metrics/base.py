"""Metric metadata: each metric is a pure function declared with its name, direction, label and plot."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from evalsuite.registry import METRICS


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

    @property
    def direction(self) -> str:
        return {True: "higher", False: "lower", None: "none"}[self.higher_is_better]

    def __call__(self, *args, **kwargs):
        return self.fn(*args, **kwargs)


def metric(name: str, higher_is_better: bool | None, label: str, plot: str | None = None, fmt: str = ".3f",
           definition: str = "", source: str = ""):
    """Register a pure metric function under `name` with its metadata (a one-line definition and its source)."""

    def deco(fn: Callable) -> Callable:
        if name in METRICS and METRICS[name].fn is not fn:
            raise ValueError(f"metric {name!r} registered twice")
        METRICS[name] = MetricSpec(name, fn, higher_is_better, label, plot, fmt, definition, source)
        return fn

    return deco


def spec(name: str) -> MetricSpec | None:
    """Metadata of a metric row name; `accuracy[official]` shares `accuracy`'s metadata."""
    return METRICS.get(name) or METRICS.get(name.split("[", 1)[0])


@dataclass(frozen=True)
class Term:
    """A variant a metric row names in brackets (a confidence method, a selector, a detector), for the glossary."""

    key: str
    label: str
    definition: str
    source: str


TERMS: dict[str, Term] = {}
"""Variant key (the start of a metric row's bracket, e.g. `borda` in `bon_accuracy[borda p=0.5, N=4]`) -> Term."""


def term(key: str, label: str, definition: str, source: str) -> None:
    """Declare a variant's one-line definition and source where the variant is implemented."""
    TERMS[key] = Term(key, label, definition, source)


def variant_term(row_metric: str) -> Term | None:
    """The declared variant a metric row's bracket starts with (the longest key that matches), if any."""
    if "[" not in row_metric:
        return None
    inner = row_metric.split("[", 1)[1].rstrip("]")
    keys = [k for k in TERMS if inner == k or inner.startswith((k + " ", k + ",", k + "_"))]
    return TERMS[max(keys, key=len)] if keys else None

