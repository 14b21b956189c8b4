"""The model card: a JSON file next to the weights that says what the model is and how to feed it.

The card is the model's contract (MONAI model-zoo `metadata.json` style): architecture, input
spec, labels with their operating thresholds, intended use, metrics with the data they were
measured on, training data/licence/citation, the exact training command, and the weights' sha256.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from inference.errors import ModelError
from inference.files import atomic_write_bytes
from inference.preprocessing import InputSpec

CARD_FILENAME = "card.json"
SCHEMA_VERSION = 1


@dataclass
class ModelCard:
    """A parsed card; `raw` keeps every field (metrics, training details) for display and export."""

    id: str
    name: str
    version: str
    task: str
    labels: list[str]
    architecture: str
    architecture_args: dict[str, Any]
    weights_file: str
    weights_format: str
    weights_sha256: str  # of the file; for an ensemble, of its members' hashes (see member_digest)
    input: InputSpec
    thresholds: dict[str, float]
    temperature: float = 1.0
    bias: float = 0.0
    intended_use: dict[str, Any] = field(default_factory=dict)
    gradcam_layer: str = ""
    raw: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None
    members: list[tuple[str, str]] = field(default_factory=list)  # (file, sha256) per network

    @property
    def folder(self) -> Path:
        if self.path is None:
            raise ModelError(f"model card {self.id!r} has no location on disk")
        return self.path.parent

    @property
    def weights_path(self) -> Path:
        return self.folder / self.weights_file

    @property
    def member_files(self) -> list[tuple[Path, str]]:
        """(path, sha256) of every weights file: one, or an ensemble's members."""
        return [(self.folder / name, sha) for name, sha in self.members]

    def calibrate(self, logits: np.ndarray) -> np.ndarray:
        """Calibrated probabilities: sigmoid(logit / temperature + bias) (Platt scaling on val)."""
        scaled = np.asarray(logits, dtype=np.float64) / self.temperature + self.bias
        return 1.0 / (1.0 + np.exp(-scaled))

    @classmethod
    def from_dict(cls, data: dict[str, Any], path: Path | None = None) -> ModelCard:
        where = str(path) if path else "model card"
        try:
            members = _weights_members(data["weights"])
            return cls(
                id=str(data["id"]),
                name=str(data["name"]),
                version=str(data["version"]),
                task=str(data.get("task", "")),
                labels=[str(label) for label in data["labels"]],
                architecture=str(data["architecture"]["name"]),
                architecture_args=dict(data["architecture"].get("arguments", {})),
                weights_file=members[0][0],
                weights_format=str(data["weights"]["format"]),
                weights_sha256=members[0][1] if len(members) == 1 else member_digest(members),
                members=members,
                input=InputSpec.from_dict(data["input"]),
                thresholds={k: float(v["value"]) for k, v in data["thresholds"].items()},
                temperature=float(data.get("output", {}).get("temperature", 1.0)),
                bias=float(data.get("output", {}).get("bias", 0.0)),
                intended_use=dict(data.get("intended_use", {})),
                gradcam_layer=str(data.get("gradcam_layer", "")),
                raw=data,
                path=path,
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelError(f"{where}: invalid model card ({type(exc).__name__}: {exc})") from exc

    @classmethod
    def read(cls, path: str | Path) -> ModelCard:
        path = Path(path)
        if path.is_dir():
            path = path / CARD_FILENAME
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ModelError(f"{path}: cannot read model card ({exc.strerror or exc})") from exc
        except json.JSONDecodeError as exc:
            raise ModelError(f"{path}: model card is not valid JSON ({exc.msg})") from exc
        return cls.from_dict(data, path.resolve())

    def summary(self) -> dict[str, Any]:
        """What a report or an About box shows: name, version, data, validation metrics."""
        training = self.raw.get("training", {})
        validation = self.raw.get("metrics", {}).get("validation", {})
        return {
            "id": self.id,
            "name": self.name,
            "version": self.version,
            "task": self.task,
            "labels": list(self.labels),
            "thresholds": dict(self.thresholds),
            "sha256": self.weights_sha256,
            "intended_use": self.intended_use.get("statement", ""),
            "training_data": training.get("data_description") or training.get("data", ""),
            "license": training.get("license", ""),
            "citation": training.get("citation", ""),
            "validation_metrics": {k: v for k, v in validation.items() if _is_figure(v)},
            "validation_data": validation.get("data", {}).get("description", "")
            if isinstance(validation.get("data"), dict)
            else validation.get("data", ""),
        }


def _is_figure(value: Any) -> bool:
    """A number, or a list of numbers (a confidence interval): what a metrics table shows."""
    if isinstance(value, list):
        return bool(value) and all(_is_figure(v) for v in value)
    return isinstance(value, int | float) and not isinstance(value, bool)


def _weights_members(weights: dict[str, Any]) -> list[tuple[str, str]]:
    """`{"file", "sha256"}` for one network, or `{"members": [{"file", "sha256"}, ...]}`."""
    entries = weights.get("members", [weights])
    if not entries:
        raise ValueError("an ensemble needs at least one member")
    return [(str(entry["file"]), str(entry["sha256"]).lower()) for entry in entries]


def member_digest(members: list[tuple[str, str]]) -> str:
    """One hash for an ensemble: sha256 of its members' sha256s joined with newlines."""
    import hashlib

    return hashlib.sha256("\n".join(sha for _, sha in members).encode()).hexdigest()


def write_card(data: dict[str, Any], folder: str | Path) -> Path:
    """Write `card.json` atomically (`inference.files`: whole file or none)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / CARD_FILENAME
    payload = json.dumps({"schema_version": SCHEMA_VERSION, **data}, indent=2) + "\n"
    atomic_write_bytes(target, payload.encode("utf-8"))
    return target


def deep_merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """`extra` over `base`, recursing into nested dicts (release metadata over a trained card)."""
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def read_json(path: str | Path) -> dict[str, Any]:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ModelError(f"{path}: cannot read JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise ModelError(f"{path}: expected a JSON object")
    return data
