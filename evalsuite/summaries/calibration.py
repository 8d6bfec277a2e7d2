"""Calibration of every confidence attached to answer samples: ECE (both binnings), Brier, AUROC, AURC, the
missing rate, and reliability-diagram data, per answer round, with doc-level bootstrap CIs.

Probabilities (verbal, P(True), token probability, self-prediction) get every metric; unbounded scores
(self-certainty, mean log-prob) only the ranking metrics AUROC and AURC. Missing values (NaN) are counted,
excluded from calibration and kept in accuracy.
"""
from __future__ import annotations

from collections import defaultdict

import numpy as np

from evalsuite.metrics.base import MetricName
from evalsuite.metrics.bootstrap import bootstrap_ci, bootstrap_mean_ci
from evalsuite.metrics.calibration import (aurc, brier, conf_auroc, confidence, confidence_missing, ece, ece_mass,
                                           mean_confidence, reliability)
from evalsuite.plot_specs import Bin, Reliability
from evalsuite.summaries.base import Group, Summary, summarizer


def reliability_plot(ex: dict, rnd: int) -> Reliability:
    """The reliability diagram of one confidence method at one answer round, both binnings side by side."""
    bins = {name: [Bin(b["lo"], b["hi"], b["count"], b["mean_confidence"], b["accuracy"]) for b in ex[key]]
            for key, name in (("width", "equal-width"), ("mass", "equal-mass")) if ex[key]}
    return Reliability(ex["label"], bins, f"Reliability: {ex['label']}, attempt {rnd}")


@summarizer("calibration")
def summarize_calibration(g: Group) -> Summary | None:
    by_round = defaultdict(list)
    for s in g.samples:
        if s.attempt is not None and s.correct is not None and s.confidence:
            by_round[s.attempt].append(s)
    if not by_round:
        return None
    rows, extras, plots = [], {}, []
    for rnd, ss in sorted(by_round.items()):
        docs_all = np.array([s.doc_id for s in ss])
        for name in sorted({k for s in ss for k in s.confidence}):
            vals = np.array([s.confidence.get(name, np.nan) for s in ss], dtype=float)
            vals = np.where(np.isfinite(vals), vals, np.nan)
            missing = np.isnan(vals)
            keep = ~missing
            c, y, docs = vals[keep], np.array([bool(s.correct) for s in ss], dtype=float)[keep], docs_all[keep]
            rows.append(g.row(rnd, MetricName("confidence_missing", name), confidence_missing(missing),
                              bootstrap_mean_ci(missing.astype(float), docs_all, seed=g.seed), len(ss),
                              note=confidence(name).label))
            if not c.size:
                continue
            metrics = [("conf_auroc", conf_auroc), ("aurc", aurc)]
            if confidence(name).probability:
                metrics = [("ece", ece), ("ece_mass", ece_mass), ("brier", brier)] + metrics
                rows.append(g.row(rnd, MetricName("mean_confidence", name), mean_confidence(c),
                                  bootstrap_mean_ci(c, docs, seed=g.seed), c.size, note=confidence(name).label))
                ex = extras.setdefault(name, {})[str(rnd)] = {
                    "width": reliability(c, y, binning="width"), "mass": reliability(c, y, binning="mass"),
                    "n": int(c.size), "label": confidence(name).label}
                plots.append(reliability_plot(ex, rnd))
            for metric, fn in metrics:
                value = fn(c, y)
                note = confidence(name).label
                if np.isnan(value) and metric == "conf_auroc":
                    note += f"; undefined: all {c.size} answers with this confidence are " + (
                        "right" if y.all() else "wrong")
                rows.append(g.row(rnd, MetricName(metric, name), value,
                                  bootstrap_ci(fn, [c, y], docs, seed=g.seed), c.size, note=note))
    return Summary(rows, {"reliability": extras} if extras else {}, plots)
