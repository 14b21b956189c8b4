"""Query, retrieve and send against a real Orthanc (DIMSE and DICOMweb), through the CLI and
the client layer; decoded pixels of what comes back equal the originals."""

from __future__ import annotations

import json
import threading

import numpy as np
import pydicom
import pytest

from tests.pacs.conftest import DEMO_STUDY_UID, SHARED_MR, ct_small, demo_files
from tests.pacs.orthanc import MOVE_AET, free_port, start_orthanc
from viewer.cli import main
from viewer.core.pacs.client import open_client, retrieve
from viewer.core.pacs.retrieve import LANDING_PREFIX
from viewer.core.pacs.servers import PacsCancelled, PacsError, parse_server

pytestmark = pytest.mark.slow

CT_SMALL_STUDY = "1.3.6.1.4.1.5962.1.2.1.20040119072730.12322"
MR_SERIES = "1.2.826.0.1.3680043.8.498.18943318488204552905332119166281914306"  # 35 RLE frames
DX_J2K_SERIES = "1.2.826.0.1.3680043.8.498.79401674261032823713540557444302445090"


def run_cli(capsys, *argv) -> tuple[int, str, str]:
    status = main(["pacs", *argv])
    out, err = capsys.readouterr()
    return status, out, err


def find_json(capsys, server, *filters) -> list[dict]:
    status, out, err = run_cli(capsys, "find", "--server", server, *filters, "--json")
    assert status == 0, err
    return json.loads(out)


def originals() -> dict[str, pydicom.Dataset]:
    files = [*demo_files(), ct_small()]
    return {str(d.SOPInstanceUID): d for d in (pydicom.dcmread(p) for p in files)}


def assert_same_as_originals(paths, expected_count):
    known = originals()
    assert len(paths) == expected_count
    for path in paths:
        got = pydicom.dcmread(path)
        original = known[str(got.SOPInstanceUID)]
        assert got.file_meta.TransferSyntaxUID == original.file_meta.TransferSyntaxUID
        assert np.array_equal(got.pixel_array, original.pixel_array)


@pytest.mark.usefixtures("web_password")
@pytest.mark.parametrize("kind", ["dimse", "web"])
def test_echo(seeded, capsys, kind):
    server = seeded.dimse_url if kind == "dimse" else seeded.web_url
    status, out, _ = run_cli(capsys, "echo", "--server", server)
    assert status == 0 and "OK" in out


@pytest.mark.usefixtures("web_password")
@pytest.mark.parametrize("kind", ["dimse", "web"])
def test_find_studies_with_wildcards_dates_and_modality(seeded, capsys, kind):
    server = seeded.dimse_url if kind == "dimse" else seeded.web_url
    studies = find_json(capsys, server)
    by_uid = {s["StudyInstanceUID"]: s for s in studies}
    demo = by_uid[DEMO_STUDY_UID]
    assert demo["PatientID"] == "DEMO-0001" and demo["StudyDate"] == "20240315"
    assert sorted(demo["ModalitiesInStudy"]) == ["DX", "MR"]
    assert demo["NumberOfStudyRelatedInstances"] == len(demo_files())
    assert CT_SMALL_STUDY in by_uid
    named = find_json(capsys, server, "--patient-name", "radl*")
    assert [s["StudyInstanceUID"] for s in named] == [DEMO_STUDY_UID]
    in_range = find_json(capsys, server, "--study-date", "20240101-20241231")
    assert [s["StudyInstanceUID"] for s in in_range] == [DEMO_STUDY_UID]
    before = {s["StudyInstanceUID"] for s in find_json(capsys, server, "--study-date", "-20050101")}
    assert CT_SMALL_STUDY in before and DEMO_STUDY_UID not in before
    ct = find_json(capsys, server, "--modality", "CT", "--patient-id", "1CT1")
    assert [s["StudyInstanceUID"] for s in ct] == [CT_SMALL_STUDY]
    assert find_json(capsys, server, "--patient-id", "NOBODY") == []


@pytest.mark.usefixtures("web_password")
@pytest.mark.parametrize("kind", ["dimse", "web"])
def test_find_series_with_counts(seeded, capsys, kind):
    server = seeded.dimse_url if kind == "dimse" else seeded.web_url
    series = find_json(capsys, server, "--level", "series", "--study-uid", DEMO_STUDY_UID)
    counts = {s["SeriesInstanceUID"]: s["NumberOfSeriesRelatedInstances"] for s in series}
    assert counts[MR_SERIES] == 35 and counts[DX_J2K_SERIES] == 1 and len(counts) == 4
    mr = find_json(
        capsys, server, "--level", "series", "--modality", "MR", "--patient-id", "DEMO-0001"
    )
    assert [s["SeriesInstanceUID"] for s in mr] == [MR_SERIES]
    assert mr[0]["Modality"] == "MR" and mr[0]["PatientID"] == "DEMO-0001"


def test_c_get_keeps_stored_syntaxes_and_pixels(seeded, capsys, tmp_path):
    status, out, err = run_cli(
        capsys,
        "get",
        "--server",
        seeded.dimse_url,
        "--study",
        DEMO_STUDY_UID,
        "--out",
        str(tmp_path),
    )
    assert status == 0, err
    assert_same_as_originals(list(tmp_path.rglob("*.dcm")), len(demo_files()))
    assert not list(tmp_path.glob(f"{LANDING_PREFIX}*"))


def test_c_move_to_our_listener(seeded, capsys, tmp_path):
    status, _, err = run_cli(
        capsys,
        "get",
        "--server",
        seeded.dimse_url,
        "--study",
        CT_SMALL_STUDY,
        "--out",
        str(tmp_path),
        "--move-to",
        MOVE_AET,
        "--listen",
        str(seeded.move_port),
    )
    assert status == 0, err
    assert_same_as_originals(list(tmp_path.rglob("*.dcm")), 1)


@pytest.mark.usefixtures("web_password")
def test_wado_rs_series_in_stored_syntax(seeded, capsys, tmp_path):
    status, _, err = run_cli(
        capsys,
        "get",
        "--server",
        seeded.web_url,
        "--study",
        DEMO_STUDY_UID,
        "--series",
        DX_J2K_SERIES,
        "--out",
        str(tmp_path),
    )
    assert status == 0, err
    assert_same_as_originals(list(tmp_path.rglob("*.dcm")), 1)


@pytest.mark.usefixtures("web_password")
def test_wado_rs_real_mr_series_sent_by_stow(seeded, tmp_path):
    if not SHARED_MR.is_dir():
        pytest.skip(f"real test data not found at {SHARED_MR}")
    client = open_client(parse_server(seeded.web_url))
    study = str(
        pydicom.dcmread(next(SHARED_MR.iterdir()), stop_before_pixels=True).StudyInstanceUID
    )
    steps = []
    result = retrieve(client, study, tmp_path, progress=lambda d, t: steps.append((d, t)))
    assert len(result.files) == len(list(SHARED_MR.iterdir())) and steps[-1][0] == steps[-1][1]


def test_send_by_c_store_from_cli(seeded, capsys):
    status, out, err = run_cli(capsys, "send", "--server", seeded.dimse_url, str(ct_small()))
    assert status == 0 and "1 instance(s) sent" in out, err


@pytest.mark.parametrize("kind", ["dimse", "web"])
def test_cancel_leaves_nothing_and_counts_arrivals(seeded, tmp_path, kind, web_password):
    server = parse_server(seeded.dimse_url if kind == "dimse" else seeded.web_url)
    stop = threading.Event()

    def progress(done, _total):
        if done >= 3:
            stop.set()

    with pytest.raises(PacsCancelled) as caught:
        retrieve(
            open_client(server),
            DEMO_STUDY_UID,
            tmp_path,
            series_uid=MR_SERIES,
            progress=progress,
            cancel=stop.is_set,
        )
    assert caught.value.received >= 3
    assert list(tmp_path.iterdir()) == []


def test_errors_are_one_line_naming_the_server(seeded, capsys):
    wrong_port = f"dicom://ORTHANC@127.0.0.1:{free_port()}"
    status, out, err = run_cli(capsys, "echo", "--server", wrong_port)
    assert (
        status == 1 and err.count("\n") == 1 and wrong_port in err and "connection refused" in err
    )
    wrong_aet = seeded.dimse_url.replace("ORTHANC@", "NOTORTHANC@")
    status, _, err = run_cli(capsys, "find", "--server", wrong_aet, "--json")
    assert status == 1 and "association rejected" in err and err.count("\n") == 1
    status, _, err = run_cli(capsys, "find", "--server", seeded.web_url, "--json")  # no password
    assert status == 1 and "HTTP 401" in err and err.count("\n") == 1
    web_port = seeded.web_url.replace(str(seeded.http_port), str(free_port()))
    status, _, err = run_cli(capsys, "echo", "--server", web_port)
    assert status == 1 and "unreachable" in err


def test_server_stopped_during_retrieval(tmp_path_factory, tmp_path):
    server = start_orthanc(tmp_path_factory.mktemp("orthanc-stopped"))
    try:
        client = open_client(parse_server(server.dimse_url), timeout=10)
        client.send(demo_files())

        def stop_server(done, _total):
            if done == 2:
                server.kill()

        with pytest.raises(PacsError) as caught:
            retrieve(client, DEMO_STUDY_UID, tmp_path, series_uid=MR_SERIES, progress=stop_server)
    finally:
        server.stop()
    assert not isinstance(caught.value, PacsCancelled)
    assert server.dimse_url in str(caught.value) and "\n" not in str(caught.value)
    assert list(tmp_path.iterdir()) == []
    assert "had arrived" in str(caught.value)
    assert list(tmp_path.iterdir()) == []
