"""Slice order and stack splitting (DICOM PS3.3 C.7.6.2: Image Plane module).

Frames are ordered by ImagePositionPatient projected on the slice normal (row × column cosine);
InstanceNumber is only a fallback, with a warning. Missing slices (gaps), uneven spacing and
frames sharing one position are reported as warnings, never silently "fixed".
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import numpy as np

from viewer.core.geometry import slice_normal
from viewer.core.scan import HeaderRecord

ORIENTATION_TOLERANCE = 1e-3  # direction cosines closer than this are one orientation
POSITION_TOLERANCE_MM = 1e-3
SPACING_TOLERANCE = 0.05  # relative deviation from the median step called "uneven"
PLANE_COSINE = 0.8  # a slice normal this close to an axis names the plane (else "oblique")
# ImageType values 3 and 4 (MR: the kind of image) in words; others shown as written
IMAGE_KIND_WORDS = {
    "M": "magnitude",
    "P": "phase",
    "R": "real",
    "I": "imaginary",
    "FIELD_MAP": "field map",
}


def sort_frames(records: list[HeaderRecord]) -> tuple[list[HeaderRecord], list[str]]:
    """Records in display order, with warnings about how reliable that order is."""
    if len(records) < 2:
        return list(records), []
    if has_full_geometry(records):
        return sort_by_position(records)
    ordered = sorted(records, key=_instance_key)
    if len({r.path for r in records}) == 1:
        return ordered, []  # one multi-frame file without per-frame positions: file order
    return ordered, [
        "slice positions or orientation missing: ordered by Instance Number (may be wrong)"
    ]


def has_full_geometry(records: list[HeaderRecord]) -> bool:
    return all(r.position is not None and r.orientation is not None for r in records)


def _instance_key(record: HeaderRecord) -> tuple:
    number = record.instance_number if record.instance_number is not None else 1 << 30
    return (number, record.path, record.frame_index)


def sort_by_position(records: list[HeaderRecord]) -> tuple[list[HeaderRecord], list[str]]:
    normal = slice_normal(records[0].orientation)
    distances = {id(r): float(np.dot(r.position, normal)) for r in records}
    ordered = sorted(records, key=lambda r: (distances[id(r)], *_instance_key(r)))
    thicknesses = [r.slice_thickness for r in ordered]
    return ordered, spacing_warnings([distances[id(r)] for r in ordered], thicknesses)


def spacing_warnings(distances: list[float], thicknesses=None) -> list[str]:
    """Gaps, uneven steps and shared positions along the normal (sorted distances in mm).

    `thicknesses` (SliceThickness per slice, same order) lets a stack whose thickness changes
    (e.g. 4 mm posterior fossa slices, then 7 mm) say so rather than report gaps: each step is
    compared with the usual step between slices of the thicknesses it joins.
    """
    steps = np.diff(np.asarray(distances))
    distinct = steps[steps >= POSITION_TOLERANCE_MM]
    warnings = []
    if len(distinct) < len(steps):
        warnings.append(
            f"{len(distances)} frames at only {len(distinct) + 1} distinct slice positions "
            "(several phases, echoes or b-values?); frames at one position follow Instance Number"
        )
    if len(distinct) < 2:
        return warnings
    classes = _thickness_classes(thicknesses, len(distances))
    usual = _usual_steps(steps, classes)[steps >= POSITION_TOLERANCE_MM]
    median = _lower_median(distinct)
    gaps = distinct > 1.5 * usual
    if np.any(gaps):
        warnings.append(
            f"{int(np.sum(gaps))} gap(s) in slice positions (largest step "
            f"{distinct[gaps].max():.2f} mm, usual {usual[gaps][0]:.2f} mm): missing slices?"
        )
    if len(set(classes) - {None}) > 1:
        sizes = ", ".join(f"{t:g}" for t in sorted(set(classes) - {None}))
        warnings.append(
            f"slice thickness changes within the stack ({sizes} mm); slice spacing "
            f"{distinct.min():.2f}–{distinct.max():.2f} mm"
        )
    elif not np.any(gaps) and np.any(np.abs(distinct - median) > SPACING_TOLERANCE * median):
        warnings.append(
            f"uneven slice spacing ({distinct.min():.2f}–{distinct.max():.2f} mm, "
            f"median {median:.2f} mm)"
        )
    return warnings


def _lower_median(values: np.ndarray) -> float:
    return float(np.sort(values)[(len(values) - 1) // 2])  # lower median: 2 steps work


def _thickness_classes(thicknesses, count: int) -> list[float | None]:
    if not thicknesses or len(thicknesses) != count:
        return [None] * count
    return [round(t, 2) if t and t > 0 else None for t in thicknesses]


def _usual_steps(steps: np.ndarray, classes: list[float | None]) -> np.ndarray:
    """Per step, the usual step between slices of the thicknesses it joins (else overall)."""
    moving = steps >= POSITION_TOLERANCE_MM
    overall = _lower_median(steps[moving])
    within: dict[float | None, list[float]] = defaultdict(list)
    for i, step in enumerate(steps):
        if moving[i] and classes[i] == classes[i + 1]:
            within[classes[i]].append(step)
    usual = {c: _lower_median(np.asarray(v)) for c, v in within.items() if c is not None}
    return np.array(
        [
            max(usual.get(classes[i], overall), usual.get(classes[i + 1], overall))
            for i in range(len(steps))
        ]
    )


def split_stacks(records: list[HeaderRecord]) -> list[tuple[list[HeaderRecord], str]]:
    """Split one SeriesInstanceUID into stacks, largest first, only where one stack cannot hold
    the frames: image size or pixel format, orientation, frame of reference, localizer status or
    enhanced Stack ID differ, or positions repeat. Repeated positions are split by acquisition,
    image type (magnitude/phase, field map) or echo when that gives clean stacks; otherwise the
    frames stay together with a warning. ImageType alone (e.g. GE's AXIAL\\ADD posterior fossa
    slices) or a change of slice thickness does not split a stack.
    Each stack comes with what sets it apart, in words ("axial", "time point 3", "echo 2",
    "T1 magnitude"; "" when not split).
    """
    groups: dict[tuple, list[HeaderRecord]] = defaultdict(list)
    orientations: list[tuple[float, ...]] = []
    for record in records:
        groups[_stack_key(record, orientations)].append(record)
    varying = _varying_fields(list(groups))
    planes = _plane_names(orientations)
    stacks = []
    for key, members in groups.items():
        for part, label in split_repeated_positions(members):
            stacks.append((part, ", ".join(_describe(key, varying, planes) + label)))
    stacks.sort(key=lambda s: -len(s[0]))
    if len(stacks) == 1:
        return [(stacks[0][0], "")]
    return stacks


def _varying_fields(keys: list[tuple]) -> set[int]:
    return {n for n in range(len(keys[0])) if len({k[n] for k in keys}) > 1} if keys else set()


def _stack_key(record: HeaderRecord, orientations: list[tuple[float, ...]]) -> tuple:
    fmt = record.pixel_format
    return (
        record.rows,
        record.columns,
        _orientation_slot(record.orientation, orientations),
        record.is_localizer,
        record.frame_of_reference_uid,
        record.stack_id,
        (fmt.samples_per_pixel, fmt.bits_allocated, fmt.photometric),
    )


def _orientation_slot(orientation, known: list[tuple[float, ...]]) -> int:
    if orientation is None:
        return -1
    for slot, other in enumerate(known):
        if max(abs(a - b) for a, b in zip(orientation, other, strict=True)) < ORIENTATION_TOLERANCE:
            return slot
    known.append(orientation)
    return len(known) - 1


def plane_name(orientation: Sequence[float]) -> str:
    """ "axial", "coronal" or "sagittal" by the slice normal's main axis; else "oblique"."""
    normal = np.abs(slice_normal(orientation))
    axis = int(np.argmax(normal))
    return ("sagittal", "coronal", "axial")[axis] if normal[axis] >= PLANE_COSINE else "oblique"


def _plane_names(orientations: list[tuple[float, ...]]) -> list[str]:
    """The plane of each orientation slot, numbered when two slots share a plane name."""
    names = [plane_name(o) for o in orientations]
    return [
        f"{n} {names[: i + 1].count(n)}" if names.count(n) > 1 else n for i, n in enumerate(names)
    ]


def _describe(key: tuple, varying: set[int], planes: list[str]) -> list[str]:
    """What sets this stack apart from the others of its series (only the fields that differ)."""
    rows, columns, slot, localizer, frame_of_reference, stack_id, fmt = key
    if localizer:
        return ["localizer"]
    words = {
        0: f"{columns}×{rows}",
        1: f"{columns}×{rows}",
        2: planes[slot] if slot >= 0 else "no orientation",
        4: f"frame of reference …{frame_of_reference[-6:]}" if frame_of_reference else "",
        5: f"stack {stack_id}",
        6: f"{fmt[2]} {fmt[1]}-bit",
    }
    return list(dict.fromkeys(words[n] for n in sorted(varying) if n in words and words[n]))


def image_kind(words: Sequence[str]) -> str:
    """ImageType values 3-4 in words: ("T1", "M") → "T1 magnitude"."""
    return " ".join(IMAGE_KIND_WORDS.get(w, w.replace("_", " ")) for w in words if w)


# What tells apart frames that share positions, in the order tried: (value of, label of).
# Acquisitions repeating the same slices are time points.
REPEAT_SPLITTERS = (
    (lambda r: r.acquisition_number, lambda v: f"time point {v}"),
    (lambda r: r.image_type[2:4], image_kind),
    (lambda r: r.echo_number, lambda v: f"echo {v}"),
)


def split_repeated_positions(records: list[HeaderRecord]) -> list[tuple[list[HeaderRecord], list]]:
    """Frames repeating positions, split by the first attribute that gives clean stacks (each at
    least two frames, no position repeated); else one group. Returns (frames, label words)."""
    if not has_full_geometry(records) or not _positions_repeat(records):
        return [(records, [])]
    for value_of, label_of in REPEAT_SPLITTERS:
        groups: dict[Any, list[HeaderRecord]] = defaultdict(list)  # the splitter's values
        for record in records:
            groups[value_of(record)].append(record)
        if len(groups) > 1 and all(
            len(g) > 1 and not _positions_repeat(g) for g in groups.values()
        ):
            # numbers in order, other values in order of appearance (the sort is stable)
            keys = sorted(groups, key=lambda k: (k is None, k if isinstance(k, int) else 0))
            return [(groups[k], [label_of(k)]) for k in keys]
    return [(records, [])]


def _positions_repeat(records: list[HeaderRecord]) -> bool:
    normal = slice_normal(records[0].orientation)
    rounded = {round(float(np.dot(r.position, normal)) / POSITION_TOLERANCE_MM) for r in records}
    return len(rounded) < len(records)
