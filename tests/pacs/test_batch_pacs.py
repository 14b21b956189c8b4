"""`radlens batch` with a real Orthanc as the source (DIMSE and DICOMweb), on a local Dask cluster."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pydicom
import pytest

from tests.conftest import REPO_ROOT
from tests.pacs.conftest import DEMO_STUDY
from tests.pacs.orthanc import HTTP_PASSWORD, start_orthanc

pytestmark = pytest.mark.slow


def batch(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    import os

    return subprocess.run(
        [sys.executable, "-m", "viewer.cli", "batch", *args],
        cwd=REPO_ROOT,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT), **(env or {})},
        capture_output=True,
        text=True,
        timeout=600,
    )


def local_probabilities() -> dict[str, float]:
    """SOP Instance UID → probability of `radlens analyze` on the files that were sent."""
    files = sorted(DEMO_STUDY.glob("chest-ap-*.dcm"))
    done = subprocess.run(
        [sys.executable, "-m", "viewer.cli", "analyze", *map(str, files), "--json", "--force"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    entries = json.loads(done.stdout)
    return {
        pydicom.dcmread(e["path"], stop_before_pixels=True).SOPInstanceUID: e["findings"][0][
            "probability"
        ]
        for e in entries
    }


@pytest.mark.parametrize("protocol", ["dimse", "dicomweb"])
def test_batch_lists_and_retrieves_matching_series_then_resumes(seeded, tmp_path, protocol):
    server = seeded.dimse_url if protocol == "dimse" else seeded.web_url
    out = tmp_path / "out"
    env = {"RADLENS_PACS_PASSWORD": HTTP_PASSWORD}
    args = (server, "--query", "modality=DX", "--out", str(out), "--force", "--json")
    done = batch(*args, env=env)
    assert done.returncode == 0, done.stderr
    with (out / "results.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 3 and {r["status"] for r in rows} == {"done"}
    expected = local_probabilities()
    for row in rows:
        assert Path(row["source"]).is_relative_to(out / "retrieved")
        assert float(row["probability"]) == pytest.approx(
            expected[Path(row["source"]).stem], abs=1e-5
        )

    again = batch(*args, env=env)
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["already_done"] == 3


def test_a_bad_query_or_an_unreachable_server_is_one_line(seeded, tmp_path):
    done = batch(seeded.dimse_url, "--query", "colour=red", "--out", str(tmp_path / "a"))
    assert done.returncode == 2 and "--query" in done.stderr and "Traceback" not in done.stderr
    done = batch("dicom://NOPE@127.0.0.1:1", "--out", str(tmp_path / "b"))
    assert done.returncode == 2 and "127.0.0.1" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


@pytest.fixture
def destination(tmp_path_factory):
    """A second, empty Orthanc receiving the results (the seeded one stays as the other tests
    expect it)."""
    server = start_orthanc(tmp_path_factory.mktemp("orthanc-results"))
    yield server
    server.stop()


def test_send_to_puts_each_studys_sr_and_heatmap_seg_back_once(seeded, destination, tmp_path):
    from viewer.core.pacs.client import find, open_client
    from viewer.core.pacs.query import Query
    from viewer.core.pacs.servers import parse_server

    def result_series() -> list[dict]:
        client = open_client(parse_server(destination.dimse_url))
        return find(client, Query(level="series"))

    out = tmp_path / "out"
    args = (seeded.dimse_url, "--query", "modality=DX", "--out", str(out), "--force", "--json")
    done = batch(*args, "--send-to", destination.dimse_url, "--engine", "local")
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["sent"] == 9  # SC + SR + SEG for each of the 3 radiographs
    kinds = {s["Modality"] for s in result_series()}
    assert {"SR", "SEG"} <= kinds and "DX" not in kinds
    srs = sorted((out / "dicom-out").rglob("SR_*.dcm"))
    assert len(srs) == 3
    sr = pydicom.dcmread(srs[0])
    assert (
        sr.StudyInstanceUID
        == pydicom.dcmread(
            sorted(DEMO_STUDY.glob("chest-ap-*.dcm"))[0], stop_before_pixels=True
        ).StudyInstanceUID
    )

    again = batch(*args, "--send-to", destination.dimse_url, "--engine", "local")
    assert again.returncode == 0 and json.loads(again.stdout)["sent"] == 0
