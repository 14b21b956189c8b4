"""One real Orthanc for the PACS tests (session), seeded through our own C-STORE and STOW-RS."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydicom.data import get_testdata_file

from tests.conftest import REPO_ROOT, SHARED_DATA
from tests.pacs.orthanc import HTTP_PASSWORD, missing_reason, start_orthanc

DEMO_STUDY = REPO_ROOT / "resources" / "samples" / "demo-study"  # J2K, JPEG-LS, RLE, explicit LE
DEMO_STUDY_UID = "1.2.826.0.1.3680043.8.498.10832401441035484449934462285050953944"
SHARED_MR = SHARED_DATA / "dicom" / "mr-sag-t1-hfs" / "3_t1_fl2d_sag"


@pytest.fixture(scope="session")
def orthanc(tmp_path_factory):
    reason = missing_reason()
    if reason:
        pytest.skip(reason)
    server = start_orthanc(tmp_path_factory.mktemp("orthanc"))
    yield server
    server.stop()


@pytest.fixture
def web_password(monkeypatch):
    monkeypatch.setenv("RADLENS_PACS_PASSWORD", HTTP_PASSWORD)


def ct_small() -> Path:
    return Path(get_testdata_file("CT_small.dcm"))


def demo_files() -> list[Path]:
    return sorted(DEMO_STUDY.rglob("*.dcm"))


@pytest.fixture(scope="session")
def seeded(orthanc):
    """The demo study by C-STORE; CT_small and (when ../shared is there) a real MR series by
    STOW-RS, all through RadLens's own senders."""
    import os

    from viewer.core.pacs.client import open_client, send
    from viewer.core.pacs.servers import parse_server

    dimse = open_client(parse_server(orthanc.dimse_url))
    assert send(dimse, demo_files()) == len(demo_files())
    os.environ["RADLENS_PACS_PASSWORD"] = HTTP_PASSWORD
    try:
        web = open_client(parse_server(orthanc.web_url))
        assert send(web, [ct_small()]) == 1
        if SHARED_MR.is_dir():
            assert send(web, [SHARED_MR]) == len(list(SHARED_MR.iterdir()))
    finally:
        del os.environ["RADLENS_PACS_PASSWORD"]
    return orthanc
