"""`radlens train`: train a classifier on a folder-per-label dataset (weights + model card)."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "train",
        help="train a model on DATA/train and DATA/val (folder per label)",
        description=__doc__,
    )
    parser.add_argument("--data", type=Path, required=True, help="folder with train/ and val/")
    parser.add_argument(
        "--val", type=Path, default=None, help="validation folder (default DATA/val)"
    )
    parser.add_argument("--out", type=Path, required=True, help="output model folder")
    parser.add_argument("--init", default=None, help="fine-tune from this model (name or card)")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or mps")
    parser.add_argument(
        "--init-member", type=int, default=None, help="with --init MODEL: its Nth network"
    )
    parser.add_argument(
        "--consistency",
        type=float,
        default=0.0,
        help="weight of the clean/degraded logit consistency term (0: off)",
    )
    parser.add_argument(
        "--select",
        choices=["best", "last"],
        default="best",
        help="keep the best epoch by val AUC, or the last one (fixed schedule)",
    )
    parser.add_argument(
        "--epoch-images", type=int, default=0, help="an epoch is N random train images (0: all)"
    )
    parser.add_argument(
        "--heavy-blur",
        type=float,
        default=None,
        metavar="P",
        help="probability of blurring a whole image beyond recognition (label kept; default 0.2)",
    )
    parser.add_argument(
        "--patch-blur",
        type=float,
        default=None,
        metavar="P",
        help="probability of blurring one region beyond recognition (label kept; default 0)",
    )
    parser.add_argument(
        "--depths",
        type=_depths,
        default=None,
        metavar="N,N,N,N",
        help="basic blocks per stage (default one each); with --init, the added blocks start "
        "as identities, so training starts from exactly the init model",
    )
    parser.add_argument("--freeze-blocks", type=int, default=0, help="freeze the first K blocks")
    parser.add_argument("--size", type=int, default=224, help="input size in pixels")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--patience", type=int, default=8, help="early-stopping patience (epochs)")
    parser.add_argument("--target-sensitivity", type=float, default=0.95)
    parser.add_argument("--limit", type=int, default=0, help="use at most N images per split")
    parser.add_argument("--id", default="", help="model id (default: the output folder name)")
    parser.add_argument("--name", default="", help="human-readable model name")
    parser.add_argument("--version", default="1.0.0")
    parser.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.pt")
    parser.add_argument(
        "--card-extra",
        type=Path,
        metavar="JSON",
        help="release metadata merged into the card (intended use, data licence, citation)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from inference.errors import InferenceError
    from inference.model_card import read_json
    from inference.training import TrainConfig, train
    from viewer.core.analysis_input import file_analysis_input

    try:
        extra = read_json(args.card_extra) if args.card_extra else {}
    except InferenceError as exc:
        print(f"radlens train: {exc}", file=sys.stderr)
        return 2
    config = TrainConfig(
        data=args.data,
        val_data=args.val,
        out=args.out,
        init=args.init,
        init_member=args.init_member,
        consistency=args.consistency,
        epoch_images=args.epoch_images,
        selection=args.select,
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        device=args.device,
        freeze_blocks=args.freeze_blocks,
        size=args.size,
        seed=args.seed,
        patience=args.patience,
        target_sensitivity=args.target_sensitivity,
        limit=args.limit,
        model_id=args.id,
        model_name=args.name,
        version=args.version,
        resume=args.resume,
        card_extra=extra,
        depths=args.depths,
        augment=_augment_config(args),
        reader=file_analysis_input,  # DICOM through the core: the pixels the viewer analyses
        command=shlex.join(["radlens", *sys.argv[1:]]) if sys.argv[1:2] == ["train"] else "",
    )
    try:
        train(config, log=lambda line: print(line, flush=True))
    except InferenceError as exc:
        print(f"radlens train: {exc}", file=sys.stderr)
        return 2
    return 0


def _augment_config(args: argparse.Namespace):
    """The default augmentation with the probabilities given on the command line."""
    from inference.augmentation import AugmentConfig

    chosen = {"heavy_blur_p": args.heavy_blur, "patch_blur_p": args.patch_blur}
    return AugmentConfig(**{name: value for name, value in chosen.items() if value is not None})


def _depths(text: str) -> tuple[int, ...]:
    try:
        depths = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: blocks per stage, e.g. 1,1,2,2") from None
    if not depths or min(depths) < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: every stage needs at least one block")
    return depths
