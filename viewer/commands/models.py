"""`radlens models`: the AI models RadLens can use (shipped and user models folder)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "models", help="list the available AI models", description=__doc__
    )
    parser.add_argument("--json", action="store_true", help="print the card summaries as JSON")
    parser.add_argument(
        "--trust",
        type=Path,
        metavar="MODEL_DIR",
        help="trust this model folder to run code (TorchScript), for its current weights only",
    )
    combine = parser.add_argument_group("build an ensemble (then: radlens evaluate --calibrate)")
    combine.add_argument("--combine", nargs="+", type=Path, metavar="MODEL_DIR")
    combine.add_argument("--out", type=Path, help="folder for the ensemble model")
    combine.add_argument("--id", default="", help="ensemble model id (default: OUT's name)")
    combine.add_argument("--name", default="", help="ensemble model name")
    combine.add_argument("--version", default="1.0.0")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.combine:
        return combine_models(args)
    if args.trust:
        return trust_model(args.trust)
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


def trust_model(folder: Path) -> int:
    """Record the folder and its weights' sha256 in the user's trusted list (see inference.trust)."""
    from inference.errors import InferenceError
    from inference.loading import verify_weights
    from inference.model_card import ModelCard
    from inference.trust import trust

    try:
        card = ModelCard.read(folder)
        verify_weights(card)
        listed = trust(card)
    except (InferenceError, OSError) as exc:
        print(f"radlens models: {exc}", file=sys.stderr)
        return 2
    print(
        f"trusted {card.id} in {card.folder} while its weights keep sha256 "
        f"{card.weights_sha256[:12]}… (listed in {listed})"
    )
    return 0


def combine_models(args: argparse.Namespace) -> int:
    from inference.ensemble import combine
    from inference.errors import InferenceError

    if args.out is None:
        print("radlens models: --combine needs --out DIR", file=sys.stderr)
        return 2
    model_id = args.id or args.out.name
    try:
        card = combine(args.combine, args.out, model_id, args.name or model_id, args.version)
    except InferenceError as exc:
        print(f"radlens models: {exc}", file=sys.stderr)
        return 2
    print(
        f"wrote {card} (calibrate it: radlens evaluate --model {args.out} --data VAL --calibrate)"
    )
    return 0


def describe(summary: dict, folder: str) -> str:
    metrics = summary["validation_metrics"]
    auc = f"val AUC {metrics['auc']:.3f}" if "auc" in metrics else "no validation metrics"
    thresholds = ", ".join(f"{k} ≥ {v:.3f}" for k, v in summary["thresholds"].items())
    return (
        f"{summary['id']}  {summary['name']} {summary['version']}  [{', '.join(summary['labels'])}]\n"
        f"  {auc}; thresholds {thresholds}; sha256 {summary['sha256'][:12]}…\n  {folder}"
    )
