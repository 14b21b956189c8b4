"""What runs on a batch worker: one chunk of images through the same code as `radlens analyze`.

Each worker process loads the model once (`_analyzer` caches it per model and device) and then
reuses `viewer.commands.analyze.analyze_chunk`, so a batch row's probability is the number
`radlens analyze` prints for the same image: same reader, same preprocessing, same engine.
"""

from __future__ import annotations

import argparse
from functools import cache

from viewer.batch.results import TRANSIENT


@cache
def _analyzer(model: str | None, device: str):
    from inference.engine import Analyzer

    return Analyzer(model, device=device)


def model_identity(model: str | None, device: str = "cpu") -> tuple[str, str, str]:
    """(name, version, weights sha256) of the model a batch would run."""
    card = _analyzer(model, device).card
    return card.name, card.version, card.weights_sha256


def run_chunk(jobs: list, model: str | None, device: str, force: bool) -> list[dict]:
    """Analyse `jobs` (viewer.commands.analyze.Job) and return one result row per image."""
    from viewer.commands.analyze import analyze_chunk

    analyzer = _analyzer(model, device)
    options = argparse.Namespace(force=force, heatmaps=None)
    return [row for entry in analyze_chunk(analyzer, jobs, options) for row in entry_rows(entry)]


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
