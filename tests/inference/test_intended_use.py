"""The intended-use gate against the shipped card's machine-readable intended use (no torch)."""

from __future__ import annotations

import numpy as np
import pytest

from inference.intended_use import NOT_VERIFIABLE, check_intended_use
from inference.model_card import ModelCard
from inference.types import AnalysisInput


@pytest.fixture(scope="module")
def use(shipped_model_dir_module):
    return ModelCard.read(shipped_model_dir_module).intended_use


@pytest.fixture(scope="module")
def shipped_model_dir_module():
    from tests.inference.conftest import SHIPPED_MODEL

    if not (SHIPPED_MODEL / "card.json").is_file():
        pytest.skip("the shipped model is not in resources/models/pneumonia-cxr")
    return SHIPPED_MODEL


def child(**changes) -> AnalysisInput:
    values = dict(
        pixels=np.zeros((1024, 900), np.uint16),
        modality="DX",
        body_part="CHEST",
        view="AP",
        from_dicom=True,
        patient_age_years=3.0,
    )
    return AnalysisInput(**{**values, **changes})


def test_the_card_states_its_population_machine_readably(use):
    assert (use.age_years.min, use.age_years.below) == (1.0, 6.0)
    assert use.view == ("AP", "PA") and use.image.min_side_px > 0 and use.image.max_aspect > 1


@pytest.mark.parametrize("years", [1.0, 3.0, 5.99])
def test_children_aged_one_to_five_pass(use, years):
    check = check_intended_use(use, child(patient_age_years=years))
    assert check.ok and not check.blocking


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"patient_age_years": 84.2}, "patient age 84 years (model: aged 1–5 years)"),
        ({"patient_age_years": 6.0}, "patient age 6 years (model: aged 1–5 years)"),
        ({"patient_age_years": 0.5}, "patient age 6 months (model: aged 1–5 years)"),
        ({"patient_age_years": None}, "patient age not recorded (model: aged 1–5 years)"),
        ({"modality": "MR"}, "modality MR (model: CR, DX)"),
        ({"body_part": "ABDOMEN"}, "body part ABDOMEN (model: CHEST)"),
        ({"body_part": ""}, "body part not recorded (model: CHEST)"),
        ({"view": "LL"}, "view position LL — a lateral view (model: AP, PA)"),
        ({"view": ""}, "view position not recorded (model: AP, PA)"),
        (
            {"pixels": np.zeros((120, 100))},
            "image 100×120 px is too small (model: at least 224 px on the shorter side)",
        ),
        (
            {"pixels": np.zeros((300, 1500))},
            "image 1500×300 px has an aspect ratio of 5.0 (model: at most 2)",
        ),
    ],
)
def test_outside_the_intended_use_blocks_with_one_reason(use, changes, reason):
    check = check_intended_use(use, child(**changes))
    assert check.reasons == (reason,) and check.blocking


def test_several_reasons_are_all_given(use):
    check = check_intended_use(use, child(patient_age_years=70.0, view="LATERAL", modality="CT"))
    assert len(check.reasons) == 3 and check.blocking


def test_png_or_bare_arrays_run_but_say_not_verifiable(use):
    check = check_intended_use(use, AnalysisInput(pixels=np.zeros((512, 512))))
    assert check.reasons == (NOT_VERIFIABLE,) and not check.blocking and not check.ok
    tiny = check_intended_use(use, AnalysisInput(pixels=np.zeros((32, 32))))
    assert tiny.blocking and tiny.reasons[0] == NOT_VERIFIABLE
