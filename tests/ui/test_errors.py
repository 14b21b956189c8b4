"""Trouble: undecodable files are listed and the rest opens; crashes become dialogs, not logs
full of patient data; closing mid-load is covered in test_load_responsiveness.py."""

from __future__ import annotations

import dataclasses
import logging
import shutil
import sys

import pydicom
import pytest
from pydicom.encaps import encapsulate
from pydicom.uid import generate_uid
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QMessageBox

from tests.ui.conftest import load
from viewer.core.series import open_series
from viewer.paths import sample_study_dir
from viewer.ui.errors import install_excepthook

pytestmark = pytest.mark.gui


def _undecodable_radiograph(target):
    """The sample's JPEG 2000 radiograph with its codestream replaced by junk, new UIDs."""
    ds = pydicom.dcmread(sample_study_dir() / "demo-study" / "chest-ap-1.dcm")
    ds.PixelData = encapsulate([b"\x00\x01not a JPEG 2000 codestream" * 8])
    ds.SeriesInstanceUID, ds.StudyInstanceUID = generate_uid(), generate_uid()
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.save_as(target)
    return ds


def _message_boxes():
    return [
        w for w in QApplication.topLevelWidgets() if isinstance(w, QMessageBox) and w.isVisible()
    ]


def test_undecodable_series_is_listed_and_the_rest_opens(
    qtbot, main_window, ct_phantom_dir, tmp_path
):
    bad = _undecodable_radiograph(tmp_path / "aaa-bad.dcm")
    for source in sorted(ct_phantom_dir.iterdir())[:4]:
        shutil.copy(source, tmp_path / f"zz-{source.name}")
    load(qtbot, main_window, [tmp_path])
    shown = main_window.current_series()
    assert shown is not None and shown.info.modality == "CT" and len(shown) == 4
    box = main_window.skipped_message
    assert box is not None and "aaa-bad.dcm" in box.detailedText()
    assert str(bad.PatientName) not in box.text()


def test_background_crash_shows_a_dialog_and_logs_no_patient_data(
    qtbot, main_window, ct_phantom_dir, caplog
):
    load(qtbot, main_window, [ct_phantom_dir])
    info = main_window.current_series().info
    patient = info.study.patient
    broken = open_series(dataclasses.replace(info, key="broken", rows=-1))  # a corrupt index entry
    with (
        caplog.at_level(logging.ERROR),
        qtbot.waitSignal(main_window.loader.failed, timeout=30_000),
    ):
        main_window.loader.prefetch(broken)
    boxes = _message_boxes()
    assert boxes and "ValueError" in boxes[-1].text() + boxes[-1].detailedText()
    assert "background task failed" in caplog.text
    for secret in (patient.name, patient.patient_id):
        if secret:
            assert str(secret) not in caplog.text
    assert main_window.loader.thread_running()  # the worker survives and takes the next job
    with qtbot.waitSignal(main_window.loader.finished, timeout=30_000):
        main_window.loader.prefetch(main_window.current_series())


def test_exception_in_a_slot_becomes_a_dialog(qtbot, main_window, caplog, monkeypatch):
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)  # restored after the test
    install_excepthook(lambda: main_window)

    def explode():
        raise RuntimeError("secret-file-name-DOE^JOHN.dcm is odd")

    with caplog.at_level(logging.ERROR):
        QTimer.singleShot(0, explode)
        # the user sees the message on screen
        qtbot.waitUntil(
            lambda: any("secret-file-name" in b.text() for b in _message_boxes()), timeout=3000
        )
    assert "RuntimeError" in caplog.text and "DOE^JOHN" not in caplog.text
