"""Shared test fixtures: real data locations, headless Qt, per-test user data folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = Path(os.environ.get("RADLENS_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))


@pytest.fixture(autouse=True)
def _isolated_user_data(tmp_path_factory, monkeypatch):
    """Never write into the real user's data folder from a test."""
    monkeypatch.setenv("RADLENS_DATA_DIR", str(tmp_path_factory.mktemp("radlens-data")))


def _shared_dir(*parts: str) -> Path:
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"real test data not found at {path} (needs ../shared/data beside the repo)")
    return path


@pytest.fixture
def ct_phantom_dir() -> Path:
    """Philips CT, 54 slices 512x512 (../shared/data/dicom/ct-phantom-54sl)."""
    return _shared_dir("dicom", "ct-phantom-54sl")


@pytest.fixture
def mr_sag_dir() -> Path:
    """Siemens MR sagittal T1 + diffusion (../shared/data/dicom/mr-sag-t1-hfs)."""
    return _shared_dir("dicom", "mr-sag-t1-hfs")


@pytest.fixture
def enhanced_mr_dir() -> Path:
    """Enhanced multi-frame MR, Philips and Siemens XA10 (../shared/data/dicom/enhanced-mr)."""
    return _shared_dir("dicom", "enhanced-mr")


@pytest.fixture
def cxr_dir() -> Path:
    """Pediatric chest radiographs, train/val/samples-fullres (../shared/data/cxr)."""
    return _shared_dir("cxr")


@pytest.fixture
def seg_sr_dir() -> Path:
    """Real DICOM SEG/SR objects with their images (../shared/data/seg-sr, see SOURCES.md)."""
    return _shared_dir("seg-sr")


@pytest.fixture(scope="session")
def j2k_ct_dir(tmp_path_factory) -> Path:
    """8 slices of the real CT phantom re-encoded as JPEG 2000 lossless (one new series)."""
    import pydicom
    from pydicom.uid import JPEG2000Lossless, generate_uid

    sources = sorted(_shared_dir("dicom", "ct-phantom-54sl").iterdir())[:8]
    folder = tmp_path_factory.mktemp("j2k-ct")
    series_uid = generate_uid()
    for n, source in enumerate(sources):
        ds = pydicom.dcmread(source)
        ds.compress(JPEG2000Lossless)
        ds.SeriesInstanceUID = series_uid
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        ds.save_as(folder / f"slice{n:02d}.dcm")
    return folder


@pytest.fixture
def decoded_here(monkeypatch):
    """Thread names of the compressed-frame decodes run in this process: every pydicom decode,
    from the file or from its items, goes through `decode._decode_with_plugins` (worker
    processes are not observed: they are other processes)."""
    import threading

    import viewer.core.decode as decode

    threads: list[str] = []
    real = decode._decode_with_plugins

    def observed(*args, **kwargs):
        threads.append(threading.current_thread().name)
        return real(*args, **kwargs)

    monkeypatch.setattr(decode, "_decode_with_plugins", observed)
    return threads
