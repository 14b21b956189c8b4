"""`radlens report`: a PDF report of one key image with the AI findings (and optionally DICOM)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from viewer.commands.analyze import add_negatives_argument
from viewer.core.errors import RadLensError

PAPERS = ("a4", "letter")
REPORT_STATUSES = ("preliminary", "final")  # as viewer.report.report_data (imported lazily)


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "report",
        help="write a PDF report of a key image with the AI findings",
        description=(
            "Run the model on one frame and write a one-page PDF report: institution, status, "
            "patient, exam and clinical indication; the key image as displayed and with its "
            "heatmap and colour bar; findings and the intended-use verdict; measurements; the "
            "reader's impression; the model in brief; the reader's signature block. --appendix "
            "adds the full model card. --dicom-out also writes the AI result as DICOM (a "
            "Secondary Capture, a TID 1500 SR and the heatmap as a SEG, in the same study); "
            "the PDF and the DICOM objects are written all or none."
        ),
    )
    add_image_arguments(parser)
    parser.add_argument("--out", type=Path, required=True, metavar="FILE.pdf")
    parser.add_argument(
        "--anonymize",
        action="store_true",
        help="leave out patient/study identifiers (the DICOM written too is de-identified)",
    )
    parser.add_argument("--impression", default="", metavar="TEXT", help="the reader's impression")
    parser.add_argument(
        "--indication", default="", metavar="TEXT", help="clinical indication (why it was asked)"
    )
    parser.add_argument(
        "--institution",
        default="",
        metavar="NAME",
        help="institution named at the top (default: the study's InstitutionName)",
    )
    parser.add_argument("--reader", default="", metavar="NAME", help="the reader who signs")
    parser.add_argument(
        "--status",
        choices=REPORT_STATUSES,
        default="preliminary",
        type=str.lower,
        help="preliminary (default) or final (signed now; needs --reader)",
    )
    parser.add_argument(
        "--appendix", action="store_true", help="add the full model card on an appendix page"
    )
    parser.add_argument("--paper", choices=PAPERS, default="a4", type=str.lower)
    parser.add_argument(
        "--dicom-out",
        type=Path,
        metavar="DIR",
        help="also write DICOM SC + SR (+ heatmap SEG) here",
    )
    parser.set_defaults(func=run)


def add_image_arguments(parser: argparse.ArgumentParser) -> None:
    """PATH, --series, --frame, --model, --device: shared with `radlens export-dicom`."""
    parser.add_argument("path", type=Path, help="DICOM file, folder, .zip or DICOMDIR")
    parser.add_argument(
        "--series", metavar="UID", help="SeriesInstanceUID, series key or series number"
    )
    parser.add_argument("--frame", type=int, metavar="N", help="0-based frame (default: middle)")
    parser.add_argument("--model", metavar="NAME", help="model id or folder (default model)")
    parser.add_argument("--device", default="cpu", help="cpu (default), cuda, mps or auto")
    parser.add_argument(
        "--force",
        action="store_true",
        help="run the model even outside its intended use (the report then says why)",
    )
    add_negatives_argument(parser)


def open_key_frame(args: argparse.Namespace) -> tuple[Any, int]:
    """The series and frame `args` ask for."""
    from viewer.core.index import build_index
    from viewer.core.series import open_series
    from viewer.report.compose import pick_frame, pick_series

    if not args.path.exists():
        raise RadLensError(f"{args.path}: no such file or folder")
    series = open_series(pick_series(build_index([args.path]), args.series))
    return series, pick_frame(series, args.frame)


def check_targets(out_file: Path | None, out_folder: Path | None = None) -> None:
    """Refuse an unwritable, missing, full or non-folder target before the analysis runs."""
    from viewer.core.atomic import check_output_file, check_output_folder

    if out_file is not None:
        check_output_file(out_file)
    if out_folder is not None:
        check_output_folder(out_folder)


def fail(command: str, exc: BaseException) -> int:
    """Report an expected failure as one line (no traceback, no patient data)."""
    if isinstance(exc, OSError) and exc.filename:
        message = f"{exc.filename}: {exc.strerror or exc}"
    else:
        message = str(exc) or type(exc).__name__
    print(f"radlens {command}: {message}", file=sys.stderr)
    return 1


def expected_errors() -> tuple[type[BaseException], ...]:
    from inference.errors import InferenceError

    return (RadLensError, InferenceError, OSError, ValueError, KeyError)


def header_from(args: argparse.Namespace) -> Any:
    """The report header the options ask for; a final report without a reader is refused."""
    from viewer.report.report_data import report_header

    if args.status == "final" and not args.reader.strip():
        raise RadLensError("--status final needs --reader NAME (the reader who signs)")
    return report_header(args.institution, args.indication, args.status, args.reader)


def analyze_with(args: argparse.Namespace, series: Any, frame: int) -> Any:
    """The model run on the key frame as the options ask (shared with export-dicom)."""
    from viewer.report.compose import analyze_frame

    return analyze_frame(
        series, frame, args.model, args.device, args.force, args.heatmap_for_negatives
    )


def run(args: argparse.Namespace) -> int:
    from viewer.core.atomic import write_all_or_nothing
    from viewer.report.compose import compose_report, report_parts

    try:
        header = header_from(args)
        check_targets(args.out, args.dicom_out)
        series, frame = open_key_frame(args)
        with series:  # releases its files when done
            analysis = analyze_with(args, series, frame)
            data = compose_report(
                series,
                frame,
                analysis,
                impression=args.impression,
                anonymize=args.anonymize,
                header=header,
                appendix=args.appendix,
            )
            parts = report_parts(
                series, frame, data, args.out, args.paper, args.dicom_out, analysis.result
            )
            written = write_all_or_nothing(parts)  # the PDF and the DICOM objects, all or none
    except expected_errors() as exc:
        return fail("report", exc)
    calls = ", ".join(f"{f.label} {f.probability_text} ({f.call})" for f in data.findings)
    print(f"findings: {calls or 'none'}")
    if data.intended_use_reasons:
        from viewer.report.report_data import intended_use_caution

        print(intended_use_caution(data.intended_use_reasons, analysed=bool(data.findings)))
    for path in written:
        print(f"wrote {path}")
    return 0
