"""Scrolling reformatted planes of a 512×512×300 CT (issue 17's targets: ≥ 30 frames/s for a
plane, ≥ 15 frames/s for a 20 mm MIP slab, on 2 cores).

The volume is the real 54-slice CT phantom (../shared/data/dicom/ct-phantom-54sl) repeated to
300 slices, float32 HU as the loader holds it, in two geometries: axial 1 mm slices (the usual
CT), and the phantom's own 18.5° gantry tilt (every patient plane is oblique to its voxels).
Each case scrolls through consecutive frames the way a viewport does; the peer is a plain
numpy slice of the same volume (`volume[:, row, :]` made contiguous), timed in the same run.

Usage: python benchmarks/bench_mpr.py [--frames 40]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np

from viewer.core.geometry import FrameGeometry
from viewer.core.index import build_index
from viewer.core.mpr import plane_grid, sample_plane
from viewer.core.series import open_series
from viewer.core.volume import Volume, volume_from_stack

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
SLICES = 300


def ct_volumes() -> dict[str, Volume]:
    series = open_series(build_index([SHARED / "dicom" / "ct-phantom-54sl"]).all_series()[0])
    series.load_all()
    values = np.resize(series.volume, (SLICES, *series.volume.shape[1:]))
    geometry = series.geometry(0)
    origin = np.array(series.info.frames[0].position)
    axial = FrameGeometry(512, 512, geometry.spacing, tuple(origin), (1, 0, 0), (0, 1, 0))
    straight = [origin + [0, 0, k] for k in range(SLICES)]
    tilted = straight  # the table moves 1 mm along z per slice; the slices' planes are tilted
    return {
        "axial CT": volume_from_stack("axial", values, np.array(straight), axial, "CT"),
        "tilted CT": volume_from_stack("tilted", values, np.array(tilted), geometry, "CT"),
    }


def per_frame_ms(job, frames: int, first: int = 0) -> tuple[float, float]:
    """Median wall and CPU milliseconds per frame (CPU time is what a shared machine's other
    jobs do not inflate)."""
    wall, cpu = [], []
    for k in range(first, first + frames):
        start, start_cpu = time.perf_counter(), time.process_time()
        job(k)
        wall.append((time.perf_counter() - start) * 1000)
        cpu.append((time.process_time() - start_cpu) * 1000)
    return statistics.median(wall), statistics.median(cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=40, help="frames scrolled per case")
    args = parser.parse_args()
    volumes = ct_volumes()
    values = volumes["axial CT"].values
    middle = values.shape[1] // 2
    peer, _ = per_frame_ms(lambda k: np.ascontiguousarray(values[:, middle + k, :]), args.frames)
    print(f"volume {values.shape} {values.dtype}; peer: numpy slice {peer:.2f} ms/frame")
    print(
        f"{'case':40s} {'ms/frame':>9s} {'frames/s':>9s} {'CPU ms':>7s} {'CPU fps':>8s} "
        f"{'× numpy slice':>14s}"
    )
    for name, volume in volumes.items():
        for plane in ("axial", "coronal", "sagittal"):
            grid = plane_grid(volume, plane)
            for slab in (0.0, 20.0):
                ms, cpu = per_frame_ms(
                    lambda k, g=grid, v=volume, s=slab: sample_plane(v, g, k, s),
                    args.frames,
                    grid.middle() - args.frames // 2,
                )
                label = f"{name} {plane} {grid.columns}x{grid.rows}" + (
                    f" MIP {slab:g} mm" if slab else ""
                )
                print(
                    f"{label:40s} {ms:9.1f} {1000 / ms:9.1f} {cpu:7.1f} {1000 / max(cpu, 0.01):8.1f}"
                    f" {ms / peer:14.1f}"
                )


if __name__ == "__main__":
    main()
