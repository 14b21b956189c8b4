"""Typed settings persist between runs and survive damaged values."""

from __future__ import annotations

from PySide6.QtCore import QSettings

from viewer.ui.settings import MAX_RECENT, SCHEMA_VERSION, Settings, load_settings, save_settings


def test_round_trip_keeps_types(tmp_path):
    path = tmp_path / "s.ini"
    settings = Settings(layout="2x2", show_overlays=False, cine_fps=24, auto_run_ai=False)
    settings.presets = {"CT": [["Lung", -600, 1500]]}
    settings.add_recent("/data/a")
    save_settings(settings, path)
    loaded = load_settings(path)
    assert loaded == settings
    assert isinstance(loaded.cine_fps, int) and loaded.show_overlays is False
    assert QSettings(str(path), QSettings.Format.IniFormat).value("schema_version") in (
        SCHEMA_VERSION,
        str(SCHEMA_VERSION),
    )


def test_default_location_is_the_per_test_data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("RADLENS_DATA_DIR", str(tmp_path))
    save_settings(Settings(layout="1x2"))
    assert (tmp_path / "settings.ini").exists()
    assert load_settings().layout == "1x2"


def test_damaged_values_fall_back_to_defaults(tmp_path):
    path = tmp_path / "s.ini"
    store = QSettings(str(path), QSettings.Format.IniFormat)
    store.setValue("cine_fps", "fast")
    store.setValue("layout", "7x7")
    store.setValue("recent", "{not json")
    store.sync()
    loaded = load_settings(path)
    assert (loaded.cine_fps, loaded.layout, loaded.recent) == (10, "1x1", [])


def test_recent_list_is_unique_and_bounded():
    settings = Settings()
    for i in range(MAX_RECENT + 3):
        settings.add_recent(f"/p{i}")
    settings.add_recent("/p5")
    assert settings.recent[0] == "/p5"
    assert len(settings.recent) == MAX_RECENT
    assert len(set(settings.recent)) == MAX_RECENT
