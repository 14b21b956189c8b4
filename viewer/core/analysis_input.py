"""DICOM frame → `inference.types.AnalysisInput`: modality values plus what the model card checks.

The glue between the core (index → series) and the engine; torch-free, so the UI can build inputs
on the GUI thread and hand them to its worker.
"""

from __future__ import annotations

from inference.types import AnalysisInput


def frame_analysis_input(series, index: int, source: str = "") -> AnalysisInput:
    """Frame `index` of an open `viewer.core.series.Series` as the engine's input."""
    header = series.header(index)
    frame = series.info.frames[index]
    windows = series.windows(index)
    return AnalysisInput(
        pixels=series.modality_frame(index),
        photometric=series.photometric,
        modality=str(series.info.modality or ""),
        body_part=str(header.get("BodyPartExamined", "") or ""),
        view=str(header.get("ViewPosition", "") or ""),
        window=windows[0] if windows else None,
        cache_key=(frame.sop_instance_uid, frame.frame_index),
        source=source or frame.path,
    )
