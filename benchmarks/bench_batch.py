"""Batch throughput: `radlens batch` with 1, 2, … Dask workers vs one `radlens analyze` call.

    python benchmarks/bench_batch.py [--images 200] [--workers 1 2] [--data ../shared/data/cxr/val]

All commands run as real processes over the same images (val radiographs, both classes), in the
same run, interleaved, start-up included (what a user waits for); prints images/s and each batch
run's ratio to `radlens analyze`. Also checks the probabilities agree.
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = REPO_ROOT.parent / "shared" / "data" / "cxr" / "val"


def pick_images(data: Path, count: int, folder: Path) -> Path:
    folder.mkdir(parents=True)
    labels = sorted(p for p in data.iterdir() if p.is_dir())
    per_label = count // len(labels)
    for label in labels:
        for path in sorted(label.iterdir())[:per_label]:
            (folder / path.name).symlink_to(path)
    return folder


def timed(command: list[str]) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "viewer.cli", *command],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode not in (0, 1):
        raise SystemExit(f"{command[0]} failed: {done.stderr[-500:]}")
    return time.perf_counter() - started, done.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--images", type=int, default=200)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        images = pick_images(args.data, args.images, Path(tmp) / "images")
        count = sum(1 for _ in images.iterdir())
        seconds, out = timed(["analyze", str(images), "--json", "--device", "cpu"])
        reference = {e["path"]: e["findings"][0]["probability"] for e in json.loads(out)}
        base = count / seconds
        print(f"{count} images; radlens analyze: {base:.2f} images/s ({seconds:.1f} s)")
        for workers in args.workers:
            out_dir = Path(tmp) / f"batch-{workers}"
            seconds, _ = timed(
                ["batch", str(images), "--out", str(out_dir), "--workers", str(workers)]
            )
            rate = count / seconds
            with (out_dir / "results.csv").open(newline="") as handle:
                rows = {r["source"]: float(r["probability"]) for r in csv.DictReader(handle)}
            worst = max(abs(rows[k] - reference[k]) for k in reference)
            print(
                f"radlens batch --workers {workers}: {rate:.2f} images/s ({seconds:.1f} s), "
                f"{rate / base:.2f} x analyze; max |Δp| vs analyze {worst:.1e}"
            )


if __name__ == "__main__":
    main()
