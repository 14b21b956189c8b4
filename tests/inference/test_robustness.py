"""Acquisition robustness of the shipped model on val images: blur, scaling, JPEG, noise.

A different scanner or export changes sharpness, resolution, compression and noise, not the
diagnosis: each degradation may flip at most 10 % of the calls on either class.
"""

from __future__ import annotations

import numpy as np
import pytest

from inference.engine import Analyzer
from inference.robustness import DEGRADATIONS, flip_rates

MAX_FLIP_RATE = 0.10
PER_CLASS = 40
VAL_PICK = (PER_CLASS, 0)  # per class, seed: the images `val_subset` gives (conftest.py)


@pytest.mark.slow
def test_acquisition_changes_flip_at_most_a_tenth_of_the_calls(shipped_model_dir, val_subset):
    items, labels, names = val_subset
    analyzer = Analyzer(shipped_model_dir, device="cpu")
    results = flip_rates(analyzer, items, labels, names)
    assert [r.name for r in results] == list(DEGRADATIONS)
    table = {r.name: r.as_dict() for r in results}
    for result in results:
        for name in names:
            assert result.counts[name] == PER_CLASS
            assert result.rate(name) <= MAX_FLIP_RATE, table


def test_degradations_change_the_pixels_but_not_their_range(radiograph):
    for name, degrade in DEGRADATIONS.items():
        out = degrade(radiograph)
        assert out.shape == radiograph.shape[:2], name
        assert not np.allclose(out, radiograph.astype(np.float32)), name
        assert abs(float(out.mean()) - float(radiograph.mean())) < 0.05 * np.ptp(radiograph), name


def test_an_inverted_film_counts_as_flips(shipped_model_dir, val_subset):
    """The measure can fail: a film shown in negative (bone dark) changes calls (the control)."""
    items, labels, names = val_subset
    analyzer = Analyzer(shipped_model_dir, device="cpu")
    keep = np.r_[np.flatnonzero(labels == 0)[:8], np.flatnonzero(labels == 1)[:8]]
    (result,) = flip_rates(
        analyzer,
        [items[i] for i in keep],
        labels[keep],
        names,
        {"negative": lambda p: p.max() - p.astype(np.float32)},
    )
    assert sum(result.flips.values()) > 0


def test_the_report_keeps_stress_blurs_apart_from_the_goal(shipped_model_dir, cxr_dir):
    from inference.robustness import STRESS, format_robustness, robustness_report

    analyzer = Analyzer(shipped_model_dir, device="cpu")
    report = robustness_report(analyzer, cxr_dir / "val", per_class=3)
    assert list(report["degradations"]) == list(DEGRADATIONS)
    assert list(report["stress"]) == list(STRESS)
    assert all(v["images"] == 3 for v in report["stress"]["blur σ=5% width"].values())
    lines = format_robustness(report)
    assert sum(line.rstrip().endswith(")") and "(stress)" in line for line in lines) == len(STRESS)
