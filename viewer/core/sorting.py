"""Slice order and stack splitting (DICOM PS3.3 C.7.6.2: Image Plane module).

Frames are ordered by ImagePositionPatient projected on the slice normal (row × column cosine);
InstanceNumber is only a fallback, with a warning. Missing slices (gaps), uneven spacing and
frames sharing one position are reported as warnings, never silently "fixed".
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import numpy as np

from viewer.core.scan import HeaderRecord

ORIENTATION_TOLERANCE = 1e-3  # direction cosines closer than this are one orientation
POSITION_TOLERANCE_MM = 1e-3
SPACING_TOLERANCE = 0.05  # relative deviation from the median step called "uneven"
# ImageType values 3 and 4 (MR: the kind of image) in words; others shown as written
IMAGE_KIND_WORDS = {
    "M": "magnitude",
    "P": "phase",
    "R": "real",
    "I": "imaginary",
    "FIELD_MAP": "field map",
}
PLANE_COSINE = 0.8  # a slice normal this close to an axis names the plane (else "oblique")


def slice_normal(orientation: Sequence[float]) -> np.ndarray:
    row, col = np.asarray(orientation[:3], float), np.asarray(orientation[3:], float)
    normal = np.cross(row, col)
    norm = np.linalg.norm(normal)
    return normal / norm if norm > 0 else normal


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
    return ordered, spacing_warnings([distances[id(r)] for r in ordered])


def spacing_warnings(distances: list[float]) -> list[str]:
    """Gaps, uneven steps and shared positions along the normal (sorted distances in mm)."""
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
    median = float(np.sort(distinct)[(len(distinct) - 1) // 2])  # lower median: 2 steps work
    gaps = int(np.sum(distinct > 1.5 * median))
    if gaps:
        warnings.append(
            f"{gaps} gap(s) in slice positions (largest step {distinct.max():.2f} mm, "
            f"usual {median:.2f} mm): missing slices?"
        )
    elif np.any(np.abs(distinct - median) > SPACING_TOLERANCE * median):
        warnings.append(
            f"uneven slice spacing ({distinct.min():.2f}–{distinct.max():.2f} mm, "
            f"median {median:.2f} mm)"
        )
    return warnings


def split_stacks(records: list[HeaderRecord]) -> list[tuple[list[HeaderRecord], str]]:
    """Split one SeriesInstanceUID into stacks of compatible frames, largest first.

    Frames go apart when image size, orientation, localizer status, enhanced Stack ID or pixel
    format differ; a group whose frames repeat positions is split by echo, else by acquisition
    (time point). Each stack comes with what sets it apart, in words ("axial", "echo 2",
    "time point 3"; "" when not split).
    """
    groups: dict[tuple, list[HeaderRecord]] = defaultdict(list)
    orientations: list[tuple[float, ...]] = []
    for record in records:
        groups[_stack_key(record, orientations)].append(record)
    varying = _varying_fields(list(groups))
    planes = _plane_names(orientations)
    stacks = []
    for key, members in groups.items():
        parts = split_repeats(members)
        for part, repeat in parts:
            stacks.append((part, ", ".join(_describe(key, varying, planes) + repeat)))
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
        record.image_type[2:4],  # e.g. magnitude vs phase / field map frames
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
    rows, columns, slot, localizer, kind, stack_id, fmt = key
    if localizer:
        return ["localizer"]
    words = {
        0: f"{columns}×{rows}",
        1: f"{columns}×{rows}",
        2: planes[slot] if slot >= 0 else "no orientation",
        4: " ".join(IMAGE_KIND_WORDS.get(w, w.replace("_", " ")) for w in kind if w),
        5: f"stack {stack_id}",
        6: f"{fmt[2]} {fmt[1]}-bit",
    }
    return list(dict.fromkeys(words[n] for n in sorted(varying) if n in words and words[n]))


# Frames at repeated positions are told apart by echo first, then by acquisition (a repeat
# of the same slices later: a time point), with the words that name the stack.
REPEAT_FIELDS = (("echo_number", "echo"), ("acquisition_number", "time point"))


def split_repeats(records: list[HeaderRecord]) -> list[tuple[list[HeaderRecord], list[str]]]:
    """Split by EchoNumbers, else AcquisitionNumber, when positions repeat and each part is a
    clean stack; each part comes with what names it (e.g. ["echo 2"], [] when not split)."""
    if not has_full_geometry(records) or not _positions_repeat(records):
        return [(records, [])]
    for attribute, word in REPEAT_FIELDS:
        parts = _split_by(records, attribute)
        if parts:
            return [(part, [f"{word} {getattr(part[0], attribute)}"]) for part in parts]
    return [(records, [])]


def _split_by(records: list[HeaderRecord], attribute: str) -> list[list[HeaderRecord]]:
    groups: dict[int | None, list[HeaderRecord]] = defaultdict(list)
    for record in records:
        groups[getattr(record, attribute)].append(record)
    if len(groups) < 2 or any(len(g) < 2 or _positions_repeat(g) for g in groups.values()):
        return []
    return [groups[k] for k in sorted(groups, key=lambda k: (k is None, k or 0))]


def _positions_repeat(records: list[HeaderRecord]) -> bool:
    normal = slice_normal(records[0].orientation)
    rounded = {round(float(np.dot(r.position, normal)) / POSITION_TOLERANCE_MM) for r in records}
    return len(rounded) < len(records)
