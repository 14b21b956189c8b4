"""Window presets per modality: fixed CT windows in HU; otherwise the file's own windows + auto.

CT values follow the usual radiology teaching windows (centre/width in Hounsfield units).
Other modalities have no absolute scale, so their presets come from the file and the data.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from viewer.core.voi import Padding, Window, auto_window, full_range_window, is_usable


@dataclass(frozen=True)
class Preset:
    """A named window the user can pick (`name` is what `radlens render --preset` takes)."""

    name: str
    label: str
    window: Window
    from_file: bool = False  # one of the image's own windows (`file-N`)


CT_PRESETS: tuple[Preset, ...] = (
    Preset("lung", "Lung", Window(-600.0, 1500.0, explanation="lung")),
    Preset("mediastinum", "Mediastinum", Window(50.0, 350.0, explanation="mediastinum")),
    Preset("abdomen", "Abdomen", Window(40.0, 400.0, explanation="abdomen")),
    Preset("liver", "Liver", Window(60.0, 160.0, explanation="liver")),
    Preset("brain", "Brain", Window(40.0, 80.0, explanation="brain")),
    Preset("subdural", "Subdural", Window(75.0, 215.0, explanation="subdural")),
    Preset("stroke", "Stroke", Window(40.0, 40.0, explanation="stroke")),
    Preset("bone", "Bone", Window(400.0, 1800.0, explanation="bone")),
)


@dataclass(frozen=True)
class ModalityValues:
    """What a modality's values are: their unit, and the fixed windows that fit them."""

    unit: str = ""  # "" when the values have no absolute scale (MR, X-ray)
    presets: tuple[Preset, ...] = ()


# Modalities whose values have a fixed meaning; any other modality gets `ModalityValues()`.
MODALITIES: dict[str, ModalityValues] = {"CT": ModalityValues("HU", CT_PRESETS)}


def modality_values(modality: str) -> ModalityValues:
    return MODALITIES.get(str(modality or "").strip().upper(), ModalityValues())


def presets_for(
    modality: str,
    file_windows: Sequence[Window] = (),
    values: np.ndarray | None = None,
    padding: Padding = None,
) -> list[Preset]:
    """The presets offered for an image: the file's windows, fixed CT windows, auto, full range.

    `values` (modality values of the frame shown) enables the data-driven `auto` and `full`.
    """
    usable = [w for w in file_windows if is_usable(w)]
    presets = [_file_preset(i, w) for i, w in enumerate(usable)]
    presets.extend(modality_values(modality).presets)
    if values is not None:
        presets.append(Preset("auto", "Auto (0.5–99.5 %)", auto_window(values, padding)))
        presets.append(Preset("full", "Full range", full_range_window(values, padding)))
    return presets


def find_preset(name: str, presets: Sequence[Preset]) -> Preset:
    """The preset called `name` (case-insensitive); KeyError naming the choices otherwise."""
    wanted = name.strip().lower()
    for preset in presets:
        if preset.name == wanted:
            return preset
    choices = ", ".join(p.name for p in presets) or "none"
    raise KeyError(f"no window preset {name!r} here (choices: {choices})")


def _file_preset(index: int, window: Window) -> Preset:
    label = window.explanation or f"File window {index + 1}"
    return Preset(f"file-{index + 1}", label, window, from_file=True)
