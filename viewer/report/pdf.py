"""The PDF report (reportlab platypus), written atomically; Qt-free.

Fonts: reportlab's built-in Helvetica, so no font file is needed; text goes through
`viewer.report.text.pdf_safe` (transliteration) first. The research-use notice is in the footer
of every page. Document metadata never carries patient data when the report is anonymised.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
from PIL import Image as PILImage
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, LETTER
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.platypus import (
    CondPageBreak,
    Image,
    KeepTogether,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from viewer.core.atomic import atomic_write_bytes
from viewer.report.report_data import (
    ANONYMISED_NOTE,
    KeyImage,
    ReportData,
    intended_use_caution,
)
from viewer.report.text import paragraph_text, pdf_safe

PAPER_SIZES = {"a4": A4, "letter": LETTER}
MARGIN = 15 * mm
FOOTER_HEIGHT = 16 * mm
IMAGE_GAP = 4 * mm
MAX_IMAGE_HEIGHT = 80 * mm
SECTION_MIN_SPACE = 30 * mm
MAX_IMAGE_PIXELS = 1200  # longest side embedded; ~350 dpi at the printed size
GRID = colors.HexColor("#9aa5b1")
HEADER_FILL = colors.HexColor("#e4eaf0")
TITLE = "RadLens AI-assisted image report"


def _styles() -> dict[str, ParagraphStyle]:
    base = getSampleStyleSheet()
    body = ParagraphStyle("body", parent=base["BodyText"], fontName="Helvetica", fontSize=9.5)
    return {
        "title": ParagraphStyle("title", parent=base["Title"], fontSize=16, spaceAfter=2),
        "h2": ParagraphStyle(
            "h2", parent=base["Heading2"], fontSize=12, spaceBefore=6, spaceAfter=4
        ),
        "body": body,
        "small": ParagraphStyle("small", parent=body, fontSize=8, leading=10),
        "cell": ParagraphStyle("cell", parent=body, fontSize=9, leading=11),
        "bold": ParagraphStyle("bold", parent=body, fontName="Helvetica-Bold", fontSize=9),
        "caption": ParagraphStyle("caption", parent=body, fontSize=8, alignment=1, leading=10),
        "footer": ParagraphStyle("footer", parent=body, fontSize=7.5, leading=9),
    }


STYLES = _styles()


def build_pdf(data: ReportData, paper: str = "a4") -> bytes:
    """The report as PDF bytes; `paper` is "a4" or "letter"."""
    page_size = _page_size(paper)
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=page_size,
        leftMargin=MARGIN,
        rightMargin=MARGIN,
        topMargin=MARGIN,
        bottomMargin=MARGIN + FOOTER_HEIGHT,
        **_metadata(data),
    )
    footer = _footer_painter(data, page_size)
    doc.build(_story(data, doc.width), onFirstPage=footer, onLaterPages=footer)
    return buffer.getvalue()


def write_pdf(data: ReportData, path: str | os.PathLike, paper: str = "a4") -> Path:
    """Build the whole PDF in memory, then write it atomically."""
    return atomic_write_bytes(path, build_pdf(data, paper))


def _page_size(paper: str) -> tuple[float, float]:
    try:
        return PAPER_SIZES[paper.lower()]
    except KeyError:
        raise ValueError(f"paper must be one of {', '.join(PAPER_SIZES)}, not {paper!r}") from None


def _metadata(data: ReportData) -> dict[str, str]:
    """Title/author/subject/keywords; generic when anonymised."""
    subject = "AI-assisted image report (research use only)"
    keywords = "RadLens, research use only, AI findings"
    title = TITLE
    if not data.anonymized:
        who = ", ".join(v for v in (data.details.patient_name, data.details.study_date) if v)
        title = f"{TITLE}: {pdf_safe(who)}" if who else TITLE
    return {
        "title": title,
        "author": "RadLens",
        "subject": subject,
        "keywords": keywords,
        "creator": f"RadLens {data.radlens_version}",
    }


def _story(data: ReportData, width: float) -> list:
    story = [
        Paragraph(TITLE, STYLES["title"]),
        Paragraph(paragraph_text(_generated_line(data)), STYLES["small"]),
        Spacer(1, 3 * mm),
        *_details_section(data, width),
    ]
    for number, image in enumerate(data.key_images, start=1):
        heading = "Key image" if len(data.key_images) == 1 else f"Key image {number}"
        story.append(KeepTogether([_heading(heading), _key_image_table(image, width)]))
    story += _findings_section(data, width)
    story += _measurements_section(data, width)
    story.append(KeepTogether([_heading("Reader's impression"), _impression(data)]))
    return story + _model_section(data, width)


def _generated_line(data: ReportData) -> str:
    stamp = data.generated_at.strftime("%Y-%m-%d %H:%M %Z").strip()
    return f"Generated {stamp} by RadLens {data.radlens_version}"


def _heading(text: str) -> Paragraph:
    return Paragraph(paragraph_text(text), STYLES["h2"])


def _section_start(text: str) -> list:
    """A heading that moves to the next page rather than stand alone at the bottom of one;
    the table after it may then split across pages."""
    return [CondPageBreak(SECTION_MIN_SPACE), _heading(text)]


def _details_section(data: ReportData, width: float) -> list:
    if data.anonymized:
        return [Paragraph(paragraph_text(ANONYMISED_NOTE), STYLES["bold"])]
    rows = [(label, value or "-") for label, value in data.details.rows()]
    half = (len(rows) + 1) // 2
    left, right = rows[:half], rows[half:] + [("", "")] * (2 * half - len(rows))
    cells = [[*_label_value(a), *_label_value(b)] for a, b in zip(left, right, strict=True)]
    widths = [0.17 * width, 0.33 * width, 0.19 * width, 0.31 * width]
    table = Table(cells, colWidths=widths)
    table.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), *_box_style()]))
    return [table]


def _label_value(pair: tuple[str, str]) -> list[Paragraph]:
    return [Paragraph(paragraph_text(pair[0]), STYLES["bold"]), _cell(pair[1])]


def _cell(text: object) -> Paragraph:
    return Paragraph(paragraph_text(text), STYLES["cell"])


def _box_style() -> list[tuple]:
    return [
        ("BOX", (0, 0), (-1, -1), 0.5, GRID),
        ("INNERGRID", (0, 0), (-1, -1), 0.25, GRID),
        ("TOPPADDING", (0, 0), (-1, -1), 2),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
    ]


def _key_image_table(image: KeyImage, width: float) -> Table:
    """The image as displayed and, beside it, with the heatmap (same size)."""
    pictures = [(image.display, image.caption)]
    if image.overlay is not None:
        pictures.append((image.overlay, image.overlay_caption))
    column = (width - IMAGE_GAP * (len(pictures) - 1)) / len(pictures)
    images = [_flowable_image(pixels, column) for pixels, _ in pictures]
    captions = [Paragraph(paragraph_text(text), STYLES["caption"]) for _, text in pictures]
    table = Table([images, captions], colWidths=[column + IMAGE_GAP / 2] * len(pictures))
    table.setStyle(
        TableStyle([("ALIGN", (0, 0), (-1, -1), "CENTER"), ("VALIGN", (0, 0), (-1, -1), "MIDDLE")])
    )
    return table


def _flowable_image(pixels: np.ndarray, max_width: float) -> Image:
    picture = PILImage.fromarray(np.ascontiguousarray(pixels))
    picture.thumbnail((MAX_IMAGE_PIXELS, MAX_IMAGE_PIXELS), PILImage.LANCZOS)
    scale = min(max_width / picture.width, MAX_IMAGE_HEIGHT / picture.height)
    png = io.BytesIO()
    picture.save(png, format="PNG")
    png.seek(0)
    return Image(png, width=picture.width * scale, height=picture.height * scale)


def _findings_section(data: ReportData, width: float) -> list:
    section = [*_section_start("AI findings"), *_intended_use_caution(data)]
    notes = [Paragraph(paragraph_text(note), STYLES["small"]) for note in data.analysis_notes]
    if not data.findings:
        return [*section, _cell("No AI analysis in this report."), *notes]
    header = ["Finding", "Probability", "Threshold", "Call"]
    rows = [[f.label, f"{f.probability:.3f}", f"{f.threshold:.3f}", f.call] for f in data.findings]
    table = _grid_table(header, rows, [0.4 * width, 0.2 * width, 0.2 * width, 0.2 * width])
    positive = [
        ("FONTNAME", (0, i), (-1, i), "Helvetica-Bold")
        for i, f in enumerate(data.findings, 1)
        if f.positive
    ]
    table.setStyle(TableStyle(positive))
    return [*section, table, Spacer(1, 1.5 * mm), *notes]


def _intended_use_caution(data: ReportData) -> list:
    """Above the findings: why the image is outside (or unverifiable for) the intended use."""
    if not data.intended_use_reasons:
        return []
    text = intended_use_caution(data.intended_use_reasons, analysed=bool(data.findings))
    return [Paragraph(paragraph_text(text), STYLES["bold"]), Spacer(1, 1.5 * mm)]


def _grid_table(header: list[str], rows: list[list[str]], widths: list[float]) -> Table:
    cells = [[Paragraph(paragraph_text(h), STYLES["bold"]) for h in header]]
    cells += [[_cell(value) for value in row] for row in rows]
    table = Table(cells, colWidths=widths, repeatRows=1)
    table.setStyle(TableStyle([("BACKGROUND", (0, 0), (-1, 0), HEADER_FILL), *_box_style()]))
    return table


def _measurements_section(data: ReportData, width: float) -> list:
    if not data.measurements:
        return []
    section = _section_start("Measurements")
    rows = [[m.kind, m.value, m.image] for m in data.measurements]
    return [
        *section,
        _grid_table(
            ["Measurement", "Value", "Image"], rows, [0.3 * width, 0.4 * width, 0.3 * width]
        ),
    ]


def _model_section(data: ReportData, width: float) -> list:
    section = _section_start("Model")
    model = data.model
    if model is None:
        return [*section, _cell("No model was run.")]
    rows = [
        ("Model", f"{model.name} {model.version}".strip()),
        ("Weights sha256", model.sha256[:16] + ("..." if len(model.sha256) > 16 else "")),
        ("Intended use", model.intended_use),
        ("Training data", model.training_data),
        ("Validation data", model.validation_data),
        ("Validation metrics", ", ".join(f"{k} {v}" for k, v in model.validation_metrics)),
        ("Licence", model.license),
        ("Citation", model.citation),
    ]
    cells = [_label_value((label, value)) for label, value in rows if value]
    table = Table(cells, colWidths=[0.22 * width, 0.78 * width])
    table.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), *_box_style()]))
    return [*section, table]


def _impression(data: ReportData) -> Paragraph:
    return _cell(data.impression or "(No impression entered.)")


def _footer_painter(data: ReportData, page_size: tuple[float, float]):
    width = page_size[0] - 2 * MARGIN
    stamp = _generated_line(data)

    def paint(canvas, doc) -> None:
        canvas.saveState()
        canvas.setStrokeColor(GRID)
        canvas.line(
            MARGIN, MARGIN + FOOTER_HEIGHT - 2 * mm, MARGIN + width, MARGIN + FOOTER_HEIGHT - 2 * mm
        )
        text = f"<b>{paragraph_text(data.disclaimer)}</b><br/>{paragraph_text(stamp)} - page {doc.page}"
        notice = Paragraph(text, STYLES["footer"])
        _, height = notice.wrap(width, FOOTER_HEIGHT)
        notice.drawOn(canvas, MARGIN, MARGIN + FOOTER_HEIGHT - 4 * mm - height)
        canvas.restoreState()

    return paint
