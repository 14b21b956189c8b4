"""Inference speed: one radiograph decode → probability + heatmap, and batch throughput, on CPU.

    python benchmarks/bench_inference.py [--model ID|DIR] [--device cpu] [--runs 10] [--batch 16]

Decodes the bundled sample study's first chest radiograph (DX, JPEG 2000 lossless, 1,232 × 720)
each run, so "decode" is a real DICOM decode; prints medians in milliseconds.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from inference.engine import AnalysisInput, Analyzer  # noqa: E402  (sets the wait policy first)
from viewer.core.analysis_input import file_analysis_input  # noqa: E402

# isort: split
import torch  # noqa: E402

SAMPLE = REPO_ROOT / "resources" / "samples" / "demo-study" / "chest-ap-1.dcm"


def to_input(path: Path) -> AnalysisInput:
    """The file as the viewer reads it (DICOM through the core), without its cache key."""
    return replace(file_analysis_input(path), cache_key=None)


def single_image(analyzer: Analyzer, path: Path, runs: int) -> dict[str, float]:
    analyzer.analyze(to_input(path))  # warm-up (allocations, first-call kernels)
    samples: dict[str, list[float]] = {}
    for _ in range(runs):
        started = time.perf_counter()
        item = to_input(path)
        decode = time.perf_counter() - started
        result = analyzer.analyze(item)
        total = time.perf_counter() - started
        for key, value in {**result.timings, "decode": decode, "total": total}.items():
            samples.setdefault(key, []).append(value)
    return {key: statistics.median(values) * 1000 for key, values in samples.items()}


def throughput(analyzer: Analyzer, item: AnalysisInput, batch: int, with_heatmaps: bool) -> float:
    items = [item] * batch
    run = analyzer.analyze_batch if with_heatmaps else analyzer.logits_batch
    run(items)
    started = time.perf_counter()
    run(items)
    return batch / (time.perf_counter() - started)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", default=None)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--image", type=Path, default=SAMPLE)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    analyzer = Analyzer(args.model, device=args.device)
    item = to_input(args.image)
    print(
        f"model {analyzer.card.id} {analyzer.card.version} on {analyzer.device}, {args.threads} threads"
    )
    print(
        f"image {args.image.name} {item.pixels.shape[1]}x{item.pixels.shape[0]}, {args.runs} runs"
    )
    timings = single_image(analyzer, args.image, args.runs)
    order = ["decode", "preprocess", "forward", "gradcam", "total"]
    print("one radiograph, median ms: " + "  ".join(f"{k} {timings[k]:.1f}" for k in order))
    print(
        f"batch of {args.batch}: {throughput(analyzer, item, args.batch, True):.1f} images/s with heatmaps, "
        f"{throughput(analyzer, item, args.batch, False):.1f} images/s probabilities only"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
