"""The AI heatmap as a FRACTIONAL (probability) DICOM Segmentation of the key image.

Why a FRACTIONAL SEG: a PACS stores it like any SEG, it keeps the heatmap's values (0-255 of
1.0, not a colour picture), it references the source image frame by frame, and viewers that
show AI results (OHIF, 3D Slicer, RadLens) draw it as an overlay the reader can switch off. A
Parametric Map would hold floats too but few viewers display one; the burned-in Secondary
Capture, written as well, is for viewers that show neither.
"""

from __future__ import annotations

import highdicom as hd
import numpy as np
from pydicom import Dataset
from pydicom.sr.codedict import codes
from pydicom.uid import ExplicitVRLittleEndian

import viewer
from viewer.core.seg import rgb_to_cielab

HEATMAP_COLOUR = (255, 140, 0)  # orange; the segment's recommended display colour
MAX_FRACTIONAL = 255


def heatmap_segmentation(
    source: Dataset,
    heatmap: np.ndarray,
    finding,
    algorithm: tuple[str, str, str],
    series_number: int,
    manufacturer: str,
) -> hd.seg.Segmentation:
    """A one-segment FRACTIONAL SEG of `heatmap` (float HxW in [0, 1] on the source's grid)."""
    name, version, sha256 = algorithm
    parameters = {"weights sha256": sha256} if sha256 else None
    description = hd.seg.SegmentDescription(
        segment_number=1,
        segment_label=f"AI heatmap: {finding.meaning}"[:64],
        segmented_property_category=codes.SCT.MorphologicallyAbnormalStructure,
        segmented_property_type=finding,
        algorithm_type="AUTOMATIC",
        algorithm_identification=hd.AlgorithmIdentificationSequence(
            name=name,
            family=codes.cid7162.ArtificialIntelligence,
            version=version or "0",
            parameters=parameters,
        ),
        display_color=hd.color.CIELabColor(*_lab(HEATMAP_COLOUR)),
    )
    pixels = np.clip(np.asarray(heatmap, dtype=np.float32), 0.0, 1.0)[None, ..., None]
    seg = hd.seg.Segmentation(
        source_images=[source],
        pixel_array=pixels,
        segmentation_type="FRACTIONAL",
        segment_descriptions=[description],
        series_instance_uid=hd.UID(),
        series_number=series_number,
        sop_instance_uid=hd.UID(),
        instance_number=1,
        manufacturer=manufacturer,
        manufacturer_model_name="RadLens",
        software_versions=f"RadLens {viewer.__version__}",
        device_serial_number="0",
        fractional_type="PROBABILITY",
        max_fractional_value=MAX_FRACTIONAL,
        content_description="AI heatmap (Grad-CAM), research use only",
        content_label="AI_HEATMAP",
        transfer_syntax_uid=ExplicitVRLittleEndian,
        omit_empty_frames=False,
    )
    seg.SeriesDescription = "RadLens AI heatmap SEG (research use only)"
    if "FrameOfReferenceUID" not in seg:  # a projection image: type 2C, the source's own
        seg.PatientOrientation = source.get("PatientOrientation", "")
    return seg


def _lab(rgb) -> tuple[float, float, float]:
    """highdicom wants L* a* b* itself; DICOM stores them scaled (see `rgb_to_cielab`)."""
    scaled = rgb_to_cielab(rgb)
    return (
        scaled[0] * 100.0 / 65535.0,
        scaled[1] * 255.0 / 65535.0 - 128.0,
        scaled[2] * 255.0 / 65535.0 - 128.0,
    )
