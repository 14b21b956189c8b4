"""First image of a 300-slice CT, path → pixels, against a pydicom header scan of all files.

Usage: python benchmarks/bench_first_image.py [--slices 300] [--rounds 5]

Interleaved round by round, median of the rounds, page cache warm:

* preview: `viewer.core.preview.preview_series(folder)` + `modality_frame(0)` — what the
  loader shows before the header scan;
* index first: `build_index(folder)` + `open_series` + `modality_frame(0)` — the first image
  when it waits for every header (the previous behaviour);
* peer: `pydicom.dcmread(path, stop_before_pixels=True)` of every file.

Prints milliseconds and each as a ratio to the peer (issue 13's goal: ≤ 0.5 × the peer).
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

import pydicom

from benchmarks.bench_load import CT_DIR, build_ct_stack
from benchmarks.interleave import interleaved_medians
from viewer.core.index import build_index
from viewer.core.preview import preview_series
from viewer.core.series import open_series


def preview(folder: Path) -> None:
    preview_series([folder]).modality_frame(0)


def index_first(folder: Path) -> None:
    open_series(build_index([folder]).all_series()[0]).modality_frame(0)


def peer(folder: Path) -> None:
    for path in sorted(folder.iterdir()):
        pydicom.dcmread(path, stop_before_pixels=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slices", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="radlens-first-") as tmp:
        folder = Path(tmp) / "ct"
        build_ct_stack(CT_DIR, folder, args.slices)
        print(f"load average {os.getloadavg()[0]:.1f}; {args.slices}-slice 512x512 CT")
        ways = {"preview": preview, "index first": index_first, "pydicom scan": peer}
        medians = interleaved_medians(
            {name: lambda way=way: way(folder) for name, way in ways.items()}, args.rounds
        )
        base = medians["pydicom scan"]
        for name, median in medians.items():
            print(f"{name:14s} {median * 1000:8.1f} ms  {median / base:5.2f} x pydicom scan")
    print(f"load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
