"""User settings, declared once, typed and versioned (napari `_napari_settings.py` style).

Every persisted value is a field of `Settings`; nothing else in the UI touches QSettings keys.
Values live in an INI file in the per-user data folder (``RADLENS_DATA_DIR`` overrides it, so
tests never see the real user's settings). `SCHEMA_VERSION` grows when a field changes meaning;
`MIGRATIONS` turns an older stored dict into the current one before it is read.

Use: ``settings = load_settings()`` … ``settings.layout = "2x2"`` … ``save_settings(settings)``.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from PySide6.QtCore import QSettings

from viewer.paths import user_data_dir
from viewer.ui.layouts import LAYOUT_SHAPES  # the one list of layouts (1×3 included)

SCHEMA_VERSION = 1
MAX_RECENT = 10


@dataclass
class Settings:
    last_folder: str = ""
    recent: list[str] = field(default_factory=list)
    layout: str = "1x1"
    show_overlays: bool = True
    anonymise: bool = False
    cine_fps: int = 10
    # User window presets per modality: {"CT": [["Lung", center, width], ...]}; empty = shipped.
    presets: dict[str, list] = field(default_factory=dict)
    model_name: str = ""
    device: str = "auto"
    auto_run_ai: bool = True
    heatmap_for_negatives: bool = False  # draw the map of a clear negative too (AI menu)
    window_geometry: str = ""  # hex of QMainWindow.saveGeometry()
    # PACS nodes: [{"name", "url", "ca_file"}]; their secrets live in pacs-secrets.json.
    pacs_nodes: list[dict] = field(default_factory=list)
    pacs_aet: str = "RADLENS"
    pacs_cache_gb: int = 20
    # Reports: printed at the top and on the signature line; the paper and the folder last used
    # (empty: the user's documents folder).
    report_institution: str = ""
    report_reader: str = ""
    report_paper: str = "a4"
    report_folder: str = ""

    def add_recent(self, path: str) -> None:
        self.recent = [path] + [p for p in self.recent if p != path]
        del self.recent[MAX_RECENT:]


# version → function turning a stored dict of that version into the next version's dict.
MIGRATIONS: dict[int, Callable[[dict], dict]] = {}


def settings_file() -> Path:
    return user_data_dir() / "settings.ini"


def _store(path: Path | None = None) -> QSettings:
    return QSettings(str(path or settings_file()), QSettings.Format.IniFormat)


def _decode(raw, default):
    """QSettings hands back strings from INI files; turn them into the field's type."""
    if isinstance(default, bool):
        return raw if isinstance(raw, bool) else str(raw).lower() in ("true", "1", "yes")
    if isinstance(default, int):
        return int(raw)
    if isinstance(default, list | dict):
        value = json.loads(raw) if isinstance(raw, str) else raw
        if not isinstance(value, type(default)):
            raise ValueError("wrong type")
        return value
    return str(raw)


def _encode(value):
    return json.dumps(value) if isinstance(value, list | dict) else value


def _migrate(stored: dict, version: int) -> dict:
    while version < SCHEMA_VERSION and version in MIGRATIONS:
        stored = MIGRATIONS[version](stored)
        version += 1
    return stored


def load_settings(path: Path | None = None) -> Settings:
    """Read the settings; unknown, missing or unreadable values fall back to the defaults."""
    store = _store(path)
    version = int(store.value("schema_version", SCHEMA_VERSION) or SCHEMA_VERSION)
    stored = _migrate({key: store.value(key) for key in store.allKeys()}, version)
    settings = Settings()
    for f in fields(Settings):
        if stored.get(f.name) is None:
            continue
        # A damaged value keeps its default rather than stopping the app.
        with contextlib.suppress(ValueError, TypeError):
            setattr(settings, f.name, _decode(stored[f.name], getattr(settings, f.name)))
    if settings.layout not in LAYOUT_SHAPES:
        settings.layout = "1x1"
    return settings


def save_settings(settings: Settings, path: Path | None = None) -> None:
    store = _store(path)
    store.setValue("schema_version", SCHEMA_VERSION)
    for name, value in asdict(settings).items():
        store.setValue(name, _encode(value))
    store.sync()
