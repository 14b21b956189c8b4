"""ROC curve and reliability diagram as PNG, drawn with Pillow (no matplotlib in this app)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

SIZE = 480
MARGIN = 60
INK, GRID, CURVE, BAR = (20, 20, 20), (215, 215, 215), (200, 40, 40), (70, 110, 190)


class UnitPlot:
    """A square [0,1]×[0,1] plot with ticks, axis titles and a title."""

    def __init__(self, title: str, x_title: str, y_title: str):
        self.image = Image.new("RGB", (SIZE, SIZE), "white")
        self.draw = ImageDraw.Draw(self.image)
        self.span = SIZE - 2 * MARGIN
        self._axes(title, x_title, y_title)

    def point(self, x: float, y: float) -> tuple[float, float]:
        return MARGIN + x * self.span, SIZE - MARGIN - y * self.span

    def _axes(self, title: str, x_title: str, y_title: str) -> None:
        for tick in np.linspace(0, 1, 6):
            self.draw.line([self.point(tick, 0), self.point(tick, 1)], fill=GRID)
            self.draw.line([self.point(0, tick), self.point(1, tick)], fill=GRID)
            x, y = self.point(tick, 0)
            self.draw.text((x - 8, y + 6), f"{tick:.1f}", fill=INK)
            x, y = self.point(0, tick)
            self.draw.text((x - 28, y - 6), f"{tick:.1f}", fill=INK)
        self.draw.rectangle([self.point(0, 1), self.point(1, 0)], outline=INK)
        self.draw.text((MARGIN, 18), title, fill=INK)
        self.draw.text((SIZE / 2 - 40, SIZE - 28), x_title, fill=INK)
        self.draw.text((6, MARGIN - 24), y_title, fill=INK)

    def line(
        self,
        xs: Sequence[float] | np.ndarray,
        ys: Sequence[float] | np.ndarray,
        colour=CURVE,
        width: int = 3,
    ) -> None:
        self.draw.line(
            [self.point(x, y) for x, y in zip(xs, ys, strict=True)], fill=colour, width=width
        )

    def diagonal(self) -> None:
        self.line([0, 1], [0, 1], colour=(150, 150, 150), width=1)

    def save(self, path: Path) -> Path:
        self.image.save(path, format="PNG")
        return path


def roc_png(path: Path, fpr: np.ndarray, tpr: np.ndarray, auc: float, operating=None) -> Path:
    plot = UnitPlot(f"ROC curve  (AUC {auc:.3f})", "1 - specificity", "sensitivity")
    plot.diagonal()
    plot.line(fpr, tpr)
    if operating is not None:
        x, y = plot.point(1 - operating.specificity, operating.sensitivity)
        plot.draw.ellipse([x - 5, y - 5, x + 5, y + 5], outline=INK, width=2)
        plot.draw.text((x + 8, y + 4), f"threshold {operating.threshold:.3f}", fill=INK)
    return plot.save(path)


def reliability_png(
    path: Path, confidence: np.ndarray, observed: np.ndarray, counts: np.ndarray, ece: float
) -> Path:
    plot = UnitPlot(f"Reliability  (ECE {ece:.3f})", "predicted probability", "observed frequency")
    plot.diagonal()
    bins = len(counts)
    for i in range(bins):
        if counts[i] == 0:
            continue
        left, right = plot.point(i / bins, 0), plot.point((i + 1) / bins, observed[i])
        plot.draw.rectangle([left[0] + 2, right[1], right[0] - 2, left[1]], outline=BAR, width=2)
    used = counts > 0
    plot.line(confidence[used], observed[used]) if used.sum() > 1 else None
    return plot.save(path)
