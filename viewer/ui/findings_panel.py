"""The AI findings panel: probability bars with threshold markers, the call, model and timing,
the intended-use gate, heatmap controls, and the research-use notice beside all of it.

`describe_result` turns an AnalysisResult into plain display rows (tested without widgets);
the widgets only show those rows and emit what the user asked for.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QPainter, QPen
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from viewer import RESEARCH_USE_NOTICE
from viewer.report.report_data import (
    FindingRow,
    finding_rows,
    heatmap_on_request_note,
    intended_use_caution,
)
from viewer.ui.heatmap_overlay import DEFAULT_OPACITY, colour_bar_labels, colour_bar_pixmap

OUTSIDE_INTENDED_USE = "This image is outside the model's intended use"
ENGINE_OUTSIDE_PREFIX = "outside the model's intended use"  # how the engine's warning starts
# The engine's refusal ends with advice for the command line ("…; not analysed (use force to
# run)"); in the viewer the Run anyway button says that, so the advice is left out.
ENGINE_CLI_ADVICE = re.compile(r"[;,]?\s*not analysed\b.*$|\s*\([^)]*\bforce\b[^)]*\)", re.I)
POSITIVE_COLOUR = QColor(214, 69, 65)
NEGATIVE_COLOUR = QColor(90, 150, 200)
PREFERRED_SIZE = (400, 600)  # px: one result's findings, model, controls and notes, unwrapped
MIN_WIDTH = 300  # px, as the study browser: the dock opens this wide; narrower, text wraps


def finding_text(row: FindingRow) -> str:
    return f"{row.probability_text} (threshold {row.threshold_text}) · {row.call}"


@dataclass(frozen=True)
class ResultView:
    rows: tuple[FindingRow, ...]
    model: str
    runtime: str
    warnings: tuple[str, ...]
    gated: bool  # outside intended use and not run: offer "Run anyway"
    heatmap_labels: tuple[str, ...]
    caution: str = ""  # run anyway / not verifiable: why, shown above the findings
    heatmap_scale: str = "relative"  # AnalysisResult.heatmap_scale: what the colours mean
    heatmap_note: str = ""  # a clear negative's map drawn on request: says so


def describe_result(result: Any) -> ResultView:
    """Display rows for an AnalysisResult (the contract in docs/ARCHITECTURE.md)."""
    rows = finding_rows(result)
    reasons = tuple(getattr(result, "intended_use_reasons", ()) or ())
    caution = intended_use_caution(reasons, analysed=True) if rows and reasons else ""
    return ResultView(
        rows=rows,
        model=f"{result.model_name} {result.model_version}".strip(),
        runtime=f"{result.device} · {format_timings(result.timings)}",
        # the caution says the intended-use part; the other warnings stay (device, heatmaps)
        warnings=tuple(w for w in result.warnings if not caution or not _about_intended_use(w)),
        gated=not result.intended_use_ok and not rows,
        heatmap_labels=tuple(label for label in result.heatmaps if label),
        caution=caution,
        heatmap_scale=getattr(result, "heatmap_scale", "relative"),
        heatmap_note=on_request_text(result),
    )


def on_request_text(result: Any) -> str:
    """One line per finding whose heatmap is shown only because it was asked for."""
    notes = {label: heatmap_on_request_note(result, label) for label in result.heatmaps}
    return "\n".join(
        f"{label[:1].upper()}{label[1:]} heatmap: {note}." for label, note in notes.items() if note
    )


def _about_intended_use(warning: str) -> bool:
    text = warning.lower()
    return text.startswith(ENGINE_OUTSIDE_PREFIX) or text.startswith("intended use not verifiable")


def format_timings(timings: dict[str, float]) -> str:
    """'123 ms' from the engine's timings in seconds ('total' if given, else the sum of steps)."""
    if not timings:
        return "no timing"
    seconds = timings.get("total", sum(timings.values()))
    return f"{seconds * 1000:.0f} ms"


class ProbabilityBar(QWidget):
    """A horizontal bar filled to the probability, with a vertical marker at the threshold."""

    def __init__(self, row: FindingRow, parent: QWidget | None = None):
        super().__init__(parent)
        self.row = row
        self.setMinimumHeight(14)
        self.setToolTip(f"{row.label}: {finding_text(row)}")

    def sizeHint(self) -> QSize:
        return QSize(160, 16)

    def threshold_x(self) -> float:
        return self.row.threshold * (self.width() - 1)

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        frame = QRectF(0, 0, self.width() - 1, self.height() - 1)
        painter.fillRect(frame, self.palette().base())
        fill = QRectF(frame.x(), frame.y(), frame.width() * self.row.probability, frame.height())
        painter.fillRect(fill, POSITIVE_COLOUR if self.row.positive else NEGATIVE_COLOUR)
        painter.setPen(QPen(self.palette().text().color(), 2))
        x = self.threshold_x()
        painter.drawLine(int(x), 0, int(x), self.height())
        painter.setPen(QPen(self.palette().mid().color(), 1))
        painter.drawRect(frame)
        painter.end()


class FindingRowWidget(QWidget):
    """Label button (click: show its heatmap), bar, and the probability / call text."""

    def __init__(self, row: FindingRow, parent: QWidget | None = None):
        super().__init__(parent)
        self.button = QPushButton(row.label)
        self.button.setCheckable(True)
        self.button.setToolTip("Show this finding's heatmap")
        self.bar = ProbabilityBar(row)
        self.text = QLabel(finding_text(row))
        self.text.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 2, 0, 2)
        top = QHBoxLayout()
        top.addWidget(self.button)
        top.addWidget(self.text, 1)
        layout.addLayout(top)
        layout.addWidget(self.bar)


class HeatmapControls(QWidget):
    """Show toggle, opacity slider, iso-contour toggle and the colour bar."""

    shownChanged = Signal(bool)
    opacityChanged = Signal(float)
    contourChanged = Signal(bool)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.show_box = QCheckBox("Heatmap")
        self.show_box.setChecked(True)
        self.opacity = QSlider(Qt.Orientation.Horizontal)
        self.opacity.setRange(0, 100)
        self.opacity.setValue(round(DEFAULT_OPACITY * 100))
        self.opacity.setToolTip("Heatmap opacity")
        self.contour_box = QCheckBox("Contour")
        controls = QVBoxLayout()  # stacked, so a narrow dock still shows all of them
        for widget in (self.show_box, self.contour_box, self.opacity):
            controls.addWidget(widget)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(controls, 1)
        self.legend = _colour_legend()
        layout.addLayout(self.legend)
        self.set_scale("relative")
        self.show_box.toggled.connect(self.shownChanged)
        self.opacity.valueChanged.connect(lambda value: self.opacityChanged.emit(value / 100))
        self.contour_box.toggled.connect(self.contourChanged)

    def set_scale(self, scale: str) -> None:
        """Label the colour bar with what the colours mean for this result's heatmaps."""
        top, bottom, meaning = colour_bar_labels(scale)
        labels = [self.legend.itemAt(i).widget() for i in range(3)]
        for widget, text in zip(labels, (top, None, bottom), strict=True):
            if text is not None:
                widget.setText(text)
            widget.setToolTip(meaning)


def _colour_legend() -> QVBoxLayout:
    """The heatmap colour bar with its scale: 1 at the top, 0 at the bottom."""
    bar = QLabel()
    bar.setPixmap(colour_bar_pixmap(12, 48))
    legend = QVBoxLayout()
    legend.setSpacing(0)
    for widget in (QLabel("1"), bar, QLabel("0")):
        legend.addWidget(widget, 0, Qt.AlignmentFlag.AlignHCenter)
    return legend


class IntendedUseGate(QFrame):
    """Shown instead of findings when the image is outside the model's intended use."""

    runAnywayRequested = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.message = QLabel(f"{OUTSIDE_INTENDED_USE}.")
        self.message.setWordWrap(True)
        self.message.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Minimum)
        self.run_anyway = QPushButton("Run anyway")
        layout = QVBoxLayout(self)
        layout.addWidget(self.message)
        layout.addWidget(self.run_anyway, 0, Qt.AlignmentFlag.AlignLeft)
        self.run_anyway.clicked.connect(self.runAnywayRequested)

    def show_reasons(self, warnings: Sequence[str]) -> None:
        self.message.setText(refusal_text(warnings))


def refusal_text(warnings: Sequence[str]) -> str:
    """The gate's words for a refusal: "This image is outside the model's intended use
    (reasons)." then any other warning on its own line, without the engine's CLI advice."""
    reasons, others = [], []
    for warning in warnings:
        if warning.lower().startswith(ENGINE_OUTSIDE_PREFIX):
            reason = ENGINE_CLI_ADVICE.sub("", warning[len(ENGINE_OUTSIDE_PREFIX) :])
            reasons.append(reason.strip(" :;,."))
        else:
            others.append(warning)
    why = "; ".join(reason for reason in reasons if reason)
    return "\n".join(
        [f"{OUTSIDE_INTENDED_USE} ({why})." if why else f"{OUTSIDE_INTENDED_USE}.", *others]
    )


class FindingsPanel(QWidget):
    """The AI panel. Emits requests; shows whatever the controller hands it."""

    analyzeRequested = Signal()
    cancelRequested = Signal()
    runAnywayRequested = Signal()
    findingSelected = Signal(str)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("FindingsPanel")
        self.setMinimumWidth(MIN_WIDTH)
        self.rows: list[FindingRowWidget] = []
        self._row_group = QButtonGroup(self)
        self._build()

    def _build(self) -> None:
        self.analyze_button = QPushButton("Analyze")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.status = QLabel("No analysis yet.")
        self.status.setWordWrap(True)
        self.gate = IntendedUseGate()
        self.gate.hide()
        self.findings_box = QVBoxLayout()
        self.model_label = QLabel()
        self.model_label.setWordWrap(True)
        self.runtime_label = QLabel()
        self.warnings_label = QLabel()
        self.warnings_label.setWordWrap(True)
        self.caution_label = QLabel()
        self.caution_label.setObjectName("IntendedUseCaution")
        self.caution_label.setWordWrap(True)
        self.caution_label.setStyleSheet("font-weight: bold; color: #b00020;")
        self.caution_label.hide()
        self.heatmap_controls = HeatmapControls()
        self.heatmap_note = QLabel()
        self.heatmap_note.setObjectName("HeatmapOnRequest")
        self.heatmap_note.setWordWrap(True)
        self.heatmap_note.setStyleSheet("color: #b35900;")
        self.heatmap_note.hide()
        self.notice = QLabel(RESEARCH_USE_NOTICE)
        self.notice.setObjectName("ResearchUseNotice")
        self.notice.setWordWrap(True)
        self.notice.setStyleSheet("font-weight: bold; color: #b35900;")
        self._lay_out()
        self.analyze_button.clicked.connect(self.analyzeRequested)
        self.cancel_button.clicked.connect(self.cancelRequested)
        self.gate.runAnywayRequested.connect(self.runAnywayRequested)

    def _lay_out(self) -> None:
        """Everything but the research-use notice scrolls (vertically only), so wrapped text
        keeps the height it needs in a short or narrow dock; the notice stays below it."""
        buttons = QHBoxLayout()
        buttons.addWidget(self.analyze_button)
        buttons.addWidget(self.cancel_button)
        content = QWidget()
        layout = QVBoxLayout(content)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(buttons)
        layout.addWidget(self.status)
        layout.addWidget(self.gate)
        layout.addWidget(self.caution_label)
        layout.addLayout(self.findings_box)
        for widget in (self.model_label, self.runtime_label, self.warnings_label):
            layout.addWidget(widget)
        layout.addWidget(self.heatmap_controls)
        layout.addWidget(self.heatmap_note)
        layout.addStretch(1)
        self.scroll = QScrollArea()
        self.scroll.setWidget(content)
        self.scroll.setWidgetResizable(True)
        self.scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll_bar = self.scroll.verticalScrollBar().sizeHint().width()
        self.scroll.setMinimumWidth(content.minimumSizeHint().width() + scroll_bar)
        outer = QVBoxLayout(self)
        outer.addWidget(self.scroll, 1)
        outer.addWidget(self.notice)

    def sizeHint(self) -> QSize:
        """Room for a result without scrolling, when the dock's column has it."""
        hint = super().sizeHint()
        return QSize(max(hint.width(), PREFERRED_SIZE[0]), max(hint.height(), PREFERRED_SIZE[1]))

    def show_running(self, text: str = "Analysing…") -> None:
        self.status.setText(text)
        self.cancel_button.setEnabled(True)

    def show_idle(self, text: str) -> None:
        self.status.setText(text)
        self.cancel_button.setEnabled(False)

    def show_error(self, message: str) -> None:
        self.clear_result()
        self.show_idle(f"Analysis failed: {message}")

    def show_result(self, view: ResultView) -> None:
        self.clear_result()
        self.gate.setVisible(view.gated)
        if view.gated:
            self.gate.show_reasons(view.warnings)
            self.show_idle("Not analysed.")
            return
        self.caution_label.setText(view.caution)
        self.caution_label.setVisible(bool(view.caution))
        for row in view.rows:
            self._add_row(row, selectable=row.label in view.heatmap_labels)
        self.heatmap_controls.set_scale(view.heatmap_scale)
        self.heatmap_note.setText(view.heatmap_note)
        self.heatmap_note.setVisible(bool(view.heatmap_note))
        self.model_label.setText(f"Model: {view.model}")
        self.runtime_label.setText(view.runtime)
        self.warnings_label.setText("\n".join(view.warnings))
        self.show_idle("Analysis complete.")

    def clear_result(self) -> None:
        for row in self.rows:
            self._row_group.removeButton(row.button)
            row.setParent(None)
            row.deleteLater()
        self.rows = []
        self.gate.hide()
        self.caution_label.hide()
        self.caution_label.clear()
        self.heatmap_note.hide()
        self.heatmap_note.clear()
        for label in (self.model_label, self.runtime_label, self.warnings_label):
            label.clear()

    def select_finding(self, label: str) -> None:
        for row in self.rows:
            if row.bar.row.label == label:
                row.button.setChecked(True)

    def _add_row(self, row: FindingRow, selectable: bool) -> None:
        widget = FindingRowWidget(row)
        widget.button.setEnabled(selectable)
        self._row_group.addButton(widget.button)
        widget.button.clicked.connect(lambda _=False, label=row.label: self._on_row_clicked(label))
        self.findings_box.addWidget(widget)
        self.rows.append(widget)

    def _on_row_clicked(self, label: str) -> None:
        self.findingSelected.emit(label)
