"""The heatmap burned into a display image, as the viewer shows it (numpy only, no Qt).

Same look as `viewer.ui.heatmap_overlay`: the "inferno" colormap, an alpha that rises with the
heatmap value, drawn at 50 % opacity over the window/levelled image.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from viewer.core.measurements import KINDS

HEATMAP_OPACITY = 0.5
# Inferno (matplotlib / pyqtgraph) sampled at nine evenly spaced stops; linear in between.
INFERNO_STOPS = np.array(
    [
        [0, 0, 4], [31, 12, 72], [85, 15, 109], [136, 34, 106], [186, 54, 85],
        [227, 89, 51], [249, 140, 10], [249, 201, 50], [252, 255, 164],
    ],
    dtype=np.float32,
)  # fmt: skip


def inferno(values: np.ndarray) -> np.ndarray:
    """Values in [0, 1] → float32 RGB in [0, 255] (shape + (3,))."""
    positions = np.linspace(0.0, 1.0, len(INFERNO_STOPS))
    clipped = np.clip(values, 0.0, 1.0)
    channels = [np.interp(clipped, positions, INFERNO_STOPS[:, c]) for c in range(3)]
    return np.stack(channels, axis=-1).astype(np.float32)


def as_rgb(display: np.ndarray) -> np.ndarray:
    """A uint8 display image (HxW grey or HxWx3) as HxWx3."""
    return np.repeat(display[..., None], 3, axis=-1) if display.ndim == 2 else display


def fit_heatmap(heatmap: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """The heatmap on a `shape` (rows, cols) grid; bilinear when the grids differ."""
    heatmap = np.asarray(heatmap, dtype=np.float32)
    if heatmap.shape == tuple(shape):
        return heatmap
    resized = Image.fromarray(heatmap, mode="F").resize(
        (shape[1], shape[0]), Image.Resampling.BILINEAR
    )
    return np.asarray(resized, dtype=np.float32)


def burn_in_heatmap(
    display: np.ndarray, heatmap: np.ndarray, opacity: float = HEATMAP_OPACITY
) -> np.ndarray:
    """uint8 RGB: `display` with `heatmap` (float in [0, 1] on the image grid) blended on top."""
    base = as_rgb(np.asarray(display)).astype(np.float32)
    values = np.clip(fit_heatmap(heatmap, base.shape[:2]), 0.0, 1.0)
    alpha = (opacity * values)[..., None]
    blended = base * (1.0 - alpha) + inferno(values) * alpha
    return np.clip(np.rint(blended), 0, 255).astype(np.uint8)


HEATMAP_MEANING = {
    "absolute": "colour = evidence for the finding on one fixed scale, the same on every image "
    "(0 none, 1 as strong as the strongest evidence on confirmed pneumonia)",
    "relative": "colour = activation scaled per image (0 to 1): compares regions of this image "
    "only, not images with each other",
}
NOTHING_FOR_CLEAR_NEGATIVES = "nothing is drawn for a clear negative unless asked for"


COLOUR_BAR_LABELS = (1.0, 0.5, 0.0)


def with_colour_bar(picture: np.ndarray) -> np.ndarray:
    """uint8 RGB: `picture` with a labelled colour bar (1 at the top, 0 at the bottom) at its
    right. The labels are 1/12 of the picture's height: legible however small it is printed
    (about 9 pt when a report shrinks the key image to 4 cm); the margin fits them."""
    rows, cols = picture.shape[:2]
    font = ImageFont.load_default(size=max(12, rows // 12))
    bar_width = max(6, rows // 40)
    text_width = max(font.getlength(f"{value:g}") for value in COLOUR_BAR_LABELS)
    margin = max(36, round(2.5 * bar_width + text_width + bar_width))
    canvas = Image.new("RGB", (cols + margin, rows), (255, 255, 255))
    canvas.paste(Image.fromarray(as_rgb(np.asarray(picture))), (0, 0))
    inset = max(12, rows // 20)
    values = np.linspace(1.0, 0.0, rows - 2 * inset)[:, None].repeat(bar_width, axis=1)
    bar = Image.fromarray(np.rint(inferno(values)).astype(np.uint8))
    canvas.paste(bar, (cols + bar_width, inset))
    pen = ImageDraw.Draw(canvas)
    for value in COLOUR_BAR_LABELS:
        y = inset + (1.0 - value) * (rows - 2 * inset - 1)
        x = cols + round(2.5 * bar_width)
        pen.text((x, y), f"{value:g}", fill=(0, 0, 0), font=font, anchor="lm")
    return np.asarray(canvas)


MEASUREMENT_COLOUR = (255, 214, 0)


def draw_measurements(display: np.ndarray, measurements) -> np.ndarray:
    """uint8 RGB: `display` with each `Measurement` drawn and numbered 1, 2, … as in the table.

    Points are (row, column) with pixel centres on integers; PIL draws at (x, y) = (col, row).
    """
    picture = Image.fromarray(as_rgb(np.asarray(display)).copy())
    pen = ImageDraw.Draw(picture)
    width = max(2, round(max(picture.size) / 400))
    font = ImageFont.load_default(size=max(14, round(max(picture.size) / 28)))
    for number, measurement in enumerate(measurements, start=1):
        xy = [(col, row) for row, col in measurement.points]
        outline = KINDS[measurement.kind].outline
        if outline in ("ellipse", "rectangle"):
            box = [
                min(x for x, _ in xy),
                min(y for _, y in xy),
                max(x for x, _ in xy),
                max(y for _, y in xy),
            ]
            draw = pen.ellipse if outline == "ellipse" else pen.rectangle
            draw(box, outline=MEASUREMENT_COLOUR, width=width)
        else:
            pen.line(xy, fill=MEASUREMENT_COLOUR, width=width, joint="curve")
        label_at = (xy[-1][0] + 2 * width, xy[-1][1] + 2 * width)
        pen.text(
            label_at,
            str(number),
            fill=MEASUREMENT_COLOUR,
            font=font,
            stroke_width=1,
            stroke_fill=(0, 0, 0),
        )
    return np.asarray(picture)


EXPORT_NOTICE = "RadLens AI output - research use only, not for diagnosis"


def with_notice(picture: np.ndarray, text: str = EXPORT_NOTICE) -> np.ndarray:
    """uint8 RGB: `picture` with a strip below it holding `text` (white on black), sized to fit
    the width, so the notice travels with an exported image wherever it is copied."""
    rows, cols = picture.shape[:2]
    size = max(8, min(rows // 30, cols // 24))
    font = ImageFont.load_default(size=size)
    while size > 8 and font.getlength(text) > cols - 2 * size:
        size -= 1
        font = ImageFont.load_default(size=size)
    strip = round(size * 1.8)
    canvas = Image.new("RGB", (cols, rows + strip), (0, 0, 0))
    canvas.paste(Image.fromarray(as_rgb(np.asarray(picture))), (0, 0))
    ImageDraw.Draw(canvas).text(
        (cols // 2, rows + strip // 2), text, fill=(255, 255, 255), font=font, anchor="mm"
    )
    return np.asarray(canvas)


def exported_heatmap(display: np.ndarray, heatmap: np.ndarray) -> np.ndarray:
    """What leaves RadLens as an image of a heatmap (report, Secondary Capture): the heatmap
    burned in, the colour bar beside it and the research-use line below."""
    return with_notice(with_colour_bar(burn_in_heatmap(display, heatmap)))
