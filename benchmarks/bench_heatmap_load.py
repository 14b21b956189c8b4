"""Decoded pixels → probability + heatmap on CPU, idle and with a busy core beside it.

    python benchmarks/bench_heatmap_load.py [--model ID|DIR] [--threads 2] [--runs 15]
        [--detector 3000 2600]

Prints medians (ms) and ratios to a bare forward pass of the same network measured in the same
run: the whole analysis (preprocess, forward + backward for the evidence map, mapping back to the
source grid), the same with one torch thread, and, for an ensemble, the cost of one member.
"busy" runs a pure-Python spin loop in a second process (killed by PID afterwards), as another
program on the machine would; it is paused (SIGSTOP) for every idle call, and each call is
timed idle and busy back to back, so both see the same machine.
The goal of issue 11: ≤ 0.15 s per radiograph on 2 cores idle, ≤ 2× that with a busy core.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch: sleeping, not spinning, threads

import numpy as np  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from inference.engine import AnalysisInput, Analyzer  # noqa: E402
from inference.preprocessing import normalise  # noqa: E402
from viewer.core.analysis_input import file_analysis_input  # noqa: E402

SAMPLE = REPO_ROOT / "resources" / "samples" / "demo-study" / "chest-ap-1.dcm"
SPIN = "while True: pass"


def detector_sized(pixels: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """The image enlarged (bicubic) to `size` (cols, rows) as 12-bit values in uint16."""
    grey = Image.fromarray(pixels.astype(np.float32), mode="F").resize(tuple(size), Image.BICUBIC)
    values = np.asarray(grey)
    scaled = (values - values.min()) / max(float(np.ptp(values)), 1e-6) * 4095
    return scaled.astype(np.uint16)


def busy_core() -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", SPIN])


def measure(
    ways: dict[str, Callable[[], object]], spinner: subprocess.Popen, rounds: int
) -> dict[str, dict[str, float]]:
    """Median ms of each way, idle and beside the busy core: every call is timed once with the
    spinner stopped (SIGSTOP) and once right after with it resumed, so whatever else the
    machine does falls on both alike."""
    times: dict[str, dict[str, list[float]]] = {"idle": {}, "busy core": {}}
    for way in ways.values():
        way()  # warm-up
    for _ in range(rounds):
        for name, way in ways.items():
            for phase, sig in (("idle", signal.SIGSTOP), ("busy core", signal.SIGCONT)):
                spinner.send_signal(sig)
                time.sleep(0.02)
                started = time.perf_counter()
                way()
                times[phase].setdefault(name, []).append(time.perf_counter() - started)
    return {
        phase: {name: statistics.median(values) * 1000 for name, values in table.items()}
        for phase, table in times.items()
    }


def ways_to_time(analyzer: Analyzer, item: AnalysisInput, threads: int) -> dict:
    batch = normalise(torch.from_numpy(analyzer._prepare(item).image)[None, None], analyzer.spec)
    members = list(getattr(analyzer.network, "members", [analyzer.network]))

    def with_threads(count: int, action: Callable[[], object]) -> Callable[[], object]:
        def run():
            torch.set_num_threads(count)
            return action()

        return run

    def bare_forward():
        with torch.no_grad():
            analyzer.network(batch)

    def one_member():
        with torch.no_grad():
            members[0](batch)

    analysis = lambda: analyzer.analyze(item, force=True)  # noqa: E731
    ways = {
        "bare forward": with_threads(threads, bare_forward),
        "one member forward": with_threads(threads, one_member),
        "pixels → heatmap": with_threads(threads, analysis),
    }
    if threads > 1:
        ways["pixels → heatmap, 1 thread"] = with_threads(1, analysis)
    return ways


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", default=None)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--runs", type=int, default=15, help="rounds")
    parser.add_argument("--image", type=Path, default=SAMPLE)
    parser.add_argument(
        "--detector",
        type=int,
        nargs=2,
        metavar=("COLS", "ROWS"),
        help="enlarge the image to a 16-bit detector-sized radiograph, e.g. 3000 2600",
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    analyzer = Analyzer(args.model, device="cpu")
    decoded = file_analysis_input(args.image)  # the viewer's reader: the pixels the UI passes
    pixels = np.asarray(decoded.pixels)
    if args.detector:
        pixels = detector_sized(pixels, args.detector)
    item = AnalysisInput(pixels, decoded.photometric, window=decoded.window)
    print(f"model {analyzer.card.id} {analyzer.card.version}, cpu, {args.threads} threads")
    print(f"image {args.image.name} {item.pixels.shape[1]}x{item.pixels.shape[0]} (decoded)")
    spinner = busy_core()
    try:
        table = measure(ways_to_time(analyzer, item, args.threads), spinner, args.runs)
    finally:
        spinner.kill()
        spinner.wait()
    for name, row in table.items():
        base = row["bare forward"]
        cells = "  ".join(f"{k} {v:.1f} ms ({v / base:.2f}x)" for k, v in row.items())
        print(f"{name:>9}: {cells}")
    for way in [w for w in table["idle"] if w.startswith("pixels")]:
        ratio = table["busy core"][way] / table["idle"][way]
        print(f"{way}, busy / idle: {ratio:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
