"""Contamination detectors -> ROC-AUC, TPR@1%/5%FPR and best F1 per data source and their mean (SPEC §4.4).

Each doc's detector scores come from its contamination-protocol samples (first sample chain); the member label
from Sample.member. Rows carry the data source as `subset` ("mean" for the unweighted mean over sources, as the
paper's AVG column). CIs: stratified bootstrap per source; the mean's CI averages the sources' replicates.
Extras hold one ROC plot per source and every doc's member-oriented score.
"""
from __future__ import annotations

import dataclasses
from collections import defaultdict
from typing import Any

import numpy as np

from evalsuite.metrics import contamination as det
from evalsuite.metrics.base import MetricName
from evalsuite.metrics.roc import (best_f1, best_f1_threshold, bootstrap_roc, percentile_ci, roc_auc, roc_points,
                                   tpr_at_1fpr, tpr_at_5fpr)
from evalsuite.records import Generation, Kind, Sample
from evalsuite.plot_specs import Curve, RocCurves
from evalsuite.score_info import SubsetLabel
from evalsuite.summaries.base import Group, MetricRow, Summary, summarizer

TARGETS = (("mia_tpr_at_1fpr", 0.01), ("mia_tpr_at_5fpr", 0.05))
TPR_AT = {"mia_tpr_at_1fpr": tpr_at_1fpr, "mia_tpr_at_5fpr": tpr_at_5fpr}
"""The registered TPR@FPR metric of each target."""


def doc_scores(by_kind: dict[str, list[Generation]], entropy: str, names: tuple[str, ...]) -> dict[str, float]:
    """Raw detector scores of one doc from its generations grouped by request kind (NaN where a probe is absent)."""
    ans = by_kind[Kind.ANSWER][0]
    lp = ans.stats.get("logprob", [])
    ent = ans.stats.get(entropy, [])
    one = lambda kind: by_kind[kind][0] if by_kind.get(kind) else None  # noqa: E731
    pert, crit = one(Kind.PERTURBED), one(Kind.RETHINK)
    rp, ro = one(Kind.RECALL_PERTURBED), one(Kind.RECALL_ORIGINAL)
    samples = by_kind.get(Kind.SAMPLE, [])
    calc = {
        "self_critique": lambda: det.self_critique(ent, crit.stats.get(entropy, [])) if crit else det.NAN,
        "ppl": lambda: det.perplexity(lp),
        "mink": lambda: det.min_k(lp),
        "mink_repo": lambda: det.min_k_repo(lp),
        "minkpp": lambda: det.min_k_plus_plus(lp, ans.stats.get("mink_mu", []), ans.stats.get("mink_sigma", [])),
        "zlib": lambda: det.zlib_ratio(lp, ans.text),
        "recall": lambda: det.recall_ratio(rp.stats.get("logprob", []), ro.stats.get("logprob", []))
        if rp and ro else det.NAN,
        "recall_repo": lambda: det.recall_ratio(pert.stats.get("logprob", []), lp) if pert else det.NAN,
        "cdd": lambda: det.cdd_peak(ans.token_ids, [s.token_ids for s in samples]) if samples else det.NAN,
        "entropy_noise": lambda: det.entropy_noise(ent, pert.stats.get(entropy, [])) if pert else det.NAN,
        "entropy_temp": lambda: det.entropy_temp(ent, [s.stats.get(entropy, []) for s in samples])
        if samples else det.NAN,
    }
    return {n: calc[n]() for n in names}


def _docs(samples: list[Sample]) -> dict[str, tuple[bool, str, dict[str, list[Generation]]]]:
    """doc_id -> (member, source, generations by kind) for the first chain of every labelled doc."""
    out: dict[str, tuple[bool, str, dict[str, list[Generation]]]] = {}
    kinds: dict[str, dict[str, list[Generation]]] = defaultdict(lambda: defaultdict(list))
    meta: dict[str, tuple[bool | None, str]] = {}
    for s in samples:
        if s.sample_idx != 0:
            continue
        kinds[s.doc_id][s.kind].append(s.generation)
        if s.kind == Kind.ANSWER:
            label = SubsetLabel.from_info(s.info)
            meta[s.doc_id] = (s.member, label.subset if label else "")
    for doc, (member, source) in meta.items():
        if member is not None:
            out[doc] = (member, source, kinds[doc])
    return out


def _row(g: Group, name: str, detector: str, source: str, value: float, ci: tuple[float, float], n: int,
         note: str = "") -> MetricRow:
    row = g.row(-1, MetricName(name, detector), value, ci, n, note)
    label = row.label.split(" (", 1)[0] + f": {det.DETECTORS[detector].label}"
    return dataclasses.replace(row, subset=source, label=label)


@summarizer("contamination")
def summarize_contamination(g: Group) -> Summary | None:
    """Rows per detector and data source, plus the mean over sources when there are several."""
    docs = _docs(g.samples)
    if not docs:
        return None
    names = g.protocol_options.detectors
    entropy = g.protocol_options.entropy
    by_source: dict[str, list[str]] = defaultdict(list)
    for doc, (_, source, _) in docs.items():
        by_source[source or g.subset or g.task].append(doc)
    scores = {doc: doc_scores(kinds, entropy, names) for doc, (_, _, kinds) in docs.items()}
    approx = sorted({a for _, _, k in docs.values() for a in k[Kind.ANSWER][0].approximate})
    rows: list[MetricRow] = []
    curves: list[dict[str, Any]] = []
    oriented: dict[str, dict[str, float]] = {d: {} for d in names}
    for source, ids in by_source.items():
        y = np.array([docs[i][0] for i in ids], dtype=int)
        plot: dict[str, Any] = {"plot": "roc", "subset": source, "title": f"ROC curves: {g.task} / {source}",
                                "detectors": {}}
        for d in names:
            s = np.array([det.member_score(d, scores[i][d]) for i in ids])
            oriented[d].update(zip(ids, s.tolist()))
            n = int(np.isfinite(s).sum())
            boots = bootstrap_roc(y, s, [t for _, t in TARGETS], seed=g.seed)
            auc = roc_auc(y, s)
            note = "; ".join(filter(None, [f"μ/σ approximate ({', '.join(approx)})" if approx and d == "minkpp"
                                           else "", f"{len(ids) - n} docs without a score" if n < len(ids) else ""]))
            rows.append(_row(g, "mia_auc", d, source, auc, percentile_ci(boots["roc_auc"]), n, note))
            for name, t in TARGETS:
                rows.append(_row(g, name, d, source, TPR_AT[name](y, s), percentile_ci(boots[f"tpr@{t}"]), n))
            f1, th = best_f1(y, s), best_f1_threshold(y, s)[1]
            rows.append(_row(g, "mia_best_f1", d, source, f1, (det.NAN, det.NAN), n,
                             f"threshold {th:.6g} on the member-oriented score" if th == th else ""))
            fpr, tpr, _ = roc_points(y, s)
            if fpr.size:
                plot["detectors"][d] = {"fpr": fpr.tolist(), "tpr": tpr.tolist(), "auc": auc}
            plot.setdefault("_boots", {})[d] = boots
        curves.append(plot)
    if len(by_source) > 1:
        rows.extend(_mean_rows(g, names, rows, curves, sum(len(v) for v in by_source.values())))
    for c in curves:
        c.pop("_boots", None)
    members = {doc: bool(m) for doc, (m, _, _) in docs.items()}
    sources = {doc: src or g.subset or g.task for doc, (_, src, _) in docs.items()}
    extras = {"roc": curves, "entropy": entropy, "scores": oriented, "members": members, "sources": sources,
              "detectors": {d: dataclasses.asdict(det.DETECTORS[d]) for d in names}}
    plots = [RocCurves({d: Curve(v["fpr"], v["tpr"], v["auc"]) for d, v in c["detectors"].items()}, c["title"],
                       c["subset"]) for c in curves if c["detectors"]]
    return Summary(rows, extras, plots)


def _mean_rows(g: Group, names: tuple[str, ...], rows: list[MetricRow], curves: list[dict[str, Any]],
               n_docs: int) -> list[MetricRow]:
    """Unweighted mean over sources of each metric; CI from the mean of the sources' bootstrap replicates."""
    out = []
    for d in names:
        per: dict[str, list[float]] = defaultdict(list)
        for r in rows:
            if r.metric.variant == d:
                per[r.metric.name].append(r.value)
        boots = [c["_boots"][d] for c in curves]
        for name, key in (("mia_auc", "roc_auc"), *((n, f"tpr@{t}") for n, t in TARGETS), ("mia_best_f1", None)):
            vals = np.array(per[name], dtype=float)
            value = float(np.nanmean(vals)) if np.isfinite(vals).any() else det.NAN
            ci = (det.NAN, det.NAN)
            if key:
                stack = np.vstack([b[key] for b in boots])
                with np.errstate(all="ignore"):
                    ci = percentile_ci(np.nanmean(np.where(np.isfinite(stack), stack, np.nan), axis=0)
                                       if np.isfinite(stack).any() else stack[0])
            note = f"unweighted mean over {int(np.isfinite(vals).sum())} of {vals.size} sources"
            out.append(_row(g, name, d, "mean", value, ci, n_docs, note))
    return out
