"""`radlens info PATH... [--json]`: what would open, as a patient/study/series tree.

Lists every series stack (modality, size, frames, transfer syntax, warnings), every
segmentation (its segments: number, label, type, frames, referenced series) and structured
report (its findings and measurements, or its text) and every skipped file with its reason;
documents and pictures beside the images (README, PDF, Thumbs.db) are only counted. Exit
status 0 when at least one series or SEG/SR opened, 1 when nothing could be,
2 on an unexpected failure (reported in one line, never as a traceback), 130 on Ctrl-C.
"""

from __future__ import annotations

import argparse
import json

from viewer.commands.common import run_reported
from viewer.core.formatting import transfer_syntax_name
from viewer.core.index import PatientInfo, SeriesInfo, StudyIndex, StudyInfo, build_index
from viewer.core.study_objects import object_summary

EXIT_OK, EXIT_NOTHING_OPENED, EXIT_FAILED = 0, 1, 2


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "info", help="list the patients, studies and series found in files, folders, zips"
    )
    parser.add_argument("paths", nargs="+", metavar="PATH", help="file, folder, .zip or DICOMDIR")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a tree")
    parser.add_argument(
        "--anonymous", action="store_true", help="hide patient names and IDs in the output"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    return run_reported("info", lambda: _list(args), failed=EXIT_FAILED)


def _list(args: argparse.Namespace) -> int:
    index = build_index(args.paths)
    report = index_report(index, anonymous=args.anonymous)
    if args.json:
        print(json.dumps(report, indent=2, ensure_ascii=False))
    else:
        print("\n".join(tree_lines(report)))
    return EXIT_OK if index.all_series() or index.all_objects() else EXIT_NOTHING_OPENED


def index_report(index: StudyIndex, anonymous: bool = False) -> dict:
    """The index as plain data (what --json prints)."""
    return {
        "patients": [patient_report(p, n, anonymous) for n, p in enumerate(index.patients, 1)],
        "series_count": len(index.all_series()),
        "skipped": [{"path": s.path, "reason": s.reason} for s in index.skipped],
        "ignored": list(index.ignored),
    }


def patient_report(patient: PatientInfo, number: int, anonymous: bool) -> dict:
    hidden = f"Patient {number}"
    return {
        "name": hidden if anonymous else patient.name,
        "patient_id": "" if anonymous else patient.patient_id,
        "sex": patient.sex,
        "age": patient.age,
        "studies": [study_report(s) for s in patient.studies],
    }


def study_report(study: StudyInfo) -> dict:
    return {
        "study_instance_uid": study.study_instance_uid,
        "date": study.date,
        "description": study.description,
        "series": [series_report(s) for s in study.series],
        "objects": [object_summary(o) for o in study.objects],
    }


def series_report(series: SeriesInfo) -> dict:
    return {
        "key": series.key,
        "number": series.number,
        "modality": series.modality,
        "description": series.description,
        "rows": series.rows,
        "columns": series.columns,
        "frames": len(series.frames),
        "files": len({f.path for f in series.frames}),
        "photometric": series.photometric,
        "transfer_syntax": series.transfer_syntax,
        "transfer_syntax_name": transfer_syntax_name(series.transfer_syntax),
        "stack": series.stack_label,
        "warnings": list(series.warnings),
    }


def tree_lines(report: dict) -> list[str]:
    lines = []
    for patient in report["patients"]:
        lines.append(f"Patient {patient['name'] or '(no name)'} {patient['patient_id']}".rstrip())
        for study in patient["studies"]:
            lines.append(f"  Study {study['date'] or '(no date)'} {study['description']}".rstrip())
            for series in study["series"]:
                lines.extend(series_lines(series))
            for found in study["objects"]:
                lines.extend(object_lines(found))
    objects = sum(len(st["objects"]) for p in report["patients"] for st in p["studies"])
    summary = f"{report['series_count']} series; {len(report['skipped'])} file(s) skipped"
    if objects:
        summary = f"{report['series_count']} series, {objects} SEG/SR/other object(s); " + (
            f"{len(report['skipped'])} file(s) skipped"
        )
    if report["ignored"]:
        summary += f"; {len(report['ignored'])} document/picture file(s) ignored (not DICOM)"
    lines.append(summary)
    lines.extend(f"  skipped {s['path']}: {s['reason']}" for s in report["skipped"])
    return lines


def series_lines(series: dict) -> list[str]:
    number = "" if series["number"] is None else f"#{series['number']} "
    stack = f" [{series['stack']}]" if series["stack"] else ""
    head = (
        f"    Series {number}{series['modality']} {series['description']}{stack}: "
        f"{series['columns']}×{series['rows']}, {series['frames']} frame(s), "
        f"{series['transfer_syntax_name']}"
    )
    return [head] + [f"      warning: {w}" for w in series["warnings"]]


def object_lines(found: dict) -> list[str]:
    """A SEG with its segments, an SR with its findings (or its text), another object by class."""
    head = f"    {found['kind']} {found['sop_class']} {found['description']}".rstrip()
    if "error" in found:
        return [head, f"      error: {found['error']}"]
    if found["kind"] == "SEG":
        head += f": {found['segmentation_type']}, {found['frames']} frame(s)"
        lines = [head] + [f"      references series {uid}" for uid in found["referenced_series"]]
        return lines + [segment_line(s) for s in found["segments"]]
    if found["kind"] == "SR":
        lines = [f"{head}: {found['title']}"]
        for finding in found["findings"]:
            lines.append(f"      finding {finding['title']}")
            lines.extend(f"        {text}" for text in finding["measurements"])
            lines.extend(f"        {text}" for text in finding["evaluations"])
            lines.extend(f"        {text}" for text in finding["comments"])
            lines.extend(f"        graphic {text}" for text in finding["graphics"])
        lines.extend(f"      {text}" for text in found["text"])
        return lines
    return [head]


def segment_line(segment: dict) -> str:
    kind = f" ({segment['type']})" if segment["type"] else ""
    algorithm = f", {segment['algorithm']}" if segment["algorithm"] else ""
    return (
        f"      segment {segment['number']} {segment['label']}{kind}: "
        f"{segment['frames']} frame(s){algorithm}, colour {segment['colour']}"
    )
