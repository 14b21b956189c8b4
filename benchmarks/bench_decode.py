"""Compressed series: RadLens's full load against one process decoding with the best plugin.

Usage: python benchmarks/bench_decode.py [--slices 96] [--rounds 5]

Builds JPEG 2000 and JPEG-LS lossless copies of the shared CT phantom (round-robin to
`--slices` slices, new UIDs and positions) and, interleaved round by round (median of the
rounds, page cache warm, worker pool already started):

* peer: one process, `pydicom.pixels.pixel_array` file by file with the fastest plugin for
  the syntax (pylibjpeg/OpenJPEG for JPEG 2000, pyjpegls/CharLS for JPEG-LS);
* radlens 0: `load_volume(info, workers=0)` (everything in this process);
* radlens N: `load_volume(info)` with the default worker processes.

Prints slices/s and each as a ratio to the peer, with the load average (the issue's goal:
default workers ≥ 1.6 × one process on 2 cores; a busy machine lowers every ratio), and the
CPU time per slice of each way, this process and its worker processes together (median of the
rounds; needs psutil). That figure holds on a busy machine too: on N idle cores the parallel
way can reach at most N × (peer CPU / its CPU) of the peer's speed.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
from pathlib import Path

from pydicom.pixels import pixel_array
from pydicom.uid import JPEG2000Lossless, JPEGLSLossless

from benchmarks.bench_load import CT_DIR, build_ct_stack
from benchmarks.interleave import interleaved_medians
from viewer.core.index import build_index
from viewer.core.loader import choose_workers, load_volume, shutdown_workers

CODECS = {"JPEG 2000": JPEG2000Lossless, "JPEG-LS": JPEGLSLossless}
PEER_PLUGIN = {JPEG2000Lossless: "pylibjpeg", JPEGLSLossless: "pyjpegls"}


def peer(paths: list[Path], plugin: str) -> None:
    for path in paths:
        pixel_array(str(path), decoding_plugin=plugin)


def cpu_seconds() -> float:
    """CPU time of this process and its live children (the decoder workers); 0 without psutil."""
    try:
        import psutil
    except ImportError:
        return 0.0
    me = psutil.Process()
    processes = [me, *me.children(recursive=True)]
    return sum(sum(p.cpu_times()[:2]) for p in processes if p.is_running())


def with_cpu(way, spent: list[float]):
    def timed():
        start = cpu_seconds()
        way()
        spent.append(cpu_seconds() - start)

    return timed


def measure(folder: Path, syntax, rounds: int) -> tuple[dict[str, float], dict[str, float]]:
    paths = sorted(folder.iterdir())
    info = build_index([str(folder)]).all_series()[0]
    workers = choose_workers(len(paths), None, info)
    load_volume(info)  # starts the worker pool: measured warm, as in a session
    ways = {
        "peer": lambda: peer(paths, PEER_PLUGIN[syntax]),
        "radlens 0": lambda: load_volume(info, workers=0),
        f"radlens {workers}": lambda: load_volume(info),
    }
    cpu: dict[str, list[float]] = {name: [] for name in ways}
    timed = {name: with_cpu(way, cpu[name]) for name, way in ways.items()}
    wall = interleaved_medians(timed, rounds)
    return wall, {name: statistics.median(spent) for name, spent in cpu.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slices", type=int, default=96)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--only", choices=sorted(CODECS), help="one codec instead of both")
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.1f}; cpu_count {os.cpu_count()}")
    with tempfile.TemporaryDirectory(prefix="radlens-decode-") as tmp:
        for name, syntax in CODECS.items():
            if args.only not in (None, name):
                continue
            folder = Path(tmp) / name.replace(" ", "")
            build_ct_stack(CT_DIR, folder, args.slices, syntax)
            wall, cpu = measure(folder, syntax, args.rounds)
            base = wall["peer"]
            cells = [
                f"{way} {args.slices / t:5.0f}/s ({base / t:4.2f}x)" for way, t in wall.items()
            ]
            print(f"{name:9s} " + "  ".join(cells))
            if cpu["peer"]:
                cells = [f"{way} {1000 * c / args.slices:5.1f}" for way, c in cpu.items()]
                print(f"{'':9s} CPU ms/slice: " + "  ".join(cells))
    shutdown_workers()
    print(f"load average {os.getloadavg()[0]:.1f} (x = speed relative to the one-process peer)")


if __name__ == "__main__":
    main()
