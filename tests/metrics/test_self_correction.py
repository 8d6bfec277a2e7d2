"""Self-correction metrics: hand-worked Δ/CL/CS/RSS, SPEC identities on random data, SCoRe's MATH table."""
from __future__ import annotations

import math

import numpy as np
import pytest

from evalsuite.metrics.self_correction import (
    acc_after, acc_before, confidence_level, critique_score, delta, delta_c2i, delta_i2c, flip_counts,
    relative_self_correction, undefined_reason,
)

BEFORE = np.array([1, 1, 1, 0, 0, 0, 0, 1], bool)
AFTER = np.array([1, 0, 1, 1, 0, 0, 1, 1], bool)


def test_hand_worked_case():
    # rr = chains 0,2,7; rw = 1; wr = 3,6; ww = 4,5; Acc1 = 4/8, Acc2 = 5/8.
    assert flip_counts(BEFORE, AFTER).as_dict() == {"right→right": 3, "right→wrong": 1, "wrong→right": 2, "wrong→wrong": 2}
    assert delta(BEFORE, AFTER) == pytest.approx(0.125)
    assert delta_i2c(BEFORE, AFTER) == pytest.approx(0.25)
    assert delta_c2i(BEFORE, AFTER) == pytest.approx(0.125)
    assert confidence_level(BEFORE, AFTER) == pytest.approx(0.75)
    assert critique_score(BEFORE, AFTER) == pytest.approx(0.5)
    # RSS = (0.625 - 0.25) / (2 * 0.5 * 0.5)
    assert relative_self_correction(BEFORE, AFTER) == pytest.approx(0.75)


def test_second_hand_worked_case():
    before, after = np.array([1, 1, 1, 0], bool), np.array([1, 1, 0, 1], bool)
    assert confidence_level(before, after) == pytest.approx(2 / 3)
    assert critique_score(before, after) == pytest.approx(1.0)
    # (0.75 - 0.5625) / (2 * 0.75 * 0.25) = 0.1875 / 0.375
    assert relative_self_correction(before, after) == pytest.approx(0.5)


def test_cl_is_pooled_over_samples_not_a_mean_of_item_ratios():
    # Item 1: 4 samples right -> right. Item 2: 1 of 4 right at t1, wrong at t2.
    # Per-item mean of P(c2 | c1) would be (1 + 0) / 2 = 0.5; the pooled ratio is 4 / 5.
    before = np.array([1, 1, 1, 1, 1, 0, 0, 0], bool)
    after = np.array([1, 1, 1, 1, 0, 0, 0, 0], bool)
    assert confidence_level(before, after) == pytest.approx(0.8)


def test_matches_the_official_sampling_estimator_with_equal_samples_per_item():
    # SPEC-metrics §1.2: Pa, Pb, Pc per item, CL = sum(Pa*Pb)/sum(Pa), CS = sum((1-Pa)*Pc)/sum(1-Pa).
    rng = np.random.default_rng(3)
    items, n = 40, 10
    c1 = rng.random((items, n)) < rng.random((items, 1))
    c2 = np.where(c1, rng.random((items, n)) < 0.8, rng.random((items, n)) < 0.3)
    pa = c1.mean(1)
    pb = np.array([(a & b).sum() / a.sum() if a.sum() else 0.0 for a, b in zip(c1, c2)])
    pc = np.array([(~a & b).sum() / (~a).sum() if (~a).sum() else 0.0 for a, b in zip(c1, c2)])
    cl = (pa * pb).sum() / pa.sum()
    cs = ((1 - pa) * pc).sum() / (1 - pa).sum()
    acc1, acc2 = pa.mean(), (pa * pb + (1 - pa) * pc).mean()
    assert confidence_level(c1.ravel(), c2.ravel()) == pytest.approx(cl)
    assert critique_score(c1.ravel(), c2.ravel()) == pytest.approx(cs)
    assert relative_self_correction(c1.ravel(), c2.ravel()) == pytest.approx(
        (acc2 - acc1**2) / (2 * acc1 * (1 - acc1)))


@pytest.mark.parametrize("seed", range(20))
def test_identities_on_random_data(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(5, 300))
    before = rng.random(n) < rng.random()
    after = rng.random(n) < rng.random()
    if not (0 < before.mean() < 1):
        before[0], before[-1] = True, False
    acc1, acc2 = acc_before(before, after), acc_after(before, after)
    assert delta(before, after) == pytest.approx(delta_i2c(before, after) - delta_c2i(before, after))
    assert delta(before, after) == pytest.approx(acc2 - acc1)
    assert acc2 == pytest.approx(acc1 * confidence_level(before, after) + (1 - acc1) * critique_score(before, after))


@pytest.mark.parametrize("row", [
    # Method, Acc@t1, Acc@t2, Δ, Δi→c, Δc→i (SCoRe, Gemini 1.5 Flash on MATH; SPEC-metrics §2)
    ("Base", 52.6, 41.4, -11.2, 4.6, 15.8),
    ("Self-Refine", 52.8, 51.8, -1.0, 3.2, 4.2),
    ("STaR", 53.6, 54.0, 0.4, 2.6, 2.2),
    ("Pair-SFT", 52.4, 54.2, 1.8, 5.4, 3.6),
    ("SCoRe", 60.0, 64.4, 4.4, 5.8, 1.4),
])
def test_score_math_table_satisfies_the_identity_and_is_reproduced(row):
    _, acc1, acc2, d, i2c, c2i = row
    assert d == pytest.approx(i2c - c2i, abs=1e-9)
    assert d == pytest.approx(acc2 - acc1, abs=1e-9)
    # Rebuild 1000 problems with the table's counts and recompute every column.
    n = 1000
    rw, wr = round(c2i * 10), round(i2c * 10)
    rr = round(acc1 * 10) - rw
    ww = n - rr - rw - wr
    before = np.array([1] * rr + [1] * rw + [0] * wr + [0] * ww, bool)
    after = np.array([1] * rr + [0] * rw + [1] * wr + [0] * ww, bool)
    assert 100 * acc_before(before, after) == pytest.approx(acc1)
    assert 100 * acc_after(before, after) == pytest.approx(acc2)
    assert 100 * delta(before, after) == pytest.approx(d)
    assert 100 * delta_i2c(before, after) == pytest.approx(i2c)
    assert 100 * delta_c2i(before, after) == pytest.approx(c2i)


def test_score_minus_base_is_the_abstracts_15_6_points():
    assert 4.4 - (-11.2) == pytest.approx(15.6)


@pytest.mark.parametrize("before, name, reason", [
    ([0, 0, 0], "rss", "round-0 accuracy is 0"),
    ([1, 1, 1], "rss", "round-0 accuracy is 1"),
    ([0, 0, 0], "cl", "no answer right at round 0"),
    ([1, 1, 1], "cs", "no answer wrong at round 0"),
])
def test_undefined_values_are_nan_with_a_reason(before, name, reason):
    fns = {"rss": relative_self_correction, "cl": confidence_level, "cs": critique_score}
    b = np.array(before, bool)
    a = np.array([1, 0, 1], bool)
    assert math.isnan(fns[name](b, a))
    assert reason in undefined_reason(name, b, a)
    assert undefined_reason("delta", b, a) == ""


def test_rounds_of_different_lengths_are_refused():
    with pytest.raises(ValueError):
        delta(np.array([1, 0], bool), np.array([1], bool))
