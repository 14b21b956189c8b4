"""The PDF report (reportlab platypus), written atomically; Qt-free.

One page in the normal case: the header (institution, status, patient, exam, indication), the
key image beside its heatmap (same scale, colour bar and research-use line burned in), the
findings as the screen words them, the intended-use verdict, measurements, the impression, the
model in three lines, and the reader's signature block. The whole model card follows on an
appendix page only when asked. When the page would overflow, the key images shrink first.

Fonts: reportlab's built-in Helvetica, so no font file is needed; text goes through
`viewer.report.text.pdf_safe` (transliteration) first. The research-use notice is in the footer
of every page. An anonymised report carries no identifier and no date, in the text or in the
document metadata (reportlab's invariant mode fixes the creation date and file ID).
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
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    CondPageBreak,
    Flowable,
    Image,
    KeepTogether,
    PageBreak,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from viewer.core.atomic import atomic_write_bytes
from viewer.core.formatting import date_time
from viewer.report.report_data import ANONYMISED_NOTE, KeyImage, ReportData
from viewer.report.text import paragraph_text, pdf_safe

PAPER_SIZES = {"a4": A4, "letter": LETTER}
MARGIN = 14 * mm
FOOTER_HEIGHT = 13 * mm
IMAGE_GAP = 5 * mm
IMAGE_HEIGHTS = (80 * mm, 64 * mm, 50 * mm, 40 * mm)  # tried in turn until the report fits one page
SECTION_MIN_SPACE = 30 * mm
MAX_IMAGE_PIXELS = 1200  # longest side embedded; ~350 dpi at the printed size
GRID = colors.HexColor("#9aa5b1")
HEADER_FILL = colors.HexColor("#e4eaf0")
CAUTION_FILL = colors.HexColor("#fff1d6")
STATUS_FILL = {"final": colors.HexColor("#d8efdc"), "preliminary": colors.HexColor("#fff1d6")}
TITLE = "RadLens AI-assisted image report"


def _styles() -> dict[str, ParagraphStyle]:
    base = getSampleStyleSheet()
    body = ParagraphStyle(
        "body", parent=base["BodyText"], fontName="Helvetica", fontSize=9, leading=11
    )
    return {
        "institution": ParagraphStyle(
            "institution", parent=body, fontName="Helvetica-Bold", fontSize=13, leading=16
        ),
        "title": ParagraphStyle("title", parent=body, fontSize=10.5, leading=13),
        "status": ParagraphStyle(
            "status", parent=body, fontName="Helvetica-Bold", fontSize=10, alignment=1
        ),
        "h2": ParagraphStyle(
            "h2", parent=base["Heading2"], fontSize=10.5, leading=13, spaceBefore=5, spaceAfter=2
        ),
        "body": body,
        "small": ParagraphStyle("small", parent=body, fontSize=7.5, leading=9.5),
        "cell": ParagraphStyle("cell", parent=body, fontSize=8.5, leading=10.5),
        "bold": ParagraphStyle("bold", parent=body, fontName="Helvetica-Bold", fontSize=8.5),
        "caption": ParagraphStyle("caption", parent=body, fontSize=7, alignment=1, leading=8.5),
        "footer": ParagraphStyle("footer", parent=body, fontSize=7, leading=8.5),
        "appendix": ParagraphStyle("appendix", parent=body, fontSize=7, leading=8.5),
    }


STYLES = _styles()


def build_pdf(data: ReportData, paper: str = "a4") -> bytes:
    """The report as PDF bytes; `paper` is "a4" or "letter". The key images shrink (down to
    `IMAGE_HEIGHTS[-1]`) until the report itself fits one page; the appendix adds pages."""
    page_size = _page_size(paper)
    for image_height in IMAGE_HEIGHTS:
        pdf, report_pages = _render(data, page_size, image_height)
        if report_pages == 1:
            break
    return pdf


def write_pdf(data: ReportData, path: str | os.PathLike, paper: str = "a4") -> Path:
    """Build the whole PDF in memory, then write it atomically."""
    return atomic_write_bytes(path, build_pdf(data, paper))


def _page_size(paper: str) -> tuple[float, float]:
    try:
        return PAPER_SIZES[paper.lower()]
    except KeyError:
        raise ValueError(f"paper must be one of {', '.join(PAPER_SIZES)}, not {paper!r}") from None


def _render(data: ReportData, page_size, image_height: float) -> tuple[bytes, int]:
    """(PDF bytes, pages before the appendix)."""
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=page_size,
        leftMargin=MARGIN,
        rightMargin=MARGIN,
        topMargin=MARGIN,
        bottomMargin=MARGIN + FOOTER_HEIGHT,
        invariant=1 if data.anonymized else None,
        **_metadata(data),
    )
    end_of_report = _PageMarker()
    story = [*_story(data, doc.width, image_height), end_of_report]
    if data.appendix and data.model is not None:
        story += _appendix(data, doc.width)
    doc.build(story, canvasmaker=_footer_canvas(data, page_size))
    return buffer.getvalue(), end_of_report.page


class _PageMarker(Flowable):
    """Takes no space; remembers the page it landed on."""

    page = 0

    def wrap(self, available_width, available_height):
        return 0, 0

    def draw(self) -> None:
        self.page = self.canv.getPageNumber()


def _metadata(data: ReportData) -> dict[str, str]:
    """Title/author/subject/keywords; generic when anonymised."""
    title = TITLE
    if not data.anonymized:
        who = ", ".join(v for v in (data.details.patient_name, data.details.study_date) if v)
        title = f"{TITLE}: {pdf_safe(who)}" if who else TITLE
    return {
        "title": title,
        "author": "RadLens",
        "subject": "AI-assisted image report (research use only)",
        "keywords": "RadLens, research use only, AI findings",
        "creator": f"RadLens {data.radlens_version}",
    }


# --- the report page --------------------------------------------------------------------------


def _story(data: ReportData, width: float, image_height: float) -> list:
    story = [_title_block(data, width), Spacer(1, 2 * mm), *_details_section(data, width)]
    for number, image in enumerate(data.key_images, start=1):
        heading = "Key image" if len(data.key_images) == 1 else f"Key image {number}"
        story.append(
            KeepTogether([_heading(heading), _key_image_table(image, width, image_height)])
        )
    story += _findings_section(data, width)
    story += _measurements_section(data, width)
    story.append(KeepTogether([_heading("Impression"), _impression(data, width)]))
    story += _model_section(data, width)
    story.append(KeepTogether([Spacer(1, 3 * mm), _signature_block(data, width)]))
    return story


def _title_block(data: ReportData, width: float) -> Table:
    """Institution and report title on the left, the status (preliminary/final) on the right."""
    left = [Paragraph(paragraph_text(data.institution or "RadLens"), STYLES["institution"])]
    left.append(Paragraph(paragraph_text(TITLE), STYLES["title"]))
    status = data.header.status
    badge = Paragraph(paragraph_text(status.upper()), STYLES["status"])
    table = Table([[left, badge]], colWidths=[width - 34 * mm, 34 * mm])
    table.setStyle(
        TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                ("BACKGROUND", (1, 0), (1, 0), STATUS_FILL.get(status, HEADER_FILL)),
                ("BOX", (1, 0), (1, 0), 0.5, GRID),
                ("LINEBELOW", (0, 0), (0, 0), 0.75, GRID),
                ("LEFTPADDING", (0, 0), (0, 0), 0),
            ]
        )
    )
    return table


def _heading(text: str) -> Paragraph:
    return Paragraph(paragraph_text(text), STYLES["h2"])


def _section_start(text: str) -> list:
    """A heading that moves to the next page rather than stand alone at the bottom of one;
    the table after it may then split across pages."""
    return [CondPageBreak(SECTION_MIN_SPACE), _heading(text)]


def _details_section(data: ReportData, width: float) -> list:
    """Patient on the left, exam on the right, the clinical indication across."""
    details = data.details
    left = details.patient_rows()
    right = details.study_rows()
    if data.anonymized:
        left = [("Sex, age", details.sex_age)]
        right = [("Exam", details.exam)]
    rows = max(len(left), len(right))
    left += [("", "")] * (rows - len(left))
    right += [("", "")] * (rows - len(right))
    cells = [[*_label_value(a), *_label_value(b)] for a, b in zip(left, right, strict=True)]
    indication = data.header.indication or "(not given)"
    cells.append([*_label_value(("Clinical indication", indication)), "", ""])
    widths = [0.18 * width, 0.30 * width, 0.19 * width, 0.33 * width]
    table = Table(cells, colWidths=widths)
    table.setStyle(
        TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("SPAN", (1, -1), (-1, -1)),
                ("BACKGROUND", (0, 0), (0, -1), HEADER_FILL),
                ("BACKGROUND", (2, 0), (2, -2), HEADER_FILL),
                *_box_style(),
            ]
        )
    )
    section = [table]
    if data.anonymized:
        section.insert(0, Paragraph(paragraph_text(ANONYMISED_NOTE), STYLES["bold"]))
    return section


def _label_value(pair: tuple[str, str]) -> list[Paragraph]:
    label, value = pair
    shown = value or ("-" if label else "")
    return [Paragraph(paragraph_text(label), STYLES["bold"]), _cell(shown)]


def _cell(text: object, style: str = "cell") -> Paragraph:
    return Paragraph(paragraph_text(text), STYLES[style])


def _box_style() -> list[tuple]:
    return [
        ("BOX", (0, 0), (-1, -1), 0.5, GRID),
        ("INNERGRID", (0, 0), (-1, -1), 0.25, GRID),
        ("TOPPADDING", (0, 0), (-1, -1), 1.5),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 1.5),
    ]


def _key_image_table(image: KeyImage, width: float, max_height: float) -> Table:
    """The image as displayed and, beside it, with the heatmap, at one scale: the heatmap
    picture is wider and taller by its colour bar and research-use line, the anatomy the same."""
    pictures = [(image.display, image.caption)]
    if image.overlay is not None:
        pictures.append((image.overlay, image.overlay_caption))
    gaps = IMAGE_GAP * (len(pictures) - 1)
    total_columns = sum(pixels.shape[1] for pixels, _ in pictures)
    tallest = max(pixels.shape[0] for pixels, _ in pictures)
    scale = min((width - gaps) / total_columns, max_height / tallest)
    images = [_flowable_image(pixels, scale) for pixels, _ in pictures]
    captions = [Paragraph(paragraph_text(text), STYLES["caption"]) for _, text in pictures]
    columns = [pixels.shape[1] * scale + IMAGE_GAP for pixels, _ in pictures]
    table = Table([images, captions], colWidths=columns)
    table.setStyle(
        TableStyle(
            [
                ("ALIGN", (0, 0), (-1, -1), "CENTER"),
                ("VALIGN", (0, 0), (-1, 0), "TOP"),
                ("VALIGN", (0, 1), (-1, 1), "TOP"),
                ("LEFTPADDING", (0, 0), (-1, -1), 1),
                ("RIGHTPADDING", (0, 0), (-1, -1), 1),
            ]
        )
    )
    return table


def _flowable_image(pixels: np.ndarray, scale: float) -> Image:
    """`pixels` drawn at `scale` points per pixel; embedded at most MAX_IMAGE_PIXELS wide."""
    picture = PILImage.fromarray(np.ascontiguousarray(pixels))
    width, height = picture.width * scale, picture.height * scale
    picture.thumbnail((MAX_IMAGE_PIXELS, MAX_IMAGE_PIXELS), PILImage.Resampling.LANCZOS)
    png = io.BytesIO()
    picture.save(png, format="PNG")
    png.seek(0)
    return Image(png, width=width, height=height)


def _findings_section(data: ReportData, width: float) -> list:
    section = _section_start("AI findings")
    notes = [_cell(note, "small") for note in data.analysis_notes]
    verdict = _intended_use_verdict(data, width)
    if not data.findings:
        return [*section, _cell("No AI analysis in this report."), *verdict, *notes]
    header = ["Finding", "Probability", "Threshold", "Call"]
    rows = [[f.label, f.probability_text, f.threshold_text, f.call] for f in data.findings]
    table = _grid_table(header, rows, [0.4 * width, 0.2 * width, 0.2 * width, 0.2 * width])
    positive = [
        ("FONTNAME", (0, i), (-1, i), "Helvetica-Bold")
        for i, f in enumerate(data.findings, 1)
        if f.positive
    ]
    table.setStyle(TableStyle(positive))
    return [*section, table, Spacer(1, 1.5 * mm), *verdict, *notes]


def _intended_use_verdict(data: ReportData, width: float) -> list:
    """Within the intended use, or (highlighted) why not and whether the model still ran."""
    verdict = data.intended_use_verdict
    if not verdict:
        return []
    caution = bool(data.intended_use_reasons)
    text = Paragraph(
        f"<b>Intended use:</b> {paragraph_text(verdict)}", STYLES["bold" if caution else "cell"]
    )
    box = Table([[text]], colWidths=[width])
    style = [("LEFTPADDING", (0, 0), (-1, -1), 3), *_box_style()[2:]]
    if caution:
        style += [
            ("BACKGROUND", (0, 0), (-1, -1), CAUTION_FILL),
            ("BOX", (0, 0), (-1, -1), 0.5, GRID),
        ]
    box.setStyle(TableStyle(style))
    return [box, Spacer(1, 1 * mm)]


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
            ["Measurement", "Value", "Image"], rows, [0.2 * width, 0.65 * width, 0.15 * width]
        ),
    ]


def _impression(data: ReportData, width: float) -> Table:
    box = Table([[_cell(data.impression or "(No impression entered.)", "body")]], colWidths=[width])
    box.setStyle(TableStyle([*_box_style(), ("TOPPADDING", (0, 0), (-1, -1), 3)]))
    return box


def _model_section(data: ReportData, width: float) -> list:
    """Name and version, intended use, the test figures and the data they come from."""
    model = data.model
    if model is None:
        return [_heading("Model"), _cell("No model was run.", "small")]
    more = (
        "The full model card is in the appendix."
        if data.appendix
        else "Full model card: radlens report --appendix, or 'Include the model card' when exporting."
    )
    lines = [
        f"<b>{paragraph_text(f'{model.name} {model.version}'.strip())}</b>",
        f"<b>Intended use:</b> {paragraph_text(model.intended_use or 'not stated')}",
        _figures_line(model),
        paragraph_text(more),
    ]
    return [KeepTogether([_heading("Model"), Paragraph("<br/>".join(lines), STYLES["small"])])]


def _figures_line(model) -> str:
    """The held-out test figures and where that test's data come from; without a held-out
    test in the card, the validation figures (the data they were measured on said)."""
    if model.held_out_figures:
        where = f" - {model.held_out_data}" if model.held_out_data else ""
        return f"<b>Held-out test:</b> {paragraph_text(model.held_out_figures + where)}"
    figures = model.key_figures or "none stated in the model card"
    where = f" - on {model.validation_data}" if model.validation_data else ""
    return f"<b>Validation:</b> {paragraph_text(figures + where)}"


def _signature_block(data: ReportData, width: float) -> Table:
    """Reader, a line to sign on, and when it was signed (or that it is preliminary)."""
    header = data.header
    if header.final and header.signed_at is not None:
        signed = f"Signed {date_time(header.signed_at)}"
    elif header.final:
        signed = "Signed (date withheld)"
    else:
        signed = "Preliminary: not signed"
    cells = [
        [
            Paragraph("<b>Reader:</b> " + paragraph_text(header.reader or "-"), STYLES["cell"]),
            _cell("Signature:", "bold"),
            "",
            _cell(signed),
        ]
    ]
    widths = [0.36 * width, 0.12 * width, 0.27 * width, 0.25 * width]
    table = Table(cells, colWidths=widths, rowHeights=[10 * mm])
    table.setStyle(
        TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "BOTTOM"),
                ("ALIGN", (1, 0), (1, 0), "RIGHT"),
                ("LINEBELOW", (2, 0), (2, 0), 0.75, colors.black),
                ("LINEABOVE", (0, 0), (-1, 0), 0.75, GRID),
            ]
        )
    )
    return table


# --- appendix and footer ----------------------------------------------------------------------


def _appendix(data: ReportData, width: float) -> list:
    """The whole model card on pages of its own: a shaded row per top-level section, then one
    row per field (named within its section)."""
    model = data.model
    rows = model.card_rows or (("name", model.name), ("version", model.version))
    cells: list[list] = []
    section_rows: list[int] = []
    section: str | None = None
    for key, value in rows:
        head, _, rest = key.partition(".")
        if rest and head != section:
            section_rows.append(len(cells))
            cells.append([_cell(head.replace("_", " "), "bold"), ""])
        section = head if rest else None
        cells.append([_cell(rest or key, "appendix"), _cell(value, "appendix")])
    table = Table(cells, colWidths=[0.3 * width, 0.7 * width])
    shading: list[tuple] = [("SPAN", (0, i), (-1, i)) for i in section_rows]
    shading += [("BACKGROUND", (0, i), (-1, i), HEADER_FILL) for i in section_rows]
    table.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), *_box_style(), *shading]))
    title = f"Appendix: model card of {model.name} {model.version}".strip()
    return [PageBreak(), Paragraph(paragraph_text(title), STYLES["h2"]), table]


def _footer_lines(data: ReportData) -> str:
    stamp = f"RadLens {data.radlens_version}"
    if data.generated_at is not None:
        stamp = f"Generated {date_time(data.generated_at)} by {stamp}"
    return stamp


def _footer_canvas(data: ReportData, page_size: tuple[float, float]):
    """A canvas class that paints the footer (notice, stamp, "page n of N") once the page count
    is known: pages are kept until `save`, then each gets its footer."""
    width = page_size[0] - 2 * MARGIN
    stamp = _footer_lines(data)

    def paint(canvas: Canvas, page: int, pages: int) -> None:
        canvas.saveState()
        canvas.setStrokeColor(GRID)
        top = MARGIN + FOOTER_HEIGHT - 2 * mm
        canvas.line(MARGIN, top, MARGIN + width, top)
        text = (
            f"<b>{paragraph_text(data.disclaimer)}</b><br/>"
            f"{paragraph_text(stamp)} - page {page} of {pages}"
        )
        notice = Paragraph(text, STYLES["footer"])
        _, height = notice.wrap(width, FOOTER_HEIGHT)
        notice.drawOn(canvas, MARGIN, top - 1.5 * mm - height)
        canvas.restoreState()

    class FooterCanvas(Canvas):
        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            self._pages: list[dict] = []

        def showPage(self) -> None:  # noqa: N802 - reportlab API
            self._pages.append(dict(self.__dict__))
            self._startPage()

        def save(self) -> None:
            for state in self._pages:
                self.__dict__.update(state)
                paint(self, self.getPageNumber(), len(self._pages))
                Canvas.showPage(self)
            Canvas.save(self)

    return FooterCanvas
