"""`radlens evaluate`: a model's metrics on a folder-per-label dataset (and, on validation data,
`--calibrate` to fit the calibration and threshold written to the model card)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "evaluate",
        help="AUC (95 %% CI), sensitivity/specificity at the model's threshold, ROC, calibration",
        description=__doc__,
    )
    parser.add_argument("--model", default=None, help="model id or card path (default: shipped)")
    parser.add_argument("--data", type=Path, required=True, help="folder with one folder per label")
    parser.add_argument(
        "--out", type=Path, help="write metrics.json, per_image.csv, roc.png, reliability.png"
    )
    parser.add_argument("--json", action="store_true", help="print the metrics as JSON")
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda", "mps"])
    parser.add_argument(
        "--limit", type=int, default=0, help="a fixed stratified subset of N images"
    )
    parser.add_argument("--seed", type=int, default=0, help="subset and bootstrap seed")
    parser.add_argument(
        "--calibrate",
        action="store_true",
        help="VALIDATION data only: fit calibration + threshold and write them to the card",
    )
    parser.add_argument("--target-sensitivity", type=float, default=0.95)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from inference.engine import Analyzer
    from inference.errors import InferenceError
    from inference.evaluation import calibrate, evaluate
    from viewer.core.analysis_input import file_analysis_input as read

    try:
        analyzer = Analyzer(args.model, device=args.device)
        predictions = None
        if args.calibrate:
            if args.limit:
                raise InferenceError("--calibrate uses the whole validation folder; drop --limit")
            predictions = calibrate(analyzer, args.data, args.target_sensitivity, read=read)
        report = evaluate(
            analyzer, args.data, args.out, args.limit, args.seed, predictions=predictions, read=read
        )
    except InferenceError as exc:
        print(f"radlens evaluate: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(report, indent=2) if args.json else format_report(report))
    return 0


def format_report(report: dict) -> str:
    matrix = report["confusion_matrix"]
    low, high = report["auc_ci95"]
    lines = [
        f"model {report['model']['name']} {report['model']['version']} on {report['data']}",
        f"images {report['images']} ({report['positives']} {report['label']})",
        f"AUC {report['auc']:.4f} (95 % CI {low:.4f}–{high:.4f})",
        f"at threshold {report['threshold']:.4f}: accuracy {report['accuracy']:.4f}  "
        f"sensitivity {report['sensitivity']:.4f}  specificity {report['specificity']:.4f}  "
        f"PPV {report['ppv']:.4f}  NPV {report['npv']:.4f}",
        f"confusion matrix: TP {matrix['tp']}  FP {matrix['fp']}  TN {matrix['tn']}  FN {matrix['fn']}",
        f"ECE {report['ece']:.4f}",
    ]
    lines += [f"skipped: {failure}" for failure in report["failures"]]
    return "\n".join(lines)
