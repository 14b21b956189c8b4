"""Header values read leniently: the number, or None where it is absent or not a number.

A leaf of the core (it imports nothing from it), so the header scan, the series and the SEG
reader can all use it without import cycles.
"""

from __future__ import annotations


def int_or_none(value) -> int | None:
    try:
        return None if value is None or value == "" else int(value)
    except (TypeError, ValueError):
        return None


def float_or_none(value) -> float | None:
    try:
        return None if value is None or value == "" else float(value)
    except (TypeError, ValueError):
        return None
