"""RL-MIA detector scores on hand-worked arrays, and the ROC metrics against scikit-learn (SPEC-metrics §4)."""
from __future__ import annotations

import math
import zlib

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score, roc_curve

from evalsuite.errors import UsageError
from evalsuite.metrics import contamination as det
from evalsuite.metrics import roc


def test_penalized_cosine_pads_and_penalizes_length():
    # [1,2,0].[2,4,1] = 10, |a| = sqrt(5), |b| = sqrt(21): cos = 10/sqrt(105) = 0.975900; x 2/3
    assert det.penalized_cosine([1, 2], [2, 4, 1]) == pytest.approx(0.650600, abs=1e-6)
    assert det.penalized_cosine([1, 2], [1, 2]) == pytest.approx(1.0)
    assert det.penalized_cosine([0, 0], [1]) == 0.0
    assert det.penalized_cosine([], [1]) == 0.0


def test_self_critique_and_entropy_noise_orientation():
    assert det.self_critique([1, 2], [2, 4, 1]) == pytest.approx(0.650600, abs=1e-6)
    assert math.isnan(det.self_critique([], [1.0]))
    assert math.isnan(det.entropy_noise([1.0], []))
    assert det.member_score("self_critique", 0.65) == 0.65
    assert det.member_score("entropy_noise", 0.65) == -0.65


def test_perplexity_and_its_direction():
    assert det.perplexity([-1, -2, -3]) == pytest.approx(math.exp(2))
    assert math.isnan(det.perplexity([]))
    assert det.member_score("ppl", 7.0) == -7.0


def test_min_k_standard_and_repo_orientation():
    lp = [-1, -5, -2, -4, -3, -0.5, -0.1, -6, -2, -1]  # k = floor(0.2 * 10) = 2: lowest -6, -5
    assert det.min_k(lp) == pytest.approx(-5.5)
    assert det.min_k_repo(lp) == pytest.approx(5.5)
    assert math.isnan(det.min_k([-1, -2, -3, -4]))  # floor(0.8) = 0 tokens
    assert det.DETECTORS["mink"].direction == det.DETECTORS["mink_repo"].direction == 1


def test_min_k_plus_plus():
    # z = (lp - mu) / sigma = [1, 0, -1, -2, -1.5]; k = 1 -> -2
    assert det.min_k_plus_plus([-1, -2, -3, -4, -5], [-2] * 5, [1, 1, 1, 1, 2]) == pytest.approx(-2.0)
    # sigma 0 is floored at sqrt(1e-6): z = (-2 - -1.999) / 0.001 = -1
    assert det.min_k_plus_plus([-2] * 5, [-1.999] * 5, [0.0] * 5) == pytest.approx(-1.0)


def test_zlib_ratio():
    text = "The answer is 42. The answer is 42."
    assert det.zlib_ratio([-1, -3], text) == pytest.approx(2 / len(zlib.compress(text.encode())))
    assert math.isnan(det.zlib_ratio([-1.0], ""))
    assert det.member_score("zlib", 0.1) == -0.1


def test_recall_ratio():
    assert det.recall_ratio([-2, -4], [-1, -2]) == pytest.approx(2.0)
    assert math.isnan(det.recall_ratio([-1.0], [1.0, -1.0]))
    assert math.isnan(det.recall_ratio([], [-1.0]))


@pytest.mark.parametrize("a,b,d", [
    (list("kitten"), list("sitting"), 3), ([1, 2, 3], [], 3), ([], [1, 2], 2), ([1, 2, 3, 4], [2, 3, 4, 5], 2),
    ([1, 2, 3], [1, 2, 3], 0), ([5, 5, 5], [5], 2),
])
def test_token_edit_distance(a, b, d):
    ids = {t: i for i, t in enumerate(sorted(set(a) | set(b), key=str))}
    assert det.token_edit_distance([ids[t] for t in a], [ids[t] for t in b]) == d


def test_cdd_peak():
    greedy = list(range(1, 11))
    samples = [list(range(1, 11)), list(range(1, 10)) + [99], [5, 6, 7]]
    # distances 0, 1, 7; mean length of (10, 10, 3, 10) = 8.25
    assert det.cdd_peak(greedy, samples) == pytest.approx(1 / 3)  # threshold 0.4125
    assert det.cdd_peak(greedy, samples, alpha=0.2) == pytest.approx(2 / 3)  # threshold 1.65
    long = list(range(150))
    assert det.cdd_peak(long, [list(range(100)) + [7] * 50]) == 1.0  # only the first 100 tokens compared
    assert math.isnan(det.cdd_peak([], samples))


def test_entropy_temp():
    # sims: 1 and 1/sqrt(2) * 2/4 = 0.353553; mean 0.676777, std 0.323223 -> 0.676777 * 0.676777
    assert det.entropy_temp([1, 1], [[1, 1], [1, 1, 1, 1]]) == pytest.approx(0.458027, abs=1e-6)
    assert math.isnan(det.entropy_temp([1, 1], [[]]))


def test_detector_options():
    assert det.entropy_key({}) == "entropy" and det.entropy_key({"entropy_topk": 50}) == "entropy_top50"
    assert det.chosen_detectors({"detectors": "ppl, cdd"}) == ("ppl", "cdd")
    assert det.chosen_detectors({}) == tuple(det.DETECTORS)
    with pytest.raises(UsageError, match="unknown detector"):
        det.chosen_detectors({"detectors": "ppl,nope"})


def _tied(seed: int, n: int = 40):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    s = np.round(rng.normal(size=n) + 0.7 * y, 1)  # rounding makes ties, as CDD's fractions do
    return y, s


@pytest.mark.parametrize("seed", range(5))
def test_auc_and_roc_points_match_sklearn(seed):
    y, s = _tied(seed)
    assert roc.roc_auc(y, s) == pytest.approx(roc_auc_score(y, s))
    assert roc.rank_auc(s[y == 1], s[y == 0])[0] == pytest.approx(roc_auc_score(y, s))
    fpr, tpr, _ = roc_curve(y, s)
    f2, t2 = roc._fast_roc(y, s)
    np.testing.assert_allclose(f2, fpr)
    np.testing.assert_allclose(t2, tpr)


def test_auc_is_not_flipped_and_drops_nan():
    assert roc.roc_auc([1, 1, 0, 0], [0.1, 0.2, 0.8, 0.9]) == 0.0
    assert roc.roc_auc([1, 0, 1, 0], [0.9, 0.1, float("nan"), 0.2]) == 1.0
    assert math.isnan(roc.roc_auc([1, 1], [0.3, 0.4]))
    assert math.isnan(roc.tpr_at_fpr([0, 0], [0.3, 0.4], 0.05))


def test_tpr_at_fpr_is_the_point_before_the_target():
    y = [1] * 4 + [0] * 20
    s = [10, 9, 3, 0.5] + [8, 2] + [1.0 - i / 100 for i in range(18)]
    # FPR < 5% allows 0 of 20 non-members: TPR 2/4; FPR < 10% allows 1 (the 8): TPR 3/4
    assert roc.tpr_at_fpr(y, s, 0.05) == 0.5
    assert roc.tpr_at_fpr(y, s, 0.10) == 0.75
    assert roc.tpr_at_5fpr(y, s) == 0.5 and roc.tpr_at_1fpr(y, s) == 0.5


def test_best_f1_threshold():
    # >=0.6 predicts 3 members of which 3 are: P 3/4, R 1 -> F1 1.5 / (1.75 + 1e-6)
    f1, th = roc.best_f1_threshold([1, 1, 0, 1, 0], [0.9, 0.8, 0.7, 0.6, 0.1])
    assert f1 == pytest.approx(1.5 / 1.750001) and th == 0.6


def test_bootstrap_keeps_both_classes_and_brackets_the_estimate():
    y, s = _tied(7, n=30)
    boots = roc.bootstrap_roc(y, s, n_boot=300, seed=1)
    assert set(boots) == {"roc_auc", "tpr@0.01", "tpr@0.05"}
    assert np.isfinite(boots["roc_auc"]).all()
    lo, hi = roc.percentile_ci(boots["roc_auc"])
    assert lo <= roc.roc_auc(y, s) <= hi and hi - lo > 0.05
    perfect = roc.bootstrap_roc([1, 1, 0, 0], [0.9, 0.8, 0.2, 0.1], n_boot=50)
    assert (perfect["roc_auc"] == 1).all() and (perfect["tpr@0.05"] == 1).all()
    assert np.isnan(roc.bootstrap_roc([1, 1], [0.1, 0.2], n_boot=5)["roc_auc"]).all()
