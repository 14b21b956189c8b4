"""One radiograph, decoded pixels to heatmap, idle and beside a busy core, per OpenMP wait policy.

Each policy runs in its own process (the OpenMP runtime reads the policy when torch loads):
PASSIVE (what `inference.torch_setup` sets) and ACTIVE (spinning threads, torch's behaviour on
some builds). Prints the median analysis time idle, with one busy process beside it, and the
ratios (busy/idle; ACTIVE/PASSIVE), measured in the same run.

    python benchmarks/bench_torch_threads.py [--runs N] [--model ID|DIR]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import subprocess
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent

CHILD = """
import json, statistics, sys, time
sys.path.insert(0, {root!r})
from inference.engine import AnalysisInput, Analyzer
from inference.image_io import read_raster
import torch
item = read_raster({image!r})
analyzer = Analyzer({model!r}, device="cpu")
for _ in range(2):
    analyzer.analyze(item)
times = []
for _ in range({runs}):
    started = time.perf_counter()
    analyzer.analyze(item)
    times.append(time.perf_counter() - started)
print(json.dumps({{"median_s": statistics.median(times), "threads": torch.get_num_threads()}}))
"""


def spin(stop_at: float) -> None:
    while time.time() < stop_at:
        pass


def measure(policy: str, busy: bool, args: argparse.Namespace) -> dict:
    code = CHILD.format(
        root=str(REPO_ROOT), image=str(args.image), model=args.model, runs=args.runs
    )
    env = {**os.environ, "OMP_WAIT_POLICY": policy}
    spinner = None
    if busy:
        spinner = multiprocessing.Process(target=spin, args=(time.time() + 600,), daemon=True)
        spinner.start()
    try:
        out = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
        ).stdout
    finally:
        if spinner is not None:
            spinner.terminate()
            spinner.join()
    return json.loads(out.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--model", default=None)
    default_image = (
        REPO_ROOT.parent / "shared/data/cxr/samples-fullres/PNEUMONIA/person1023_virus_1714.jpeg"
    )
    parser.add_argument("--image", type=Path, default=default_image)
    args = parser.parse_args(argv)
    if not args.image.is_file():
        raise SystemExit(f"no radiograph at {args.image} (pass --image)")
    results = {}
    for policy in ("PASSIVE", "ACTIVE"):
        for busy in (False, True):
            results[policy, busy] = measure(policy, busy, args)
            print(
                f"{policy:7s} {'busy core beside' if busy else 'idle':16s} "
                f"{results[policy, busy]['median_s'] * 1000:7.0f} ms "
                f"({results[policy, busy]['threads']} threads)"
            )
    for policy in ("PASSIVE", "ACTIVE"):
        ratio = results[policy, True]["median_s"] / results[policy, False]["median_s"]
        print(f"{policy}: busy/idle = {ratio:.2f}× (goal ≤ 2×)")
    ratio = results["ACTIVE", True]["median_s"] / results["PASSIVE", True]["median_s"]
    print(f"beside a busy core: ACTIVE/PASSIVE = {ratio:.2f}×")
    print(f"machine: {os.cpu_count()} logical CPUs; load average {os.getloadavg()[0]:.1f}; "
          f"median of {args.runs} runs each, pixels already decoded")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
