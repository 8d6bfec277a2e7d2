"""pass@k estimator: hand-worked values from 1 - C(n-c, k) / C(n, k)."""
from __future__ import annotations

from math import comb

import numpy as np
import pytest

from evalsuite.metrics.base import spec
from evalsuite.metrics.pass_at_k import exec_skipped, mean_pass_at_k, pass_at_1, pass_at_5, pass_at_k


@pytest.mark.parametrize("n, c, k, expected", [
    (10, 1, 1, 0.1),            # c/n
    (10, 0, 1, 0.0),
    (10, 10, 5, 1.0),
    (10, 2, 5, 1 - 56 / 252),   # C(8,5)=56, C(10,5)=252 -> 7/9
    (4, 2, 2, 1 - 1 / 6),       # C(2,2)=1, C(4,2)=6
    (5, 1, 5, 1.0),             # n - c = 4 < k: every 5-subset holds the correct one
    (1, 1, 1, 1.0),             # n = k
])
def test_hand_worked(n, c, k, expected):
    assert pass_at_k(n, c, k) == pytest.approx(expected)


@pytest.mark.parametrize("n, c, k", [(3, 1, 5), (3, 0, 5), (4, 4, 5), (1, 1, 2)])
def test_fewer_samples_than_k_is_not_reported(n, c, k):
    # no k-subset of n < k samples exists: neither the official 1.0 nor 0.0
    assert np.isnan(pass_at_k(n, c, k))


def test_matches_the_binomial_form():
    for n in range(1, 16):
        for c in range(n + 1):
            for k in (1, 2, 5, 10):
                if k <= n:
                    assert pass_at_k(n, c, k) == pytest.approx(1 - comb(n - c, k) / comb(n, k))


def test_means_over_problems():
    n, c = np.array([10, 10, 4]), np.array([1, 0, 2])
    assert pass_at_1(n, c) == pytest.approx((0.1 + 0.0 + 0.5) / 3)
    assert mean_pass_at_k(n, c, 2) == pytest.approx((1 - comb(9, 2) / comb(10, 2) + 0 + 5 / 6) / 3)
    assert pass_at_5(np.array([10]), np.array([2])) == pytest.approx(7 / 9)
    assert np.isnan(pass_at_1(np.array([]), np.array([])))
    assert np.isnan(pass_at_5(np.array([10, 4]), np.array([2, 4])))  # one problem with 4 < 5 samples


def test_bad_counts_raise():
    with pytest.raises(ValueError):
        pass_at_k(3, 4, 1)
    with pytest.raises(ValueError):
        pass_at_k(0, 0, 1)


def test_metadata_and_skip_count():
    assert spec("pass@1").higher_is_better is True and spec("pass@5").label == "pass@5"
    assert exec_skipped(np.array([True, False, True])) == 2.0
