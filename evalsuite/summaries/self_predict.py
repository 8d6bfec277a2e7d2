"""Self-prediction results per task: accuracy of each prediction (will I be correct? the last digit / parity /
option / first word of my answer) against the majority baseline, and, with an observer model, its accuracy on the
same items and the introspective advantage (self − observer) with a doc-level paired bootstrap CI.

The calibration of P(Yes) and of the stated probability (AUROC, ECE, Brier) comes from the calibration summary
(`self_predict` and `self_predict_verbal` confidences). A yes/no prediction is P(Yes) ≥ 0.5; an item whose
actual property is undefined (no answer extracted, a non-integer's parity) is left out of that property.
"""
from __future__ import annotations

from collections import Counter, defaultdict

import numpy as np

from evalsuite.metrics.base import MetricName
from evalsuite.metrics.bootstrap import bootstrap_ci, bootstrap_mean_ci
from evalsuite.metrics.self_prediction import (introspective_advantage, majority_baseline, observer_accuracy,
                                               self_predict_accuracy)
from evalsuite.records import PREDICTIONS, Kind, Sample, prediction_kind
from evalsuite.scoring.confidence import option_probability
from evalsuite.scoring.properties import answer_property, read_prediction
from evalsuite.summaries.base import Group, Summary, summarizer

_OWN = {k: prop for k, (who, prop) in PREDICTIONS.items() if who == "predict"}
"""The model's own prediction kinds -> the property each predicts."""


def _predicted(s: Sample | None, target: str) -> str | None:
    """What a prediction sample says: "yes"/"no" for correctness, else the property value."""
    if s is None:
        return None
    if target == "correct":
        p = option_probability(s.generation.choice_logprobs, "Yes")
        return None if p is None else ("yes" if p >= 0.5 else "no")
    return read_prediction(target, s.generation.text, s.generation.choice_logprobs)


def _actual(answer: Sample, target: str) -> str | None:
    if target == "correct":
        return "yes" if answer.correct else "no"
    return answer_property(target, answer.extracted)


@summarizer("self_predict")
def summarize_self_predict(g: Group) -> Summary | None:
    items: dict[tuple[str, int], dict[str, Sample]] = defaultdict(dict)
    for s in g.samples:
        items[(s.doc_id, s.sample_idx)][s.kind] = s
    items = {k: v for k, v in items.items() if Kind.ANSWER in v}
    if not items:
        return None
    targets = sorted({_OWN[k] for v in items.values() for k in v if k in _OWN})
    observer = sorted({s.info["observer"] for s in g.samples if s.info.get("observer")})
    rows, extras = [], {}
    for target in targets:
        docs, actual, mine, theirs = [], [], [], []
        for (doc_id, _), v in sorted(items.items()):
            a = _actual(v[Kind.ANSWER], target)
            if a is None:
                continue
            docs.append(doc_id)
            actual.append(a)
            mine.append(_predicted(v.get(prediction_kind("predict", target)), target))
            seen = prediction_kind("observe", target)
            theirs.append(_predicted(v.get(seen), target) if seen in v else "")
        if not docs:
            continue
        groups = np.array(docs)
        hit = np.array([m == a for m, a in zip(mine, actual)], dtype=float)
        rows.append(g.row(0, MetricName("self_predict_accuracy", target), self_predict_accuracy(hit),
                          bootstrap_mean_ci(hit, groups, seed=g.seed), len(docs)))
        mode = Counter(actual).most_common(1)[0][0] if actual else None
        base_hit = np.array([a == mode for a in actual], dtype=float)
        rows.append(g.row(0, MetricName("self_predict_baseline", target), majority_baseline(actual),
                          bootstrap_mean_ci(base_hit, groups, seed=g.seed), len(docs),
                          f"always {mode!r}; CI of that fixed predictor"))
        ex = {"n": len(docs), "actual": dict(Counter(actual)), "predicted": dict(Counter(map(str, mine))),
              "accuracy": self_predict_accuracy(hit), "baseline": majority_baseline(actual)}
        seen = np.array([t != "" for t in theirs])
        if observer and seen.any():
            obs_hit = np.array([t == a for t, a in zip(theirs, actual)], dtype=float)[seen]
            own, grp, note = hit[seen], groups[seen], "observer " + ", ".join(observer)
            rows.append(g.row(0, MetricName("observer_accuracy", target), observer_accuracy(obs_hit),
                              bootstrap_mean_ci(obs_hit, grp, seed=g.seed), int(seen.sum()), note))
            rows.append(g.row(0, MetricName("introspective_advantage", target),
                              introspective_advantage(own, obs_hit),
                              bootstrap_ci(introspective_advantage, [own, obs_hit], grp, seed=g.seed),
                              int(seen.sum()), note))
            ex.update(observer=observer, observer_accuracy=observer_accuracy(obs_hit),
                      advantage=introspective_advantage(own, obs_hit))
        extras[target] = ex
    return Summary(rows, {"self_predict": extras} if extras else {})
