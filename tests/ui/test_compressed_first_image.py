"""A JPEG 2000 series: its first image and thumbnail are decoded by worker processes (issue 13).

The JPEG 2000 decoders hold the interpreter lock for a whole decode, so one decoded on the
loader's thread stalls the UI thread as long. Asserted by cause: which frames this process
decoded (worker processes are other processes); the pixels on screen are pydicom's.
"""

from __future__ import annotations

import threading

import numpy as np
import pydicom
import pytest
from pydicom.pixels import apply_modality_lut

from tests.ui.conftest import LOAD_TIMEOUT_MS
from viewer.core.errors import LoadCancelled
from viewer.core.index import build_index
from viewer.core.loader import decode_frame_in_worker, shutdown_workers
from viewer.core.render import render_array
from viewer.core.tasks import TaskContext, Ticket
from viewer.ui.load_task import LoadJob

pytestmark = pytest.mark.gui


def open_and_collect(qtbot, window, folder) -> dict[str, np.ndarray]:
    thumbnails: dict[str, np.ndarray] = {}
    window.loader.thumbnailReady.connect(lambda key, image: thumbnails.setdefault(key, image))
    with qtbot.waitSignal(window.loader.finished, timeout=LOAD_TIMEOUT_MS):
        window.open_paths([folder])
    return thumbnails


def assert_pydicom_pixels_shown(viewport) -> None:
    series, frame = viewport.series(), viewport.frame_index()
    ds = pydicom.dcmread(series.info.frames[frame].path)
    expected = apply_modality_lut(ds.pixel_array, ds)
    np.testing.assert_array_equal(viewport.modality_frame(), expected)
    shown = render_array(expected, viewport.state.window, series.photometric)
    np.testing.assert_array_equal(viewport.displayed_image(), shown)


def test_with_the_workers_running_nothing_is_decoded_in_the_app(
    qtbot, main_window, j2k_ct_dir, decoded_here
):
    info = build_index([j2k_ct_dir]).all_series()[0]

    def workers_running() -> bool:  # as a first load leaves them
        decoded_here.clear()
        decode_frame_in_worker(info, 0, here_while_starting=True)
        return decoded_here == []

    decode_frame_in_worker(info, 0)  # starts the workers
    qtbot.waitUntil(workers_running, timeout=LOAD_TIMEOUT_MS)
    thumbnails = open_and_collect(qtbot, main_window, j2k_ct_dir)
    assert decoded_here == []  # preview, first image, thumbnail and volume: all in workers
    assert list(thumbnails) == [main_window.current_series().info.key]
    assert_pydicom_pixels_shown(main_window.active_viewport())


def test_a_first_load_decodes_at_most_its_first_image_on_the_loader(
    qtbot, main_window, j2k_ct_dir, decoded_here
):
    """With the workers still starting, the first image (nothing else on screen yet) is
    decoded at once on the loader's thread; the thumbnail and the rest wait for the workers."""
    shutdown_workers()
    open_and_collect(qtbot, main_window, j2k_ct_dir)
    assert len(decoded_here) <= 1  # the preview's frame
    assert threading.main_thread().name not in decoded_here
    assert_pydicom_pixels_shown(main_window.active_viewport())


def test_a_load_cancelled_during_its_preview_stops_without_an_error_logged(j2k_ct_dir, caplog):
    """The preview's frame waits for a worker; cancelled meanwhile, the load stops there
    (the cancellation is not logged as a failed preview, and no later stage runs)."""
    info = build_index([j2k_ct_dir]).all_series()[0]
    decode_frame_in_worker(info, 0)  # the workers run: the preview's frame goes to them
    ticket = Ticket(None, 1, 0)
    ticket.stop()
    posted: list = []
    job = LoadJob(TaskContext(ticket, lambda kind, payload: posted.append(payload)))
    with pytest.raises(LoadCancelled):
        job._preview([j2k_ct_dir])  # noqa: SLF001 - the stage a cancel interrupts
    assert posted == [] and not [r for r in caplog.records if r.levelname == "ERROR"]
