"""From a study on disk to a report: pick the key image, run the model, gather `ReportData`.

Shared by `radlens report`, `radlens export-dicom`, `radlens self-test` and the GUI dialog.
The engine (and torch) is imported only when an analysis is asked for.
"""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from viewer.core.analysis_input import frame_analysis_input
from viewer.core.atomic import Part, write_all_or_nothing
from viewer.core.errors import RadLensError
from viewer.core.formatting import description
from viewer.core.measurements import MeasurementStore, measured_image
from viewer.core.overlay_planes import burn_overlay, frame_overlay
from viewer.core.render import initial_voi, render_frame
from viewer.core.voi import Window
from viewer.report.dicom_export import (
    DicomExport,
    ExportExtras,
    ReformatSource,
    SourceInstance,
    dicom_objects,
    dicom_parts,
)
from viewer.report.dicom_measurements import ReformatPlane
from viewer.report.overlay import draw_measurements
from viewer.report.report_data import (
    KeyImage,
    MeasurementRow,
    ReportData,
    ReportHeader,
    build_report_data,
    heatmap_label,
    intended_use_caution,
    key_image,
    measurement_rows,
)

PREFERRED_MODALITIES = ("DX", "CR")


@dataclass
class Analysis:
    """A model's result for one frame, with the summary of the card it came from."""

    result: Any  # inference.engine.AnalysisResult
    card_summary: Mapping[str, Any]  # ModelCard.summary()


def pick_series(index: Any, key: str | None = None) -> Any:
    """The series asked for (UID, key or series number), else the first radiograph (DX/CR),
    else the first series."""
    candidates = index.all_series()
    numbered = [s for s in candidates if key and key.isdigit() and s.number == int(key)]
    if len(numbered) == 1:
        return numbered[0]
    if key:
        return index.find_series(key)
    if not candidates:
        raise RadLensError("no images found to report on")
    preferred = [s for s in candidates if s.modality.upper() in PREFERRED_MODALITIES]
    return (preferred or candidates)[0]


def pick_frame(series: Any, frame: int | None) -> int:
    """The frame asked for (0-based), else the middle one."""
    if frame is None:
        return len(series) // 2
    if not 0 <= frame < len(series):
        raise RadLensError(f"frame {frame} does not exist (the series has {len(series)})")
    return frame


def analyze_frame(
    series: Any,
    frame: int,
    model: str | None = None,
    device: str = "cpu",
    force: bool = False,
    heatmaps_for_negatives: bool = False,
) -> Analysis:
    """Run a model on one frame (imports the engine, and so torch, here). Outside the model's
    intended use it runs only with `force`; either way the result carries the reasons, and the
    report and the DICOM export print them. `heatmaps_for_negatives`: draw a clear negative's
    map too (the caption then says it was drawn on request)."""
    from inference.engine import Analyzer

    source = Path(series.info.frames[frame].path).name  # a file name: folders may name patients
    analyzer = Analyzer(model=model, device=device, heatmaps_for_negatives=heatmaps_for_negatives)
    result = analyzer.analyze(frame_analysis_input(series, frame, source), force=force)
    return Analysis(result=result, card_summary=report_card_summary(analyzer.card))


def report_card_summary(card: Any) -> dict[str, Any]:
    """`card.summary()` and, under "card", the whole card (for the report's appendix)."""
    return {**card.summary(), "card": card.to_dict()}


def card_summary_for(result: Any, model: str | None = None) -> dict[str, Any]:
    """The summary of the card that produced `result` (matched by the weights' sha256); when
    that card cannot be found, what the result itself says about its model."""
    from inference.errors import InferenceError
    from inference.registry import find_model, list_models

    cards = list_models()[0]
    if model:
        with contextlib.suppress(InferenceError):
            cards.insert(0, find_model(model))
    for card in cards:
        if card.weights_sha256 == result.model_sha256:
            return report_card_summary(card)
    return {
        "name": result.model_name,
        "version": result.model_version,
        "sha256": result.model_sha256,
    }


def window_caption(window: Any, colour: bool = False) -> str:
    if colour:
        return "colour"
    if isinstance(window, Window):
        return f"W {window.width:g} / C {window.center:g}"
    return "VOI LUT" if window is not None else "full range"


def frame_key_image(
    series: Any,
    frame: int,
    window: Any = None,
    result: Any = None,
    display: Any = None,
    measurements: Sequence[Any] = (),
    overlay_planes: bool = True,
) -> KeyImage:
    """A frame as shown: `display` (the uint8 image on screen) or rendered with `window` (else
    the frame's initial VOI), with its measurements drawn; with a result, the heatmap beside it."""
    window = window if window is not None or series.is_color else initial_voi(series, frame)
    display = render_frame(series, frame, window) if display is None else display
    if overlay_planes:  # the file's own graphics (60xx), as the viewer draws them
        display = burn_overlay(display, frame_overlay(series, frame))
    if measurements:
        display = draw_measurements(display, measurements)
    info = series.info
    number = f"Series {info.number or ''}".strip()
    title = " ".join(str(p) for p in (number, description(info.description)) if p)
    caption = (
        f"{title} - image {frame + 1} of {len(series)} - {window_caption(window, series.is_color)}"
    )
    header = series.header(frame)
    return key_image(
        display,
        caption,
        result,
        sop_class_uid=str(header.get("SOPClassUID", "")),
        sop_instance_uid=info.frames[frame].sop_instance_uid,
        frame_index=info.frames[frame].frame_index,
    )


def stored_measurements(series: Any, frame: int) -> list[Any]:
    """What the user measured on this frame (from the study's measurement sidecar)."""
    study = series.info.study
    store = MeasurementStore(study.study_instance_uid, legacy_keys=study.legacy_keys).load()
    return store.get(*measured_image(series, frame))


def frame_measurement_rows(
    series: Any, frame: int, measurements: Sequence[Any]
) -> tuple[MeasurementRow, ...]:
    if not measurements:
        return ()
    spacing = _row_col_spacing(getattr(series.geometry(frame), "spacing", None))
    values = series.modality_frame(frame)
    reformat = getattr(series, "is_reformat", False)
    image = series.frame_caption(frame) if reformat else f"image {frame + 1}"
    return measurement_rows(measurements, spacing, values, image)


def _row_col_spacing(spacing: Any) -> tuple[float, float] | None:
    if spacing is None:
        return None
    return float(spacing[0]), float(spacing[1])


def exam_header(series: Any, frame: int) -> dict[str, str]:
    """Modality, body part and view of the key image, for the report's exam line."""
    header = series.header(frame)
    keys = ("BodyPartExamined", "ViewPosition")
    exam = {key: str(header.get(key, "") or "").strip() for key in keys}
    return {"Modality": series.info.modality, **exam}


def compose_report(
    series: Any,
    frame: int,
    analysis: Analysis | None = None,
    *,
    window: Any = None,
    display: Any = None,
    impression: str = "",
    anonymize: bool = False,
    overlay_planes: bool = True,
    header: ReportHeader | None = None,
    appendix: bool = False,
) -> ReportData:
    """`ReportData` for one key frame of an open `Series` (`display`: the image as on screen;
    `overlay_planes`: draw the file's overlay planes on the key image, as the viewer does;
    `header`: institution, indication, status and reader; `appendix`: the full model card)."""
    result = analysis.result if analysis else None
    measurements = stored_measurements(series, frame)
    return build_report_data(
        series.info.study,
        [frame_key_image(series, frame, window, result, display, measurements, overlay_planes)],
        result,
        analysis.card_summary if analysis else None,
        frame_measurement_rows(series, frame, measurements),
        impression,
        anonymize=anonymize,
        exam=exam_header(series, frame),
        header=header,
        appendix=appendix,
    )


def export_dicom(
    series: Any, frame: int, data: ReportData, out_dir: str | Path, result: Any = None
) -> DicomExport:
    """SC + SR (+ heatmap SEG) for the report's key image, in the study of `series`; with
    `result` (the AnalysisResult) the SR carries the intended-use verdict and the heatmap is
    written as a FRACTIONAL SEG. Anonymised when the report is. All written, or none."""
    export = dicom_export_objects(series, frame, data, out_dir, result)
    write_all_or_nothing(dicom_parts(export))
    return export


def report_parts(
    series: Any,
    frame: int,
    data: ReportData,
    pdf_path: str | Path,
    paper: str = "a4",
    dicom_dir: str | Path | None = None,
    result: Any = None,
) -> list[Part]:
    """One report export as files to write together (`atomic.write_all_or_nothing`): the PDF,
    and with `dicom_dir` the SC, SR (and SEG) of `export_dicom`."""
    from viewer.report.pdf import build_pdf

    parts = [Part("PDF", Path(pdf_path), build_pdf(data, paper))]
    if dicom_dir is not None:
        parts += dicom_parts(dicom_export_objects(series, frame, data, dicom_dir, result))
    return parts


def dicom_export_objects(
    series: Any, frame: int, data: ReportData, out_dir: str | Path, result: Any = None
) -> DicomExport:
    """What `export_dicom` writes, built and not written."""
    if data.model is None or not data.findings:
        why = f": {intended_use_caution(data.intended_use_reasons, False)}"
        raise RadLensError(
            "no AI result to export as DICOM"
            + (why if data.intended_use_reasons else " (run a model first)")
        )
    caution = (
        intended_use_caution(data.intended_use_reasons, True) if data.intended_use_reasons else ""
    )
    return dicom_objects(
        series.header(frame),
        data.key_images[0],
        data.findings,
        data.model,
        out_dir,
        export_extras(series, frame, result, data.anonymized, caution),
    )


def export_extras(
    series: Any, frame: int, result: Any, anonymize: bool, caution: str = ""
) -> ExportExtras:
    measurements = stored_measurements(series, frame)
    label = heatmap_label(result) if result is not None else ""
    return ExportExtras(
        intended_use_ok=None if result is None else bool(result.intended_use_ok),
        intended_use_reasons=tuple(getattr(result, "intended_use_reasons", ()) or ()),
        heatmap=result.heatmaps[label] if label else None,
        heatmap_label=label,
        measurements=measurements,
        spacing=_row_col_spacing(getattr(series.geometry(frame), "spacing", None)),
        values=series.modality_frame(frame) if measurements else None,
        plane=reformat_plane(series, frame) if measurements else None,
        anonymize=anonymize,
        caution=caution,
        reformat=reformat_source(series, frame),
    )


def reformat_source(series: Any, frame: int) -> ReformatSource | None:
    """What a reformatted (MPR) frame is and which acquired images of its base series it draws
    from (`PlaneSeries.source_frames`; all of them when that finds none); None for an acquired
    frame."""
    if not getattr(series, "is_reformat", False):
        return None
    base = series.base.info
    drawn = series.source_frames(frame) or list(range(len(base.frames)))
    sop_class = str(series.header(frame).get("SOPClassUID", "") or "")
    per_file = Counter(f.sop_instance_uid for f in base.frames)
    instances: dict[str, list[int]] = {}
    for index in drawn:
        ref = base.frames[index]
        numbers = instances.setdefault(ref.sop_instance_uid, [])
        if per_file[ref.sop_instance_uid] > 1:  # a multi-frame file: name its frames
            numbers.append(ref.frame_index + 1)
    geometry = series.geometry(frame)
    orientation = ", ".join(f"{x:.3f}" for x in (*geometry.row_cosine, *geometry.column_cosine))
    position = ", ".join(f"{x:.1f}" for x in geometry.origin)
    number = f"series {base.number}" if base.number not in (None, "") else "its base series"
    description = (
        f"{series.frame_caption(frame)} (orientation {orientation}; position {position} mm) "
        f"of {number}, drawn from {len(drawn)} of its {len(base.frames)} images"
    )
    return ReformatSource(
        description,
        tuple(SourceInstance(sop_class, uid, tuple(n)) for uid, n in instances.items()),
    )


def reformat_plane(series: Any, frame: int) -> ReformatPlane | None:
    """Where a reformatted (MPR) frame lies, for its measurements' SCOORD3D graphics; None for
    an acquired frame (its measurements reference the image itself)."""
    if not getattr(series, "is_reformat", False):
        return None
    frame_of_reference = str(series.header(frame).get("FrameOfReferenceUID", "") or "")
    if not frame_of_reference:
        raise RadLensError(
            "measurements on a reformatted plane cannot be exported: "
            "the series has no Frame of Reference UID to place them in"
        )
    return ReformatPlane(series.geometry(frame), frame_of_reference, series.frame_caption(frame))
