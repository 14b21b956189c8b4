"""Landing folder, received-file checks and the cache (real files, no network)."""

from __future__ import annotations

import os
import shutil

import pydicom
import pytest

from tests.pacs.conftest import ct_small, demo_files
from viewer.core.pacs.retrieve import (
    LANDING_PREFIX,
    Landing,
    RetrievalCache,
    remove_stale_landings,
    safe_name,
)
from viewer.core.pacs.servers import PacsError


def test_commit_moves_checked_files_into_study_series_folders(tmp_path):
    with Landing(tmp_path, "test") as landing:
        for path in demo_files()[:3]:
            landing.write(path.read_bytes())
        result = landing.commit(3)
    assert len(result.files) == 3 and not result.skipped
    assert all(p.relative_to(tmp_path).parts[0] == result.studies[0].name for p in result.files)
    assert not list(tmp_path.glob(f"{LANDING_PREFIX}*"))


def test_incomplete_retrieval_leaves_nothing_and_says_how_many_arrived(tmp_path):
    with pytest.raises(PacsError, match="2 of 5 instance"), Landing(tmp_path, "test") as landing:
        landing.write(ct_small().read_bytes())
        landing.write(demo_files()[0].read_bytes())
        landing.commit(5)
    assert list(tmp_path.iterdir()) == []


def test_received_polyglot_and_garbage_are_refused_the_rest_kept(tmp_path):
    polyglot = bytearray(ct_small().read_bytes())
    polyglot[:2] = b"MZ"  # a Windows executable header in the preamble (CVE-2019-11687)
    with Landing(tmp_path, "test") as landing:
        landing.write(bytes(polyglot))
        landing.write(b"not dicom at all")
        landing.write(demo_files()[0].read_bytes())
        result = landing.commit(3)
    assert len(result.files) == 1
    reasons = " ".join(s.reason for s in result.skipped)
    assert "polyglot" in reasons and len(result.skipped) == 2


def test_instances_of_another_study_than_asked_for_are_refused(tmp_path):
    demo = demo_files()[0]
    with Landing(
        tmp_path, "test", wanted=(str(pydicom.dcmread(demo).StudyInstanceUID), "")
    ) as landing:
        landing.write(ct_small().read_bytes())
        landing.write(demo.read_bytes())
        result = landing.commit(2)
    assert len(result.files) == 1 and "not part of the study" in result.skipped[0].reason


def test_size_limit_stops_a_retrieval(tmp_path):
    data = ct_small().read_bytes()
    with (
        pytest.raises(PacsError, match="larger than the limit"),
        Landing(tmp_path, "test", max_bytes=len(data) + 10) as landing,
    ):
        landing.write(data)
        landing.write(data)
    assert list(tmp_path.iterdir()) == []


def test_uids_that_are_not_uids_never_become_paths():
    assert safe_name("1.2.3") == "1.2.3"
    assert "/" not in safe_name("../../etc") and safe_name("../../etc").startswith("x")


def test_cache_trims_oldest_studies_but_keeps_the_new_one(tmp_path):
    cache = RetrievalCache(tmp_path, max_bytes=1)
    studies = []
    for number in range(3):
        folder = tmp_path / f"1.{number}"
        folder.mkdir()
        shutil.copy(ct_small(), folder / "a.dcm")
        os.utime(folder, (1000 + number, 1000 + number))
        studies.append(folder)
    removed = cache.trim(keep=[studies[0]])
    assert set(removed) == {studies[1], studies[2]} and studies[0].exists()


def test_only_stale_landing_folders_of_crashed_retrievals_are_removed(tmp_path):
    crashed = tmp_path / f"{LANDING_PREFIX}old"
    running = tmp_path / f"{LANDING_PREFIX}new"
    for folder in (crashed, running):
        folder.mkdir()
        (folder / "000001.dcm").write_bytes(ct_small().read_bytes())
    os.utime(crashed, (1000, 1000))
    assert remove_stale_landings(tmp_path) == [crashed]
    assert running.exists() and not crashed.exists()


def test_received_seg_and_sr_are_kept_beside_their_images(tmp_path, seg_sr_dir):
    """The header scan gives a SEG or SR back as a study object, not as a skipped file: it is
    placed by its UIDs like an image (a study retrieved from PACS keeps its SEG/SR)."""
    folder = seg_sr_dir / "liver-ct-3slice"
    received = [
        folder / "ct" / "01.dcm",
        folder / "liver.dcm",
        folder / "sr-tid1500-ct-liver-example.dcm",
    ]
    with Landing(tmp_path, "test") as landing:
        for path in received:
            landing.write(path.read_bytes())
        result = landing.commit(3)
    assert len(result.files) == 3 and not result.skipped


def test_writing_an_instance_does_not_list_the_landing_folder(tmp_path, monkeypatch):
    """Each write is atomic, but the landing is this retrieval's own folder: listing it for a
    killed writer's temporary files on every instance made a retrieval quadratic in its
    instance count (~5 s of listings for 3,000 instances)."""
    listed: list[str] = []
    real_scandir = os.scandir

    def recording_scandir(path="."):
        listed.append(os.fspath(path))
        return real_scandir(path)

    with Landing(tmp_path, "test") as landing:
        monkeypatch.setattr(os, "scandir", recording_scandir)
        for path in demo_files()[:3]:
            landing.write(path.read_bytes())
        monkeypatch.undo()
        assert str(landing.folder) not in listed
        assert sorted(p.name for p in landing.folder.iterdir()) == [
            "000001.dcm",
            "000002.dcm",
            "000003.dcm",
        ]
        assert len(landing.commit(3).files) == 3
