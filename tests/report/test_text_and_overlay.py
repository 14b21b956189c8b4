"""PDF-safe text (transliteration, DICOM names) and the burned-in heatmap."""

from __future__ import annotations

import numpy as np
import pytest

from viewer.report.overlay import burn_in_heatmap
from viewer.report.text import dicom_date, paragraph_text, pdf_safe, person_name


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Müller, Zoë", "Müller, Zoë"),  # in Windows-1252: kept
        ("Łukasz Żółć", "Lukasz Zólc"),
        ("Шевченко Тарас", "Shevchenko Taras"),
        ("Παπαδόπουλος", "Papadopoulos"),
        ("山田", "??"),
    ],
)
def test_pdf_safe_text_is_encodable_in_the_builtin_fonts(text, expected):
    assert pdf_safe(text) == expected
    pdf_safe(text).encode("cp1252")  # what Helvetica's WinAnsi encoding can draw


def test_person_names_and_dates():
    assert person_name("RADLENS^DEMO") == "RADLENS, DEMO"
    assert person_name("Yamada^Tarou=山田^太郎=やまだ^たろう") == "Yamada, Tarou"
    assert person_name("Doe^John^Q^Dr^Jr") == "Doe, John Q Dr Jr"
    assert person_name("") == "" and person_name(None) == ""
    assert dicom_date("20240315") == "2024-03-15" and dicom_date("2024") == "2024"


def test_paragraph_text_escapes_markup():
    assert paragraph_text("a < b & c\nnext") == "a &lt; b &amp; c<br/>next"


def test_heatmap_is_blended_only_where_it_is_hot():
    grey = np.full((4, 6), 100, np.uint8)
    heat = np.zeros((4, 6), np.float32)
    heat[1, 2] = 1.0
    out = burn_in_heatmap(grey, heat)
    assert out.shape == (4, 6, 3) and out.dtype == np.uint8
    untouched = np.ones((4, 6), bool)
    untouched[1, 2] = False
    assert (out[untouched] == 100).all()
    # inferno's top colour is (252, 255, 164); opacity 0.5 at value 1
    assert out[1, 2].tolist() == [176, 178, 132]


def test_heatmap_on_another_grid_is_resampled_to_the_image():
    out = burn_in_heatmap(np.zeros((40, 60), np.uint8), np.ones((5, 5), np.float32))
    assert out.shape == (40, 60, 3) and (out[..., 0] > 100).all()


def test_measurements_are_drawn_where_they_were_placed():
    from viewer.core.measurements import Measurement
    from viewer.report.overlay import MEASUREMENT_COLOUR, draw_measurements

    grey = np.full((200, 300), 50, np.uint8)
    line = Measurement("length", [(100.0, 20.0), (100.0, 120.0)])
    box = Measurement("rectangle", [(20.0, 200.0), (60.0, 280.0)])
    out = draw_measurements(grey, [line, box])
    yellow = np.all(out == MEASUREMENT_COLOUR, axis=-1)
    assert yellow[100, 20:121].all()  # the line along row 100
    assert yellow[20, 200:281].all() and yellow[20:61, 200].all()  # the rectangle's edges
    assert not yellow[150:, :].any() and not yellow[:90, :150].any()
    assert (grey == 50).all(), "the displayed image itself is not changed"


def test_exported_heatmap_carries_the_colour_bar_and_the_research_line():
    from viewer.report.overlay import EXPORT_NOTICE, exported_heatmap, inferno, with_notice

    grey = np.full((400, 300), 60, np.uint8)
    out = exported_heatmap(grey, np.zeros((400, 300), np.float32))
    rows, cols = out.shape[:2]
    assert rows > 400 and cols > 300, "the bar goes beside the image, the line below it"
    assert (out[:400, :300] == 60).all(), "a zero heatmap leaves the image as it was"
    bar = out[:400, 300:].astype(int)
    top, bottom = inferno(np.array([1.0]))[0], inferno(np.array([0.0]))[0]
    distance = lambda colour: np.abs(bar - colour).sum(axis=-1)  # noqa: E731
    assert (distance(top)[:60] < 20).any() and (distance(bottom)[-60:] < 20).any()
    strip = out[400:]
    assert (strip == 0).mean() > 0.5 and (strip == 255).any(), "white text on black"
    plain = with_notice(grey, "")
    assert (plain[400:] == 0).all() and EXPORT_NOTICE.startswith("RadLens AI output")


def test_arrows_and_comparisons_are_spelled_out():
    assert (
        pdf_safe("ties → lower loss, sensitivity ≥ 0.98")
        == "ties -> lower loss, sensitivity >= 0.98"
    )


def test_every_measurement_kind_is_read_drawn_and_placed_for_the_sr():
    """A kind is one `KINDS` entry: the reading, the report picture and the SR graphic all
    follow it (regions with statistics, lines with their length or angle)."""
    from viewer.core.measurements import KINDS, Measurement, describe
    from viewer.report.dicom_measurements import scoord_points
    from viewer.report.overlay import draw_measurements

    values = np.arange(64 * 64, dtype=np.float32).reshape(64, 64)
    corners = [(10.0, 12.0), (30.0, 40.0), (50.0, 14.0)]
    for name, kind in KINDS.items():
        measurement = Measurement(name, corners[: kind.points])
        reading = describe(measurement, (0.5, 0.5), values)
        assert ("mean" in reading) == kind.is_region, (name, reading)
        drawn = draw_measurements(np.zeros((64, 64), np.uint8), [measurement])
        assert drawn.shape == (64, 64, 3) and drawn.any(), name
        assert len(scoord_points(measurement)) >= kind.points, name


def test_key_image_carries_a_colour_bar_and_says_what_the_colours_mean():
    from inference.types import AnalysisResult, Finding
    from viewer.report.report_data import key_image

    display = np.full((120, 160), 90, np.uint8)
    heat = np.zeros((120, 160), np.float32)
    heat[40:80, 60:100] = 0.6

    def result(scale: str) -> AnalysisResult:
        return AnalysisResult(
            findings=(Finding("pneumonia", 0.9, 0.5, True),), heatmaps={"pneumonia": heat},
            model_name="m", model_version="1", model_sha256="0" * 64, device="cpu",
            timings={}, warnings=(), intended_use_ok=True, heatmap_scale=scale,
        )  # fmt: skip

    absolute = key_image(display, "key", result("absolute"))
    rows, cols = absolute.overlay.shape[:2]
    assert rows >= 120 and cols > 160  # the bar sits right of the image, the research line below
    assert "same on every image" in absolute.overlay_caption
    assert "per image" in key_image(display, "key", result("relative")).overlay_caption


def test_colour_bar_labels_are_legible_when_printed_small():
    """The labels scale with the picture: at least 1/22 of its height in ink (glyph "1"), so
    on a key image shrunk to 4 cm they print about 1.8 mm tall, all inside the margin."""
    from viewer.report.overlay import with_colour_bar

    rows, cols = 1000, 800
    out = with_colour_bar(np.full((rows, cols), 128, np.uint8))
    margin = out[:, cols:].astype(int)
    ink = (margin.sum(axis=-1) < 150) & (np.ptp(margin, axis=-1) < 30)  # black text, not the bar
    inked_rows = np.flatnonzero(ink.any(axis=1))
    top_label = inked_rows[inked_rows < rows // 4]
    assert top_label.size and top_label.max() - top_label.min() + 1 >= rows / 22
    assert not ink[:, -2:].any(), "no label runs off the right edge"
