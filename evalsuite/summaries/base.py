"""Scored samples -> tidy metric rows. Summarizers are registered functions, one per family of metrics.

Each summarizer sees the samples of one (task, protocol) group and returns metric rows plus optional plot data
(`extras`, stored in results.json for the report). A summarizer that does not apply returns nothing.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Callable

from evalsuite.metrics.base import MetricName, spec
from evalsuite.options import NoOptions, Options, RunOptions
from evalsuite.protocols.base import GENERIC_SUMMARIES
from evalsuite.records import Sample
from evalsuite.plot_specs import PlotSpec
from evalsuite.registry import PROTOCOLS, load_plugins
from evalsuite.results import MetricRow, TaskResult

SUMMARIZERS: dict[str, Callable[["Group"], "Summary | None"]] = {}


@dataclass
class Group:
    """The samples of one task under one protocol, with what summarizers need to know about the task."""

    task: str
    protocol: str
    samples: list[Sample]
    primary: str = ""
    subset: str = ""
    seed: int = 0
    options: RunOptions = field(default_factory=RunOptions)
    """The run's typed options (a dict given here is parsed, as at the CLI)."""
    rounds: int | None = None
    """The run's `--rounds` when the protocol counts corrections by it (rounds every chain skipped still get rows)."""

    def __post_init__(self) -> None:
        self.options = RunOptions.parse(self.options)

    @property
    def protocol_options(self) -> Options:
        """The parsed options of this group's protocol (its `Options` class; defaults when it is not installed)."""
        load_plugins()
        cls = PROTOCOLS.get(self.protocol)
        return self.options.of(cls.Options if cls is not None else NoOptions)

    def row(self, rnd: int, name: "MetricName | str", value: float, ci: tuple[float, float], n: int,
            note: str = "") -> MetricRow:
        """A row for metric `name` (metadata from its registration; a variant or parameters add to the label)."""
        name = name if isinstance(name, MetricName) else MetricName(name)
        meta = spec(name)
        label = meta.label if meta else name.name
        if name.qualifier:
            label += f" ({name.qualifier})"
        if any(s.info.get("oracle") for s in self.samples) and "oracle" not in note:
            note = "oracle (reads the gold answer)" + (f"; {note}" if note else "")
        return MetricRow(self.task, self.subset, self.protocol, rnd, name, float(value), float(ci[0]),
                         float(ci[1]), int(n), meta.direction if meta else "none", label, note)


@dataclass
class Summary:
    rows: list[MetricRow]
    extras: dict[str, Any] = field(default_factory=dict)
    plots: list[PlotSpec] = field(default_factory=list)
    """Typed plot specs the report draws (stored per task under results.json's `plots`)."""


def summarizer(name: str):
    """Register a summarizer `fn(group) -> Summary | None`."""

    def deco(fn):
        SUMMARIZERS[name] = fn
        return fn

    return deco


def applicable(protocol: str) -> tuple[str, ...]:
    """The summarizers a protocol declares (`Protocol.summaries`), in registration order; for samples of a protocol
    not installed here (e.g. lm-eval's, rescored), those that read answers and their confidences."""
    load_plugins()
    cls = PROTOCOLS.get(protocol)
    declared = cls.summaries if cls is not None else GENERIC_SUMMARIES + ("calibration", "self_correction")
    unknown = sorted(set(declared) - set(SUMMARIZERS))
    if unknown:
        raise ValueError(f"protocol {protocol!r} declares unregistered summaries {unknown}; registered: "
                         f"{', '.join(SUMMARIZERS)}")
    return tuple(n for n in SUMMARIZERS if n in declared)


def correction_rounds(protocol: str, rounds: int | None) -> int | None:
    """`rounds` for a protocol whose `--rounds` counts corrections (`Protocol.correction_rounds`), else None."""
    load_plugins()
    cls = PROTOCOLS.get(protocol)
    return rounds if cls is not None and cls.correction_rounds else None


def _family(row: MetricRow) -> str:
    return row.metric.name


def summarize(
    samples: list[Sample], seed: int = 0, primary: dict[str, str] | None = None,
    subsets: dict[str, str] | None = None, options: "RunOptions | dict[str, Any] | None" = None,
    metrics: dict[str, tuple[str, ...]] | None = None, rounds: int | None = None,
) -> tuple[list[MetricRow], dict[str, TaskResult]]:
    """The summarizers each (task, protocol) group's protocol declares: (rows, each task's results: its rows, its
    summarizers' extras by summarizer name and their plot specs). A task whose card lists `metrics:` reports only
    those metric families (and the extras and plots of the summarizers that gave them)."""
    groups: dict[tuple[str, str], list[Sample]] = defaultdict(list)
    for s in samples:
        groups[(s.task, s.protocol)].append(s)
    rows: list[MetricRow] = []
    results: dict[str, TaskResult] = {}
    opts = RunOptions.parse(options)
    for (task, proto), ss in groups.items():
        g = Group(task, proto, ss, (primary or {}).get(task, ""), (subsets or {}).get(task, ""), seed, opts,
                  correction_rounds(proto, rounds))
        wanted = set((metrics or {}).get(task, ()))
        res = results.setdefault(task, TaskResult())
        for name in applicable(proto):
            out = SUMMARIZERS[name](g)
            if out is None:
                continue
            kept = [r for r in out.rows if not wanted or _family(r) in wanted]
            rows.extend(kept)
            res.metrics.extend(kept)
            if out.extras and (kept or not wanted):
                res.extras[name] = out.extras
            if kept or not wanted:
                res.plots.extend(out.plots)
    return rows, results
