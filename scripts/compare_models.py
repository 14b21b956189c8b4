"""AUC difference of two models on the same images, paired bootstrap 95 % CI.

    python scripts/compare_models.py A/per_image.csv B/per_image.csv

Each CSV is what `radlens evaluate --out DIR` writes (file, label, probability, ...); rows are
matched by file, so both must come from the same folder of images."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from inference.metrics import paired_auc_difference  # noqa: E402


def probabilities(path: Path) -> dict[str, tuple[int, float]]:
    with path.open(newline="") as handle:
        return {
            row["file"]: (int(row["label"]), float(row["probability"]))
            for row in csv.DictReader(handle)
        }


def main(first: str, second: str) -> int:
    a, b = probabilities(Path(first)), probabilities(Path(second))
    if a.keys() != b.keys():
        print("compare_models: the two files list different images", file=sys.stderr)
        return 2
    files = sorted(a)
    labels = np.array([a[f][0] for f in files])
    difference, low, high = paired_auc_difference(
        labels, np.array([a[f][1] for f in files]), np.array([b[f][1] for f in files])
    )
    print(json.dumps({"images": len(files), "auc_difference": difference, "ci95": [low, high]}))
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
