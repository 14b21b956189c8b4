"""Loading benchmark: header scan, first image, full volume load (raw and compressed), memory.

Builds, in a temp folder, a 300-slice 512×512 CT from the real 54-slice phantom (copies with new
UIDs and positions), plus RLE and JPEG-LS lossless copies of it, then times each phase in a
fresh child process (so peak RSS belongs to that phase alone) and prints the figures.

    python benchmarks/bench_load.py [--slices 300] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pydicom
from pydicom.uid import JPEGLSLossless, RLELossless, generate_uid

REPO = Path(__file__).resolve().parent.parent
CT_DIR = (
    Path(os.environ.get("RADLENS_SHARED_DATA", REPO.parent / "shared" / "data"))
    / "dicom"
    / "ct-phantom-54sl"
)


def build_ct_stack(source_dir: Path, target: Path, count: int, syntax=None) -> list[Path]:
    """`count` slices from the CT: copies with new UIDs/positions, optionally re-encoded."""
    target.mkdir(parents=True, exist_ok=True)
    sources = sorted(source_dir.iterdir(), key=lambda p: int(p.name[1:]))
    datasets = [pydicom.dcmread(p) for p in sources]
    if syntax is not None:
        for ds in datasets:
            ds.compress(syntax)
    first, second = (np.array(d.ImagePositionPatient, float) for d in datasets[:2])
    written = []
    for n in range(count):
        ds = datasets[n % len(datasets)]
        ds.SOPInstanceUID = generate_uid()
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        ds.ImagePositionPatient = [f"{v:.6f}" for v in first + n * (second - first)]
        ds.InstanceNumber = n + 1
        path = target / f"slice{n:04d}.dcm"
        ds.save_as(path)
        written.append(path)
    return written


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def phase_scan(folder: str, repeat: int) -> dict:
    from viewer.core.index import build_index

    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        info = build_index([folder]).all_series()[0]
        times.append(time.perf_counter() - start)
    return {"slices": len(info.frames), "seconds": min(times)}


def phase_first_image(folder: str, repeat: int) -> dict:
    from viewer.core.index import build_index
    from viewer.core.series import open_series

    times, from_scratch = [], []
    for _ in range(repeat):
        start = time.perf_counter()
        info = build_index([folder]).all_series()[0]
        indexed = time.perf_counter()
        series = open_series(info)
        series.modality_frame(len(series) // 2)
        times.append(time.perf_counter() - indexed)
        from_scratch.append(time.perf_counter() - start)
    return {"seconds": min(times), "with_index_seconds": min(from_scratch)}


def phase_load(folder: str, repeat: int, workers: int) -> dict:
    from viewer.core.index import build_index
    from viewer.core.loader import load_volume

    info = build_index([folder]).all_series()[0]
    baseline = peak_rss_mb()
    times, volume = [], None
    for _ in range(repeat):
        del volume
        start = time.perf_counter()
        volume, skipped = load_volume(info, workers=workers)
        times.append(time.perf_counter() - start)
        assert not skipped, skipped
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {
        "slices": len(info.frames),
        "seconds": min(times),
        "first_seconds": times[0],  # with workers: includes starting the process pool
        "voxel_mb": volume.nbytes / 1e6,
        "dtype": str(volume.dtype),
        "peak_rss_mb": peak_rss_mb(),
        "rss_before_load_mb": baseline,
        "worker_peak_rss_mb": children,
    }


def phase_pydicom(folder: str, repeat: int) -> dict:
    """The plain way, for comparison: dcmread + pixel_array per file."""
    paths = sorted(Path(folder).iterdir())
    start = time.perf_counter()
    for path in paths:
        pydicom.dcmread(path).pixel_array  # noqa: B018 - decoding is the point
    return {"slices": len(paths), "seconds": time.perf_counter() - start}


PHASES = {
    "scan": phase_scan,
    "first": phase_first_image,
    "load": phase_load,
    "pydicom": phase_pydicom,
}


def run_phase(name: str, folder: Path, repeat: int, workers: int = 0) -> dict:
    command = [sys.executable, __file__, "--phase", name, "--folder", str(folder)]
    command += ["--repeat", str(repeat), "--workers", str(workers)]
    env = dict(os.environ, PYTHONPATH=str(REPO))
    done = subprocess.run(command, capture_output=True, text=True, check=True, env=env)
    return json.loads(done.stdout.strip().splitlines()[-1])


def report(slices: int, repeat: int) -> None:
    with tempfile.TemporaryDirectory(prefix="radlens-bench-") as tmp:
        root = Path(tmp)
        start = time.perf_counter()
        build_ct_stack(CT_DIR, root / "raw", slices)
        build_ct_stack(CT_DIR, root / "rle", slices, RLELossless)
        build_ct_stack(CT_DIR, root / "jpegls", slices, JPEGLSLossless)
        print(f"built {slices}-slice 512x512 CT copies in {time.perf_counter() - start:.1f} s")
        scan = run_phase("scan", root / "raw", repeat)
        print(f"header scan (build_index)        {scan['slices'] / scan['seconds']:8.0f} slices/s")
        first = run_phase("first", root / "raw", repeat)
        print(f"open_series + first image        {first['seconds'] * 1000:8.1f} ms")
        print(f"build_index + open + first image {first['with_index_seconds'] * 1000:8.1f} ms")
        plain = run_phase("pydicom", root / "raw", 1)
        print(
            f"plain dcmread+pixel_array        {plain['slices'] / plain['seconds']:8.0f} slices/s"
        )
        raw = run_phase("load", root / "raw", repeat)
        print(f"full load, uncompressed          {raw['slices'] / raw['seconds']:8.0f} slices/s")
        print_memory(raw)
        for kind in ("rle", "jpegls"):
            for workers in (0, 1, 2):
                result = run_phase("load", root / kind, 2, workers)
                label = f"full load, {kind}, {workers} worker process(es)"
                rate, cold = (result["slices"] / result[k] for k in ("seconds", "first_seconds"))
                note = f" (first load incl. pool start {cold:.0f}/s)" if workers else ""
                print(f"{label:38s} {rate:6.0f} slices/s{note}")


def print_memory(result: dict) -> None:
    voxel = result["voxel_mb"]
    target = 1.3 * voxel + 300
    print(
        f"peak RSS {result['peak_rss_mb']:.0f} MB for a {voxel:.0f} MB {result['dtype']} volume "
        f"(before load {result['rss_before_load_mb']:.0f} MB; target <= 1.3 x voxels + 300 = "
        f"{target:.0f} MB)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--slices", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--phase", choices=sorted(PHASES))
    parser.add_argument("--folder")
    parser.add_argument("--workers", type=int, default=0)
    args = parser.parse_args()
    if args.phase is None:
        report(args.slices, args.repeat)
        return
    phase = PHASES[args.phase]
    kwargs = {"workers": args.workers} if args.phase == "load" else {}
    print(json.dumps(phase(args.folder, args.repeat, **kwargs)))


if __name__ == "__main__":
    main()
