"""Typed plot specs: what a summarizer asks the report to draw, stored in results.json as `{"plot": KIND, ...}`.

Summaries return these; results.json keeps them per task under `plots`; the report reads them back with
`from_dict` (which checks the shape and raises ShapeError with what is wrong) and draws each by its type. Pure data:
no evalsuite import, so reading an old or foreign run never needs the live registry.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, ClassVar, Union


class ShapeError(ValueError):
    """Plot data that does not have the documented shape of its kind."""


def _num(x: Any) -> float:
    """A JSON number (null = undefined = NaN)."""
    if x is None:
        return math.nan
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        raise ShapeError(f"expected a number, got {type(x).__name__}")
    return float(x)


def _nums(xs: Any, what: str) -> list[float]:
    if not isinstance(xs, list):
        raise ShapeError(f"{what} must be a list of numbers")
    return [_num(x) for x in xs]


def _matrix(counts: Any, rows: int, cols: int, what: str) -> list[list[float]]:
    if not (isinstance(counts, list) and len(counts) == rows
            and all(isinstance(r, list) and len(r) == cols for r in counts)):
        raise ShapeError(what)
    return [[_num(v) for v in r] for r in counts]


@dataclass(frozen=True)
class FlipPanel:
    """Correctness of the same chains at two answer rounds:
    counts = [[right→right, right→wrong], [wrong→right, wrong→wrong]]."""

    from_round: int
    to_round: int
    counts: list[list[float]]


@dataclass(frozen=True)
class FlipMatrix:
    """One 2×2 panel per pair of answer rounds, drawn side by side."""

    KIND: ClassVar[str] = "flip_matrix"
    panels: list[FlipPanel]
    title: str = ""
    subset: str = ""
    protocol: str = ""

    @classmethod
    def parse(cls, d: dict[str, Any]) -> "FlipMatrix":
        raw = d.get("panels", [d])
        if not isinstance(raw, list) or not raw or not all(isinstance(p, dict) for p in raw):
            raise ShapeError("panels must be a non-empty list of {from_round, to_round, counts}")
        what = "counts must be [[right_to_right, right_to_wrong], [wrong_to_right, wrong_to_wrong]]"
        panels = [FlipPanel(p.get("from_round", "?"), p.get("to_round", "?"), _matrix(p.get("counts"), 2, 2, what))
                  for p in raw]
        return cls(panels, *_common(d))


@dataclass(frozen=True)
class Bin:
    lo: float
    hi: float
    count: float
    confidence: float
    """Mean confidence of the answers in the bin (NaN when empty)."""
    accuracy: float


@dataclass(frozen=True)
class Reliability:
    """A reliability diagram of one confidence method: one panel per binning (equal-width, equal-mass)."""

    KIND: ClassVar[str] = "reliability"
    method: str
    bins: dict[str, list[Bin]]
    title: str = ""
    subset: str = ""
    protocol: str = ""

    @classmethod
    def parse(cls, d: dict[str, Any]) -> "Reliability":
        raw = d.get("bins")
        panels = raw if isinstance(raw, dict) else {str(d.get("binning", "")).replace("_", "-"): raw}
        if not panels:
            raise ShapeError("bins must be a list of bins or a dict of binning -> bins")
        return cls(str(d.get("method", "")), {name: _bins(b, f"bins[{name}]" if name else "bins")
                                              for name, b in panels.items()}, *_common(d))


def _bins(bins: Any, what: str) -> list[Bin]:
    """`confidence` or `mean_confidence` (the name calibration summaries use) is the bin's mean confidence."""
    if not isinstance(bins, list) or not bins or not all(isinstance(b, dict) for b in bins):
        raise ShapeError(f"{what} must be a non-empty list of {{lo, hi, count, confidence, accuracy}}")
    return [Bin(_num(b.get("lo")), _num(b.get("hi")), _num(b.get("count")),
                _num(b.get("confidence", b.get("mean_confidence"))), _num(b.get("accuracy"))) for b in bins]


@dataclass(frozen=True)
class Series:
    """One selector's accuracy at each N, with its 95% CI where known."""

    n: list[float]
    accuracy: list[float]
    ci_low: list[float] | None = None
    ci_high: list[float] | None = None


@dataclass(frozen=True)
class AccuracyVsN:
    """Best-of-N accuracy of each selector as N grows."""

    KIND: ClassVar[str] = "accuracy_vs_n"
    selectors: dict[str, Series]
    title: str = ""
    subset: str = ""
    protocol: str = ""

    @classmethod
    def parse(cls, d: dict[str, Any]) -> "AccuracyVsN":
        sel = d.get("selectors")
        if not isinstance(sel, dict) or not sel or not all(isinstance(s, dict) for s in sel.values()):
            raise ShapeError("selectors must map a selector name to {n, accuracy[, ci_low, ci_high]}")
        out = {}
        for name, s in sel.items():
            n, acc = _nums(s.get("n"), "n"), _nums(s.get("accuracy"), "accuracy")
            if len(n) != len(acc) or not n:
                raise ShapeError(f"selector {name!r}: n and accuracy must be non-empty and the same length")
            lo = _nums(s["ci_low"], "ci_low") if s.get("ci_low") is not None else None
            hi = _nums(s["ci_high"], "ci_high") if s.get("ci_high") is not None else None
            ok = lo is not None and hi is not None and len(lo) == len(hi) == len(n)
            out[str(name)] = Series(n, acc, lo if ok else None, hi if ok else None)
        return cls(out, *_common(d))


@dataclass(frozen=True)
class Curve:
    fpr: list[float]
    tpr: list[float]
    auc: float | None = None


@dataclass(frozen=True)
class RocCurves:
    """ROC curve points per membership detector (positive = member)."""

    KIND: ClassVar[str] = "roc"
    detectors: dict[str, Curve]
    title: str = ""
    subset: str = ""
    protocol: str = ""

    @classmethod
    def parse(cls, d: dict[str, Any]) -> "RocCurves":
        det = d.get("detectors")
        if not isinstance(det, dict) or not det or not all(isinstance(c, dict) for c in det.values()):
            raise ShapeError("detectors must map a detector name to {fpr, tpr[, auc]}")
        out = {}
        for name, c in det.items():
            fpr, tpr = _nums(c.get("fpr"), "fpr"), _nums(c.get("tpr"), "tpr")
            if len(fpr) != len(tpr) or len(fpr) < 2:
                raise ShapeError(f"detector {name!r}: fpr and tpr need the same length (at least 2 points)")
            auc = c.get("auc")
            out[str(name)] = Curve(fpr, tpr, _num(auc) if isinstance(auc, (int, float)) else None)
        return cls(out, *_common(d))


@dataclass(frozen=True)
class ConfusionMatrix:
    """Counts with gold labels as rows and predicted labels as columns (e.g. critique verdicts)."""

    KIND: ClassVar[str] = "confusion"
    row_labels: list[str]
    col_labels: list[str]
    counts: list[list[float]]
    title: str = ""
    subset: str = ""
    protocol: str = ""

    @classmethod
    def parse(cls, d: dict[str, Any]) -> "ConfusionMatrix":
        rows, cols = d.get("row_labels"), d.get("col_labels")
        if not (isinstance(rows, list) and isinstance(cols, list) and rows and cols):
            raise ShapeError("needs row_labels, col_labels and counts[len(row_labels)][len(col_labels)]")
        counts = _matrix(d.get("counts"), len(rows), len(cols),
                         "needs row_labels, col_labels and counts[len(row_labels)][len(col_labels)]")
        return cls([str(x) for x in rows], [str(x) for x in cols], counts, *_common(d))


PlotSpec = Union[FlipMatrix, Reliability, AccuracyVsN, RocCurves, ConfusionMatrix]
KINDS: dict[str, type] = {c.KIND: c for c in (FlipMatrix, Reliability, AccuracyVsN, RocCurves, ConfusionMatrix)}


def _common(d: dict[str, Any]) -> tuple[str, str, str]:
    return str(d.get("title") or ""), str(d.get("subset") or ""), str(d.get("protocol") or "")


def to_dict(spec: PlotSpec) -> dict[str, Any]:
    """The results.json form: `plot` names the kind, the fields follow (NaN is written as null)."""
    return {"plot": spec.KIND, **asdict(spec)}


def from_dict(d: Any) -> PlotSpec:
    """The typed spec of a results.json plot entry; ShapeError says what is wrong with a malformed one."""
    if not isinstance(d, dict) or d.get("plot") not in KINDS:
        raise ShapeError(f"not a plot entry (plot kind must be one of {', '.join(KINDS)})")
    return KINDS[d["plot"]].parse(d)

