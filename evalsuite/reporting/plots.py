"""Report plots drawn with matplotlib (Agg, no pyplot state) and embedded as SVG data URIs.

A plot is chosen by what a run holds, never by task name:

* ``rounds`` comes from metric rows whose metric metadata says ``plot="rounds"`` (e.g. ``accuracy``): value and
  95% CI against the answer round, one line per metric and protocol.
* Every other kind comes from a summarizer's ``extras``. The report walks each task's extras (dicts and lists, any
  depth) and draws every dict whose ``"plot"`` key names a kind below. Optional on all: ``"title"`` (str),
  ``"protocol"`` (str), ``"subset"`` (str). Numbers may be ``null`` where undefined (JSON has no NaN).

``flip_matrix``: correctness of the same chains in two answer rounds (or ``{"plot": "flip_matrix", "panels":
[...]}`` with one such dict per round pair, drawn side by side)::

    {"plot": "flip_matrix", "from_round": 0, "to_round": 1,
     "counts": [[right_to_right, right_to_wrong], [wrong_to_right, wrong_to_wrong]]}

``reliability``: one reliability diagram per confidence method; empty bins have ``count`` 0 and null means;
``bins`` may also map binning names to bin lists (one panel each); ``mean_confidence`` may stand for ``confidence``::

    {"plot": "reliability", "method": "verbal", "binning": "equal_width",
     "bins": [{"lo": 0.0, "hi": 0.1, "count": 12, "confidence": 0.06, "accuracy": 0.25}, ...]}

``accuracy_vs_n``: best-of-N accuracy of each selector as N grows (CI lists optional, same length as ``n``)::

    {"plot": "accuracy_vs_n",
     "selectors": {"majority": {"n": [1, 2, 4], "accuracy": [0.3, 0.35, 0.4],
                                "ci_low": [...], "ci_high": [...]}, ...}}

``roc``: ROC curve points per detector (``auc`` optional, shown in the legend)::

    {"plot": "roc", "detectors": {"self_critique": {"fpr": [0.0, ..., 1.0], "tpr": [0.0, ..., 1.0], "auc": 0.71}}}

``confusion``: counts with gold labels as rows and predicted labels as columns (e.g. a critique verdict)::

    {"plot": "confusion", "row_labels": ["response correct", "response wrong"],
     "col_labels": ["judged correct", "judged wrong", "unparsed"], "counts": [[40, 5, 2], [12, 30, 1]]}

A kind whose data is absent is not drawn; a dict that names a kind but has the wrong shape is reported as a note.
plot_data.py also recognises the shapes the summarizers write today (flips, reliability bins, best-of-N tables,
critique confusion counts) and translates them to these dicts.
"""
from __future__ import annotations

import base64
import io
import math
from dataclasses import dataclass
from typing import Any, Callable

from evalsuite.metrics.base import spec

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


class ShapeError(ValueError):
    """Extras that name a plot kind but do not have its documented shape."""


def _num(x: Any) -> float:
    if x is None:
        return float("nan")
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        raise ShapeError(f"expected a number, got {x!r:.40}")
    return float(x)


def _nums(xs: Any, what: str) -> list[float]:
    if not isinstance(xs, list):
        raise ShapeError(f"{what} must be a list")
    return [_num(x) for x in xs]


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


def plot_rounds(rows: list[dict[str, Any]]) -> Figure | None:
    """Value with 95% CI against the answer round for metrics whose metadata asks for the `rounds` plot."""
    series: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for r in rows:
        meta = spec(r["metric"])
        if meta is None or meta.plot != "rounds" or r.get("round", -1) < 0 or r.get("value") is None:
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


def _flip_counts(d: Any) -> list[list[float]]:
    counts = d.get("counts") if isinstance(d, dict) else None
    if not (isinstance(counts, list) and len(counts) == 2 and all(isinstance(r, list) and len(r) == 2 for r in counts)):
        raise ShapeError("counts must be [[right_to_right, right_to_wrong], [wrong_to_right, wrong_to_wrong]]")
    return [[_num(v) for v in row] for row in counts]


def plot_flip_matrix(d: dict[str, Any]) -> Figure:
    """One 2×2 panel per round pair: the dict itself, or each entry of its `panels` list."""
    panels = d.get("panels", [d])
    if not isinstance(panels, list) or not panels:
        raise ShapeError("panels must be a non-empty list of {from_round, to_round, counts}")
    mats = [(_flip_counts(p), p.get("from_round", "?"), p.get("to_round", "?")) for p in panels]
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
    title = d.get("title") or ("Flips between attempts" if len(mats) > 1 else f"Flips from attempt {mats[0][1]} to "
                                                                          f"attempt {mats[0][2]}")
    caption = (f"{total:g} chains; attempt pairs {pairs}. Off-diagonal cells are flips: right→wrong (top right) "
               "and wrong→right (bottom left).")
    return Figure("flip_matrix", str(title), to_data_uri(fig), caption)


def _bins(bins: Any, what: str) -> list[tuple[float, float, float, float, float]]:
    """(lo, hi, count, mean confidence, accuracy) per bin; `confidence` or `mean_confidence` is accepted."""
    if not isinstance(bins, list) or not bins or not all(isinstance(b, dict) for b in bins):
        raise ShapeError(f"{what} must be a non-empty list of {{lo, hi, count, confidence, accuracy}}")
    return [(_num(b.get("lo")), _num(b.get("hi")), _num(b.get("count")),
             _num(b.get("confidence", b.get("mean_confidence"))), _num(b.get("accuracy"))) for b in bins]


def _reliability_panel(ax, axc, bins: list[tuple[float, float, float, float, float]], name: str) -> None:
    ax.plot([0, 1], [0, 1], linestyle="--", color="#888", linewidth=1, label="perfect calibration")
    shown = [b for b in bins if b[2] > 0 and not math.isnan(b[4])]
    left = [b[0] for b in shown]
    width = [max(b[1] - b[0], 0.015) for b in shown]
    ax.bar(left, [b[4] for b in shown], width=width, align="edge", color=PALETTE[0], alpha=0.7, edgecolor="white",
           label="accuracy in bin")
    pts = [b for b in shown if not math.isnan(b[3])]
    ax.plot([b[3] for b in pts], [b[4] for b in pts], "o", color=PALETTE[1], markersize=4,
            label="(mean confidence, accuracy)")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.set_title(name, fontsize=9)
    _style(ax)
    axc.bar(left, [b[2] for b in shown], width=width, align="edge", color="#999", edgecolor="white")
    for b, w in zip(shown, width):
        axc.text(b[0] + w / 2, b[2], f"{b[2]:g}", ha="center", va="bottom", fontsize=7)
    axc.set_xlabel("confidence")
    axc.margins(y=0.25)
    _style(axc)


def plot_reliability(d: dict[str, Any]) -> Figure:
    """One panel per binning: `bins` is a list of bins, or a dict binning name -> list of bins."""
    raw = d.get("bins")
    panels = raw if isinstance(raw, dict) else {str(d.get("binning", "")).replace("_", "-"): raw}
    if not panels:
        raise ShapeError("bins must be a list of bins or a dict of binning -> bins")
    parsed = {name: _bins(b, f"bins[{name}]" if name else "bins") for name, b in panels.items()}
    cols = len(parsed)
    fig, axes = _new_figure(0.6 + 3.7 * cols, 4.4, nrows=2, ncols=cols, sharex=True, height_ratios=[3, 1],
                            squeeze=False)
    for j, (name, bins) in enumerate(parsed.items()):
        _reliability_panel(axes[0][j], axes[1][j], bins, f"{name} bins" if name else "")
    axes[0][0].set_ylabel("accuracy")
    axes[1][0].set_ylabel("count")
    axes[0][0].legend(fontsize=7, frameon=False, loc="upper left")
    method = d.get("method", "")
    title = d.get("title") or f"Reliability diagram{': ' + str(method) if method else ''}"
    total = sum(b[2] for b in next(iter(parsed.values())))
    caption = (f"{total:g} answers with a confidence. Bars: accuracy of the answers in each confidence bin (bottom: "
               "how many); dots: the bin's mean confidence; the dashed line is perfect calibration.")
    return Figure("reliability", str(title), to_data_uri(fig), caption)


def plot_accuracy_vs_n(d: dict[str, Any]) -> Figure:
    sel = d.get("selectors")
    if not isinstance(sel, dict) or not sel:
        raise ShapeError("selectors must map a selector name to {n, accuracy[, ci_low, ci_high]}")
    fig, ax = _new_figure()
    all_n: set[float] = set()
    for i, (name, s) in enumerate(sorted(sel.items())):
        if not isinstance(s, dict):
            raise ShapeError(f"selector {name!r} must be a dict")
        n, acc = _nums(s.get("n"), "n"), _nums(s.get("accuracy"), "accuracy")
        if len(n) != len(acc) or not n:
            raise ShapeError(f"selector {name!r}: n and accuracy must be non-empty and the same length")
        style = _line_style(i)
        color = style["color"]
        ax.plot(n, acc, marker="o", linewidth=1.6, label=str(name), **style)
        if "ci_low" in s and "ci_high" in s:
            cl, ch = _nums(s["ci_low"], "ci_low"), _nums(s["ci_high"], "ci_high")
            if len(cl) == len(n) == len(ch):
                ax.fill_between(n, cl, ch, color=color, alpha=0.12, linewidth=0)
        all_n.update(n)
    if all_n and min(all_n) > 0 and max(all_n) / min(all_n) >= 4:
        ax.set_xscale("log", base=2)
    ax.set_xticks(sorted(all_n), [f"{v:g}" for v in sorted(all_n)])
    ax.set_xlabel("N (samples per question)")
    ax.set_ylabel("accuracy")
    ax.set_ylim(-0.03, 1.03)
    _style(ax)
    ax.legend(fontsize=8, frameon=False, loc="best")
    title = d.get("title") or "Best-of-N accuracy by selector"
    return Figure("accuracy_vs_n", str(title), to_data_uri(fig), "Bands are 95% CIs where given.")


def plot_roc(d: dict[str, Any]) -> Figure:
    det = d.get("detectors")
    if not isinstance(det, dict) or not det:
        raise ShapeError("detectors must map a detector name to {fpr, tpr[, auc]}")
    fig, ax = _new_figure(4.6 + (1.8 if len(det) > 4 else 0), 4.0)
    ax.plot([0, 1], [0, 1], linestyle="--", color="#bbb", linewidth=1, label="chance")
    for i, (name, c) in enumerate(sorted(det.items())):
        if not isinstance(c, dict):
            raise ShapeError(f"detector {name!r} must be a dict")
        fpr, tpr = _nums(c.get("fpr"), "fpr"), _nums(c.get("tpr"), "tpr")
        if len(fpr) != len(tpr) or len(fpr) < 2:
            raise ShapeError(f"detector {name!r}: fpr and tpr need the same length (at least 2 points)")
        auc = c.get("auc")
        label = f"{name} (AUC {_num(auc):.3f})" if isinstance(auc, (int, float)) else str(name)
        ax.plot(fpr, tpr, linewidth=1.6, label=label, **_line_style(i))
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.01)
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    _style(ax)
    if len(det) > 4:
        ax.legend(fontsize=7, frameon=False, loc="center left", bbox_to_anchor=(1.02, 0.5))
    else:
        ax.legend(fontsize=8, frameon=False, loc="lower right")
    title = d.get("title") or "ROC curves"
    return Figure("roc", str(title), to_data_uri(fig), "Positive class = member (seen in training).")


def plot_confusion(d: dict[str, Any]) -> Figure:
    rows, cols, counts = d.get("row_labels"), d.get("col_labels"), d.get("counts")
    if not (isinstance(rows, list) and isinstance(cols, list) and isinstance(counts, list)
            and len(counts) == len(rows) and all(isinstance(r, list) and len(r) == len(cols) for r in counts)
            and rows and cols):
        raise ShapeError("needs row_labels, col_labels and counts[len(row_labels)][len(col_labels)]")
    c = [[_num(v) for v in r] for r in counts]
    top = max(max(r) for r in c) or 1
    fig, ax = _new_figure(1.8 + 1.0 * len(cols), 1.3 + 0.7 * len(rows))
    ax.imshow(c, cmap="Purples", vmin=0, vmax=top, aspect="auto")
    for i, r in enumerate(c):
        for j, v in enumerate(r):
            ax.text(j, i, f"{v:g}", ha="center", va="center", fontsize=11, color="white" if v > 0.6 * top else "#111")
    ax.set_xticks(range(len(cols)), [str(x) for x in cols], fontsize=8)
    ax.set_yticks(range(len(rows)), [str(x) for x in rows], fontsize=8)
    ax.tick_params(length=0)
    ax.set_xlabel("predicted")
    ax.set_ylabel("gold")
    title = d.get("title") or "Confusion matrix"
    total = sum(sum(r) for r in c)
    return Figure("confusion", str(title), to_data_uri(fig), f"{total:g} items; rows are gold labels.")


EXTRAS_PLOTS: dict[str, Callable[[dict[str, Any]], Figure]] = {
    "flip_matrix": plot_flip_matrix,
    "reliability": plot_reliability,
    "accuracy_vs_n": plot_accuracy_vs_n,
    "roc": plot_roc,
    "confusion": plot_confusion,
}
"""Plot kinds read from extras (the `rounds` kind reads metric rows)."""


def task_figures(task: dict[str, Any]) -> tuple[list[Figure], list[str]]:
    """The plots a task's metric rows and extras support, and a note for each malformed plot entry."""
    from evalsuite.reporting.plot_data import recognise

    figures, notes = [], []
    rows = task.get("metrics", [])
    rounds = plot_rounds(rows)
    if rounds is not None:
        figures.append(rounds)
    for path, data in recognise(task.get("extras", {}), "", rows, set(EXTRAS_PLOTS)):
        try:
            fig = EXTRAS_PLOTS[data["plot"]](data)
        except ShapeError as e:
            notes.append(f"{path}: {data['plot']} data not drawn ({e})")
            continue
        suffix = " · ".join(str(data[k]) for k in ("subset", "protocol")
                            if data.get(k) and str(data[k]) not in fig.title)
        figures.append(Figure(fig.kind, fig.title + (f" ({suffix})" if suffix else ""), fig.uri,
                              f"{fig.caption} Source: extras {path}."))
    return figures, notes
