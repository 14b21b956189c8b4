"""Window/level speed in the real viewport, as a ratio to pyqtgraph's own setLevels + paint.

Usage: QT_QPA_PLATFORM=offscreen python benchmarks/bench_window_level.py [--rounds 7]

Cases: a 3000x3000 16-bit radiograph (the sample study's chest-ap-3 scaled up to 12 bits) and
a 512x512 CT slice (the shared CT phantom), each shown fitted in an 800x800 view. One update is
a new window (the centre moves by one, so no table is reused) followed by a synchronous
repaint of the view. Three ways, interleaved round by round, median over the rounds:

* radlens: `Viewport.state.set_window` + paint (renders the visible part at screen size);
* pyqtgraph: an `ImageItem` holding the frame, `setLevels` + paint (the peer);
* before: the previous RadLens path, `render_frame` of the whole frame handed to an ImageItem
  as uint8 with levels (0, 255), + paint.

Prints updates/s and radlens / pyqtgraph time ratio, with the load average.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

import numpy as np
import pydicom
import pyqtgraph as pg
from pydicom.uid import ExplicitVRLittleEndian, generate_uid
from PySide6.QtWidgets import QApplication

from benchmarks.interleave import interleaved_medians
from viewer.core.index import build_index
from viewer.core.render import render_frame
from viewer.core.series import open_series
from viewer.core.voi import Window
from viewer.paths import sample_study_dir
from viewer.ui.viewport import Viewport

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
VIEW = 800
UPDATES = 12


def write_radiograph(folder: Path, size: int = 3000) -> Path:
    """The sample chest radiograph resampled to size x size, 12 bits stored in 16."""
    ds = pydicom.dcmread(sample_study_dir() / "demo-study" / "chest-ap-3.dcm")
    small = ds.pixel_array.astype(np.uint16)
    rows = np.arange(size) * small.shape[0] // size
    cols = np.arange(size) * small.shape[1] // size
    noise = np.random.default_rng(0).integers(0, 16, (size, size), dtype=np.uint16)
    big = small[rows][:, cols] * 16 + noise
    ds.Rows = ds.Columns = size
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 16, 12, 11
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.PixelData = big.tobytes()
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.SeriesInstanceUID = generate_uid()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    for keyword in ("WindowCenter", "WindowWidth", "VOILUTSequence"):
        if keyword in ds:
            delattr(ds, keyword)
    path = folder / "dx3000.dcm"
    ds.save_as(path, enforce_file_format=True)
    return path


def open_one(path: Path):
    (info,) = [s for s in build_index([str(path)]).all_series() if s.frames]
    return open_series(info)


def shown_view(item) -> pg.GraphicsView:
    view = pg.GraphicsView()
    box = pg.ViewBox(lockAspect=True, invertY=True, enableMenu=False)
    view.setCentralItem(box)
    box.addItem(item)
    view.resize(VIEW, VIEW)
    view.show()
    QApplication.processEvents()
    box.autoRange(padding=0.0)
    return view


class Case:
    def __init__(self, name: str, series, center: float, width: float) -> None:
        self.name, self.series, self.center, self.width = name, series, center, width
        self.values = series.modality_frame(0)
        self.viewport = Viewport()
        self.viewport.resize(VIEW, VIEW)
        self.viewport.show()
        self.viewport.set_series(series, 0)
        QApplication.processEvents()
        self.viewport.fit()
        low = center - width / 2
        self.peer_item = pg.ImageItem(
            self.values, axisOrder="row-major", autoLevels=False, levels=(low, low + width)
        )
        self.peer = shown_view(self.peer_item)
        self.before_item = pg.ImageItem(axisOrder="row-major")
        self.before = shown_view(self.before_item)
        self.step = 0

    def windows(self) -> list[Window]:
        self.step += UPDATES
        return [Window(self.center + self.step + i, self.width) for i in range(UPDATES)]

    def radlens(self) -> None:
        for window in self.windows():
            self.viewport.state.set_window(window)
            self.viewport.graphics.viewport().repaint()

    def pyqtgraph(self) -> None:
        for window in self.windows():
            low = window.center - window.width / 2
            self.peer_item.setLevels((low, low + window.width))
            self.peer.viewport().repaint()

    def previous(self) -> None:
        for window in self.windows():
            image = render_frame(self.series, 0, window)
            self.before_item.setImage(image, autoLevels=False, levels=(0, 255))
            self.before.viewport().repaint()


def measure(case: Case, rounds: int) -> dict[str, float]:
    ways = {"radlens": case.radlens, "pyqtgraph": case.pyqtgraph, "before": case.previous}
    return interleaved_medians(ways, rounds, calls_per_way=UPDATES)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    pg.setConfigOptions(imageAxisOrder="row-major")
    app = QApplication.instance() or QApplication([])  # noqa: F841 - keeps Qt alive
    with tempfile.TemporaryDirectory(prefix="radlens-wl-") as tmp:
        cases = [
            Case("DX 3000x3000 uint16", open_one(write_radiograph(Path(tmp))), 2000, 3000),
            Case("CT 512x512", open_one(SHARED / "dicom" / "ct-phantom-54sl" / "I10"), 40, 400),
        ]
        print(f"load average {os.getloadavg()[0]:.1f}; view {VIEW}x{VIEW}; rounds {args.rounds}")
        print(
            f"{'case':22s} {'radlens/s':>10s} {'pyqtgraph/s':>12s} {'before/s':>9s} {'ratio':>6s}"
        )
        for case in cases:
            result = measure(case, args.rounds)
            ratio = result["radlens"] / result["pyqtgraph"]
            print(
                f"{case.name:22s} {1 / result['radlens']:10.0f} {1 / result['pyqtgraph']:12.0f}"
                f" {1 / result['before']:9.0f} {ratio:6.2f}"
            )
        print(f"load average {os.getloadavg()[0]:.1f} (ratio: radlens time / pyqtgraph time)")


if __name__ == "__main__":
    main()
