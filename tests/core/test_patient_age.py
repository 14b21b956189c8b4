"""The patient's age at the examination, as the intended-use gate reads it from a header."""

from __future__ import annotations

import pytest
from pydicom import Dataset

from viewer.core.analysis_input import age_string_years, patient_age_years


def header(**values) -> Dataset:
    dataset = Dataset()
    for keyword, value in values.items():
        setattr(dataset, keyword, value)
    return dataset


@pytest.mark.parametrize(
    ("text", "years"),
    [("004Y", 4.0), ("018M", 1.5), ("052W", 52 * 7 / 365.2425), ("010D", 10 / 365.2425)],
)
def test_age_strings(text, years):
    assert age_string_years(text) == pytest.approx(years)


@pytest.mark.parametrize("text", ["", "4", "Y", "four years", "0004Y"])
def test_malformed_age_strings_are_unknown(text):
    assert age_string_years(text) is None


def test_patient_age_comes_first_then_birth_date_against_study_date():
    assert patient_age_years(header(PatientAge="045Y", PatientBirthDate="20210101")) == 45.0
    born_1940 = header(PatientBirthDate="19400101", StudyDate="20240315")
    assert patient_age_years(born_1940) == pytest.approx(84.2, abs=0.01)


def test_acquisition_date_when_there_is_no_study_date():
    dataset = header(PatientBirthDate="20210101", AcquisitionDate="20240101")
    assert patient_age_years(dataset) == pytest.approx(3.0, abs=0.01)


@pytest.mark.parametrize(
    "values",
    [
        {},
        {"PatientBirthDate": "20210101"},
        {"PatientBirthDate": "not a date", "StudyDate": "20240101"},
        {"PatientBirthDate": "20250101", "StudyDate": "20240101"},  # born after the study
    ],
)
@pytest.mark.filterwarnings("ignore:Invalid value for VR DA")
def test_unknown_age_is_none(values):
    assert patient_age_years(header(**values)) is None
