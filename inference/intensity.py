"""Pixel-value statistics that the viewer's automatic window and the model's preprocessing share
(no torch, no Qt): one definition of "the robust percentile range" for both sides.

`viewer.core.voi.auto_window` turns the range into a display window; `inference.preprocessing`
maps it to [0, 1] for the network. They differ only in what they pass: the viewer all non-padding
values, preprocessing a strided subset (`max_samples`) so that 3000² radiographs stay fast.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

ROBUST_PERCENTILES = (0.5, 99.5)  # the default range: outliers (labels, collimator) left out


def percentile_bounds(
    values: np.ndarray, percentiles: Sequence[float], max_samples: int | None = None
) -> tuple[float, float]:
    """The values at the two `percentiles` (in %); with `max_samples`, estimated on every n-th
    value so that at most about that many are sorted."""
    flat = np.asarray(values).reshape(-1)
    stride = 1 if max_samples is None else max(1, flat.size // max_samples)
    low, high = np.percentile(flat[::stride], percentiles)
    return float(low), float(high)
