"""`radlens self-test`: check an installation end to end on the bundled sample study, headless.

Works from a source checkout and from the frozen (PyInstaller) app. One line per step,
`PASS step: detail` or `FAIL step: detail`; the exit status is 0 only when every step passed.
No Qt is needed; torch is imported by the model step only.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

import viewer
from viewer.paths import resources_dir, sample_study_dir

Step = Callable[[dict[str, Any]], str]


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "self-test",
        help="check this installation on the bundled sample study",
        description=(
            "Open the bundled sample study, decode one file of each transfer syntax in it, "
            "render, run the default model on the CPU and write a PDF report and DICOM SC/SR "
            "into a temporary folder. Prints PASS/FAIL per step; exit status 0 when all pass."
        ),
    )
    parser.add_argument("--model", metavar="NAME", help="model to run (default model)")
    parser.add_argument("--keep", type=Path, metavar="DIR", help="keep the outputs in DIR")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    context: dict[str, Any] = {"model": args.model}
    build = "frozen app" if getattr(sys, "frozen", False) else "source install"
    print(f"RadLens {viewer.__version__} self-test ({build}, resources in {resources_dir()})")
    with tempfile.TemporaryDirectory(prefix="radlens-selftest-") as scratch:
        context["out"] = args.keep or Path(scratch)
        results = [run_step(name, step, context) for name, step in steps(context)]
        if "series" in context:  # opened by `render_key`, used by the later steps
            context["series"].close()
    failed = results.count(False)
    print(f"self-test: {len(results) - failed} of {len(results)} steps passed")
    return 1 if failed else 0


def run_step(name: str, step: Step, context: dict[str, Any]) -> bool:
    """Run one step; any exception is a FAIL line with its type and message, never a traceback."""
    started = time.perf_counter()
    try:
        detail = step(context)
    except Exception as exc:  # noqa: BLE001 - the self-test reports every failure as a line
        print(f"FAIL {name}: {type(exc).__name__}: {exc}", flush=True)
        return False
    print(f"PASS {name}: {detail} ({time.perf_counter() - started:.1f} s)", flush=True)
    return True


def steps(context: dict[str, Any]) -> list[tuple[str, Step]]:
    """The sample step runs first, so the decode steps (one per transfer syntax) are known."""
    listed: list[tuple[str, Step]] = [("open sample", open_sample)]
    try:
        syntaxes = sample_transfer_syntaxes()
    except Exception as exc:  # noqa: BLE001 - reported as the decode step's failure
        syntaxes, problem = [], exc
        listed.append(("decode", lambda _context: _raise(problem)))
    listed += [(f"decode {name}", decode_step(name)) for name in syntaxes]
    return listed + [
        ("render", render_key),
        ("model", run_model),
        ("pdf report", write_report),
        ("dicom export", write_dicom),
    ]


def _raise(exc: Exception) -> str:
    raise exc


def sample_transfer_syntaxes() -> list[str]:
    """Transfer syntax names of the bundled files (read from their file meta only)."""
    from pydicom import dcmread

    names = set()
    for path in sorted(sample_study_dir().rglob("*.dcm")):
        meta = dcmread(path, stop_before_pixels=True, specific_tags=["SOPInstanceUID"]).file_meta
        names.add(meta.TransferSyntaxUID.name)
    return sorted(names)


def open_sample(context: dict[str, Any]) -> str:
    from viewer.core.index import build_index

    folder = sample_study_dir()
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: bundled sample study missing")
    index = build_index([folder])
    series = index.all_series()
    if not series:
        raise RuntimeError(f"{folder}: no series found ({len(index.skipped)} files skipped)")
    context["index"] = index
    frames = sum(len(s.frames) for s in series)
    return f"{len(series)} series, {frames} images, {len(index.skipped)} skipped"


def decode_step(syntax_name: str) -> Step:
    def decode(context: dict[str, Any]) -> str:
        info, frame = first_frame_with_syntax(needs(context, "index"), syntax_name)
        return check_decoded_frame(info, frame)

    return decode


def first_frame_with_syntax(index: Any, syntax_name: str) -> tuple[Any, int]:
    from pydicom import dcmread

    for info in index.all_series():
        for number, ref in enumerate(info.frames):
            meta = dcmread(ref.path, stop_before_pixels=True, specific_tags=["SOPInstanceUID"])
            if meta.file_meta.TransferSyntaxUID.name == syntax_name:
                return info, number
    raise LookupError(f"no indexed image is stored as {syntax_name}")


def check_decoded_frame(info: Any, frame: int) -> str:
    """Decode through the viewer and, independently, with pydicom; both must agree."""
    from pydicom import dcmread
    from pydicom.pixels import apply_modality_lut

    from viewer.core.series import open_series

    ref = info.frames[frame]
    with open_series(info) as series:
        values = np.asarray(series.modality_frame(frame))
    dataset = dcmread(ref.path)
    expected = dataset.pixel_array
    expected = (
        expected[ref.frame_index] if int(dataset.get("NumberOfFrames", 1) or 1) > 1 else expected
    )
    expected = apply_modality_lut(expected, dataset)
    if values.shape != expected.shape or not np.allclose(values, expected):
        raise AssertionError(f"{Path(ref.path).name}: decoded pixels differ from pydicom's")
    if values.min() == values.max():
        raise AssertionError(f"{Path(ref.path).name}: decoded to a constant image")
    return f"{Path(ref.path).name} {values.shape[1]}x{values.shape[0]} {info.modality}, matches pydicom"


def needs(context: dict[str, Any], key: str) -> Any:
    if key not in context:
        raise RuntimeError(f"not run: needs the result of an earlier step ({key})")
    return context[key]


def render_key(context: dict[str, Any]) -> str:
    from viewer.core.render import render_frame
    from viewer.core.series import open_series
    from viewer.report.compose import pick_frame, pick_series

    series = open_series(pick_series(needs(context, "index")))
    frame = pick_frame(series, None)
    image = render_frame(series, frame)
    if image.dtype != np.uint8 or image.std() < 1.0:
        raise AssertionError(f"rendered image is blank or not 8-bit ({image.dtype})")
    context["series"], context["frame"] = series, frame
    return f"{series.info.modality} {image.shape[1]}x{image.shape[0]}, mean {image.mean():.0f}"


def run_model(context: dict[str, Any]) -> str:
    from viewer.report.compose import analyze_frame

    series, frame = needs(context, "series"), needs(context, "frame")
    analysis = analyze_frame(series, frame, context["model"], device="cpu")
    result = analysis.result
    probabilities = [f.probability for f in result.findings]
    if not probabilities or not all(0.0 <= p <= 1.0 for p in probabilities):
        raise AssertionError(f"bad probabilities {probabilities}")
    if not result.heatmaps:
        raise AssertionError("the model returned no heatmap")
    context["analysis"] = analysis
    calls = ", ".join(f"{f.label} {f.probability:.3f}" for f in result.findings)
    return f"{result.model_name} {result.model_version} on {result.device}: {calls}"


def write_report(context: dict[str, Any]) -> str:
    from viewer.report.compose import compose_report
    from viewer.report.pdf import write_pdf

    series, frame = needs(context, "series"), needs(context, "frame")
    data = compose_report(series, frame, needs(context, "analysis"), impression="Self-test.")
    context["report"] = data
    path = write_pdf(data, Path(context["out"]) / "self-test-report.pdf")
    if not path.read_bytes().startswith(b"%PDF-"):
        raise AssertionError(f"{path.name} is not a PDF")
    return f"{path.name} {path.stat().st_size // 1024} KiB"


def write_dicom(context: dict[str, Any]) -> str:
    from pydicom import dcmread

    from viewer.report.compose import export_dicom

    series, frame = needs(context, "series"), needs(context, "frame")
    exported = export_dicom(series, frame, needs(context, "report"), Path(context["out"]) / "dicom")
    sc, sr = dcmread(exported.sc_path), dcmread(exported.sr_path)
    source = series.header(frame).SOPInstanceUID
    if sc.SourceImageSequence[0].ReferencedSOPInstanceUID != source:
        raise AssertionError("the SC does not reference the source image")
    return f"SC {sc.Rows}x{sc.Columns} RGB + SR ({sr.SOPClassUID.name})"
