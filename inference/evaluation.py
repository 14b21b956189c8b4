"""`radlens evaluate`: a model on a folder-per-label dataset, through the same engine as `analyze`.

Reports AUC with a 95 % bootstrap CI, the operating point at the card's threshold (accuracy,
sensitivity, specificity, PPV, NPV, confusion matrix) and ECE; writes the ROC curve and the
reliability diagram as PNG and a per-image CSV. With `calibrate` (validation data only) it fits
Platt scaling, chooses the threshold for the target sensitivity and writes both, with the
metrics and a small reference subset for regression tests, into the model folder.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from inference.engine import Analyzer
from inference.errors import InferenceError
from inference.files import atomic_write_bytes
from inference.image_io import ImageReader, read_image
from inference.metrics import (
    bootstrap_auc_ci,
    bootstrap_rate_ci,
    expected_calibration_error,
    fit_platt,
    operating_point,
    reliability_bins,
    roc_auc,
    roc_curve,
    threshold_for_sensitivity,
    threshold_with_margin,
)
from inference.model_card import Calibration, ModelCard, Threshold, write_card
from inference.plots import reliability_png, roc_png
from inference.training import find_labelled_images

REFERENCE_FILENAME = "reference_subset.json"
REFERENCE_LIMIT = 64
BATCH_SIZE = 16


@dataclass
class Predictions:
    paths: list[Path]
    labels: np.ndarray
    logits: np.ndarray
    failures: list[str]


def predict_folder(
    analyzer: Analyzer,
    folder: Path,
    limit: int = 0,
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
    read: ImageReader = read_image,
) -> Predictions:
    """Logits for every readable image of a folder-per-label dataset (unreadable ones listed);
    `read` turns a file into the engine's input (`radlens evaluate` passes the core's reader)."""
    dataset = find_labelled_images(Path(folder), limit, seed)
    paths, labels, logits, failures = [], [], [], []
    for start in range(0, len(dataset.paths), BATCH_SIZE):
        chunk = list(
            zip(
                dataset.paths[start : start + BATCH_SIZE],
                dataset.labels[start : start + BATCH_SIZE],
                strict=True,
            )
        )
        items, kept = [], []
        for path, label in chunk:
            try:
                items.append(read(path))
                kept.append((path, label))
            except InferenceError as exc:
                failures.append(str(exc))
        if items:
            logits.append(analyzer.logits_batch(items)[:, 0])
            paths += [p for p, _ in kept]
            labels += [int(label) for _, label in kept]
        if progress:
            progress(min(start + BATCH_SIZE, len(dataset.paths)), len(dataset.paths))
    merged = np.concatenate(logits) if logits else np.zeros(0)
    return Predictions(paths, np.array(labels, dtype=np.int64), merged, failures)


def summarise(
    labels: np.ndarray, probabilities: np.ndarray, threshold: float, seed: int = 0
) -> dict:
    """AUC (95 % bootstrap CI), operating point at `threshold`, confusion matrix, ECE."""
    point = operating_point(labels, probabilities, threshold)
    low, high = bootstrap_auc_ci(labels, probabilities, rounds=1000, seed=seed)
    called = np.asarray(probabilities) >= threshold
    positive = np.asarray(labels).astype(bool)
    sensitivity_ci = bootstrap_rate_ci(called[positive], seed=seed)
    specificity_ci = bootstrap_rate_ci(~called[~positive], seed=seed)
    return {
        "images": int(len(labels)),
        "positives": int(labels.sum()),
        "auc": round(roc_auc(labels, probabilities), 5),
        "auc_ci95": [round(low, 5), round(high, 5)],
        "threshold": float(threshold),
        "accuracy": round(point.accuracy, 5),
        "sensitivity": round(point.sensitivity, 5),
        "specificity": round(point.specificity, 5),
        "sensitivity_ci95": [round(v, 5) for v in sensitivity_ci],
        "specificity_ci95": [round(v, 5) for v in specificity_ci],
        "ppv": round(point.ppv, 5),
        "npv": round(point.npv, 5),
        "confusion_matrix": {"tp": point.tp, "fp": point.fp, "tn": point.tn, "fn": point.fn},
        "ece": round(expected_calibration_error(labels, probabilities), 5),
    }


def evaluate(
    analyzer: Analyzer,
    data: Path,
    out: Path | None = None,
    limit: int = 0,
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
    predictions: Predictions | None = None,
    read: ImageReader = read_image,
) -> dict:
    """Metrics of the analyzer's model on `data` at the card's threshold; files into `out`.

    `predictions` (from `calibrate` on the same data) saves predicting twice.
    """
    if predictions is None:
        predictions = predict_folder(analyzer, data, limit, seed, progress, read)
    if len(predictions.labels) == 0:
        raise InferenceError(f"{data}: no readable images to evaluate")
    card = analyzer.card
    label = card.labels[0]
    probabilities = card.calibrate(predictions.logits)
    report = {
        "model": {
            "id": card.id,
            "name": card.name,
            "version": card.version,
            "sha256": card.weights_sha256,
        },
        "data": str(data),
        "label": label,
        **summarise(predictions.labels, probabilities, card.thresholds[label], seed),
        "failures": predictions.failures,
    }
    if out is not None:
        write_outputs(Path(out), report, predictions, probabilities)
    return report


def write_outputs(
    out: Path, report: dict, predictions: Predictions, probabilities: np.ndarray
) -> None:
    out.mkdir(parents=True, exist_ok=True)
    labels = predictions.labels
    fpr, tpr, _ = roc_curve(labels, probabilities)
    point = operating_point(labels, probabilities, report["threshold"])
    roc_png(out / "roc.png", fpr, tpr, report["auc"], point)
    confidence, observed, counts = reliability_bins(labels, probabilities)
    reliability_png(out / "reliability.png", confidence, observed, counts, report["ece"])
    atomic_write_bytes(out / "metrics.json", (json.dumps(report, indent=2) + "\n").encode())
    atomic_write_bytes(
        out / "per_image.csv", per_image_csv(predictions, probabilities, report["threshold"])
    )


def per_image_csv(predictions: Predictions, probabilities: np.ndarray, threshold: float) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["file", "label", "probability", "predicted_positive"])
    for path, label, probability in zip(
        predictions.paths, predictions.labels, probabilities, strict=True
    ):
        writer.writerow(
            [
                f"{path.parent.name}/{path.name}",
                int(label),
                f"{probability:.6f}",
                int(probability >= threshold),
            ]
        )
    return buffer.getvalue().encode()


def calibrate(
    analyzer: Analyzer,
    val_data: Path,
    target_sensitivity: float = 0.95,
    progress: Callable[[int, int], None] | None = None,
    read: ImageReader = read_image,
    margin: bool = False,
) -> Predictions:
    """Fit Platt scaling + threshold on validation data, write them with the metrics to the card.

    `margin`: the threshold is the highest whose 95 % bootstrap sensitivity CI has its lower bound
    at or above the target (`threshold_with_margin`), not the point estimate.
    """
    predictions = predict_folder(analyzer, val_data, progress=progress, read=read)
    labels = predictions.labels
    temperature, bias = fit_platt(labels, predictions.logits)
    label = analyzer.card.labels[0]
    calibration = Calibration(
        temperature=float(temperature),
        bias=float(bias),
        method="Platt scaling, p = sigmoid(logit / temperature + bias), fitted (NLL) on "
        f"{val_data}",
    )
    card = analyzer.card.with_calibration(label, calibration, Threshold(0.5))
    probabilities = card.calibrate(predictions.logits)
    choose = threshold_with_margin if margin else threshold_for_sensitivity
    threshold = choose(labels, probabilities, target_sensitivity)
    rule = (
        f"highest threshold whose 95 % bootstrap CI of sensitivity has its lower bound >= "
        f"{target_sensitivity}"
        if margin
        else f"highest threshold with sensitivity >= {target_sensitivity}"
    )
    method = f"{rule} on {val_data} (after calibration)"
    card = card.with_calibration(label, calibration, Threshold(float(threshold), method))
    validation = summarise(labels, probabilities, threshold)
    card.metrics = {
        **card.metrics,
        "validation": {
            **validation,
            "data": f"{val_data} (folder per label; {validation['images']} images)",
            "measured_with": "radlens evaluate (same engine and preprocessing as radlens analyze)",
        },
    }
    write_card(card, card.folder)
    analyzer.card = card
    write_reference(card, predictions, val_data)
    return predictions


HEATMAP_REFERENCE_PERCENTILE = 99.0


def fit_heatmap_scale(
    analyzer: Analyzer,
    data: Path,
    blocks: list[int],
    smooth: float = 0.0,
    read: ImageReader = read_image,
    percentile: float = HEATMAP_REFERENCE_PERCENTILE,
) -> dict:
    """The card's `heatmap` block: evidence maps at `blocks`, 1.0 = the `percentile`th (99th) of the map
    over the positives of `data` (calibration data), blank below min(0.1, threshold / 2)."""
    import torch

    from inference.gradcam import HeatmapSpec
    from inference.preprocessing import normalise

    dataset = find_labelled_images(Path(data))
    spec = HeatmapSpec(method="evidence", blocks=tuple(blocks), smooth=smooth)
    gradcam = spec.gradcam(analyzer.network)
    values = []
    for path in (p for p, y in zip(dataset.paths, dataset.labels, strict=True) if y == 1):
        image = analyzer._prepare(read(path)).image
        batch = normalise(torch.from_numpy(image)[None, None], analyzer.spec).to(analyzer.device)
        _, maps = gradcam(batch)
        values.append(maps[0, 0].cpu().numpy().ravel()[::7])
    reference = float(np.percentile(np.concatenate(values), percentile))
    threshold = analyzer.card.thresholds[analyzer.card.labels[0]]
    block = {
        "method": "evidence",
        "blocks": list(blocks),
        "reference": round(reference, 4),
        "hide_below_probability": round(min(0.1, threshold / 2), 4),
        "smooth_sigma": smooth,
        "description": "gradient x activation at the listed blocks (logit units per image area), "
        "smoothed by a Gaussian of smooth_sigma x width, "
        f"divided by reference = the {percentile:g}th percentile of the map "
        f"over the positives of {data}; clipped to [0, 1]; blank for a clear negative "
        "(probability below hide_below_probability) unless asked for",
    }
    data_out = analyzer.card.raw
    data_out["heatmap"] = block
    write_card(data_out, analyzer.card.folder)
    return block


def write_reference(card: ModelCard, predictions: Predictions, val_data: Path) -> Path:
    """Figures on a fixed validation subset, for a fast test that reproduces the card's numbers."""
    subset = find_labelled_images(Path(val_data), REFERENCE_LIMIT, seed=0)
    index = {path: i for i, path in enumerate(predictions.paths)}
    rows = [index[p] for p in subset.paths if p in index]
    labels = predictions.labels[rows]
    probabilities = card.calibrate(predictions.logits[rows])
    reference = {
        "description": f"figures on a fixed subset of {val_data}: "
        f"find_labelled_images(limit={REFERENCE_LIMIT}, seed=0)",
        "limit": REFERENCE_LIMIT,
        "seed": 0,
        "model_sha256": card.weights_sha256,
        **summarise(labels, probabilities, card.thresholds[card.labels[0]]),
        "probabilities": {
            f"{predictions.paths[i].parent.name}/{predictions.paths[i].name}": round(float(p), 6)
            for i, p in zip(rows, probabilities, strict=True)
        },
    }
    target = card.folder / REFERENCE_FILENAME
    atomic_write_bytes(target, (json.dumps(reference, indent=2) + "\n").encode())
    return target
