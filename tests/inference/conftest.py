"""Fixtures for inference tests: a real chest radiograph, val images and the shipped model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from inference.image_io import read_image
from inference.robustness import balanced_subset

REPO_ROOT = Path(__file__).resolve().parents[2]
SHIPPED_MODEL = Path(
    __import__("os").environ.get(
        "RADLENS_TEST_MODEL", REPO_ROOT / "resources" / "models" / "pneumonia-cxr"
    )
)


@pytest.fixture
def radiograph_path(cxr_dir) -> Path:
    """A full-resolution pediatric chest radiograph (1232×720 JPEG, label PNEUMONIA)."""
    return cxr_dir / "samples-fullres" / "PNEUMONIA" / "person1023_virus_1714.jpeg"


@pytest.fixture
def radiograph(radiograph_path) -> np.ndarray:
    return read_image(radiograph_path).pixels


@pytest.fixture
def shipped_model_dir() -> Path:
    if not (SHIPPED_MODEL / "card.json").is_file():
        pytest.skip("the shipped model is not in resources/models/pneumonia-cxr")
    return SHIPPED_MODEL


@pytest.fixture
def val_subset(request, cxr_dir):
    """The val images the test module picks with `VAL_PICK = (per_class, seed)`: up to
    `per_class` of each label, seeded (the same pick every run), read, as (inputs, labels,
    class names)."""
    per_class, seed = request.module.VAL_PICK
    return balanced_subset(cxr_dir / "val", per_class, seed=seed)
