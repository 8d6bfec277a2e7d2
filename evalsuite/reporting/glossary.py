"""What a report needs to know about the metrics of a run (label, direction, format, plot, definition, source, and
the declared variants), written into results.json with the rows, so a report of any run reads it from the run
itself rather than from whichever metrics the installed code registers."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Iterable

from evalsuite.metrics.base import spec, variant_term

LEGACY_ROUNDS = ("accuracy", "accuracy_carried", "answer_f1", "pass@1")
"""Metrics drawn against the answer round in a run written before results.json carried its glossary."""


def base_name(row: dict[str, Any]) -> str:
    """The metric a results.json row measures; rows of older runs carry only the `name[variant]` text."""
    return str(row.get("name") or str(row.get("metric", "")).partition("[")[0])


@dataclass(frozen=True)
class MetricInfo:
    label: str
    direction: str = "none"
    fmt: str = ".3f"
    plot: str | None = None
    definition: str = ""
    source: str = ""


@dataclass(frozen=True)
class VariantInfo:
    """The declared term a variant starts with (e.g. `borda` for `borda p=0.5 (streamed)`)."""

    key: str
    label: str
    definition: str
    source: str


@dataclass
class Glossary:
    """Metric name -> MetricInfo, and variant text -> VariantInfo, for the metrics a run reports."""

    metrics: dict[str, MetricInfo] = field(default_factory=dict)
    variants: dict[str, VariantInfo] = field(default_factory=dict)
    legacy: bool = False
    """Read from a run written before results.json carried a glossary: labels come from its rows only."""

    def metric(self, name: str) -> MetricInfo | None:
        return self.metrics.get(name)

    def plots_rounds(self, name: str) -> bool:
        m = self.metrics.get(name)
        return name in LEGACY_ROUNDS if self.legacy else bool(m and m.plot == "rounds")

    def fmt(self, name: str) -> str:
        m = self.metrics.get(name)
        return m.fmt if m else ".3f"

    def to_dict(self) -> dict[str, Any]:
        return {"metrics": {k: asdict(v) for k, v in sorted(self.metrics.items())},
                "variants": {k: asdict(v) for k, v in sorted(self.variants.items())}}

    @classmethod
    def from_dict(cls, d: Any) -> "Glossary":
        """A results.json glossary; an absent one (an older run) gives an empty, legacy glossary."""
        if not isinstance(d, dict):
            return cls(legacy=True)
        return cls({k: MetricInfo(**v) for k, v in (d.get("metrics") or {}).items()},
                   {k: VariantInfo(**v) for k, v in (d.get("variants") or {}).items()})

    @classmethod
    def of(cls, names: Iterable[Any]) -> "Glossary":
        """The glossary of these metric names (MetricName), from the metrics the code registers: run writers use
        this; readers of results.json never do."""
        out = cls()
        for name in names:
            meta = spec(name)
            if meta is not None:
                out.metrics[meta.name] = MetricInfo(meta.label, meta.direction, meta.fmt, meta.plot, meta.definition,
                                                    meta.source)
            t = variant_term(name)
            if t is not None:
                out.variants[name.variant] = VariantInfo(t.key, t.label, t.definition, t.source)
        return out
