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

    @property
    def direction(self) -> str:
        return {True: "higher", False: "lower", None: "none"}[self.higher_is_better]

    def __call__(self, *args, **kwargs):
        return self.fn(*args, **kwargs)


def metric(name: str, higher_is_better: bool | None, label: str, plot: str | None = None, fmt: str = ".3f"):
    """Register a pure metric function under `name` with its metadata."""

    def deco(fn: Callable) -> Callable:
        if name in METRICS and METRICS[name].fn is not fn:
            raise ValueError(f"metric {name!r} registered twice")
        METRICS[name] = MetricSpec(name, fn, higher_is_better, label, plot, fmt)
        return fn

    return deco


def spec(name: str) -> MetricSpec | None:
    """Metadata of a metric row name; `accuracy[official]` shares `accuracy`'s metadata."""
    return METRICS.get(name) or METRICS.get(name.split("[", 1)[0])
