"""Build the bundled sample study in resources/samples/demo-study/ (deterministic output).

One fictitious patient, one study:
- three chest radiographs (DX, For Presentation) from the Kermany et al. pediatric CXR set,
  stored as JPEG 2000 lossless, JPEG-LS lossless and explicit VR little endian (MONOCHROME1,
  with inverted stored pixels so it displays like the others);
- the 35-slice sagittal T1 MR series from Chris Rorden's dcm_qa_decubitus, relabelled to the
  same patient and study, RLE lossless.

Usage: python scripts/build_sample_study.py [--data ../shared/data] [--out resources/samples]
Rebuilding gives byte-identical files: UIDs come from `generate_uid(entropy_srcs=...)`, dates are
fixed, and every file is decoded again and compared with its source pixels.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pydicom
from PIL import Image
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import (
    UID,
    ExplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGLSLossless,
    RLELossless,
    generate_uid,
)

REPO_ROOT = Path(__file__).resolve().parent.parent
DX_FOR_PRESENTATION = UID("1.2.840.10008.5.1.4.1.1.1.1")
STUDY_FOLDER = "demo-study"
DX_PIXEL_SPACING = 0.16  # mm, a plausible detector pitch for a pediatric chest radiograph
MR_SOURCE = Path("dicom", "mr-sag-t1-hfs", "3_t1_fl2d_sag")

PATIENT = {
    "PatientName": "RADLENS^DEMO",
    "PatientID": "DEMO-0001",
    "PatientBirthDate": "20210101",  # 3 years old at the study: the radiographs are pediatric
    "PatientSex": "O",
    "PatientIdentityRemoved": "YES",
    "DeidentificationMethod": "Fictitious demo patient; images from public research data sets",
}
STUDY = {
    "StudyDate": "20240315",
    "StudyTime": "101500",
    "AccessionNumber": "DEMO-ACC-1",
    "StudyID": "DEMO1",
    "StudyDescription": "RadLens demo study (fictitious patient)",
    "ReferringPhysicianName": "",
    "InstitutionName": "RadLens demo (fictitious)",
}


@dataclass(frozen=True)
class Radiograph:
    source: str  # relative to the cxr folder
    label: str
    file_name: str
    transfer_syntax: UID
    monochrome1: bool = False


RADIOGRAPHS = (
    Radiograph(
        "samples-fullres/PNEUMONIA/person1044_virus_1740.jpeg",
        "PNEUMONIA",
        "chest-ap-1.dcm",
        JPEG2000Lossless,
    ),
    Radiograph(
        "samples-fullres/PNEUMONIA/person1029_bacteria_2961.jpeg",
        "PNEUMONIA",
        "chest-ap-2.dcm",
        JPEGLSLossless,
    ),
    Radiograph(
        "samples-fullres/NORMAL/IM-0117-0001.jpeg",
        "NORMAL",
        "chest-ap-3.dcm",
        ExplicitVRLittleEndian,
        monochrome1=True,
    ),
)


def uid(*parts: str) -> UID:
    return generate_uid(entropy_srcs=["radlens-sample-study", *parts])


STUDY_UID = uid("study")
FRAME_OF_REFERENCE_MR = uid("mr", "frame-of-reference")


def new_dataset(sop_class: UID, sop_instance: UID) -> Dataset:
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = sop_class
    ds.file_meta.MediaStorageSOPInstanceUID = sop_instance
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = sop_instance
    ds.StudyInstanceUID = STUDY_UID
    for keyword, value in {**PATIENT, **STUDY}.items():
        setattr(ds, keyword, value)
    return ds


def store_pixels(ds: Dataset, pixels: np.ndarray, transfer_syntax: UID) -> None:
    """Set Pixel Data in `transfer_syntax` (encoding with pydicom's encoders when compressed)."""
    if transfer_syntax == ExplicitVRLittleEndian:
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.PixelData = pixels.tobytes()
        return
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.compress(transfer_syntax, pixels, generate_instance_uid=False)


def radiograph_dataset(spec: Radiograph, cxr_dir: Path, series_number: int) -> Dataset:
    grey = np.asarray(Image.open(cxr_dir / spec.source).convert("L"), dtype=np.uint8)
    stored = 255 - grey if spec.monochrome1 else grey
    ds = new_dataset(DX_FOR_PRESENTATION, uid("dx", spec.source))
    ds.SeriesInstanceUID = uid("dx-series", spec.source)
    ds.SeriesNumber = series_number
    ds.InstanceNumber = 1
    ds.SeriesDescription = f"Chest AP {series_number}"
    ds.Modality = "DX"
    ds.ImageType = ["DERIVED", "SECONDARY"]
    ds.PresentationIntentType = "FOR PRESENTATION"
    ds.ContentDate, ds.ContentTime = STUDY["StudyDate"], STUDY["StudyTime"]
    ds.Manufacturer = "RadLens sample builder"
    ds.BodyPartExamined = "CHEST"
    ds.ViewPosition = "AP"
    ds.PatientOrientation = ["L", "F"]  # the "R" marker sits on the viewer's left
    ds.ImagerPixelSpacing = [DX_PIXEL_SPACING, DX_PIXEL_SPACING]
    ds.PixelSpacing = [DX_PIXEL_SPACING, DX_PIXEL_SPACING]
    ds.BurnedInAnnotation = "NO"
    ds.LossyImageCompression = "01"  # the source images were JPEG; stored here losslessly
    ds.LossyImageCompressionMethod = "ISO_10918_1"
    ds.ImageComments = f"Source label: {spec.label} (Kermany et al. 2018, CC BY 4.0)"
    ds.DerivationDescription = "Converted from a JPEG of a public research data set"
    set_grey_pixel_module(ds, stored, bits=8)
    ds.PhotometricInterpretation = "MONOCHROME1" if spec.monochrome1 else "MONOCHROME2"
    ds.PresentationLUTShape = "INVERSE" if spec.monochrome1 else "IDENTITY"
    ds.WindowCenter = [128, *auto_center_width(stored)[:1]]
    ds.WindowWidth = [256, *auto_center_width(stored)[1:]]
    ds.WindowCenterWidthExplanation = ["FULL", "CONTRAST"]
    ds.VOILUTFunction = "LINEAR"
    store_pixels(ds, stored, spec.transfer_syntax)
    return ds


def auto_center_width(pixels: np.ndarray) -> tuple[int, int]:
    """A contrast window over the 1st–99th percentile (integers, LINEAR, PS3.3 C.11.2.1.2.1)."""
    low, high = (int(v) for v in np.percentile(pixels, (1, 99)))
    return (low + high + 1) // 2, high - low + 1


def set_grey_pixel_module(ds: Dataset, pixels: np.ndarray, bits: int) -> None:
    ds.SamplesPerPixel = 1
    ds.Rows, ds.Columns = pixels.shape
    ds.BitsAllocated = 8 if bits <= 8 else 16
    ds.BitsStored = bits
    ds.HighBit = bits - 1
    ds.PixelRepresentation = 0


# --- MR: an allow-list of non-identifying attributes, new UIDs, the demo patient ---------------

MR_KEEP_KEYWORDS = {
    "ImageType",
    "Modality",
    "Manufacturer",
    "ManufacturerModelName",
    "SeriesDescription",
    "BodyPartExamined",
    "InstanceNumber",
    "SeriesNumber",
    "AcquisitionNumber",
    "ImagePositionPatient",
    "ImageOrientationPatient",
    "SliceLocation",
    "PositionReferenceIndicator",
    "PatientPosition",
    "LossyImageCompression",
}
MR_KEEP_GROUPS = (0x0018, 0x0028)
MR_DROP_KEYWORDS = {"DeviceSerialNumber", "SoftwareVersions", "PixelData"}


def mr_dataset(source: Path) -> Dataset:
    original = pydicom.dcmread(source)
    ds = new_dataset(original.SOPClassUID, uid("mr", str(original.SOPInstanceUID)))
    for element in original:
        if element.tag.is_private or element.keyword in MR_DROP_KEYWORDS:
            continue
        if element.keyword in MR_KEEP_KEYWORDS or element.tag.group in MR_KEEP_GROUPS:
            ds.add(element)
    ds.SeriesInstanceUID = uid("mr", "series", str(original.SeriesInstanceUID))
    ds.FrameOfReferenceUID = FRAME_OF_REFERENCE_MR
    ds.SeriesNumber = 4
    ds.SeriesDate, ds.SeriesTime = STUDY["StudyDate"], "103000"
    ds.ContentDate, ds.ContentTime = STUDY["StudyDate"], "103000"
    store_pixels(ds, original.pixel_array, RLELossless)
    return ds


def write(ds: Dataset, path: Path, expected: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)
    decoded = pydicom.dcmread(path).pixel_array
    if not np.array_equal(decoded, expected):
        raise SystemExit(f"{path}: decoded pixels differ from the source (encoder not lossless)")


def build(data_dir: Path, out_dir: Path) -> list[Path]:
    study_dir = out_dir / STUDY_FOLDER
    written = []
    for number, spec in enumerate(RADIOGRAPHS, start=1):
        ds = radiograph_dataset(spec, data_dir / "cxr", number)
        path = study_dir / spec.file_name
        write(ds, path, expected=ds.pixel_array)
        written.append(path)
    mr_files = sorted((data_dir / MR_SOURCE).glob("*.dcm"))
    for index, source in enumerate(mr_files, start=1):
        ds = mr_dataset(source)
        path = study_dir / "mr-sag-t1" / f"{index:04d}.dcm"
        write(ds, path, expected=pydicom.dcmread(source).pixel_array)
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=REPO_ROOT.parent / "shared" / "data")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "resources" / "samples")
    args = parser.parse_args(argv)
    if not (args.data / "cxr").is_dir() or not (args.data / MR_SOURCE).is_dir():
        print(f"{args.data}: source data not found (needs cxr/ and {MR_SOURCE})", file=sys.stderr)
        return 1
    written = build(args.data, args.out)
    total = sum(p.stat().st_size for p in written)
    print(f"wrote {len(written)} files, {total / 1e6:.1f} MB, to {args.out / STUDY_FOLDER}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
