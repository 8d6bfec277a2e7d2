"""Calibration metrics against scikit-learn and hand-worked cases (SPEC-metrics §5)."""
from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from sklearn.calibration import calibration_curve
from sklearn.metrics import brier_score_loss, roc_auc_score

from evalsuite.metrics.calibration import (aurc, brier, conf_auroc, ece, ece_mass, mass_bins, reliability,
                                           width_bins)


def _sklearn_ece(conf, y, strategy):
    """ECE from sklearn's calibration_curve bins, with counts from the same edges sklearn uses."""
    prob_true, prob_pred = calibration_curve(y, conf, n_bins=10, strategy=strategy)
    edges = np.linspace(0, 1, 11) if strategy == "uniform" else np.percentile(conf, np.linspace(0, 100, 11))
    counts = np.bincount(np.searchsorted(edges[1:-1], conf, side="right"), minlength=10)
    counts = counts[counts > 0]
    return float(np.sum(counts / len(conf) * np.abs(prob_true - prob_pred)))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_equal_width_ece_matches_sklearn_bins(seed):
    rng = np.random.default_rng(seed)
    conf = rng.uniform(0, 1, 300)
    y = (rng.uniform(0, 1, 300) < conf ** 2).astype(int)
    assert ece(conf, y) == pytest.approx(_sklearn_ece(conf, y, "uniform"), abs=1e-12)


@pytest.mark.parametrize("seed", [0, 1])
def test_equal_mass_ece_matches_sklearn_quantile_bins(seed):
    rng = np.random.default_rng(seed)
    conf = rng.uniform(0, 1, 200)
    y = (rng.uniform(0, 1, 200) < conf).astype(int)
    assert ece_mass(conf, y) == pytest.approx(_sklearn_ece(conf, y, "quantile"), abs=1e-12)
    assert sorted(np.bincount(mass_bins(conf))) == [20] * 10


def test_hand_worked_ece_with_round_verbal_values():
    # 0.3 belongs to [0.3, 0.4) (bin 3) and 1.0 to the last bin [0.9, 1.0].
    conf = [0.3, 0.3, 0.95, 1.0]
    y = [1, 0, 1, 1]
    assert list(width_bins(conf)) == [3, 3, 9, 9]
    # bin 3: |0.5 - 0.3| * 2/4 = 0.1; bin 9: |1 - 0.975| * 2/4 = 0.0125
    assert ece(conf, y) == pytest.approx(0.1125)
    rows = reliability(conf, y)
    assert [(r["bin"], r["count"], r["accuracy"]) for r in rows] == [(3, 2, 0.5), (9, 2, 1.0)]
    assert rows[1]["mean_confidence"] == pytest.approx(0.975)
    assert list(width_bins([0.0, 0.1, 0.7, 0.9999, 1.0])) == [0, 1, 7, 9, 9]


def test_equal_mass_bins_keep_ties_together():
    conf = [0.2, 0.2, 0.2, 0.8]
    y = [1, 0, 0, 1]
    # the cut at 2 would split the three 0.2s, so it moves to 3: bins {0.2 x3} and {0.8}
    assert list(mass_bins(conf, 2)) == [0, 0, 0, 1]
    # |1/3 - 0.2| * 3/4 + |1 - 0.8| * 1/4
    assert ece_mass(conf, y, 2) == pytest.approx(abs(1 / 3 - 0.2) * 0.75 + 0.2 * 0.25)
    assert list(mass_bins([0.5] * 5, 10)) == [0] * 5


def test_brier_matches_sklearn_and_hand_value():
    rng = np.random.default_rng(3)
    conf, y = rng.uniform(0, 1, 50), rng.integers(0, 2, 50)
    assert brier(conf, y) == pytest.approx(brier_score_loss(y, conf))
    assert brier([0.9, 0.2], [1, 1]) == pytest.approx((0.01 + 0.64) / 2)


def test_auroc_hand_worked_and_against_sklearn():
    # pairs (correct, wrong): (.9,.8) yes, (.9,.6) yes, (.7,.8) no, (.7,.6) yes -> 3/4
    assert conf_auroc([0.9, 0.8, 0.7, 0.6], [1, 0, 1, 0]) == pytest.approx(0.75)
    assert conf_auroc([0.5, 0.5], [1, 0]) == pytest.approx(0.5)
    assert math.isnan(conf_auroc([0.1, 0.9], [1, 1]))
    rng = np.random.default_rng(4)
    for n in (5, 40, 200):
        conf, y = rng.uniform(0, 1, n).round(1), rng.integers(0, 2, n)  # many ties
        y[:2] = [0, 1]
        assert conf_auroc(conf, y) == pytest.approx(roc_auc_score(y, conf), abs=1e-12)


def test_aurc_hand_worked():
    # risks at coverage 1, 2, 3: 0, 1/2, 1/3
    assert aurc([0.9, 0.8, 0.7], [1, 0, 1]) == pytest.approx((0 + 0.5 + 1 / 3) / 3)
    assert aurc([0.5, 0.5], [1, 0]) == pytest.approx(0.5)


def test_aurc_ties_average_over_orderings():
    conf = [0.9, 0.5, 0.5, 0.5, 0.1]
    y = [0, 1, 1, 0, 1]

    def aurc_of(order):
        err = 1 - np.asarray(y)[list(order)]
        return np.mean(np.cumsum(err) / np.arange(1, len(err) + 1))

    perms = [(0, *p, 4) for p in itertools.permutations([1, 2, 3])]
    assert aurc(conf, y) == pytest.approx(np.mean([aurc_of(p) for p in perms]))


def test_empty_inputs_are_nan():
    for fn in (ece, ece_mass, brier, conf_auroc, aurc):
        assert math.isnan(fn([], []))
