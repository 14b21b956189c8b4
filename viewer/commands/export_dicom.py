"""`radlens export-dicom`: the AI result for one frame as DICOM SC (heatmap) + Comprehensive SR."""

from __future__ import annotations

import argparse
from pathlib import Path

from viewer.commands.report import (
    add_image_arguments,
    analyze_with,
    check_targets,
    expected_errors,
    fail,
    open_key_frame,
)


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "export-dicom",
        help="write the AI result as DICOM SC + TID 1500 SR + heatmap SEG",
        description=(
            "Run the model on one frame and write, in new series of the same study, a "
            "Secondary Capture of the image with its heatmap, a TID 1500 Measurement Report SR "
            "of the findings (probability, threshold, call, algorithm, intended-use verdict) and "
            "of the measurements made in RadLens, and the heatmap as a FRACTIONAL SEG, all "
            "referencing the source image: all of them or none. Source files are never "
            "modified."
        ),
    )
    add_image_arguments(parser)
    parser.add_argument("--out", type=Path, required=True, metavar="DIR")
    parser.add_argument(
        "--anonymize", action="store_true", help="de-identify the objects written (new UIDs)"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from viewer.report.compose import compose_report, export_dicom

    try:
        check_targets(None, args.out)
        series, frame = open_key_frame(args)
        with series:  # releases its files when done
            analysis = analyze_with(args, series, frame)
            data = compose_report(series, frame, analysis, anonymize=args.anonymize)
            exported = export_dicom(series, frame, data, args.out, analysis.result)
    except expected_errors() as exc:
        return fail("export-dicom", exc)
    for path in exported.paths:
        print(f"wrote {path}")
    return 0
