"""`radlens batch`: the AI model over a whole archive on a Dask cluster (research use only).

Results go to DIR/results.csv row by row as images finish; the same command again resumes
(finished images are skipped, images lost to a dying worker run again). A corrupt or refused
image is a row with its reason; the rest continues. See docs/BATCH.md.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path

# 0: every image analysed or refused; 1: results.csv lists images that could not be read;
# 2: the run could not start; 3: images were lost to failing workers: run the command again.
EXIT_OK, EXIT_IMAGE_ERRORS, EXIT_CANNOT_START, EXIT_RUN_AGAIN = 0, 1, 2, 3


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "batch",
        help="AI analysis of a whole archive on a local or remote Dask cluster (research use only)",
        description=__doc__,
    )
    parser.add_argument(
        "sources",
        nargs="+",
        metavar="SOURCE",
        help="files, folders, zips, or a PACS (dicom://AET@HOST:PORT, http(s)://HOST:PORT/ROOT)",
    )
    parser.add_argument(
        "--query",
        default=None,
        metavar="FILTERS",
        help="PACS filters, e.g. modality=DX,study-date=20250101-20251231 (also patient-id, "
        "patient-name, accession, study-uid)",
    )
    parser.add_argument("--out", type=Path, required=True, metavar="DIR")
    parser.add_argument("--model", default=None, help="model id or card path (default: shipped)")
    parser.add_argument("--engine", default="dask", choices=["local", "ray", "dask"])
    parser.add_argument("--address", default=None, help="scheduler of an existing Dask cluster")
    parser.add_argument("--workers", type=int, default=2, help="workers of the local cluster")
    parser.add_argument("--device", default="cpu", choices=["auto", "cpu", "cuda"])
    parser.add_argument("--force", action="store_true", help="run even outside the intended use")
    parser.add_argument(
        "--send-to",
        default=None,
        metavar="SERVER",
        help="send each study's results (TID1500 SR, SC, heatmap SEG) to this PACS",
    )
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from viewer.batch.engines import EngineError, EngineOptions, run_jobs
    from viewer.batch.results import ResultsLog, StateMismatch
    from viewer.batch.sources import SourceError

    try:
        state = _run_state(args.model)
        log = ResultsLog(args.out)
        log.open(state)
    except (StateMismatch, OSError, ValueError) as exc:
        return _fail(str(exc))
    except Exception as exc:  # noqa: BLE001 - model lookup errors are one line too
        return _fail(f"model: {exc}")
    try:
        jobs, listing_rows = _pending_jobs(args.sources, args.query, args.out, log)
        already_done = len(log.done)
        log.append(listing_rows)
        export_dir = str(args.out / "dicom-out") if args.send_to else None
        options = EngineOptions(
            args.engine,
            args.address,
            args.workers,
            args.model,
            args.device,
            args.force,
            export_dir=export_dir,
        )
        summary = _Summary(total=len(jobs) + len(listing_rows), already_done=already_done)
        summary.count(listing_rows)
        run_jobs(jobs, options, summary.recorder(log))
    except (EngineError, SourceError) as exc:
        return _fail(str(exc))
    finally:
        log.close()
    sent_ok = _send(args, summary)
    summary.finish(args.json, args.out)
    return _exit_status(log) if sent_ok else EXIT_RUN_AGAIN


def _send(args: argparse.Namespace, summary) -> bool:
    """Results back to the PACS; a failure is one line, and the next run sends again."""
    if not args.send_to:
        return True
    from viewer.batch.sending import send_results
    from viewer.core.pacs.servers import PacsError

    try:
        summary.sent = send_results(args.out / "dicom-out", args.send_to, _note)
        return True
    except PacsError as exc:
        print(f"radlens batch: results not sent: {exc}", file=sys.stderr)
        return False


def _note(text: str) -> None:
    print(text, file=sys.stderr)


def _exit_status(log) -> int:
    """About the whole results file, so a resumed run that completes says what a scheduler needs."""
    if log.failed:
        return EXIT_RUN_AGAIN
    return EXIT_IMAGE_ERRORS if log.errors else EXIT_OK


def _run_state(model: str | None):
    from inference.registry import find_model
    from viewer.batch.results import RunState

    card = find_model(model)
    return RunState(card.name, card.version, card.weights_sha256)


def _pending_jobs(sources: list[str], query, out_dir: Path, log) -> tuple[list, list[dict]]:
    """Jobs not finished by an earlier run, and rows for sources that cannot be read at all."""
    from viewer.batch.results import item_key
    from viewer.batch.sources import list_sources
    from viewer.batch.worker import entry_rows
    from viewer.commands.analyze import collect_jobs

    listed = list_sources(sources, query, out_dir, _note)
    jobs, errors = collect_jobs(listed.paths)
    pending = [j for j in jobs if item_key(j.path, j.frame) not in log.done]
    rows = [row for e in errors for row in entry_rows(e)] + listed.failed
    return pending, [r for r in rows if item_key(r["source"], r.get("frame")) not in log.done]


class _Summary:
    """Counts rows by status, drives the progress bar, prints the closing summary."""

    def __init__(self, total: int, already_done: int):
        self.already_done = already_done
        self.sent = 0
        self.started = time.perf_counter()
        self.statuses: Counter[str] = Counter()
        self.images = 0
        self.total = total
        self.bar = None

    def count(self, rows: list[dict]) -> None:
        images = {(r["source"], r.get("frame")): r["status"] for r in rows}
        self.statuses.update(images.values())
        self.images += len(images)

    def recorder(self, log):
        from tqdm import tqdm

        self.bar = tqdm(total=self.total, initial=self.images, unit="img", file=sys.stderr)

        def record(chunk: list, rows: list[dict]) -> None:
            log.append(rows)
            self.count(rows)
            self.bar.update(len(chunk))

        return record

    def finish(self, as_json: bool, out_dir: Path) -> None:
        if self.bar is not None:
            self.bar.close()
        seconds = time.perf_counter() - self.started
        summary = {
            "done": self.statuses["done"],
            "refused": self.statuses["refused"],
            "error": self.statuses["error"],
            "failed": self.statuses["failed"],
            "already_done": self.already_done,
            "sent": self.sent,
            "seconds": round(seconds, 2),
            "images_per_second": round(self.images / seconds, 2) if seconds else 0.0,
            "results": str(out_dir / "results.csv"),
        }
        if as_json:
            print(json.dumps(summary, indent=2))
        else:
            print("research use only — not for diagnosis", file=sys.stderr)
            print(", ".join(f"{k}: {v}" for k, v in summary.items()))


def _fail(message: str) -> int:
    print(f"radlens batch: {message}", file=sys.stderr)
    return EXIT_CANNOT_START
