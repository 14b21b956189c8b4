"""One formatting for the screen and the report: names, dates, ages, syntaxes, probabilities."""

from __future__ import annotations

import datetime as dt

import pydicom
import pytest
from pydicom.data import get_testdata_file

from viewer.core import formatting as f
from viewer.report.report_data import FindingRow, ModelSummary, study_details
from viewer.report.text import person_name as report_person_name


def test_person_names_with_groups():
    assert f.person_name("RADLENS^DEMO") == "RADLENS, DEMO"
    assert f.person_name("Yamada^Tarou=山田^太郎=やまだ^たろう") == "Yamada, Tarou"
    assert f.person_name("=山田^太郎") == "山田, 太郎"  # no alphabetic group: the ideographic one
    assert f.person_name("Doe^John^Q^Dr^Jr") == "Doe, John Q Dr Jr"
    assert f.person_name("^^^") == "" and f.person_name(None) == ""
    assert report_person_name is f.person_name  # the report writes names the one way


@pytest.mark.parametrize(
    ("stated", "expected"),
    [("051Y", "51 y"), ("006M", "6 mo"), ("003W", "3 wk"), ("010D", "10 d"), ("", "")],
)
def test_dicom_ages(stated, expected):
    assert f.dicom_age(stated) == expected


def test_age_from_birth_date_when_patient_age_is_absent():
    assert f.patient_age("", "19700615", "20210614") == "50 y"
    assert f.patient_age("", "19700615", "20210615") == "51 y"
    assert f.patient_age("", "20200301", "20210215") == "11 mo"
    assert f.patient_age("", "20210201", "20210215") == "14 d"
    assert f.patient_age("", "2021", "20210215") == ""  # unreadable dates give no age
    assert f.patient_age("051Y", "19000101", "20210215") == "51 y"  # the file's age wins
    assert f.age_between(dt.date(2020, 1, 2), dt.date(2020, 1, 1)) == ""


def test_sex_and_age_read_as_words():
    assert f.sex_age("M", "051Y") == "51 y, male"
    assert f.sex_age("F", "") == "female"
    assert f.sex_age("", "", "19800101", "20200101") == "40 y"


def test_transfer_syntax_by_name_from_a_real_file():
    ds = pydicom.dcmread(get_testdata_file("CT_small.dcm"), stop_before_pixels=True)
    assert f.transfer_syntax_name(ds.file_meta.TransferSyntaxUID) == "Explicit VR Little Endian"
    assert f.transfer_syntax_name("1.2.840.10008.1.2.4.90").startswith("JPEG 2000")
    assert f.transfer_syntax_name("1.2.3.4") == "1.2.3.4"


def test_probabilities_and_figures_read_the_same_on_screen_and_in_the_report():
    row = FindingRow("pneumonia", 0.99, 0.5405559649393982, True)
    assert row.probability_text == "99.0 %" and row.threshold_text == "54.1 %"
    assert f.figure(0.5405559649393982) == "0.541" and f.figure([0.99295, 0.99846]) == "0.993–0.998"
    summary = ModelSummary.from_card_summary(
        {"name": "m", "version": "1", "validation_metrics": {"threshold": 0.5405559649393982}}
    )
    assert summary.validation_metrics == (("threshold", "0.541"),)


def test_report_details_use_the_same_names_and_dates(ct_phantom_dir):
    from viewer.core.index import build_index

    index = build_index(sorted(ct_phantom_dir.iterdir())[:2])
    study = index.patients[0].studies[0]
    details = study_details(study)
    assert details.patient_name == f.person_name(study.patient.name)
    assert details.study_date == f.dicom_date(study.date)


def test_old_style_dates_parse_too():
    assert f.parse_date("2021.02.15") == dt.date(2021, 2, 15)
    assert f.parse_date("20210230") is None


def test_descriptions_show_their_parts_not_carets():
    from viewer.core.formatting import description

    assert description("Thorax^1HEAD_NECK_PETCT") == "Thorax · 1HEAD_NECK_PETCT"
    assert description("Rorden^Rorden_Prisma") == "Rorden · Rorden_Prisma"
    assert description("XR CHEST AP") == "XR CHEST AP"
    assert description("^CHEST^") == "CHEST" and description(None) == ""
