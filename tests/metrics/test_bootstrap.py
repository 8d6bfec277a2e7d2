"""Accuracy and bootstrap CIs on hand-worked cases."""
from __future__ import annotations

import numpy as np

from evalsuite.metrics import accuracy, bootstrap_ci, bootstrap_mean_ci, spec


def test_accuracy_hand_worked():
    assert accuracy(np.array([1, 0, 1, 1])) == 0.75
    assert np.isnan(accuracy(np.array([])))


def test_constant_data_has_a_zero_width_interval():
    assert bootstrap_mean_ci(np.ones(10)) == (1.0, 1.0)


def test_doc_resampling_keeps_a_docs_samples_together():
    # Two docs, each with 3 samples all right or all wrong: every resample mean is 0, 0.5 or 1.
    values = np.array([1, 1, 1, 0, 0, 0], dtype=float)
    groups = np.array(["a", "a", "a", "b", "b", "b"])
    lo, hi = bootstrap_mean_ci(values, groups, n_boot=2000)
    assert lo == 0.0 and hi == 1.0


def test_interval_covers_the_mean_and_narrows_with_n():
    rng = np.random.default_rng(1)
    small = rng.random(50) < 0.3
    big = rng.random(5000) < 0.3
    lo_s, hi_s = bootstrap_mean_ci(small)
    lo_b, hi_b = bootstrap_mean_ci(big)
    assert lo_s <= small.mean() <= hi_s and lo_b <= big.mean() <= hi_b
    assert hi_b - lo_b < hi_s - lo_s
    # Normal approximation for n=5000, p≈0.3: half-width 1.96*sqrt(.21/5000) ≈ 0.0127.
    assert abs((hi_b - lo_b) / 2 - 0.0127) < 0.003


def test_generic_bootstrap_agrees_with_the_fast_mean():
    values = np.array([1, 0, 1, 1, 0, 1, 0, 0, 1, 1], dtype=float)
    groups = np.arange(10)
    fast = bootstrap_mean_ci(values, groups, n_boot=4000, seed=3)
    slow = bootstrap_ci(lambda v: v.mean(), [values], groups, n_boot=4000, seed=3)
    assert abs(fast[0] - slow[0]) <= 0.1 and abs(fast[1] - slow[1]) <= 0.1


def test_metric_metadata():
    acc = spec("accuracy[official]")
    assert acc.name == "accuracy" and acc.direction == "higher" and acc.label == "Accuracy"
