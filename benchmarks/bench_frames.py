"""Frame-count scaling: `radlens analyze` input preparation and a deflated volume load.

Builds, in a temp folder, multi-frame files of N and 4N frames from pydicom's real CT_small
(16×16 crops, so per-frame work is small and any per-frame rescan shows), then times
`collect_jobs` + every job's `load()` (what `radlens analyze` does before the model runs) and
`load_volume` of a deflated copy. Prints per-frame times and the 4N/N ratio: about 1 when
linear, about 4 when each frame costs time proportional to the frame count.

    python benchmarks/bench_frames.py [--frames 1000]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pydicom
from pydicom.data import get_testdata_file
from pydicom.uid import DeflatedExplicitVRLittleEndian


def build(folder: Path, frames: int, deflated: bool) -> Path:
    ds = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    crop = ds.pixel_array[:16, :16]
    ds.Rows = ds.Columns = 16
    ds.PixelData = np.stack([crop + k % 50 for k in range(frames)]).tobytes()
    ds.NumberOfFrames = frames
    if deflated:
        ds.file_meta.TransferSyntaxUID = DeflatedExplicitVRLittleEndian
    path = folder / f"{frames}{'-deflated' if deflated else ''}.dcm"
    ds.save_as(path, enforce_file_format=True)
    return path


def analyze_inputs(path: Path) -> float:
    from viewer.commands.analyze import collect_jobs

    started = time.perf_counter()
    jobs, _ = collect_jobs([path])
    for job in jobs:
        job.load()
    return time.perf_counter() - started


def deflated_volume(path: Path) -> float:
    from viewer.core.index import build_index
    from viewer.core.loader import load_volume

    started = time.perf_counter()
    load_volume(build_index([path]).all_series()[0], workers=0)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--frames", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        analyze_inputs(build(folder, 10, False))  # warm up imports
        for name, measure, deflated in (
            ("analyze inputs", analyze_inputs, False),
            ("deflated volume load", deflated_volume, True),
        ):
            small, large = args.frames, 4 * args.frames
            t_small = measure(build(folder, small, deflated))
            t_large = measure(build(folder, large, deflated))
            print(
                f"{name}: {1000 * t_small / small:.3f} ms/frame at {small} frames, "
                f"{1000 * t_large / large:.3f} ms/frame at {large}; "
                f"per-frame ratio {t_large / large / (t_small / small):.2f}"
            )


if __name__ == "__main__":
    main()
