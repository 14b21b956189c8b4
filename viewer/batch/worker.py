"""What runs on a batch worker: one chunk of images through the same code as `radlens analyze`.

Each worker process loads the model once (`_analyzer` caches it per model and device) and then
reuses `viewer.commands.analyze.analyze_chunk`, so a batch row's probability is the number
`radlens analyze` prints for the same image: same reader, same preprocessing, same engine.
"""

from __future__ import annotations

import argparse
import shutil
from functools import cache
from pathlib import Path

from viewer.batch.results import TRANSIENT


@cache
def _analyzer(model: str | None, device: str):
    from inference.engine import Analyzer

    return Analyzer(model, device=device)


def run_chunk(
    jobs: list, model: str | None, device: str, force: bool, export_dir: str | None = None
) -> list[dict]:
    """Analyse `jobs` (viewer.commands.analyze.Job) and return one result row per image; with
    `export_dir`, each analysed DICOM image's results are also written there as DICOM."""
    from viewer.commands.analyze import analyze_chunk

    analyzer = _analyzer(model, device)
    options = argparse.Namespace(force=force, heatmaps=None)
    entries = analyze_chunk(analyzer, jobs, options)
    if export_dir:
        for job, entry in zip(jobs, entries, strict=True):
            _export_entry(analyzer, job, entry, Path(export_dir), force)
    return [row for entry in entries for row in entry_rows(entry)]


def _export_entry(analyzer, job, entry: dict, export_dir: Path, force: bool) -> None:
    """SC + TID1500 SR + heatmap SEG of an analysed DICOM image into
    `export_dir/<study>/<source SOP>_<frame>/` (replaced whole, so a rerun never duplicates)."""
    if "error" in entry or not entry["findings"] or job.info is None:
        return
    try:
        _export_dicom(analyzer, job, export_dir, force)
    except Exception as exc:  # noqa: BLE001 - the row still holds the result; say why
        entry["warnings"] = [*entry.get("warnings", []), f"DICOM export failed: {exc}"]


def _export_dicom(analyzer, job, export_dir: Path, force: bool) -> None:
    """The job's own open series and frame: the engine's cache returns the result just computed."""
    from viewer.core.analysis_input import frame_analysis_input
    from viewer.core.pacs.retrieve import safe_name
    from viewer.report.compose import Analysis, compose_report, export_dicom

    series, frame = job.series(), job.index
    result = analyzer.analyze(frame_analysis_input(series, frame), force=force)
    data = compose_report(series, frame, Analysis(result, analyzer.card.summary()))
    study = safe_name(str(series.header(frame).get("StudyInstanceUID", "")))
    number = series.info.frames[frame].frame_index
    target = (
        export_dir / study / f"{safe_name(series.info.frames[frame].sop_instance_uid)}_{number}"
    )
    shutil.rmtree(target, ignore_errors=True)
    export_dicom(series, frame, data, target, result)


def entry_rows(entry: dict) -> list[dict]:
    """`radlens analyze --json` entries → results.csv rows (one per finding, or one status row)."""
    base = {"source": entry["path"], "frame": entry.get("frame")}
    if "error" in entry:
        return [{**base, "status": "error", "error": entry["error"]}]
    model = {"model_name": entry["model"]["name"], "model_version": entry["model"]["version"]}
    verdict = {
        "intended_use_ok": entry["intended_use_ok"],
        "reasons": "; ".join(entry.get("reasons") or entry.get("warnings") or ()),
    }
    if not entry["findings"]:
        return [{**base, **model, **verdict, "status": "refused"}]
    return [
        {
            **base,
            **model,
            **verdict,
            "label": f["label"],
            "probability": f["probability"],
            "threshold": f["threshold"],
            "positive": f["positive"],
            "status": "done",
        }
        for f in entry["findings"]
    ]


def failed_rows(jobs: list, reason: str) -> list[dict]:
    """Rows for a chunk lost to the engine (a worker died too often): retried by the next run."""
    return [
        {"source": job.path, "frame": job.frame, "status": TRANSIENT, "error": reason}
        for job in jobs
    ]
