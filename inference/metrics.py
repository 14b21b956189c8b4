"""Binary classification metrics in numpy: ROC/AUC, bootstrap CI, operating point, calibration."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def roc_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve (Mann–Whitney U with mid-ranks for ties)."""
    labels = np.asarray(labels).astype(bool)
    scores = np.asarray(scores, dtype=np.float64)
    n_pos, n_neg = int(labels.sum()), int((~labels).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = _mid_ranks(scores)
    return float((ranks[labels].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def _mid_ranks(values: np.ndarray) -> np.ndarray:
    order = np.argsort(values, kind="mergesort")
    sorted_values = values[order]
    ranks = np.empty(len(values), dtype=np.float64)
    _, starts, counts = np.unique(sorted_values, return_index=True, return_counts=True)
    mid = starts + (counts + 1) / 2.0
    ranks[order] = np.repeat(mid, counts)
    return ranks


def roc_curve(labels: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(false positive rate, true positive rate, thresholds), thresholds descending."""
    labels = np.asarray(labels).astype(bool)
    scores = np.asarray(scores, dtype=np.float64)
    thresholds = np.unique(scores)[::-1]
    tpr = np.array([(scores[labels] >= t).mean() for t in thresholds])
    fpr = np.array([(scores[~labels] >= t).mean() for t in thresholds])
    return np.r_[0.0, fpr, 1.0], np.r_[0.0, tpr, 1.0], np.r_[np.inf, thresholds, -np.inf]


def bootstrap_auc_ci(
    labels: np.ndarray, scores: np.ndarray, rounds: int = 1000, seed: int = 0, level: float = 0.95
) -> tuple[float, float]:
    """Percentile bootstrap CI of the AUC, resampling positives and negatives separately."""
    labels = np.asarray(labels).astype(bool)
    scores = np.asarray(scores, dtype=np.float64)
    rng = np.random.default_rng(seed)
    pos, neg = scores[labels], scores[~labels]
    if len(pos) == 0 or len(neg) == 0:
        return float("nan"), float("nan")
    aucs = np.empty(rounds)
    for i in range(rounds):
        p = rng.choice(pos, len(pos))
        n = rng.choice(neg, len(neg))
        both = np.r_[p, n]
        aucs[i] = roc_auc(np.r_[np.ones(len(p)), np.zeros(len(n))], both)
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(aucs, [tail, 100 - tail])
    return float(low), float(high)


def paired_auc_difference(
    labels: np.ndarray,
    scores_a: np.ndarray,
    scores_b: np.ndarray,
    rounds: int = 2000,
    seed: int = 0,
    level: float = 0.95,
) -> tuple[float, float, float]:
    """AUC(a) − AUC(b) on the same images, with a paired percentile bootstrap CI (the same
    resampled positives and negatives for both, so what the images share cancels out)."""
    labels = np.asarray(labels).astype(bool)
    a, b = np.asarray(scores_a, dtype=np.float64), np.asarray(scores_b, dtype=np.float64)
    difference = roc_auc(labels, a) - roc_auc(labels, b)
    positives, negatives = np.flatnonzero(labels), np.flatnonzero(~labels)
    rng = np.random.default_rng(seed)
    differences = np.empty(rounds)
    for i in range(rounds):
        chosen = np.r_[rng.choice(positives, len(positives)), rng.choice(negatives, len(negatives))]
        differences[i] = roc_auc(labels[chosen], a[chosen]) - roc_auc(labels[chosen], b[chosen])
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(differences, [tail, 100 - tail])
    return float(difference), float(low), float(high)


def threshold_for_sensitivity(labels: np.ndarray, scores: np.ndarray, target: float) -> float:
    """The highest threshold (score >= threshold is positive) with sensitivity >= `target`.

    Any value between the deciding positive's score and the next lower score gives the same
    operating point; the midpoint is returned so rounding noise cannot flip that case.
    """
    labels = np.asarray(labels).astype(bool)
    scores = np.asarray(scores, dtype=np.float64)
    positives = np.sort(scores[labels])[::-1]
    if len(positives) == 0:
        raise ValueError("no positive cases to choose a threshold from")
    needed = max(int(np.ceil(target * len(positives) - 1e-9)), 1)
    deciding = positives[needed - 1]
    below = scores[scores < deciding]
    return float((deciding + below.max()) / 2.0) if len(below) else float(deciding)


def threshold_with_margin(
    labels: np.ndarray,
    scores: np.ndarray,
    target: float,
    level: float = 0.95,
    rounds: int = 2000,
    seed: int = 0,
) -> float:
    """The highest threshold whose bootstrap sensitivity CI (`level`, percentile) lies >= `target`.

    Per bootstrap resample of the positives, sensitivity >= target holds for every threshold up to
    that resample's deciding score q_b; the lower CI bound is >= target up to the (1 - level) / 2
    quantile of the q_b. Midpoint to the next lower score, as in `threshold_for_sensitivity`.
    """
    labels = np.asarray(labels).astype(bool)
    scores = np.asarray(scores, dtype=np.float64)
    positives = scores[labels]
    if len(positives) == 0:
        raise ValueError("no positive cases to choose a threshold from")
    rng = np.random.default_rng(seed)
    samples = np.sort(positives[rng.integers(0, len(positives), (rounds, len(positives)))], axis=1)
    needed = max(int(np.ceil(target * len(positives) - 1e-9)), 1)
    deciding = samples[:, len(positives) - needed]  # needed-th largest per resample
    chosen = float(np.percentile(deciding, (1 - level) / 2 * 100, method="lower"))
    below = scores[scores < chosen]
    return float((chosen + below.max()) / 2.0) if len(below) else chosen


def bootstrap_rate_ci(
    hits: np.ndarray, rounds: int = 2000, level: float = 0.95, seed: int = 0
) -> tuple[float, float]:
    """Percentile bootstrap CI of a proportion (e.g. sensitivity: hits among the positives)."""
    hits = np.asarray(hits, dtype=np.float64)
    if len(hits) == 0:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    rates = hits[rng.integers(0, len(hits), (rounds, len(hits)))].mean(axis=1)
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(rates, [tail, 100 - tail])
    return float(low), float(high)


@dataclass(frozen=True)
class OperatingPoint:
    threshold: float
    accuracy: float
    sensitivity: float
    specificity: float
    ppv: float
    npv: float
    tp: int
    fp: int
    tn: int
    fn: int

    def as_dict(self) -> dict[str, float | int]:
        return dict(self.__dict__)


def operating_point(labels: np.ndarray, scores: np.ndarray, threshold: float) -> OperatingPoint:
    labels = np.asarray(labels).astype(bool)
    predicted = np.asarray(scores) >= threshold
    tp = int((predicted & labels).sum())
    fp = int((predicted & ~labels).sum())
    tn = int((~predicted & ~labels).sum())
    fn = int((~predicted & labels).sum())
    return OperatingPoint(
        threshold=float(threshold),
        accuracy=_ratio(tp + tn, tp + tn + fp + fn),
        sensitivity=_ratio(tp, tp + fn),
        specificity=_ratio(tn, tn + fp),
        ppv=_ratio(tp, tp + fp),
        npv=_ratio(tn, tn + fn),
        tp=tp,
        fp=fp,
        tn=tn,
        fn=fn,
    )


def _ratio(numerator: int, denominator: int) -> float:
    return float(numerator / denominator) if denominator else float("nan")


def reliability_bins(
    labels: np.ndarray, probabilities: np.ndarray, bins: int = 10
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per equal-width bin: mean predicted probability, observed frequency, count."""
    labels = np.asarray(labels, dtype=np.float64)
    probabilities = np.asarray(probabilities, dtype=np.float64)
    index = np.minimum((probabilities * bins).astype(int), bins - 1)
    counts = np.bincount(index, minlength=bins)
    safe = np.maximum(counts, 1)
    confidence = np.bincount(index, probabilities, minlength=bins) / safe
    observed = np.bincount(index, labels, minlength=bins) / safe
    return confidence, observed, counts


def expected_calibration_error(
    labels: np.ndarray, probabilities: np.ndarray, bins: int = 10
) -> float:
    confidence, observed, counts = reliability_bins(labels, probabilities, bins)
    return float(np.sum(counts * np.abs(confidence - observed)) / max(counts.sum(), 1))


def fit_temperature(labels: np.ndarray, logits: np.ndarray) -> float:
    """Temperature T minimising the NLL of sigmoid(logit / T) (grid search on log T, then refine)."""
    labels = np.asarray(labels, dtype=np.float64)
    logits = np.asarray(logits, dtype=np.float64)
    grid = np.exp(np.linspace(np.log(0.2), np.log(10.0), 241))
    best = min(grid, key=lambda t: _bce(labels, logits / t))
    fine = best * np.exp(np.linspace(-0.02, 0.02, 41))
    return float(min(fine, key=lambda t: _bce(labels, logits / t)))


def fit_platt(labels: np.ndarray, logits: np.ndarray, iterations: int = 50) -> tuple[float, float]:
    """(temperature, bias) so that sigmoid(logit / temperature + bias) minimises the NLL (Newton)."""
    labels = np.asarray(labels, dtype=np.float64)
    design = np.stack([np.asarray(logits, dtype=np.float64), np.ones(len(labels))], axis=1)
    params = np.array([1.0 / fit_temperature(labels, logits), 0.0])
    for _ in range(iterations):
        p = sigmoid(design @ params)
        gradient = design.T @ (p - labels)
        hessian = design.T @ (design * (p * (1 - p))[:, None]) + 1e-6 * np.eye(2)
        step = np.linalg.solve(hessian, gradient)
        params = params - step
        if np.abs(step).max() < 1e-8:
            break
    scale = max(float(params[0]), 1e-3)  # a negative slope would invert the ranking: never
    return 1.0 / scale, float(params[1])


def _bce(labels: np.ndarray, logits: np.ndarray) -> float:
    # log(1 + exp(-|z|)) + max(z, 0) - y z : numerically stable BCE with logits
    return float(np.mean(np.logaddexp(0.0, logits) - labels * logits))


def sigmoid(values: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.asarray(values, dtype=np.float64)))
