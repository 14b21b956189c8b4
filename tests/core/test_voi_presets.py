"""Window presets: CT windows in HU, file windows + auto for other modalities."""

from __future__ import annotations

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file

from viewer.core.presets import find_preset, presets_for
from viewer.core.voi import Window, voi_to_uint8, windows_from_dataset


def test_ct_presets_have_the_usual_hu_windows():
    presets = {p.name: p.window for p in presets_for("CT")}
    assert (presets["lung"].center, presets["lung"].width) == (-600, 1500)
    assert (presets["mediastinum"].center, presets["mediastinum"].width) == (50, 350)
    assert (presets["brain"].center, presets["brain"].width) == (40, 80)
    assert (presets["abdomen"].center, presets["abdomen"].width) == (40, 400)
    assert (presets["liver"].center, presets["liver"].width) == (60, 160)
    assert presets["bone"].width >= 1500


def test_lung_preset_on_a_real_ct(ct_phantom_dir):
    ds = pydicom.dcmread(ct_phantom_dir / "I10")
    values = ds.pixel_array * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
    lung = find_preset("LUNG", presets_for("CT")).window
    shown = voi_to_uint8(values, lung)
    # air (-1024 HU) sits at 21.7 % of the lung window (PS3.3 C.11.2.1.2.1), dense parts white
    assert set(np.unique(shown[values == -1024])) == {round(255 * ((-1024 + 600.5) / 1499 + 0.5))}
    assert shown[values > 150].min() == 255


def test_other_modalities_get_file_windows_then_auto():
    ds = pydicom.dcmread(get_testdata_file("examples_overlay.dcm"))
    presets = presets_for("MR", windows_from_dataset(ds), ds.pixel_array)
    assert [p.name for p in presets] == ["file-1", "file-2", "auto", "full"]
    assert presets[0].window == Window(450.0, 790.0, explanation="WINDOW1")
    assert presets[0].label == "WINDOW1"
    assert "lung" not in {p.name for p in presets}


def test_unknown_preset_names_the_choices():
    with pytest.raises(KeyError, match="lung"):
        find_preset("soft", presets_for("CT"))
    with pytest.raises(KeyError, match="auto"):
        find_preset("lung", presets_for("MR", values=np.arange(10)))


def test_file_windows_that_cannot_be_applied_are_not_offered():
    presets = presets_for("MR", [Window(10.0, 0.5), Window(100.0, 50.0, explanation="T1")])
    assert [(p.name, p.label, p.window.width) for p in presets] == [("file-1", "T1", 50.0)]
