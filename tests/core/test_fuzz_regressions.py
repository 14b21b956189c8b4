"""Inputs that once crashed the reader (found by scripts/fuzz_reader.py) now fail politely.

Each kept input runs in its own process, because two of the original failures killed the
process outright (a Rust panic, a GDCM abort) rather than raising.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pydicom
import pytest
from pydicom.uid import generate_uid

from viewer.core.index import build_index
from viewer.core.loader import load_volume
from viewer.core.series import open_series

REPO = Path(__file__).resolve().parents[2]
CORPUS = sorted((Path(__file__).parent / "fuzz_regressions").glob("*.dcm"))


@pytest.mark.parametrize("path", CORPUS, ids=[p.name for p in CORPUS])
def test_kept_fuzz_input_does_not_crash(path):
    command = [sys.executable, str(REPO / "scripts" / "fuzz_reader.py"), "--replay", str(path)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=REPO)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] in {"opened", "skipped", "rejected"}


def test_grey_frames_with_a_colour_photometric_load(ct_phantom_dir, tmp_path):
    ds = pydicom.dcmread(ct_phantom_dir / "I10")
    ds.SOPInstanceUID = generate_uid()
    ds.PhotometricInterpretation = "RGB"  # but SamplesPerPixel stays 1
    ds.save_as(tmp_path / "odd.dcm")
    (info,) = build_index([tmp_path]).all_series()
    series = open_series(info)
    assert not series.is_color
    volume, skipped = load_volume(info, workers=0)
    assert volume.shape == (1, 512, 512) and not skipped
