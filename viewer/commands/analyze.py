"""`radlens analyze`: run the AI model on DICOM files/folders or PNG/JPEG images (research use only).

DICOM goes through the core (index → series → modality values, the file's own VOI); PNG/JPEG are
taken as already-windowed grey values, like the training data. The model card's intended use is
checked per image (age, modality, body part, view, size): an image outside it is not analysed
without --force, and `--json` gives `intended_use_ok` and the `reasons`; a PNG/JPEG has no header,
so it runs marked "intended use not verifiable". Images are analysed in batches; one that fails is
reported with its reason and the others still run.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Job:
    """One image to analyse: where it came from and how to decode it (lazily)."""

    path: str
    frame: int | None
    load: Callable[[], object]  # -> inference.types.AnalysisInput
    opener: SeriesOpener | None = None  # DICOM jobs: shared by every job of one run
    info: object | None = None  # DICOM jobs: the SeriesInfo the frame belongs to
    index: int = 0  # DICOM jobs: the frame's index in that series

    def series(self):
        """The open series of a DICOM job (None for a picture)."""
        return None if self.info is None else self.opener.get(self.info)


class SeriesOpener:
    """Opens a series once for all of its frames' jobs (opening one scans all its frames, so
    reopening per frame was quadratic). Frames of a series are analysed in a row, so only the
    latest series is kept open: the one before is closed (its open files released)."""

    def __init__(self) -> None:
        self._key, self._series = None, None
        self.opened = 0

    def __getstate__(self) -> dict:
        """Jobs pickled to a batch worker carry no open series (its locks cannot travel)."""
        return {"_key": None, "_series": None, "opened": 0}

    def get(self, info):
        from viewer.core.series import open_series

        if self._key != info.key:
            self.close()
            self._series, self._key = open_series(info), info.key
            self.opened += 1
        return self._series

    def close(self) -> None:
        """Close the series kept open (idempotent)."""
        if self._series is not None:
            self._series.close()
        self._key, self._series = None, None


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "analyze",
        help="AI analysis of radiographs (research use only, not for diagnosis)",
        description=__doc__,
    )
    parser.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    parser.add_argument("--model", default=None, help="model id or card path (default: shipped)")
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda", "mps"])
    parser.add_argument(
        "--json", action="store_true", help="print a JSON list, one object per image"
    )
    parser.add_argument(
        "--heatmaps", type=Path, metavar="DIR", help="write NPY + PNG overlays here"
    )
    parser.add_argument("--force", action="store_true", help="run even outside the intended use")
    add_negatives_argument(parser)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.set_defaults(func=run)


def add_negatives_argument(parser: argparse.ArgumentParser) -> None:
    """--heatmap-for-negatives: shared by analyze, report and export-dicom."""
    parser.add_argument(
        "--heatmap-for-negatives",
        action="store_true",
        help="draw the heatmap of a clear negative too (probability below the model card's "
        "display threshold; said so wherever the map appears)",
    )


def run(args: argparse.Namespace) -> int:
    from inference.errors import InferenceError

    try:
        analyzer = _analyzer(args)
    except InferenceError as exc:
        print(f"radlens analyze: {exc}", file=sys.stderr)
        return 2
    jobs, entries = collect_jobs(args.paths)
    for chunk in _chunks(jobs, max(1, args.batch_size)):
        entries += analyze_chunk(analyzer, chunk, args)
    for opener in {id(job.opener): job.opener for job in jobs if job.opener}.values():
        opener.close()
    _print(entries, args.json)
    return 1 if any("error" in e for e in entries) else 0


def _analyzer(args: argparse.Namespace):
    from inference.engine import Analyzer

    return Analyzer(
        args.model, device=args.device, heatmaps_for_negatives=args.heatmap_for_negatives
    )


def collect_jobs(paths: list[Path]) -> tuple[list[Job], list[dict]]:
    """Raster files directly; everything else through the DICOM index. Returns (jobs, errors)."""
    rasters, others, errors = [], [], []
    for path in paths:
        if not path.exists():
            errors.append({"path": str(path), "error": "no such file or folder"})
        elif path.is_file() and _is_picture(path):
            rasters.append(path)
        else:
            others.append(path)
            if path.is_dir():
                rasters += sorted(p for p in path.rglob("*") if p.is_file() and _is_picture(p))
    jobs = [Job(str(p), None, _raster_loader(p)) for p in rasters]
    if others:
        dicom_jobs, skipped = _dicom_jobs(others)
        jobs += dicom_jobs
        errors += [s for s in skipped if not _is_picture(s["path"])]
    return jobs, errors


def _is_picture(path) -> bool:
    """A PNG/JPEG by name and not a DICOM file in disguise (one rule with the index)."""
    from viewer.core.pictures import is_picture

    return is_picture(path)


def _raster_loader(path: Path) -> Callable[[], object]:
    def load():
        from inference.image_io import read_raster

        return read_raster(path)

    return load


def _dicom_jobs(paths: list[Path]) -> tuple[list[Job], list[dict]]:
    from viewer.core.index import build_index

    index = build_index(paths)
    skipped = [{"path": s.path, "error": s.reason} for s in index.skipped]
    opener, jobs = SeriesOpener(), []
    for info in index.all_series():
        if _is_picture(info.frames[0].path):  # collected as raster jobs by `collect_jobs`
            continue
        multi = len(info.frames) > 1
        for i, frame in enumerate(info.frames):
            load = _frame_loader(opener, info, i)
            number = frame.frame_index if multi else None
            jobs.append(Job(frame.path, number, load, opener, info, i))
    return jobs, skipped


def _frame_loader(opener: SeriesOpener, info, index: int) -> Callable[[], object]:
    def load():
        from viewer.core.analysis_input import frame_analysis_input

        return frame_analysis_input(opener.get(info), index)

    return load


def _chunks(items: list, size: int) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def analyze_chunk(analyzer, jobs: list[Job], args: argparse.Namespace) -> list[dict]:
    """Decode, analyse as one batch, fall back to one by one if the batch fails."""
    decoded, entries = [], {}
    for position, job in enumerate(jobs):
        started = time.perf_counter()
        try:
            decoded.append((position, job, job.load(), time.perf_counter() - started))
        except Exception as exc:  # noqa: BLE001 - any decode failure is reported per file
            entries[position] = _error(job, exc)
    results = _analyze_all(analyzer, decoded, args.force)
    for (position, job, item, seconds), result in zip(decoded, results, strict=True):
        entries[position] = (
            _entry(job, item, result, seconds, args.heatmaps, analyzer)
            if not isinstance(result, Exception)
            else _error(job, result)
        )
    return [entries[i] for i in sorted(entries)]


def _analyze_all(analyzer, decoded: list, force: bool) -> list:
    from inference.errors import InferenceError

    items = [d[2] for d in decoded]
    try:
        return analyzer.analyze_batch(items, force=force) if items else []
    except (InferenceError, ValueError, RuntimeError):
        pass
    results = []
    for item in items:
        try:
            results.append(analyzer.analyze(item, force=force))
        except (InferenceError, ValueError, RuntimeError) as exc:
            results.append(exc)
    return results


def _entry(job: Job, item, result, decode_s: float, heatmap_dir, analyzer) -> dict:
    from inference.engine import with_decode_time

    result = with_decode_time(result, decode_s)
    entry = {"path": job.path}
    if job.frame is not None:
        entry["frame"] = job.frame
    entry.update(
        findings=[
            {
                "label": f.label,
                "probability": f.probability,
                "threshold": f.threshold,
                "positive": f.positive,
            }
            for f in result.findings
        ],
        model={
            "name": result.model_name,
            "version": result.model_version,
            "sha256": result.model_sha256,
        },
        device=result.device,
        timings=result.timings,
        warnings=list(result.warnings),
        intended_use_ok=result.intended_use_ok,
        reasons=list(result.intended_use_reasons),
    )
    if result.heatmaps_on_request:  # clear negatives' maps drawn because they were asked for
        entry["heatmaps_on_request"] = list(result.heatmaps_on_request)
        entry["heatmap_hide_below"] = result.heatmap_hide_below
    if heatmap_dir is not None and result.heatmaps:
        entry["heatmaps"] = _write_heatmaps(heatmap_dir, job, item, result, analyzer)
    return entry


def _write_heatmaps(out_dir: Path, job: Job, item, result, analyzer) -> dict:
    from inference.heatmap_io import unit_image, write_heatmap

    grey = unit_image(item.pixels, analyzer.spec, item.photometric, item.window)
    stem = Path(job.path).stem + (f"_f{job.frame}" if job.frame is not None else "")
    return {
        label: write_heatmap(out_dir, stem, label, grey, heat)
        for label, heat in result.heatmaps.items()
    }


def _error(job: Job, exc: Exception) -> dict:
    entry = {"path": job.path, "error": _reason(job, exc)}
    if job.frame is not None:
        entry["frame"] = job.frame
    return entry


def _reason(job: Job, exc: Exception) -> str:
    text = str(exc) or type(exc).__name__
    name = Path(job.path).name
    return text[len(name) + 2 :] if text.startswith(f"{name}: ") else text


def _print(entries: list[dict], as_json: bool) -> None:
    if as_json:
        print(json.dumps(entries, indent=2))
        return
    print("research use only — not for diagnosis", file=sys.stderr)
    for entry in entries:
        where = entry["path"] + (f" [frame {entry['frame']}]" if "frame" in entry else "")
        if "error" in entry:
            print(f"{where}: error: {entry['error']}")
            continue
        findings = ", ".join(
            f"{f['label']} {f['probability']:.3f} (threshold {f['threshold']:.3f})"
            f"{' POSITIVE' if f['positive'] else ''}"
            for f in entry["findings"]
        )
        warnings = "".join(f"\n  warning: {w}" for w in entry["warnings"])
        warnings += "".join(
            f"\n  note: {label} heatmap drawn on request (probability below the display "
            f"threshold {entry['heatmap_hide_below']:.3f})"
            for label in entry.get("heatmaps_on_request", ())
        )
        print(
            f"{where}: {findings or 'not analysed'}  [{entry['timings'].get('total', 0):.2f} s]{warnings}"
        )
