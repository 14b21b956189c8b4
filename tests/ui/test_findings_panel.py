"""Findings panel: display rows from an AnalysisResult, the gate, the always-visible notice."""

from __future__ import annotations

import numpy as np
import pytest

from inference.types import AnalysisResult, Finding
from viewer import RESEARCH_USE_NOTICE
from viewer.ui.findings_panel import (
    FindingsPanel,
    describe_result,
    finding_text,
    format_timings,
    refusal_text,
)

pytestmark = pytest.mark.gui


def _result(findings=(), ok=True, warnings=()) -> AnalysisResult:
    heatmaps = {f.label: np.zeros((4, 4), np.float32) for f in findings}
    return AnalysisResult(
        findings=tuple(findings), heatmaps=heatmaps, model_name="Pneumonia CXR",
        model_version="1.2.0", model_sha256="ab" * 32, device="cpu",
        timings={"forward": 0.02, "gradcam": 0.03, "total": 0.0512},
        warnings=tuple(warnings), intended_use_ok=ok,
    )  # fmt: skip


def test_rows_carry_probability_threshold_and_call():
    view = describe_result(_result([Finding("pneumonia", 0.734, 0.41, True)]))
    (row,) = view.rows
    assert row.call == "positive"
    assert finding_text(row) == "73.4 % (threshold 41.0 %) · positive"
    assert view.model == "Pneumonia CXR 1.2.0"
    assert view.runtime == "cpu · 51 ms"
    assert not view.gated and view.heatmap_labels == ("pneumonia",)


def test_a_refusal_is_gated_but_a_forced_run_is_not():
    refused = describe_result(_result(ok=False, warnings=["outside the model's intended use: x"]))
    assert refused.gated
    forced = describe_result(_result([Finding("pneumonia", 0.2, 0.41, False)], ok=False))
    assert not forced.gated and forced.rows[0].call == "negative"


def test_refusal_text_says_why_without_the_command_line_advice():
    engine = "outside the model's intended use: view LAT (model: AP, PA); not analysed (use force to run)"
    assert refusal_text([engine, "no Grad-CAM layer in this model; heatmaps unavailable"]) == (
        "This image is outside the model's intended use (view LAT (model: AP, PA)).\n"
        "no Grad-CAM layer in this model; heatmaps unavailable"
    )
    assert refusal_text(["Outside the model's intended use (use --force)"]) == (
        "This image is outside the model's intended use."
    )


def test_timings_without_total_are_summed():
    assert format_timings({"forward": 0.010, "gradcam": 0.015}) == "25 ms"
    assert format_timings({}) == "no timing"


def test_notice_stays_visible_through_every_state(qtbot):
    panel = FindingsPanel()
    qtbot.addWidget(panel)
    panel.show()
    states = [
        lambda: panel.show_running(),
        lambda: panel.show_result(describe_result(_result([Finding("p", 0.9, 0.5, True)]))),
        lambda: panel.show_result(describe_result(_result(ok=False, warnings=["outside"]))),
        lambda: panel.show_error("x.dcm: broken"),
        lambda: panel.clear_result(),
    ]
    for enter_state in states:
        enter_state()
        assert panel.notice.isVisible() and panel.notice.text() == RESEARCH_USE_NOTICE
    assert panel.status.text() == "Analysis failed: x.dcm: broken"


def test_clicking_a_row_emits_its_label(qtbot):
    panel = FindingsPanel()
    qtbot.addWidget(panel)
    panel.show_result(describe_result(_result([Finding("pneumonia", 0.9, 0.5, True)])))
    with qtbot.waitSignal(panel.findingSelected, timeout=1000) as blocker:
        panel.rows[0].button.click()
    assert blocker.args == ["pneumonia"]


def test_colour_bar_says_what_the_colours_mean(qtbot):
    from dataclasses import replace

    panel = FindingsPanel()
    qtbot.addWidget(panel)
    result = _result([Finding("pneumonia", 0.9, 0.5, True)])
    legend = panel.heatmap_controls.legend
    labels = [legend.itemAt(i).widget() for i in range(3)]
    panel.show_result(describe_result(replace(result, heatmap_scale="absolute")))
    assert (labels[0].text(), labels[2].text()) == ("1 strong", "0 none")
    assert "same on every image" in labels[1].toolTip()
    panel.show_result(describe_result(result))
    assert (labels[0].text(), labels[2].text()) == ("1", "0")
    assert "per image" in labels[1].toolTip()
