"""`radlens train`: fit a binary classifier on a folder-per-label dataset and write weights + card.

Data: `DATA/train/<LABEL>/*` and `DATA/val/<LABEL>/*` (PNG/JPEG/DICOM), two labels, one of them
"normal"-like (negative). The whole split is preprocessed once with the card's transforms and kept
in RAM; augmentation runs batched in torch. Each epoch ends with a checkpoint (resumable) and, when
validation AUC improves, the best model is written as safetensors + card (calibrated on val).
"""

from __future__ import annotations

import io
import math
import platform
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from inference.augmentation import AugmentConfig, augment, degrade, random_affine, random_intensity
from inference.engine import select_device
from inference.errors import InferenceError
from inference.files import atomic_write_bytes
from inference.image_io import ImageReader, is_image_file, read_image
from inference.loading import _network_from, load_model, save_safetensors, verify_weights
from inference.metrics import (
    bootstrap_auc_ci,
    expected_calibration_error,
    fit_temperature,
    operating_point,
    roc_auc,
    sigmoid,
    threshold_for_sensitivity,
)
from inference.model_card import ModelCard, deep_merge, write_card
from inference.networks import (
    DEFAULT_ARCHITECTURE,
    architecture_name,
    build_network,
    count_parameters,
    deepened,
    freeze_blocks,
)
from inference.preprocessing import InputSpec, normalise, prepare

NEGATIVE_NAMES = {"normal", "negative", "no_finding", "nofinding", "healthy"}
CHECKPOINT_NAME = "checkpoint.pt"
WEIGHTS_NAME = "model.safetensors"


@dataclass
class TrainConfig:
    data: Path
    out: Path
    val_data: Path | None = None
    epochs: int = 20
    batch_size: int = 32
    lr: float = 2e-3
    weight_decay: float = 0.05
    label_smoothing: float = 0.05
    dropout: float = 0.3
    size: int = 224
    widths: tuple[int, ...] = (32, 64, 128, 256)
    stem_width: int = 24
    depths: tuple[int, ...] | None = None  # blocks per stage (None: one); deepens an `init` model
    seed: int = 0
    patience: int = 8
    device: str = "auto"
    init: str | None = None
    init_member: int | None = None  # fine-tune this network of an ensemble `init`
    freeze_blocks: int = 0
    # > 0: each step takes batch_size / 2 images in two views (shared geometry; one clean, one
    # with acquisition degradations) and adds consistency * mean((logit_a - logit_b)^2)
    consistency: float = 0.0
    selection: str = "best"  # "best" (val AUC, loss tie-break) or "last" (fixed schedule)
    target_sensitivity: float = 0.95
    resume: bool = False
    limit: int = 0  # use at most this many images per split (quick runs and tests)
    epoch_images: int = 0  # > 0: an epoch is this many random train images (short epochs)
    model_id: str = ""
    model_name: str = ""
    version: str = "1.0.0"
    command: str = ""
    card_extra: dict = field(default_factory=dict)  # release metadata merged into the card
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    reader: ImageReader = read_image  # path → AnalysisInput; radlens train passes the core's


@dataclass
class LabelledSet:
    paths: list[Path]
    labels: np.ndarray  # 1 = positive
    positive_label: str
    negative_label: str


def find_labelled_images(folder: Path, limit: int = 0, seed: int = 0) -> LabelledSet:
    """Two label folders, one of them normal-like; `limit` keeps a stratified random subset."""
    folders = sorted(p for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []
    if len(folders) != 2:
        raise InferenceError(f"{folder}: expected exactly two label folders, found {len(folders)}")
    negatives = [p for p in folders if p.name.lower() in NEGATIVE_NAMES]
    if len(negatives) != 1:
        raise InferenceError(
            f"{folder}: one label folder must be named NORMAL (the negative class)"
        )
    positive = next(p for p in folders if p is not negatives[0])
    paths, labels = [], []
    for label, sub in ((0, negatives[0]), (1, positive)):
        files = sorted(p for p in sub.rglob("*") if is_image_file(p))
        if limit:
            rng = np.random.default_rng(seed)
            share = max(1, round(limit * len(files) / _count_images(folders)))
            picked = rng.choice(len(files), min(share, len(files)), replace=False)
            files = sorted(files[i] for i in picked)
        paths += files
        labels += [label] * len(files)
    return LabelledSet(
        paths, np.array(labels, dtype=np.int64), positive.name.lower(), negatives[0].name
    )


def _count_images(folders: list[Path]) -> int:
    return sum(1 for f in folders for p in f.rglob("*") if is_image_file(p))


def preload(
    paths: list[Path], spec: InputSpec, dtype: torch.dtype, read: ImageReader = read_image
) -> torch.Tensor:
    """Every image through the card's transforms, stacked N×1×S×S (uint8 saves RAM)."""
    images = torch.empty((len(paths), 1, spec.size, spec.size), dtype=dtype)
    for i, path in enumerate(paths):
        loaded = read(path)
        unit = prepare(loaded.pixels, spec, loaded.photometric, loaded.window).image
        tensor = torch.from_numpy(unit)
        images[i, 0] = (tensor * 255).round() if dtype == torch.uint8 else tensor
    return images


def to_unit(batch: torch.Tensor) -> torch.Tensor:
    return batch.float() / 255.0 if batch.dtype == torch.uint8 else batch.float()


@torch.no_grad()
def predict_logits(
    model, images: torch.Tensor, spec: InputSpec, device, batch_size=64
) -> np.ndarray:
    model.eval()
    logits = []
    for start in range(0, len(images), batch_size):
        batch = normalise(to_unit(images[start : start + batch_size]).to(device), spec)
        logits.append(model(batch).float().cpu()[:, 0])
    return torch.cat(logits).numpy() if logits else np.zeros(0, dtype=np.float32)


def smoothed(targets: torch.Tensor, amount: float) -> torch.Tensor:
    return targets * (1.0 - amount) + 0.5 * amount


class Trainer:
    """One training run; `run()` returns the folder holding the best weights and card."""

    def __init__(self, config: TrainConfig, log: Callable[[str], None] = print):
        self.config = config
        self.log = log
        self.spec = InputSpec(size=config.size)
        self.device = select_device(config.device)
        torch.manual_seed(config.seed)
        self.generator = torch.Generator().manual_seed(config.seed)
        self.model = self._build_model()
        self.history: list[dict] = []
        self.best = {"auc": -1.0, "val_loss": math.inf, "epoch": 0}
        self.start_epoch = 1
        self.elapsed = 0.0

    def _build_model(self):
        config = self.config
        if config.init:
            card = (
                ModelCard.read(config.init)
                if Path(config.init).exists()
                else _named_card(config.init)
            )
            if len(card.members) > 1 and config.init_member is None:
                raise InferenceError(
                    f"{card.id}: is an ensemble; fine-tune one of its networks instead"
                )
            self.spec = card.input
            self.arch_args = dict(card.architecture_args)
            if config.init_member is None:
                model = load_model(card, "cpu")
            else:
                model = _network_from(card, verify_weights(card)[config.init_member])
            if config.depths and list(config.depths) != self.arch_args.get("depths"):
                self.arch_args["depths"] = list(config.depths)
                try:
                    model = deepened(model, self.arch_args)
                except (TypeError, ValueError) as exc:
                    raise InferenceError(
                        f"{card.id}: --depths {list(config.depths)}: {exc}"
                    ) from None
        else:
            self.arch_args = {
                "in_channels": 1,
                "num_classes": 1,
                "widths": list(config.widths),
                "stem_width": config.stem_width,
                "dropout": config.dropout,
            }
            if config.depths:
                self.arch_args["depths"] = list(config.depths)
            model = build_network(DEFAULT_ARCHITECTURE, self.arch_args)
        return model.to(self.device)

    def load_data(self) -> None:
        config = self.config
        train_dir, val_dir = _split_folders(config)
        started = time.perf_counter()
        self.train_set = find_labelled_images(train_dir, config.limit, config.seed)
        self.val_set = find_labelled_images(val_dir, config.limit, config.seed)
        self.train_images = preload(self.train_set.paths, self.spec, torch.uint8, config.reader)
        self.val_images = preload(self.val_set.paths, self.spec, torch.float32, config.reader)
        self.train_labels = torch.from_numpy(self.train_set.labels).float()
        self.log(
            f"loaded {len(self.train_set.paths)} train / {len(self.val_set.paths)} val images "
            f"({self.train_set.positive_label} vs {self.train_set.negative_label}) "
            f"in {time.perf_counter() - started:.0f} s; {count_parameters(self.model):,} parameters "
            f"on {self.device}"
        )

    def dataset_loss(self, images: torch.Tensor, labels: np.ndarray) -> float:
        """Unweighted BCE of the current model on preloaded images (no augmentation)."""
        logits = predict_logits(self.model, images, self.spec, self.device)
        return float(np.mean(np.logaddexp(0.0, logits) - labels * logits))

    def _optimiser(self, steps_per_epoch: int):
        parameters = [p for p in self.model.parameters() if p.requires_grad]
        optimiser = torch.optim.AdamW(
            parameters, lr=self.config.lr, weight_decay=self.config.weight_decay
        )
        total = max(1, self.config.epochs * steps_per_epoch)
        warmup = min(steps_per_epoch, total // 10)

        def factor(step: int) -> float:
            if step < warmup:
                return (step + 1) / warmup
            return 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, total - warmup)))

        return optimiser, torch.optim.lr_scheduler.LambdaLR(optimiser, factor)

    def run(self) -> Path:
        config = self.config
        config.out.mkdir(parents=True, exist_ok=True)
        if not hasattr(self, "train_images"):
            self.load_data()
        steps = math.ceil(self._epoch_size() / self._step_images())
        self.optimiser, self.scheduler = self._optimiser(steps)
        positives = float(self.train_labels.sum())
        self.pos_weight = torch.tensor([(len(self.train_labels) - positives) / max(positives, 1.0)])
        if config.resume:
            self._resume()
        stale = 0
        for epoch in range(self.start_epoch, config.epochs + 1):
            started = time.perf_counter()
            train_loss = self._train_epoch()
            stats = self._validate(epoch, train_loss)
            self.elapsed += time.perf_counter() - started
            improved = self._is_better(stats)
            if improved:
                self.best = {"auc": stats["val_auc"], "val_loss": stats["val_loss"], "epoch": epoch}
                self._write_model(stats)
            stale = 0 if improved else stale + 1
            self._checkpoint(epoch)
            self._log_epoch(stats, time.perf_counter() - started, improved)
            if stale >= config.patience:
                self.log(f"early stop: val AUC has not improved for {stale} epochs")
                break
        self.log(f"best epoch {self.best['epoch']} (val AUC {self.best['auc']:.4f}) → {config.out}")
        return config.out

    def _train_epoch(self) -> float:
        self.model.train()
        if self.config.freeze_blocks:
            freeze_blocks(self.model, self.config.freeze_blocks)
        order = torch.randperm(len(self.train_images), generator=self.generator)
        order = order[: self._epoch_size()]
        total, count = 0.0, 0
        step = self._step_images()
        for start in range(0, len(order), step):
            index = order[start : start + step]
            if len(index) < 2:
                continue  # BatchNorm needs two samples
            loss = self._batch_loss(index)
            self.optimiser.zero_grad(set_to_none=True)
            loss.backward()
            self.optimiser.step()
            self.scheduler.step()
            total += loss.item() * len(index)
            count += len(index)
            if count % (step * 20) == 0:
                self.log(f"  {count}/{len(order)} images, loss {total / count:.4f}")
        return total / max(count, 1)

    def _epoch_size(self) -> int:
        size = len(self.train_images)
        return min(size, self.config.epoch_images) if self.config.epoch_images else size

    def _step_images(self) -> int:
        """Images per step: half the batch when each image comes in two views."""
        return (
            self.config.batch_size // 2 if self.config.consistency > 0 else self.config.batch_size
        )

    def _batch_loss(self, index: torch.Tensor) -> torch.Tensor:
        config = self.config
        images = to_unit(self.train_images[index])
        labels = self.train_labels[index]
        if config.consistency > 0:
            shared = random_affine(images, config.augment, self.generator)
            clean = random_intensity(shared, config.augment, self.generator)
            degraded, heavy = degrade(shared, config.augment, self.generator, with_heavy=True)
            degraded = random_intensity(degraded, config.augment, self.generator)
            images, labels = torch.cat([clean, degraded]), torch.cat([labels, labels])
        else:
            images = augment(images, config.augment, self.generator)
        targets = smoothed(labels, config.label_smoothing)
        logits = self.model(normalise(images, self.spec).to(self.device))[:, 0]
        loss = F.binary_cross_entropy_with_logits(
            logits, targets.to(self.device), pos_weight=self.pos_weight.to(self.device)
        )
        if config.consistency > 0:
            # images blurred beyond recognition are meant to lose their evidence: no consistency
            clean_logits, degraded_logits = logits.chunk(2)
            kept = (~heavy).to(logits.device).float()
            gap = (clean_logits - degraded_logits).pow(2) * kept
            loss = loss + config.consistency * gap.sum() / kept.sum().clamp_min(1.0)
        return loss

    def _validate(self, epoch: int, train_loss: float) -> dict:
        logits = predict_logits(self.model, self.val_images, self.spec, self.device)
        labels = self.val_set.labels
        val_loss = (
            float(np.mean(np.logaddexp(0.0, logits) - labels * logits)) if len(logits) else 0.0
        )
        stats = {
            "epoch": epoch,
            "train_loss": round(train_loss, 5),
            "val_loss": round(val_loss, 5),
            "val_auc": round(roc_auc(labels, logits), 5),
            "lr": self.scheduler.get_last_lr()[0],
        }
        self.history.append(stats)
        self._val_logits = logits
        return stats

    def _is_better(self, stats: dict) -> bool:
        if self.config.selection == "last":
            return True  # fixed schedule: every epoch replaces the model, the last one ships
        auc, best = stats["val_auc"], self.best["auc"]
        if not np.isfinite(auc):
            return stats["val_loss"] < self.best["val_loss"]
        # AUC saturates on val: within 0.001, the lower validation loss wins.
        return auc > best + 1e-3 or (
            auc >= best - 1e-3 and stats["val_loss"] < self.best["val_loss"]
        )

    def _log_epoch(self, stats: dict, seconds: float, improved: bool) -> None:
        mark = "  *best" if improved else ""
        self.log(
            f"epoch {stats['epoch']}/{self.config.epochs}  train loss {stats['train_loss']:.4f}  "
            f"val loss {stats['val_loss']:.4f}  val AUC {stats['val_auc']:.4f}  "
            f"lr {stats['lr']:.2e}  {seconds:.0f} s{mark}"
        )

    def _checkpoint(self, epoch: int) -> None:
        state = {
            "epoch": epoch,
            "model": self.model.state_dict(),
            "optimiser": self.optimiser.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "generator": self.generator.get_state(),
            "torch_rng": torch.get_rng_state(),
            "best_auc": self.best["auc"],
            "best_val_loss": self.best["val_loss"],
            "best_epoch": self.best["epoch"],
            "elapsed": self.elapsed,
            "history": [list(h.items()) for h in self.history],
        }
        buffer = io.BytesIO()
        torch.save(state, buffer)
        atomic_write_bytes(self.config.out / CHECKPOINT_NAME, buffer.getvalue())

    def _resume(self) -> None:
        path = self.config.out / CHECKPOINT_NAME
        if not path.is_file():
            self.log(f"no checkpoint at {path}; starting from epoch 1")
            return
        state = torch.load(path, map_location="cpu", weights_only=True)
        self.model.load_state_dict(state["model"])
        self.optimiser.load_state_dict(state["optimiser"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.generator.set_state(state["generator"])
        torch.set_rng_state(state["torch_rng"])
        self.best = {
            "auc": float(state["best_auc"]),
            "val_loss": float(state["best_val_loss"]),
            "epoch": int(state["best_epoch"]),
        }
        self.elapsed = float(state["elapsed"])
        self.history = [dict(items) for items in state["history"]]
        self.start_epoch = int(state["epoch"]) + 1
        self.log(f"resumed after epoch {state['epoch']} (best val AUC {self.best['auc']:.4f})")

    def _write_model(self, stats: dict) -> None:
        out = self.config.out
        sha256 = save_safetensors(self.model, out / WEIGHTS_NAME)
        card = deep_merge(self._card(sha256, stats, self._val_logits), self.config.card_extra)
        write_card(card, out)

    def _card(self, sha256: str, stats: dict, logits: np.ndarray) -> dict:
        config = self.config
        labels = self.val_set.labels
        validation = calibrate_and_measure(labels, logits, config.target_sensitivity)
        positive = self.train_set.positive_label
        return {
            "id": config.model_id or config.out.name,
            "name": config.model_name or f"{positive} classifier ({config.out.name})",
            "version": config.version,
            "task": f"binary classification: {positive} vs {self.train_set.negative_label.lower()}",
            "labels": [positive],
            "architecture": {"name": architecture_name(self.model), "arguments": self.arch_args},
            "gradcam_layer": "blocks[-1] (last residual block)",
            "weights": {"file": WEIGHTS_NAME, "format": "safetensors", "sha256": sha256},
            "input": {
                **self.spec.to_dict(),
                "pipeline": ["to_grey", "window", "invert_monochrome1", "resize", "normalise"],
            },
            "output": {
                "activation": "sigmoid",
                "temperature": validation.pop("temperature"),
                "calibration": "temperature scaling fitted on the validation split (NLL)",
            },
            "thresholds": {
                positive: {
                    "value": validation["threshold"],
                    "method": f"highest threshold with sensitivity >= {config.target_sensitivity} "
                    "on the validation split (after calibration)",
                }
            },
            "metrics": {
                "validation": {
                    **validation,
                    "data": {
                        "folder": str(_split_folders(config)[1]),
                        "images": int(len(labels)),
                        "positives": int(labels.sum()),
                    },
                    "epoch": stats["epoch"],
                }
            },
            "training": {
                "command": config.command,
                "data": str(_split_folders(config)[0]),
                "images": len(self.train_set.paths),
                "seed": config.seed,
                "epochs_run": stats["epoch"],
                "best_epoch": stats["epoch"],
                "time_s": round(self.elapsed, 1),
                "hardware": hardware_description(self.device),
                "recipe": training_recipe(config, self.pos_weight),
                "history": self.history,
            },
        }


def calibrate_and_measure(
    labels: np.ndarray, logits: np.ndarray, target_sensitivity: float
) -> dict:
    """Temperature on val, threshold for the target sensitivity, AUC (CI), operating point, ECE."""
    temperature = fit_temperature(labels, logits)
    probabilities = sigmoid(logits / temperature)
    threshold = threshold_for_sensitivity(labels, probabilities, target_sensitivity)
    low, high = bootstrap_auc_ci(labels, probabilities, rounds=500)
    point = operating_point(labels, probabilities, threshold)
    return {
        "temperature": round(temperature, 4),
        "threshold": float(threshold),
        "auc": round(roc_auc(labels, probabilities), 5),
        "auc_ci95": [round(low, 5), round(high, 5)],
        "ece": round(expected_calibration_error(labels, probabilities), 5),
        **{
            k: (round(v, 5) if isinstance(v, float) else v)
            for k, v in point.as_dict().items()
            if k != "threshold"
        },
    }


def hardware_description(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"{cpu_model()} CPU, {torch.get_num_threads()} threads"


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as stream:
            for line in stream:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def training_recipe(config: TrainConfig, pos_weight: torch.Tensor) -> dict:
    return {
        "optimiser": f"AdamW lr {config.lr} weight decay {config.weight_decay}",
        "schedule": "linear warm-up over min(1 epoch, 10 % of the steps), cosine to 0 at the last planned epoch",
        "batch_size": config.batch_size,
        "loss": f"BCE with logits, pos_weight {float(pos_weight[0]):.3f} (class balance), "
        f"label smoothing {config.label_smoothing}",
        "dropout": config.dropout,
        "early_stopping": (
            "none: fixed schedule, the last epoch is the model"
            if config.selection == "last"
            else f"best val AUC (ties within 0.001 → lower val loss), patience {config.patience}"
        ),
        "consistency": config.consistency,
        "augmentation": config.augment.as_dict(),
        "init": (
            f"{config.init} member {config.init_member}"
            if config.init_member is not None
            else config.init or "random (Kaiming, torch defaults)"
        ),
        "freeze_blocks": config.freeze_blocks,
        "planned_epochs": config.epochs,
        "epoch_images": config.epoch_images or "all",
    }


def _split_folders(config: TrainConfig) -> tuple[Path, Path]:
    if config.val_data is not None:
        return config.data, config.val_data
    train, val = config.data / "train", config.data / "val"
    if not (train.is_dir() and val.is_dir()):
        raise InferenceError(f"{config.data}: expected train/ and val/ folders (or pass --val DIR)")
    return train, val


def _named_card(name: str) -> ModelCard:
    from inference.registry import find_model

    return find_model(name)


def train(config: TrainConfig, log: Callable[[str], None] = print) -> Path:
    torch.set_num_threads(max(1, min(torch.get_num_threads(), 8)))
    return Trainer(config, log).run()


__all__ = ["TrainConfig", "Trainer", "train", "find_labelled_images", "asdict"]
