"""The intended-use gate: does an image fit what the model card says the model is for?

Checked per image before the model runs: patient age (from PatientAge, else birth date against
the study/acquisition date), modality, body part, view position (AP/PA; a lateral is refused) and
image size. A DICOM image whose header contradicts the card, or lacks what the card restricts, is
not analysed unless the user asks ("Run anyway", `--force`); the reasons travel with the result.
A PNG/JPEG (or a bare array) carries no such header: it runs, marked "intended use not
verifiable". Torch-free, so callers without the engine can check too.
"""

from __future__ import annotations

from dataclasses import dataclass

from inference.model_card import IntendedUse
from inference.types import AnalysisInput

OUTSIDE_INTENDED_USE = "outside the model's intended use"
NOT_VERIFIABLE = (
    "intended use not verifiable: no DICOM header (patient age, modality, body part and view "
    "are unknown)"
)
LATERAL_VIEWS = {"LL", "RL", "LAT", "LATERAL", "LLD", "RLD"}
FIELD_NAMES = {"modality": "modality", "body_part": "body part", "view": "view position"}


@dataclass(frozen=True)
class IntendedUseCheck:
    """The gate's verdict: `reasons` to show; `blocking`: not run unless forced."""

    reasons: tuple[str, ...] = ()
    blocking: bool = False

    @property
    def ok(self) -> bool:
        return not self.reasons


def check_intended_use(use: IntendedUse, item: AnalysisInput) -> IntendedUseCheck:
    """The reasons an image is outside (or cannot be checked against) the card's intended use."""
    size = image_size_problems(use, item)
    if not item.from_dicom:
        return IntendedUseCheck((NOT_VERIFIABLE, *size), blocking=bool(size))
    reasons = [*header_problems(use, item), *age_problems(use, item), *size]
    return IntendedUseCheck(tuple(reasons), blocking=bool(reasons))


def header_problems(use: IntendedUse, item: AnalysisInput) -> list[str]:
    problems = []
    for field_name, label in FIELD_NAMES.items():
        allowed = getattr(use, field_name)
        value = str(getattr(item, field_name) or "").strip().upper()
        if not allowed:
            continue
        if not value:
            problems.append(f"{label} not recorded (model: {', '.join(allowed)})")
        elif value not in allowed:
            lateral = " — a lateral view" if field_name == "view" and value in LATERAL_VIEWS else ""
            problems.append(f"{label} {value}{lateral} (model: {', '.join(allowed)})")
    return problems


def age_problems(use: IntendedUse, item: AnalysisInput) -> list[str]:
    ages = use.age_years
    if ages is None:
        return []
    years = item.patient_age_years
    if years is None:
        return [f"patient age not recorded (model: {ages.describe()})"]
    if not ages.contains(years):
        return [f"patient age {_age_text(years)} (model: {ages.describe()})"]
    return []


def image_size_problems(use: IntendedUse, item: AnalysisInput) -> list[str]:
    shape: tuple[int, ...] = getattr(item.pixels, "shape", ())
    if len(shape) < 2:
        return []
    rows, columns = int(shape[0]), int(shape[1])
    short, long = sorted((rows, columns))
    limits = use.image
    problems = []
    if short < limits.min_side_px:
        problems.append(
            f"image {columns}×{rows} px is too small (model: at least {limits.min_side_px} px "
            "on the shorter side)"
        )
    if short > 0 and long / short > limits.max_aspect:
        problems.append(
            f"image {columns}×{rows} px has an aspect ratio of {long / short:.1f} "
            f"(model: at most {limits.max_aspect:g})"
        )
    return problems


def _age_text(years: float) -> str:
    if years < 2:
        return f"{years * 12:.0f} months"
    return f"{int(years)} years"


def refusal_warning(reasons: tuple[str, ...]) -> str:
    return f"{OUTSIDE_INTENDED_USE}: {'; '.join(reasons)}; not analysed (use force to run)"


def forced_warning(reasons: tuple[str, ...]) -> str:
    return f"{OUTSIDE_INTENDED_USE}: {'; '.join(reasons)}; analysed on request"
