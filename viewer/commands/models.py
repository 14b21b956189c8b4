"""`radlens models`: the AI models RadLens can use (shipped and user models folder)."""

from __future__ import annotations

import argparse
import json
import sys


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "models", help="list the available AI models", description=__doc__
    )
    parser.add_argument("--json", action="store_true", help="print the card summaries as JSON")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from inference.registry import list_models, model_folders

    cards, problems = list_models()
    if args.json:
        print(json.dumps([{**c.summary(), "folder": str(c.folder)} for c in cards], indent=2))
    else:
        for card in cards:
            print(describe(card.summary(), str(card.folder)))
        if not cards:
            print("no models found in: " + ", ".join(str(f) for f in model_folders()))
    for problem in problems:
        print(f"radlens models: skipped {problem}", file=sys.stderr)
    return 0


def describe(summary: dict, folder: str) -> str:
    metrics = summary["validation_metrics"]
    auc = f"val AUC {metrics['auc']:.3f}" if "auc" in metrics else "no validation metrics"
    thresholds = ", ".join(f"{k} ≥ {v:.3f}" for k, v in summary["thresholds"].items())
    return (
        f"{summary['id']}  {summary['name']} {summary['version']}  [{', '.join(summary['labels'])}]\n"
        f"  {auc}; thresholds {thresholds}; sha256 {summary['sha256'][:12]}…\n  {folder}"
    )
