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
    parser.add_argument(
        "--threshold-margin",
        action="store_true",
        help="with --calibrate: the threshold keeps the lower 95 %% bootstrap bound of "
        "sensitivity >= the target (not just the point estimate)",
    )
    parser.add_argument(
        "--heatmap-blocks",
        type=int,
        nargs="+",
        metavar="I",
        help="with --calibrate: evidence heatmaps at these blocks, scale fitted on the data",
    )
    parser.add_argument(
        "--heatmap-smooth",
        type=float,
        default=0.0,
        metavar="SIGMA",
        help="with --heatmap-blocks: Gaussian smoothing of the map, σ as a fraction of the width",
    )
    parser.add_argument(
        "--heatmap-percentile",
        type=float,
        default=99.0,
        metavar="P",
        help="with --heatmap-blocks: 1.0 on the colour scale = the Pth percentile of the map over "
        "the positives (a finer, spikier map needs a higher P to keep its top unclipped)",
    )
    parser.add_argument(
        "--write-reference",
        action="store_true",
        help="write reference_subset.json (figures on a fixed 64-image subset of --data)",
    )
    parser.add_argument(
        "--faithfulness",
        type=int,
        default=0,
        metavar="N",
        help="also run the heatmap deletion test on N positive images",
    )
    parser.add_argument(
        "--robustness",
        type=int,
        default=0,
        metavar="N",
        help="also count calls flipped by blur, down/up-scaling, JPEG and noise on N images per class",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from inference.engine import Analyzer
    from inference.errors import InferenceError
    from inference.evaluation import (
        calibrate,
        evaluate,
        fit_heatmap_scale,
        predict_folder,
        write_reference,
    )
    from viewer.core.analysis_input import file_analysis_input as read

    try:
        analyzer = Analyzer(args.model, device=args.device)
        predictions = None
        if args.calibrate:
            if args.limit:
                raise InferenceError("--calibrate uses the whole validation folder; drop --limit")
            predictions = calibrate(
                analyzer,
                args.data,
                args.target_sensitivity,
                read=read,
                margin=args.threshold_margin,
            )
            if args.heatmap_blocks:
                fit_heatmap_scale(
                    analyzer,
                    args.data,
                    args.heatmap_blocks,
                    args.heatmap_smooth,
                    read=read,
                    percentile=args.heatmap_percentile,
                )
        elif args.write_reference:
            predictions = predict_folder(analyzer, args.data, read=read)
        report = evaluate(
            analyzer, args.data, args.out, args.limit, args.seed, predictions=predictions, read=read
        )
        if args.write_reference:
            write_reference(analyzer.card, predictions, args.data)
        if args.faithfulness:
            report["faithfulness"] = faithfulness_report(analyzer, args.data, args.faithfulness)
        if args.robustness:
            from inference.robustness import robustness_report

            report["robustness"] = robustness_report(
                analyzer, args.data, args.robustness, args.seed
            )
    except InferenceError as exc:
        print(f"radlens evaluate: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(report, indent=2) if args.json else format_report(report))
    return 0


def faithfulness_report(analyzer, data: Path, count: int) -> dict:
    from inference.faithfulness import deletion_test
    from inference.robustness import balanced_subset

    items, labels, _ = balanced_subset(data, count)
    positives = [item for item, label in zip(items, labels, strict=True) if label == 1]
    return deletion_test(analyzer, positives).as_dict()


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
        "95 % bootstrap CI: sensitivity {:.4f}–{:.4f}  specificity {:.4f}–{:.4f}".format(
            *report["sensitivity_ci95"], *report["specificity_ci95"]
        ),
        f"confusion matrix: TP {matrix['tp']}  FP {matrix['fp']}  TN {matrix['tn']}  FN {matrix['fn']}",
        f"ECE {report['ece']:.4f}",
    ]
    if "faithfulness" in report:
        f = report["faithfulness"]
        lines.append(
            f"heatmap deletion test on {f['images']} positives (blur σ = {f.get('sigma', 0.15):g} × width over the top "
            f"20 % of the map): probability drop {f['mean_drop_top']:.3f}, "
            f"same area mirrored {f['mean_drop_mirrored']:.3f}"
        )
    if "robustness" in report:
        from inference.robustness import format_robustness

        lines += format_robustness(report["robustness"])
    lines += [f"skipped: {failure}" for failure in report["failures"]]
    return "\n".join(lines)
