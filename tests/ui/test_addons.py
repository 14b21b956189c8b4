"""Add-ons are reached through typed keys in `window.addons`, never attributes read back by name."""

from __future__ import annotations

from viewer.ui import addons
from viewer.ui.ai_controller import AiInstallation
from viewer.ui.app import EXTENSIONS
from viewer.ui.measurement_tools import MeasurementInstallation
from viewer.ui.pacs_panel import PacsPanel
from viewer.ui.report_dialog import ReportExporter
from viewer.ui.seg_sr_controller import SegSrController


def test_every_add_on_registers_its_part_under_its_key(main_window):
    parts = main_window.addons
    expected = {
        addons.MEASUREMENTS: MeasurementInstallation,
        addons.REPORT_EXPORTER: ReportExporter,
        addons.AI_ASSIST: AiInstallation,
        addons.PACS: PacsPanel,
        addons.SEG_SR: SegSrController,
    }
    for key, kind in expected.items():
        assert isinstance(parts.get(key), kind), key.name
    assert parts.get(addons.REPORT_ACTION) in main_window.menu("File").actions()
    assert parts.get(addons.ANALYSIS) is main_window.ai.controller
    assert len(main_window.extensions) == len(EXTENSIONS)


def test_busy_parts_hold_the_window_busy(qtbot, main_window, tmp_path):
    parts = main_window.addons
    assert not parts.busy()
    with qtbot.waitSignal(main_window.seg_sr.worker.loaded):
        main_window.seg_sr.worker.load_paths([str(tmp_path)])
        assert parts.busy()  # the SEG/SR worker has a request out
    assert not parts.busy()
