"""Patient-level splits of a folder-per-label dataset, from its MANIFEST.tsv patient keys.

`split_by_patient` divides one split (e.g. val) into parts (e.g. calibration and test) so that no
patient is in two parts, stratified by label and seeded. `write_split_folders` materialises the
parts as folder-per-label trees of symlinks, which `radlens train --val` and `radlens evaluate
--data` read like any dataset. Run as `python -m inference.splits DATA OUT --split val
--parts calib=0.5 test=0.5 --seed 11`.
"""

from __future__ import annotations

import argparse
import csv
from collections import defaultdict
from pathlib import Path

import numpy as np

from inference.errors import InferenceError


def read_manifest(data: Path) -> list[dict]:
    path = data / "MANIFEST.tsv"
    if not path.is_file():
        raise InferenceError(f"{path}: no manifest (split, label, file, sha256, patient)")
    with path.open(encoding="utf-8", newline="") as stream:
        return list(csv.DictReader(stream, delimiter="\t"))


def split_by_patient(
    rows: list[dict], split: str, parts: dict[str, float], seed: int
) -> dict[str, list[dict]]:
    """Rows of `split` divided into `parts` (name → share) by patient, per label, seeded."""
    patients: dict[str, dict[str, list[dict]]] = defaultdict(lambda: defaultdict(list))
    for row in rows:
        if row["split"] == split:
            patients[row["label"]][row["patient"]].append(row)
    rng = np.random.default_rng(seed)
    names = list(parts)
    shares = np.cumsum([parts[n] for n in names]) / sum(parts.values())
    out: dict[str, list[dict]] = {name: [] for name in names}
    for label in sorted(patients):
        keys = sorted(patients[label])
        rng.shuffle(keys)
        bounds = np.round(shares * len(keys)).astype(int)
        start = 0
        for name, stop in zip(names, bounds, strict=True):
            for key in keys[start:stop]:
                out[name] += patients[label][key]
            start = stop
    return out


def write_split_folders(data: Path, out: Path, parts: dict[str, list[dict]]) -> dict[str, Path]:
    """Each part as OUT/<part>/<LABEL>/<file> symlinks to DATA/<split>/<LABEL>/<file>."""
    folders = {}
    for name, rows in parts.items():
        for row in rows:
            target = data / row["split"] / row["label"] / row["file"]
            link = out / name / row["label"] / row["file"]
            link.parent.mkdir(parents=True, exist_ok=True)
            if not link.is_symlink():
                link.symlink_to(target.resolve())
        folders[name] = out / name
    return folders


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--split", default="val")
    parser.add_argument("--parts", nargs="+", default=["calib=0.5", "test=0.5"])
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args(argv)
    shares = {name: float(share) for name, share in (p.split("=") for p in args.parts)}
    parts = split_by_patient(read_manifest(args.data), args.split, shares, args.seed)
    for name, folder in write_split_folders(args.data, args.out, parts).items():
        rows = parts[name]
        counts = {
            label: sum(r["label"] == label for r in rows)
            for label in sorted({r["label"] for r in rows})
        }
        print(
            f"{name}: {folder} {len(rows)} images, {len({r['patient'] for r in rows})} patients, {counts}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
