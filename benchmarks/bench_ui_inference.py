"""How long the UI event loop stalls while the AI analyses an image (target: < 50 ms).

Runs the real viewer pieces offscreen — InferenceRunner (QThread worker), AiController,
FindingsPanel and HeatmapOverlay on a pyqtgraph view — on the sample study's chest radiographs
with a real model, and prints the longest gap between ticks of a 5 ms UI timer:

* preload (torch import + model load on the runner's thread, as the window does after a load),
* the first analysis after it,
* warm analyses (engine cache bypassed), from the request to the heatmap on screen,
* the UI-thread time to show one result (panel + heatmap overlay).

    QT_QPA_PLATFORM=offscreen python benchmarks/bench_ui_inference.py [--model ID|DIR] [--runs N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
import pydicom  # noqa: E402
import pyqtgraph as pg  # noqa: E402
from PySide6.QtCore import QEventLoop, QTimer, qInstallMessageHandler  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from inference.types import AnalysisInput  # noqa: E402
from viewer.paths import sample_study_dir  # noqa: E402
from viewer.ui.ai_controller import AiController, AiImage  # noqa: E402
from viewer.ui.findings_panel import FindingsPanel  # noqa: E402
from viewer.ui.heatmap_overlay import HeatmapOverlay  # noqa: E402
from viewer.ui.inference_worker import (  # noqa: E402
    EventLoopProbe,
    InferenceRunner,
    default_analyzer_factory,
    import_engine,
)

TIMEOUT_MS = 300_000


def chest_inputs() -> list[AnalysisInput]:
    folder = sample_study_dir() / "demo-study"
    inputs = []
    for path in sorted(folder.glob("chest-ap-*.dcm")):
        dataset = pydicom.dcmread(path)
        inputs.append(
            AnalysisInput(
                pixels=dataset.pixel_array,
                photometric=dataset.PhotometricInterpretation,
                modality=dataset.Modality,
                body_part=dataset.get("BodyPartExamined", ""),
                view=dataset.get("ViewPosition", ""),
                source=path.name,
            )
        )
    if not inputs:
        raise SystemExit(f"no sample chest radiographs in {folder}")
    return inputs


def wait_for(signal, timeout_ms: int = TIMEOUT_MS) -> list:
    loop, received = QEventLoop(), []
    signal.connect(lambda *args: (received.extend(args), loop.quit()))
    QTimer.singleShot(timeout_ms, loop.quit)
    loop.exec()
    if not received:
        raise SystemExit("timed out waiting for the analysis")
    return received


class Bench:
    def __init__(self, model: str | None, device: str):
        view = pg.GraphicsView()
        self.box = pg.ViewBox(lockAspect=True, invertY=True)
        view.setCentralItem(self.box)
        self.image_item = pg.ImageItem(axisOrder="row-major")
        self.box.addItem(self.image_item)
        self.panel = FindingsPanel()
        self.overlay = HeatmapOverlay(self.image_item)
        self.runner = InferenceRunner(default_analyzer_factory(model, device))
        self.controller = AiController(self.runner, self.panel, self.overlay, lambda: True)
        self.widgets = (view, self.panel)
        for widget in self.widgets:
            widget.show()
        ramp = np.add.outer(np.arange(256), np.arange(256)).astype(np.uint16)  # runs (unverifiable)
        self.marker = AnalysisInput(pixels=ramp, source="preload marker")
        self.runner.error.connect(lambda _rid, message: sys.exit(f"analysis failed: {message}"))

    def import_engine(self) -> float:
        """Seconds to import the engine (torch) on the UI thread, before the loop runs."""
        started = time.perf_counter()
        import_engine()
        return time.perf_counter() - started

    def preload(self) -> tuple[float, float]:
        """(max UI gap ms, seconds) while the worker imports torch and loads the model (then
        analyses a 64x64 marker image, queued behind the preload, to know it is done)."""
        probe = EventLoopProbe(interval_ms=5)
        probe.start()
        started = time.perf_counter()
        self.runner.preload()
        self.runner.submit("preload-done", self.marker)  # queued behind the preload
        wait_for(self.runner.result)
        probe.stop()
        return probe.max_gap_ms, time.perf_counter() - started

    def analyse(self, key: str, analysis_input: AnalysisInput) -> tuple[float, float, object]:
        """(max UI gap ms, seconds from request to result on screen, result)."""
        probe = EventLoopProbe(interval_ms=5)
        probe.start()
        started = time.perf_counter()
        self.image_item.setImage(analysis_input.pixels.astype(np.float32))
        QTimer.singleShot(0, lambda: self.controller.set_image(AiImage(key, analysis_input)))
        (result,) = wait_for(self.controller.resultShown)
        elapsed = time.perf_counter() - started
        QApplication.processEvents()
        probe.stop()
        return probe.max_gap_ms, elapsed, result


def show_cost_ms(bench: Bench, result, runs: int = 5) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        bench.controller._show(result)
        QApplication.processEvents()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def _quiet_offscreen_warnings(_mode, _context, message: str) -> None:
    if "propagateSizeHints" not in message:
        print(message, file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="model id or folder (default: shipped)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--runs", type=int, default=6)
    parser.add_argument(
        "--ui-imports",
        action="store_true",
        help="import torch on the UI thread before the event loop (the old start-up; peer)",
    )
    args = parser.parse_args(argv)
    qInstallMessageHandler(_quiet_offscreen_warnings)
    app = QApplication.instance() or QApplication([])
    pg.setConfigOptions(imageAxisOrder="row-major")
    inputs = chest_inputs()
    bench = Bench(args.model, args.device)

    if args.ui_imports:
        print(f"engine + torch imported on the UI thread before the event loop (the old "
              f"start-up): {bench.import_engine():.2f} s")  # fmt: skip
    else:
        print("the runner imports torch in the preload (as install_ai does; window shown first)")
    gap, seconds = bench.preload()
    print(f"preload (torch import if not yet + model load on the runner): {seconds:.2f} s, "
          f"max UI gap {gap:.1f} ms")  # fmt: skip
    gap, seconds, result = bench.analyse("first", inputs[0])
    print(f"model: {result.model_name} {result.model_version} on {result.device}")
    print(f"first analysis: {seconds * 1000:.0f} ms to screen, max UI gap {gap:.1f} ms")
    gaps, times = [], []
    for run in range(args.runs):
        item = inputs[run % len(inputs)]
        gap, seconds, result = bench.analyse(f"warm-{run}", replace(item, cache_key=None))
        gaps.append(gap)
        times.append(seconds)
        print(f"  run {run + 1}: {item.pixels.shape[1]}x{item.pixels.shape[0]} "
              f"{seconds * 1000:.0f} ms to screen, max UI gap {gap:.1f} ms")  # fmt: skip
    print(f"warm analyses: median {statistics.median(times) * 1000:.0f} ms to screen; "
          f"max UI gap {max(gaps):.1f} ms (median {statistics.median(gaps):.1f} ms); target < 50 ms")  # fmt: skip
    print(f"UI-thread cost of showing one result (panel + heatmap): "
          f"{show_cost_ms(bench, result):.1f} ms median")  # fmt: skip
    bench.controller.shutdown()
    del app
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
