"""Time VOI + rendering to uint8 on real frames (what a viewport does on every W/L drag).

Usage: python benchmarks/bench_render.py [--repeat 20]
Prints the median milliseconds per frame for each case.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np
import pydicom
from pydicom.pixels import apply_modality_lut

from viewer.core.render import render_array
from viewer.core.voi import VoiLut, Window, auto_window, windows_from_dataset
from viewer.paths import sample_study_dir

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def cases() -> list[tuple[str, np.ndarray, object, str]]:
    ct = pydicom.dcmread(SHARED / "dicom" / "ct-phantom-54sl" / "I10")
    ct_values = apply_modality_lut(ct.pixel_array, ct)
    dx = pydicom.dcmread(sample_study_dir() / "demo-study" / "chest-ap-3.dcm")
    big = np.kron(dx.pixel_array.astype(np.uint16) * 16, np.ones((2, 2), dtype=np.uint16))
    table = np.arange(4096, dtype=np.uint16)[::-1].copy()
    return [
        ("CT 512x512 float, LINEAR", ct_values, windows_from_dataset(ct)[0], "MONOCHROME2"),
        ("CT 512x512 float, SIGMOID", ct_values, Window(40, 400, "SIGMOID"), "MONOCHROME2"),
        ("DX 1422x1152 uint8, MONO1", dx.pixel_array, windows_from_dataset(dx)[0], "MONOCHROME1"),
        ("DX 2844x2304 uint16, LINEAR", big, auto_window(big), "MONOCHROME2"),
        ("DX 2844x2304 uint16, VOI LUT", big, VoiLut(0, 12, table), "MONOCHROME2"),
    ]


def median_ms(values, voi, photometric, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        render_array(values, voi, photometric)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    for name, values, voi, photometric in cases():
        print(f"{name:32s} {median_ms(values, voi, photometric, args.repeat):8.1f} ms")


if __name__ == "__main__":
    main()
