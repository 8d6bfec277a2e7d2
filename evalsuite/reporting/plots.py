"""Report plots drawn with matplotlib (Agg, no pyplot state) and embedded as SVG data URIs.

A plot is chosen by what a run holds, never by task name:

* ``rounds`` comes from metric rows whose glossary entry (results.json) says ``plot="rounds"`` (e.g. ``accuracy``):
  value and 95% CI against the answer round, one line per metric and protocol.
* Every other plot is a typed spec a summarizer returned (plot_specs.py: FlipMatrix, Reliability, AccuracyVsN,
  RocCurves, ConfusionMatrix), stored per task under ``plots`` and drawn by the renderer of its type (a run written
  before results schema 2 is converted once by `evalsuite upgrade`).
"""
from __future__ import annotations

import base64
import io
import math
from dataclasses import dataclass
from typing import Any, Callable

from evalsuite.reporting.glossary import Glossary, base_name
from evalsuite.plot_specs import AccuracyVsN, Bin, ConfusionMatrix, FlipMatrix, Reliability, RocCurves
from evalsuite.reporting.outputs import json_row
from evalsuite.results import GroupResult, TaskResult

PALETTE = ["#1f5fa8", "#d9731a", "#2e8b57", "#b8336a", "#6a4c93", "#7f7f7f", "#c9a227", "#17becf"]
LINESTYLES = ["-", "--", ":", "-."]


def _line_style(i: int) -> dict[str, Any]:
    """Colour and dash of the i-th series, so more series than colours stay distinguishable."""
    return {"color": PALETTE[i % len(PALETTE)], "linestyle": LINESTYLES[(i // len(PALETTE)) % len(LINESTYLES)]}


@dataclass(frozen=True)
class Figure:
    """One rendered plot: its kind, a title, an SVG data URI and a caption for the reader."""

    kind: str
    title: str
    uri: str
    caption: str = ""


def _new_figure(width: float = 5.0, height: float = 3.3, **subplots: Any):
    """A pyplot-free figure (no global backend state) and its axes."""
    from matplotlib.figure import Figure as MplFigure

    fig = MplFigure(figsize=(width, height), dpi=100, layout="constrained")
    return fig, fig.subplots(**subplots)


def _style(ax) -> None:
    ax.grid(True, color="#e3e3e3", linewidth=0.6)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def to_data_uri(fig) -> str:
    """Serialize a matplotlib figure as a deterministic SVG data URI (text kept as text, no timestamp)."""
    import matplotlib

    buf = io.BytesIO()
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "evalsuite"}):
        fig.savefig(buf, format="svg", metadata={"Date": None})
    return "data:image/svg+xml;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def plot_rounds(rows: list[dict[str, Any]], glossary: Glossary) -> Figure | None:
    """Value with 95% CI against the answer round for metrics whose glossary entry asks for the `rounds` plot."""
    series: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for r in rows:
        if not glossary.plots_rounds(base_name(r)) or r.get("round", -1) < 0 or r.get("value") is None:
            continue
        series.setdefault((r["label"], r["protocol"], r.get("subset", "")), []).append(r)
    if not series:
        return None
    varies = [len({key[i] for key in series}) > 1 for i in (1, 2)]
    names = {key: " · ".join([key[0]] + [k for k, v in zip(key[1:], varies) if v and k and k not in key[0]])
             for key in series}
    rounds_seen = sorted({r["round"] for pts in series.values() for r in pts})
    if len(rounds_seen) == 1:
        return _plot_single_round(series, names, rounds_seen[0])
    fig, ax = _new_figure()
    for i, (key, pts) in enumerate(sorted(series.items())):
        pts = sorted(pts, key=lambda r: r["round"])
        lo, hi = _ci_errors(pts)
        offset = (i - (len(series) - 1) / 2) * 0.04
        ax.errorbar([r["round"] + offset for r in pts], [r["value"] for r in pts], yerr=[lo, hi], marker="o",
                    capsize=3, linewidth=1.6, label=names[key], **_line_style(i))
    ax.set_xticks(rounds_seen)
    ax.set_xlim(rounds_seen[0] - 0.5, rounds_seen[-1] + 0.5)
    if _unit_interval(series):
        ax.set_ylim(-0.03, 1.03)
    ax.set_xlabel("attempt (0 = first answer)")
    ax.set_ylabel("value")
    _style(ax)
    ax.legend(fontsize=8, frameon=False, loc="best")
    return Figure("rounds", "Accuracy by attempt", to_data_uri(fig),
                  "Points are estimates, bars are 95% bootstrap CIs over docs.")


def _unit_interval(series: dict[Any, list[dict[str, Any]]]) -> bool:
    """Whether every value and CI bound lies in [0, 1] (then the axis shows all of it, for honest proportions)."""
    vals = [r.get(k) for pts in series.values() for r in pts for k in ("value", "ci_low", "ci_high")]
    return all(v is None or 0.0 <= v <= 1.0 for v in vals)


def _ci_errors(pts: list[dict[str, Any]]) -> tuple[list[float], list[float]]:
    lo = [max(r["value"] - r["ci_low"], 0.0) if r.get("ci_low") is not None else 0.0 for r in pts]
    hi = [max(r["ci_high"] - r["value"], 0.0) if r.get("ci_high") is not None else 0.0 for r in pts]
    return lo, hi


def _plot_single_round(series: dict[tuple[str, str, str], list[dict[str, Any]]], names: dict, rnd: int) -> Figure:
    """With one answer round there is nothing to connect: each metric is a point with its CI."""
    keys = sorted(series)
    pts = [series[k][0] for k in keys]
    fig, ax = _new_figure(5.6, 1.0 + 0.42 * len(keys))
    lo, hi = _ci_errors(pts)
    ys = list(range(len(keys)))[::-1]
    ax.errorbar([r["value"] for r in pts], ys, xerr=[lo, hi], fmt="o", capsize=3, color=PALETTE[0])
    for y, r in zip(ys, pts):
        ax.annotate(f"{r['value']:.3f}", (r["value"], y), textcoords="offset points", xytext=(0, 6), ha="center",
                    fontsize=8)
    ax.set_yticks(ys, [names[k] for k in keys], fontsize=8)
    ax.set_ylim(-0.7, len(keys) - 0.3)
    if _unit_interval(series):
        ax.set_xlim(-0.03, 1.03)
    ax.set_xlabel(f"value at attempt {rnd}")
    _style(ax)
    return Figure("rounds", f"Accuracy, attempt {rnd}", to_data_uri(fig),
                  "Points are estimates, bars are 95% bootstrap CIs over docs. One attempt only: a multi-round "
                  "protocol draws accuracy against the attempt.")


def plot_flip_matrix(d: FlipMatrix) -> Figure:
    """One 2×2 panel per round pair."""
    mats = [(p.counts, p.from_round, p.to_round) for p in d.panels]
    fig, axes = _new_figure(0.9 + 2.5 * len(mats), 2.9, ncols=len(mats), squeeze=False)
    for j, (c, a, b) in enumerate(mats):
        ax = axes[0][j]
        top = max(max(row) for row in c) or 1
        total = sum(sum(row) for row in c)
        ax.imshow(c, cmap="Blues", vmin=0, vmax=top)
        for i in range(2):
            for k in range(2):
                share = f"\n{c[i][k] / total:.0%}" if total else ""
                ax.text(k, i, f"{c[i][k]:g}{share}", ha="center", va="center", fontsize=10,
                        color="white" if c[i][k] > 0.6 * top else "#111")
        ax.set_title(f"attempt {a} → {b}", fontsize=9)
        ax.set_xticks([0, 1], ["right", "wrong"], fontsize=8)
        ax.set_xlabel(f"at attempt {b}", fontsize=8)
        ax.set_yticks([0, 1], ["right", "wrong"] if j == 0 else ["", ""], fontsize=8)
        if j == 0:
            ax.set_ylabel(f"at attempt {a}", fontsize=8)
        ax.tick_params(length=0)
    total = sum(sum(row) for row in mats[0][0])
    pairs = ", ".join(f"{a}→{b}" for _, a, b in mats)
    title = d.title or ("Flips between attempts" if len(mats) > 1 else f"Flips from attempt {mats[0][1]} to "
                                                                       f"attempt {mats[0][2]}")
    caption = (f"{total:g} chains; attempt pairs {pairs}. Off-diagonal cells are flips: right→wrong (top right) "
               "and wrong→right (bottom left).")
    return Figure("flip_matrix", title, to_data_uri(fig), caption)


def _reliability_panel(ax, axc, bins: list[Bin], name: str) -> None:
    ax.plot([0, 1], [0, 1], linestyle="--", color="#888", linewidth=1, label="perfect calibration")
    shown = [b for b in bins if b.count > 0 and not math.isnan(b.accuracy)]
    left = [b.lo for b in shown]
    width = [max(b.hi - b.lo, 0.015) for b in shown]
    ax.bar(left, [b.accuracy for b in shown], width=width, align="edge", color=PALETTE[0], alpha=0.7,
           edgecolor="white", label="accuracy in bin")
    pts = [b for b in shown if not math.isnan(b.confidence)]
    ax.plot([b.confidence for b in pts], [b.accuracy for b in pts], "o", color=PALETTE[1], markersize=4,
            label="(mean confidence, accuracy)")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.set_title(name, fontsize=9)
    _style(ax)
    axc.bar(left, [b.count for b in shown], width=width, align="edge", color="#999", edgecolor="white")
    for b, w in zip(shown, width):
        axc.text(b.lo + w / 2, b.count, f"{b.count:g}", ha="center", va="bottom", fontsize=7)
    axc.set_xlabel("confidence")
    axc.margins(y=0.25)
    _style(axc)


def plot_reliability(d: Reliability) -> Figure:
    """One panel per binning."""
    cols = len(d.bins)
    fig, axes = _new_figure(0.6 + 3.7 * cols, 4.4, nrows=2, ncols=cols, sharex=True, height_ratios=[3, 1],
                            squeeze=False)
    for j, (name, bins) in enumerate(d.bins.items()):
        _reliability_panel(axes[0][j], axes[1][j], bins, f"{name} bins" if name else "")
    axes[0][0].set_ylabel("accuracy")
    axes[1][0].set_ylabel("count")
    axes[0][0].legend(fontsize=7, frameon=False, loc="upper left")
    title = d.title or f"Reliability diagram{': ' + d.method if d.method else ''}"
    total = sum(b.count for b in next(iter(d.bins.values())))
    caption = (f"{total:g} answers with a confidence. Bars: accuracy of the answers in each confidence bin (bottom: "
               "how many); dots: the bin's mean confidence; the dashed line is perfect calibration.")
    return Figure("reliability", title, to_data_uri(fig), caption)


def plot_accuracy_vs_n(d: AccuracyVsN) -> Figure:
    fig, ax = _new_figure()
    all_n: set[float] = set()
    for i, (name, s) in enumerate(sorted(d.selectors.items())):
        style = _line_style(i)
        ax.plot(s.n, s.accuracy, marker="o", linewidth=1.6, label=name, **style)
        if s.ci_low is not None and s.ci_high is not None:
            ax.fill_between(s.n, s.ci_low, s.ci_high, color=style["color"], alpha=0.12, linewidth=0)
        all_n.update(s.n)
    if all_n and min(all_n) > 0 and max(all_n) / min(all_n) >= 4:
        ax.set_xscale("log", base=2)
    ax.set_xticks(sorted(all_n), [f"{v:g}" for v in sorted(all_n)])
    ax.set_xlabel("N (samples per question)")
    ax.set_ylabel("accuracy")
    ax.set_ylim(-0.03, 1.03)
    _style(ax)
    ax.legend(fontsize=8, frameon=False, loc="best")
    return Figure("accuracy_vs_n", d.title or "Best-of-N accuracy by selector", to_data_uri(fig),
                  "Bands are 95% CIs where given.")


def plot_roc(d: RocCurves) -> Figure:
    many = len(d.detectors) > 4
    fig, ax = _new_figure(4.6 + (1.8 if many else 0), 4.0)
    ax.plot([0, 1], [0, 1], linestyle="--", color="#bbb", linewidth=1, label="chance")
    for i, (name, c) in enumerate(sorted(d.detectors.items())):
        label = f"{name} (AUC {c.auc:.3f})" if c.auc is not None else name
        ax.plot(c.fpr, c.tpr, linewidth=1.6, label=label, **_line_style(i))
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.01)
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    _style(ax)
    if many:
        ax.legend(fontsize=7, frameon=False, loc="center left", bbox_to_anchor=(1.02, 0.5))
    else:
        ax.legend(fontsize=8, frameon=False, loc="lower right")
    return Figure("roc", d.title or "ROC curves", to_data_uri(fig), "Positive class = member (seen in training).")


def plot_confusion(d: ConfusionMatrix) -> Figure:
    c, rows, cols = d.counts, d.row_labels, d.col_labels
    top = max(max(r) for r in c) or 1
    fig, ax = _new_figure(1.8 + 1.0 * len(cols), 1.3 + 0.7 * len(rows))
    ax.imshow(c, cmap="Purples", vmin=0, vmax=top, aspect="auto")
    for i, r in enumerate(c):
        for j, v in enumerate(r):
            ax.text(j, i, f"{v:g}", ha="center", va="center", fontsize=11, color="white" if v > 0.6 * top else "#111")
    ax.set_xticks(range(len(cols)), cols, fontsize=8)
    ax.set_yticks(range(len(rows)), rows, fontsize=8)
    ax.tick_params(length=0)
    ax.set_xlabel("predicted")
    ax.set_ylabel("gold")
    total = sum(sum(r) for r in c)
    return Figure("confusion", d.title or "Confusion matrix", to_data_uri(fig),
                  f"{total:g} items; rows are gold labels.")


RENDERERS: dict[type, Callable[[Any], Figure]] = {
    FlipMatrix: plot_flip_matrix,
    Reliability: plot_reliability,
    AccuracyVsN: plot_accuracy_vs_n,
    RocCurves: plot_roc,
    ConfusionMatrix: plot_confusion,
}
"""How each plot spec type is drawn (the `rounds` plot reads metric rows)."""


def task_figures(section: TaskResult | GroupResult, glossary: Glossary | None = None
                 ) -> tuple[list[Figure], list[str]]:
    """The plots of a task's (or group's) results: the rounds plot of its rows, then each plot spec its summarizers
    returned, drawn by type; (figures, notes), the notes empty (the reader refused malformed specs)."""
    figures = []
    rounds = plot_rounds([json_row(r) for r in section.metrics], glossary or Glossary(legacy=True))
    if rounds is not None:
        figures.append(rounds)
    for i, spec in enumerate(section.plots):
        fig = RENDERERS[type(spec)](spec)
        suffix = " · ".join(v for v in (spec.subset, spec.protocol) if v and v not in fig.title)
        figures.append(Figure(fig.kind, fig.title + (f" ({suffix})" if suffix else ""), fig.uri,
                              f"{fig.caption} Source: plots[{i}]."))
    return figures, []
