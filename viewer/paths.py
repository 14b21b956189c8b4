"""Where RadLens finds its resources and keeps per-user data (Qt-free).

The locations themselves are defined once in `inference.locations` (the model registry needs
them and `inference` cannot import `viewer`).
"""

from __future__ import annotations

from pathlib import Path

from inference.locations import (
    resources_dir,
    shipped_models_dir,
    user_cache_dir,
    user_data_dir,
    user_models_dir,
)

__all__ = [
    "resources_dir",
    "sample_study_dir",
    "shipped_models_dir",
    "user_cache_dir",
    "user_data_dir",
    "user_models_dir",
]


def sample_study_dir() -> Path:
    return resources_dir() / "samples"
