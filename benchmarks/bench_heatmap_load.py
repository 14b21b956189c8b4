"""Decoded pixels → probability + heatmap on CPU, idle and with a busy core beside it.

    python benchmarks/bench_heatmap_load.py [--model ID|DIR] [--threads 2] [--runs 15]

Prints medians (ms) and ratios to a bare forward pass of the same network measured in the same
run: the whole analysis (preprocess, forward + backward for the evidence map, mapping back to the
source grid) and, for an ensemble, the cost of its members. "busy" runs a pure-Python spin loop
in a second process (killed by PID afterwards), as another program on the machine would.
The goal of issue 11: ≤ 0.15 s per radiograph on 2 cores idle, ≤ 2× that with a busy core.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch: sleeping, not spinning, threads

import numpy as np  # noqa: E402
import torch  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from inference.engine import AnalysisInput, Analyzer  # noqa: E402
from inference.preprocessing import normalise  # noqa: E402
from viewer.core.analysis_input import file_analysis_input  # noqa: E402

SAMPLE = REPO_ROOT / "resources" / "samples" / "demo-study" / "chest-ap-1.dcm"
SPIN = "while True: pass"


def median_ms(action, runs: int) -> float:
    action()  # warm-up
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples) * 1000


def measure(analyzer: Analyzer, item: AnalysisInput, runs: int) -> dict[str, float]:
    batch = normalise(torch.from_numpy(analyzer._prepare(item).image)[None, None], analyzer.spec)
    members = list(getattr(analyzer.network, "members", [analyzer.network]))

    def bare_forward():
        with torch.no_grad():
            analyzer.network(batch)

    def one_member():
        with torch.no_grad():
            members[0](batch)

    return {
        "bare forward": median_ms(bare_forward, runs),
        "one member forward": median_ms(one_member, runs),
        "pixels → heatmap": median_ms(lambda: analyzer.analyze(item, force=True), runs),
    }


def busy_core() -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", SPIN])


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", default=None)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--image", type=Path, default=SAMPLE)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    analyzer = Analyzer(args.model, device="cpu")
    decoded = file_analysis_input(args.image)  # the viewer's reader: the pixels the UI passes
    item = AnalysisInput(np.asarray(decoded.pixels), decoded.photometric, window=decoded.window)
    print(f"model {analyzer.card.id} {analyzer.card.version}, cpu, {args.threads} threads")
    print(f"image {args.image.name} {item.pixels.shape[1]}x{item.pixels.shape[0]} (decoded)")
    idle = measure(analyzer, item, args.runs)
    spinner = busy_core()
    try:
        time.sleep(0.2)
        busy = measure(analyzer, item, args.runs)
    finally:
        spinner.kill()
        spinner.wait()
    for name, table in (("idle", idle), ("busy core", busy)):
        base = table["bare forward"]
        cells = "  ".join(f"{k} {v:.1f} ms ({v / base:.2f}x)" for k, v in table.items())
        print(f"{name:>9}: {cells}")
    ratio = busy["pixels → heatmap"] / idle["pixels → heatmap"]
    print(f"pixels → heatmap, busy / idle: {ratio:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
