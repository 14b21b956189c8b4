"""The session in the real window: an added study is indexed alone and merged (what was open
keeps its objects and stays on screen), files already open make a full index, and the SEG
overlay attaches to the identity of the view it was painted for."""

from __future__ import annotations

import shutil

import pytest

from tests.ui.conftest import LOAD_TIMEOUT_MS, load
from viewer.core.index import build_index
from viewer.core.plane_series import PlaneSeries
from viewer.core.series import open_series
from viewer.core.session import ViewIdentity
from viewer.core.volume import build_volume
from viewer.paths import sample_study_dir
from viewer.ui.ai_controller import image_for

pytestmark = pytest.mark.gui

DEMO = sample_study_dir() / "demo-study"


def add(qtbot, window, paths) -> None:
    with qtbot.waitSignal(window.loader.finished, timeout=LOAD_TIMEOUT_MS):
        window.add_paths([str(p) for p in paths])


def test_an_added_study_is_indexed_alone_and_merged(qtbot, main_window, tmp_path):
    radiograph = tmp_path / "first"
    radiograph.mkdir()
    shutil.copy(DEMO / "chest-ap-1.dcm", radiograph)
    load(qtbot, main_window, [radiograph])
    on_screen = main_window.current_series()
    (first_info,) = main_window.index.all_series()
    indexed = []
    main_window.loader.indexReady.connect(lambda index: indexed.append(index.all_series()))
    add(qtbot, main_window, [DEMO / "mr-sag-t1"])
    (only_new,) = indexed[0]  # the loader scanned the added folder only
    assert all(ref.path.startswith(str(DEMO / "mr-sag-t1")) for ref in only_new.frames)
    series = main_window.index.all_series()
    assert len(series) == 2 and series.count(first_info) == 1
    assert any(s is first_info for s in series)  # kept, not indexed again
    assert main_window.current_series() is on_screen
    assert set(main_window.browser.series_keys()) == {s.key for s in series}


def test_files_already_open_are_indexed_again_with_the_session(qtbot, main_window, tmp_path):
    folder = tmp_path / "retrieved"
    folder.mkdir()
    shutil.copy(DEMO / "chest-ap-1.dcm", folder)
    load(qtbot, main_window, [DEMO / "chest-ap-2.dcm"])
    add(qtbot, main_window, [folder])
    shutil.copy(DEMO / "chest-ap-3.dcm", folder)  # the same folder, retrieved into again
    add(qtbot, main_window, [folder])
    keys = [s.key for s in main_window.index.all_series()]
    assert len(keys) == len(set(keys)) == 3
    assert not main_window.index.skipped


def test_the_seg_overlay_belongs_to_the_view_it_was_painted_for(qtbot, main_window, seg_sr_dir):
    folder = seg_sr_dir / "liver-ct-3slice"
    load(qtbot, main_window, [folder / "ct", folder / "partial_overlaps.dcm"])
    viewport = main_window.active_viewport()
    overlay = main_window.seg_sr.overlays[str(id(viewport))]
    qtbot.waitUntil(lambda: overlay.item.isVisible(), timeout=LOAD_TIMEOUT_MS)
    series = viewport.series()
    shown = ViewIdentity(series.info.key, viewport.frame_index())
    assert main_window.shown_view(viewport) == shown
    assert main_window.session.view(main_window.view_name(viewport)) == shown
    qtbot.waitUntil(lambda: overlay.identity == shown, timeout=LOAD_TIMEOUT_MS)


def test_ai_keys_follow_the_view_identity_so_a_slab_is_another_image(qtbot):
    (info,) = [s for s in build_index([DEMO / "mr-sag-t1"]).all_series() if s.frames]
    series = open_series(info)
    plane = PlaneSeries(series, build_volume(series), "axial")
    assert image_for(series, 4).key == (info.key, 4)  # acquired frames keep (series, frame)
    thin = image_for(plane, 4).key
    plane.set_slab(10, "mip")
    assert image_for(plane, 4).key not in (thin, (info.key, 4))
