"""Metrics against independent computations (brute-force pair counting, known parameters)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from inference.metrics import (
    bootstrap_rate_ci,
    expected_calibration_error,
    fit_platt,
    operating_point,
    paired_auc_difference,
    roc_auc,
    sigmoid,
    threshold_for_sensitivity,
    threshold_with_margin,
)


def brute_force_auc(labels, scores) -> float:
    pairs = list(itertools.product(scores[labels == 1], scores[labels == 0]))
    return sum(1.0 if p > n else 0.5 if p == n else 0.0 for p, n in pairs) / len(pairs)


def test_auc_matches_pair_counting_with_ties():
    rng = np.random.default_rng(3)
    labels = rng.integers(0, 2, 200)
    scores = np.round(rng.normal(labels * 0.8, 1.0), 1)  # rounding makes ties
    assert roc_auc(labels, scores) == pytest.approx(brute_force_auc(labels, scores), abs=1e-12)


def test_threshold_reaches_the_target_sensitivity_and_is_the_highest_such():
    rng = np.random.default_rng(4)
    labels = rng.integers(0, 2, 300)
    scores = rng.random(300) + labels * 0.3
    threshold = threshold_for_sensitivity(labels, scores, 0.95)
    assert operating_point(labels, scores, threshold).sensitivity >= 0.95
    deciding = np.min(scores[(scores >= threshold) & (labels == 1)])
    assert operating_point(labels, scores, np.nextafter(deciding, 2.0)).sensitivity < 0.95
    assert not np.any((scores >= threshold) & (scores < deciding))  # no case between the two


def test_threshold_with_margin_keeps_the_sensitivity_ci_above_the_target():
    rng = np.random.default_rng(5)
    labels = rng.integers(0, 2, 400)
    scores = rng.random(400) + labels * 0.5
    point = threshold_for_sensitivity(labels, scores, 0.95)
    margin = threshold_with_margin(labels, scores, 0.95, rounds=2000, seed=1)
    assert margin < point  # the margin costs specificity
    called = scores >= margin
    low, _ = bootstrap_rate_ci(called[labels == 1], rounds=2000, seed=2)
    assert low >= 0.95 - 0.01  # an independent bootstrap agrees within its own noise
    low_at_point, _ = bootstrap_rate_ci((scores >= point)[labels == 1], rounds=2000, seed=2)
    assert low_at_point < 0.95


def test_rate_ci_covers_the_rate_and_narrows_with_more_cases():
    small = bootstrap_rate_ci(np.r_[np.ones(18), np.zeros(2)], seed=0)
    large = bootstrap_rate_ci(np.r_[np.ones(900), np.zeros(100)], seed=0)
    assert small[0] < 0.9 < small[1] and large[0] < 0.9 < large[1]
    assert large[1] - large[0] < (small[1] - small[0]) / 3


def test_operating_point_counts():
    point = operating_point(np.array([1, 1, 0, 0, 1]), np.array([0.9, 0.2, 0.8, 0.1, 0.6]), 0.5)
    assert (point.tp, point.fn, point.fp, point.tn) == (2, 1, 1, 1)
    assert point.sensitivity == pytest.approx(2 / 3) and point.ppv == pytest.approx(2 / 3)


def test_platt_scaling_recovers_known_parameters():
    rng = np.random.default_rng(5)
    logits = rng.normal(0, 3, 20000)
    labels = (rng.random(20000) < sigmoid(logits / 2.0 - 0.7)).astype(int)
    temperature, bias = fit_platt(labels, logits)
    assert temperature == pytest.approx(2.0, rel=0.08) and bias == pytest.approx(-0.7, abs=0.08)


def test_ece_is_small_when_calibrated_and_large_when_not():
    rng = np.random.default_rng(6)
    probabilities = rng.random(20000)
    labels = (rng.random(20000) < probabilities).astype(int)
    assert expected_calibration_error(labels, probabilities) < 0.02
    assert expected_calibration_error(labels, probabilities**4) > 0.15


def test_paired_auc_difference_is_zero_for_one_model_and_positive_for_a_better_one():
    rng = np.random.default_rng(3)
    labels = np.r_[np.ones(60), np.zeros(40)]
    weak = labels * 0.6 + rng.normal(0, 0.5, 100)
    strong = labels * 2.0 + rng.normal(0, 0.5, 100)
    assert paired_auc_difference(labels, weak, weak, rounds=200) == (0.0, 0.0, 0.0)
    difference, low, high = paired_auc_difference(labels, strong, weak, rounds=300)
    assert difference > 0.1 and 0 < low < difference < high
    back = paired_auc_difference(labels, weak, strong, rounds=300)
    assert back[0] == pytest.approx(-difference) and back[2] < 0
