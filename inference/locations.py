"""Where RadLens's shipped resources and per-user data live (no Qt, no torch).

Defined here, in the package that cannot import `viewer`, so that `viewer.paths` and the model
registry share one definition.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


def resources_dir() -> Path:
    """The shipped resources folder, in a source checkout and in a PyInstaller build."""
    frozen_root = getattr(sys, "_MEIPASS", None)
    if frozen_root:
        return Path(frozen_root) / "resources"
    return Path(__file__).resolve().parent.parent / "resources"


def user_data_dir() -> Path:
    """Per-user data folder (measurements sidecars, user models); RADLENS_DATA_DIR overrides."""
    override = os.environ.get("RADLENS_DATA_DIR")
    if override:
        return Path(override)
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA", Path.home() / "AppData" / "Local"))
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        base = Path(os.environ.get("XDG_DATA_HOME", Path.home() / ".local" / "share"))
    return base / "RadLens"


def user_cache_dir() -> Path:
    """Per-user cache folder for files RadLens may delete (extracted archives).

    RADLENS_CACHE_DIR overrides; with only RADLENS_DATA_DIR set (a portable or test setup) the
    cache is `$RADLENS_DATA_DIR/cache`, so one variable moves every per-user folder.
    """
    override = os.environ.get("RADLENS_CACHE_DIR")
    if override:
        return Path(override)
    if os.environ.get("RADLENS_DATA_DIR"):
        return user_data_dir() / "cache"
    if sys.platform == "win32":
        return user_data_dir() / "Cache"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "RadLens"
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "RadLens"


def shipped_models_dir() -> Path:
    return resources_dir() / "models"


def user_models_dir() -> Path:
    return user_data_dir() / "models"
