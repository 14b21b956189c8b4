"""The inference worker on its QThread, with a real model: results arrive while the UI event
loop keeps running; cancel and supersede drop results; errors become messages; shutdown stops.

The model is the shipped one when it is in resources/models/, else a real small network
trained here for one short epoch on the real chest X-ray data (never a stand-in).
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pydicom
import pytest

from inference.types import AnalysisInput
from viewer.core.analysis_input import patient_age_years
from viewer.paths import sample_study_dir, shipped_models_dir
from viewer.ui.inference_worker import (
    EventLoopProbe,
    InferenceRunner,
    default_analyzer_factory,
)

pytestmark = pytest.mark.gui

SHIPPED_MODEL = "pneumonia-cxr"
CHEST_INTENDED_USE = {"modality": ["CR", "DX"], "body_part": ["CHEST"], "view": ["AP", "PA"]}
_TRAINED: dict[str, Path] = {}


def trained_model_dir(tmp_path_factory, cxr_dir: Path) -> Path:
    """A real network trained for one epoch on a few real radiographs (once per session)."""
    if "tiny" not in _TRAINED:
        from inference.model_card import write_card
        from inference.training import TrainConfig, train

        out = tmp_path_factory.mktemp("tiny-model") / "tiny-cxr"
        config = TrainConfig(
            data=cxr_dir, out=out, epochs=1, limit=24, size=64, widths=(8, 16), stem_width=8,
            batch_size=12, device="cpu", model_id="tiny-cxr", model_name="Tiny CXR test model",
        )  # fmt: skip
        train(config, log=lambda _line: None)
        card = json.loads((out / "card.json").read_text(encoding="utf-8"))
        card["intended_use"] = {"statement": "test model", **CHEST_INTENDED_USE}
        write_card({k: v for k, v in card.items() if k != "schema_version"}, out)
        _TRAINED["tiny"] = out
    return _TRAINED["tiny"]


def analysis_model_dir(tmp_path_factory, cxr_dir: Path) -> Path:
    """The shipped model when it has landed (with its intended use), else the trained one."""
    shipped = shipped_models_dir() / SHIPPED_MODEL / "card.json"
    if shipped.is_file() and json.loads(shipped.read_text(encoding="utf-8")).get("intended_use"):
        return shipped.parent
    return trained_model_dir(tmp_path_factory, cxr_dir)


@pytest.fixture
def model_dir(tmp_path_factory, cxr_dir) -> Path:
    return analysis_model_dir(tmp_path_factory, cxr_dir)


def chest_input(number: int = 3, **changes) -> AnalysisInput:
    """The engine's input for a sample-study chest radiograph, read with pydicom."""
    path = sample_study_dir() / "demo-study" / f"chest-ap-{number}.dcm"
    if not path.is_file():
        pytest.skip(f"sample study not built at {path}")
    dataset = pydicom.dcmread(path)
    fields = {
        "pixels": dataset.pixel_array,
        "photometric": dataset.PhotometricInterpretation,
        "modality": dataset.Modality,
        "body_part": dataset.get("BodyPartExamined", ""),
        "view": dataset.get("ViewPosition", ""),
        "cache_key": (dataset.SOPInstanceUID, 0),
        "source": path.name,
        "from_dicom": True,
        "patient_age_years": patient_age_years(dataset),
    }
    return AnalysisInput(**{**fields, **changes})


@pytest.fixture
def runner(qtbot, model_dir):
    runner = InferenceRunner(default_analyzer_factory(str(model_dir), "cpu"))
    yield runner
    assert runner.shutdown(), "the inference thread did not stop"


def test_result_arrives_while_the_event_loop_keeps_running(qtbot, model_dir):
    """The model is built and run on the worker thread (observed by thread), and the UI's
    event loop keeps ticking meanwhile; no millisecond bound (figures: bench_ui_inference)."""
    build = default_analyzer_factory(str(model_dir), "cpu")
    threads: list[str] = []

    def observed_factory():
        threads.append(threading.current_thread().name)
        analyzer = build()
        analyze = analyzer.analyze

        def observed_analyze(*args, **kwargs):
            threads.append(threading.current_thread().name)
            return analyze(*args, **kwargs)

        analyzer.analyze = observed_analyze
        return analyzer

    runner = InferenceRunner(observed_factory)
    analysis_input = chest_input(3)
    probe = EventLoopProbe(interval_ms=5)
    probe.start()
    with qtbot.waitSignal(runner.result, timeout=120_000) as blocker:
        request_id = runner.submit("image-3", analysis_input)
    probe.stop()
    assert runner.shutdown(), "the inference thread did not stop"
    print(f"max UI gap {probe.max_gap_ms:.0f} ms over {probe.ticks} ticks")
    result_id, result = blocker.args
    assert result_id == request_id
    assert probe.ticks >= 5, "the UI timer did not tick while the model ran"
    assert len(threads) == 2 and threading.main_thread().name not in threads
    assert result.intended_use_ok
    (finding,) = result.findings
    assert 0.0 <= finding.probability <= 1.0
    assert finding.positive == (finding.probability >= finding.threshold)
    heatmap = result.heatmaps[finding.label]
    assert heatmap.shape == analysis_input.pixels.shape  # on the image grid, not the model grid
    assert heatmap.dtype == np.float32 and 0.0 <= heatmap.min() <= heatmap.max() <= 1.0
    assert not runner.is_busy()


def test_cancel_reports_at_once_and_drops_the_result(qtbot, runner):
    results = []
    runner.result.connect(lambda rid, res: results.append(rid))
    with qtbot.waitSignal(runner.cancelled, timeout=1000) as cancelled:
        request_id = runner.submit("image-2", chest_input(2))
        runner.cancel(request_id)
    assert cancelled.args == [request_id]
    assert not runner.is_busy()
    with qtbot.waitSignal(runner.settled, timeout=120_000):
        pass  # the worker finishes (or skips) the cancelled request
    qtbot.wait(50)
    assert results == []


def test_a_new_request_supersedes_the_pending_one(qtbot, runner):
    results, cancelled = [], []
    runner.result.connect(lambda rid, res: results.append(rid))
    runner.cancelled.connect(cancelled.append)
    first = runner.submit("image-2", chest_input(2))
    with qtbot.waitSignal(runner.result, timeout=120_000):
        second = runner.submit("image-3", chest_input(3))
    qtbot.wait(50)
    assert cancelled == [first]
    assert results == [second]


def test_unreadable_input_is_a_message_naming_the_file(qtbot, runner):
    bad = chest_input(3, pixels=np.zeros(7, dtype=np.uint16), source="bad.dcm")
    with qtbot.waitSignal(runner.error, timeout=120_000) as blocker:
        request_id = runner.submit("bad", bad)
    assert blocker.args[0] == request_id
    assert blocker.args[1].startswith("bad.dcm")
    assert "Traceback" not in blocker.args[1]


def test_missing_model_is_a_message_not_a_crash(qtbot, tmp_path):
    runner = InferenceRunner(default_analyzer_factory(str(tmp_path / "no-such-model"), "cpu"))
    try:
        with qtbot.waitSignal(runner.error, timeout=120_000) as blocker:
            runner.submit("image-3", chest_input(3))
        assert "no-such-model" in blocker.args[1]
    finally:
        assert runner.shutdown()
    assert not runner.is_running()


def test_viewer_ai_modules_do_not_import_torch():
    code = (
        "import sys\n"
        "import viewer.ui.ai_controller, viewer.ui.inference_worker\n"
        "import viewer.ui.findings_panel, viewer.ui.heatmap_overlay\n"
        "assert 'torch' not in sys.modules\n"
        "assert 'inference.engine' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
