"""Heatmaps that show evidence: deletion test, absolute scale, blank for a clear negative (val)."""

from __future__ import annotations

import numpy as np
import pytest

from inference.engine import Analyzer
from inference.faithfulness import deletion_test, top_mask

POSITIVES = 30
VAL_PICK = (POSITIVES, 3)  # per class, seed: the images `val_subset` gives (conftest.py)


@pytest.fixture
def analyzer(shipped_model_dir):
    return Analyzer(shipped_model_dir, device="cpu")


@pytest.mark.slow
def test_blurring_what_the_map_ranks_highest_lowers_the_probability(analyzer, val_subset):
    items, labels, _ = val_subset
    positives = [item for item, label in zip(items, labels, strict=True) if label == 1]
    result = deletion_test(analyzer, positives)
    print("deletion on val positives:", result.as_dict())
    assert result.top_drop >= 0.10, result.as_dict()
    assert result.top_drop >= 2 * max(result.mirrored_drop, 0.0), result.as_dict()


def test_map_is_on_one_scale_and_blank_for_a_clear_negative(analyzer, val_subset):
    """Absolute scale: a confident positive's map is hotter than a clear negative's, which is
    blank unless asked for; nothing is stretched per image."""
    if not analyzer.heatmap_spec.absolute:
        pytest.skip("the shipped card has no absolute heatmap scale")
    items, labels, _ = val_subset
    results = analyzer.analyze_batch(items, force=True)
    probabilities = np.array([r.findings[0].probability for r in results])
    peaks = np.array([r.heatmaps["pneumonia"].max() for r in results])
    negative = int(np.argmin(probabilities))
    positive = int(np.argmax(probabilities))
    assert probabilities[negative] < analyzer.heatmap_spec.hide_below
    assert peaks[negative] == 0.0
    assert peaks[positive] > 0.3
    assert peaks.max() <= 1.0 and not np.allclose(peaks[peaks > 0], 1.0)
    analyzer.heatmaps_for_negatives = True
    asked = analyzer.analyze(items[negative], force=True).heatmaps["pneumonia"]
    assert asked.shape == np.shape(items[negative].pixels)[:2]


def test_heatmap_is_finer_than_the_last_block(analyzer, val_subset):
    if not analyzer.heatmap_spec.absolute:
        pytest.skip("the shipped card has no absolute heatmap scale")
    items, labels, _ = val_subset
    positive = items[int(np.flatnonzero(labels == 1)[0])]
    sample = analyzer._prepare(positive)
    import torch

    from inference.preprocessing import normalise

    batch = normalise(torch.from_numpy(sample.image)[None, None], analyzer.spec)
    activations = []
    handles = [layer.register_forward_hook(lambda _m, _i, out: activations.append(out))
               for layer in analyzer.gradcam.layers]  # fmt: skip
    try:
        with torch.no_grad():
            analyzer.network(batch)
    finally:
        for handle in handles:
            handle.remove()
    assert min(a.shape[-1] for a in activations) >= 14  # last block is 7 × 7 at 224 px


def test_top_mask_takes_exactly_the_fraction():
    heat = np.arange(100, dtype=np.float32).reshape(10, 10)
    mask = top_mask(heat, 0.2)
    assert mask.sum() == 20 and mask[-2:].all()
