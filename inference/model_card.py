"""The model card: a JSON file next to the weights that says what the model is and how to feed it.

One typed schema (MONAI model-zoo `metadata.json` style), validated on load: architecture, input
spec, labels with their calibration and operating thresholds, the intended use (machine-readable:
modality, body part, view, age range, image size), metrics with the data they were measured on,
training data/licence/citation/commands, and the weights' sha256. `ModelCard.read` turns a bad
card into one `ModelError` line naming the file and the field; `write_card` is the one writer
(training, `models --combine`, `evaluate --calibrate`). Schema 1 cards (scalar calibration under
`output`, unread `gradcam_layer`/`pipeline` fields) are migrated on load.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import numpy as np

from inference.errors import ModelError
from inference.files import atomic_write_bytes
from inference.preprocessing import InputSpec

CARD_FILENAME = "card.json"
SCHEMA_VERSION = 2
WEIGHT_FORMATS = ("safetensors", "state_dict", "torchscript")
# Read by nobody in schema 1 (the network names its Grad-CAM layer; the pipeline is the code's).
DROPPED_V1_FIELDS = ("gradcam_layer",)
DROPPED_V1_INPUT_FIELDS = ("pipeline", "value_range")


class CardFieldError(ValueError):
    """A field of a card is missing or has the wrong type/value; `field` is its dotted path."""

    def __init__(self, field_path: str, reason: str):
        super().__init__(f"field {field_path!r}: {reason}")
        self.field = field_path


# --- the schema ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class AgeRange:
    """Patient ages in years the model is meant for: `min` ≤ age < `below` (1 and 6: aged 1–5)."""

    min: float = 0.0
    below: float = float("inf")

    def contains(self, years: float) -> bool:
        return self.min <= years < self.below

    def describe(self) -> str:
        if self.below == float("inf"):
            return f"{self.min:g} years and older"
        if float(self.min).is_integer() and float(self.below).is_integer():
            return f"aged {self.min:g}–{self.below - 1:g} years"
        return f"aged {self.min:g} to under {self.below:g} years"


@dataclass(frozen=True)
class ImageLimits:
    """Image-size sanity: the shorter side at least `min_side_px`, long/short side ≤ `max_aspect`."""

    min_side_px: int = 0
    max_aspect: float = float("inf")


@dataclass(frozen=True)
class IntendedUse:
    """What the model is for. Empty lists mean "not restricted"; `age_years` None: any age."""

    statement: str = ""
    population: str = ""
    modality: tuple[str, ...] = ()
    body_part: tuple[str, ...] = ()
    view: tuple[str, ...] = ()
    age_years: AgeRange | None = None
    image: ImageLimits = field(default_factory=ImageLimits)


@dataclass(frozen=True)
class Calibration:
    """p = sigmoid(logit / temperature + bias); `method` says how and on which data it was fitted."""

    temperature: float = 1.0
    bias: float = 0.0
    method: str = "none (uncalibrated)"


@dataclass(frozen=True)
class Threshold:
    value: float
    method: str = ""
    why: str = ""


@dataclass(frozen=True)
class WeightsFile:
    file: str
    sha256: str
    source: str = ""  # for an ensemble member: the id of the model it came from ("from")


@dataclass(frozen=True)
class Weights:
    format: str
    members: tuple[WeightsFile, ...]  # one network, or an ensemble's members
    combination: str = ""  # how an ensemble combines its members ("mean of logits")


@dataclass(frozen=True)
class Architecture:
    name: str
    arguments: dict[str, Any] = field(default_factory=dict)


@dataclass
class ModelCard:
    """A validated card. `metrics` and `training` are free-form records (shown, not interpreted);
    `extra` keeps any other top-level field (e.g. `ensemble_why`) so nothing is lost on rewrite."""

    id: str
    name: str
    version: str
    labels: list[str]
    architecture_spec: Architecture
    weights: Weights
    input: InputSpec
    thresholds_spec: dict[str, Threshold]
    calibration: dict[str, Calibration]  # per label
    task: str = ""
    activation: str = "sigmoid"
    intended_use: IntendedUse = field(default_factory=IntendedUse)
    metrics: dict[str, Any] = field(default_factory=dict)
    training: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None

    # --- what the engine and the loader read ---------------------------------------------------

    @property
    def architecture(self) -> str:
        return self.architecture_spec.name

    @property
    def architecture_args(self) -> dict[str, Any]:
        return dict(self.architecture_spec.arguments)

    @property
    def weights_format(self) -> str:
        return self.weights.format

    @property
    def weights_file(self) -> str:
        return self.weights.members[0].file

    @property
    def members(self) -> list[tuple[str, str]]:
        """(file, sha256) per network."""
        return [(m.file, m.sha256) for m in self.weights.members]

    @property
    def weights_sha256(self) -> str:
        """Of the file; for an ensemble, of its members' hashes (see `member_digest`)."""
        members = self.members
        return members[0][1] if len(members) == 1 else member_digest(members)

    @property
    def thresholds(self) -> dict[str, float]:
        return {label: t.value for label, t in self.thresholds_spec.items()}

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
        """Calibrated probabilities, per label: sigmoid(logit / temperature + bias); `logits`
        is (labels,) or (N, labels) (or (N,) for a one-label model)."""
        values = np.asarray(logits, dtype=np.float64)
        temperature = np.array([self.calibration[label].temperature for label in self.labels])
        bias = np.array([self.calibration[label].bias for label in self.labels])
        if len(self.labels) == 1:  # (N,) logits of the one label, or (labels,) or (N, labels)
            temperature, bias = temperature[0], bias[0]
        return 1.0 / (1.0 + np.exp(-(values / temperature + bias)))

    def with_calibration(
        self, label: str, calibration: Calibration, threshold: Threshold
    ) -> ModelCard:
        """A copy with one label's calibration and threshold replaced."""
        return replace(
            self,
            calibration={**self.calibration, label: calibration},
            thresholds_spec={**self.thresholds_spec, label: threshold},
        )

    # --- reading and writing -------------------------------------------------------------------

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], path: Path | None = None) -> ModelCard:
        where = str(path) if path else "model card"
        try:
            return _parse(migrate(data), path)
        except CardFieldError as exc:
            raise ModelError(f"{where}: invalid model card: {exc}") from exc

    @classmethod
    def read(cls, path: str | Path) -> ModelCard:
        path = Path(path)
        if path.is_dir():
            path = path / CARD_FILENAME
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ModelError(f"{path}: cannot read model card ({exc.strerror or exc})") from exc
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ModelError(f"{path}: model card is not valid JSON ({exc})") from exc
        if not isinstance(data, dict):
            raise ModelError(f"{path}: invalid model card: expected a JSON object")
        return cls.from_dict(data, path.resolve())

    def to_dict(self) -> dict[str, Any]:
        """The card as schema-2 JSON data (what `write_card` writes)."""
        return {
            "schema_version": SCHEMA_VERSION,
            "id": self.id,
            "name": self.name,
            "version": self.version,
            "task": self.task,
            "labels": list(self.labels),
            "architecture": {
                "name": self.architecture_spec.name,
                "arguments": dict(self.architecture_spec.arguments),
            },
            "weights": _weights_dict(self.weights),
            "input": _input_dict(self.input),
            "output": {
                "activation": self.activation,
                "calibration": {label: _plain(self.calibration[label]) for label in self.labels},
            },
            "thresholds": {label: _plain(self.thresholds_spec[label]) for label in self.labels},
            "intended_use": _intended_use_dict(self.intended_use),
            "metrics": self.metrics,
            "training": self.training,
            **self.extra,
        }

    @property
    def raw(self) -> dict[str, Any]:
        """The card as JSON data (read-only view; write through `write_card`)."""
        return self.to_dict()

    def summary(self) -> dict[str, Any]:
        """What a report or an About box shows: name, version, data, validation metrics, and
        the held-out test figures (`metrics.held_out_test`) with where they come from (its
        short `source`, else its `data`)."""
        training = self.training
        validation = self._metrics_block("validation")
        data = validation.get("data", "")
        held_out = self._metrics_block("held_out_test")
        return {
            "id": self.id,
            "name": self.name,
            "version": self.version,
            "task": self.task,
            "labels": list(self.labels),
            "thresholds": dict(self.thresholds),
            "sha256": self.weights_sha256,
            "intended_use": self.intended_use.statement,
            "training_data": training.get("data_description") or training.get("data", ""),
            "license": training.get("license", ""),
            "citation": training.get("citation", ""),
            "validation_metrics": {k: v for k, v in validation.items() if _is_figure(v)},
            "validation_data": data.get("description", "") if isinstance(data, dict) else data,
            "held_out_metrics": {k: v for k, v in held_out.items() if _is_figure(v)},
            "held_out_data": str(held_out.get("source") or held_out.get("data") or ""),
        }

    def _metrics_block(self, name: str) -> dict[str, Any]:
        block = self.metrics.get(name, {})
        return block if isinstance(block, dict) else {}


def write_card(card: ModelCard | Mapping[str, Any], folder: str | Path) -> Path:
    """The one writer: validate (a dict is parsed first), then write `card.json` atomically."""
    if not isinstance(card, ModelCard):
        card = ModelCard.from_dict(card)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / CARD_FILENAME
    payload = json.dumps(card.to_dict(), indent=2, ensure_ascii=False) + "\n"
    atomic_write_bytes(target, payload.encode("utf-8"))
    return target


# --- schema 1 → 2 -------------------------------------------------------------------------------


def migrate(data: Mapping[str, Any]) -> dict[str, Any]:
    """Schema 1 (or unversioned) data as schema 2: scalar `output.temperature/bias/calibration`
    become per-label calibration; unread fields are dropped. Schema 2 data is returned as is."""
    data = dict(data)
    version = data.get("schema_version", 1)
    if version == SCHEMA_VERSION:
        return data
    if version != 1:
        raise CardFieldError(
            "schema_version", f"{version!r} is not supported (this RadLens reads 1 and 2)"
        )
    for name in DROPPED_V1_FIELDS:
        data.pop(name, None)
    if isinstance(data.get("input"), dict):
        data["input"] = {k: v for k, v in data["input"].items() if k not in DROPPED_V1_INPUT_FIELDS}
    output = data.get("output", {})
    if isinstance(output, dict) and not isinstance(output.get("calibration"), dict):
        one = {
            "temperature": output.get("temperature", 1.0),
            "bias": output.get("bias", 0.0),
            "method": output.get("calibration", Calibration.method),
        }
        labels = data.get("labels", [])
        data["output"] = {
            "activation": output.get("activation", "sigmoid"),
            "calibration": {str(label): dict(one) for label in labels}
            if isinstance(labels, list)
            else {},
        }
    data["schema_version"] = SCHEMA_VERSION
    return data


# --- parsing with field paths -------------------------------------------------------------------

TOP_LEVEL = (
    "schema_version",
    "id",
    "name",
    "version",
    "task",
    "labels",
    "architecture",
    "weights",
    "input",
    "output",
    "thresholds",
    "intended_use",
    "metrics",
    "training",
)


def _parse(data: dict[str, Any], path: Path | None) -> ModelCard:
    labels = [_text(v, f"labels[{i}]") for i, v in enumerate(_list(data, "labels", "labels"))]
    if not labels or len(set(labels)) != len(labels):
        raise CardFieldError("labels", "expected a non-empty list of distinct label names")
    output = _dict(data, "output", "output", required=False)
    return ModelCard(
        id=_text(_req(data, "id", "id"), "id"),
        name=_text(_req(data, "name", "name"), "name"),
        version=_text(_req(data, "version", "version"), "version"),
        task=_text(data.get("task", ""), "task"),
        labels=labels,
        architecture_spec=_architecture(_dict(data, "architecture", "architecture")),
        weights=_weights(_dict(data, "weights", "weights")),
        input=_input(_dict(data, "input", "input")),
        activation=_activation(output),
        calibration=_calibrations(output, labels),
        thresholds_spec=_thresholds(_dict(data, "thresholds", "thresholds"), labels),
        intended_use=_intended_use(_dict(data, "intended_use", "intended_use", required=False)),
        metrics=_dict(data, "metrics", "metrics", required=False),
        training=_dict(data, "training", "training", required=False),
        extra={k: v for k, v in data.items() if k not in TOP_LEVEL},
        path=path,
    )


def _req(data: Mapping[str, Any], key: str, where: str) -> Any:
    if key not in data:
        raise CardFieldError(where, "missing")
    return data[key]


def _dict(data: Mapping[str, Any], key: str, where: str, required: bool = True) -> dict:
    value = _req(data, key, where) if required else data.get(key, {})
    if not isinstance(value, dict):
        raise CardFieldError(where, f"expected an object, got {type(value).__name__}")
    return value


def _list(data: Mapping[str, Any], key: str, where: str, required: bool = True) -> list:
    value = _req(data, key, where) if required else data.get(key, [])
    if not isinstance(value, list):
        raise CardFieldError(where, f"expected a list, got {type(value).__name__}")
    return value


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise CardFieldError(where, f"expected text, got {type(value).__name__}")
    return value


def _number(value: Any, where: str, positive: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not np.isfinite(value):
        raise CardFieldError(where, f"expected a finite number, got {value!r}")
    if positive and value <= 0:
        raise CardFieldError(where, f"must be > 0, got {value!r}")
    return float(value)


def _only(data: Mapping[str, Any], allowed: Sequence[str], where: str) -> None:
    unknown = sorted(set(data) - set(allowed))
    if unknown:
        raise CardFieldError(
            f"{where}.{unknown[0]}", f"unknown field (allowed: {', '.join(allowed)})"
        )


def _architecture(data: dict) -> Architecture:
    _only(data, ("name", "arguments"), "architecture")
    return Architecture(
        name=_text(_req(data, "name", "architecture.name"), "architecture.name"),
        arguments=_dict(data, "arguments", "architecture.arguments", required=False),
    )


def _weights(data: dict) -> Weights:
    """`{"format", "file", "sha256"}` for one network, or `{"format", "members": [...]}`."""
    _only(data, ("format", "file", "sha256", "members", "combination"), "weights")
    weights_format = _text(_req(data, "format", "weights.format"), "weights.format")
    if weights_format not in WEIGHT_FORMATS:
        raise CardFieldError("weights.format", f"expected one of {', '.join(WEIGHT_FORMATS)}")
    if "members" in data:
        entries = [
            (m, f"weights.members[{i}]")
            for i, m in enumerate(_list(data, "members", "weights.members"))
        ]
    else:
        entries = [(data, "weights")]
    if not entries:
        raise CardFieldError("weights.members", "an ensemble needs at least one member")
    return Weights(
        format=weights_format,
        members=tuple(_weights_file(entry, where) for entry, where in entries),
        combination=_text(data.get("combination", ""), "weights.combination"),
    )


def _weights_file(entry: Any, where: str) -> WeightsFile:
    if not isinstance(entry, dict):
        raise CardFieldError(where, "expected an object")
    sha = _text(_req(entry, "sha256", f"{where}.sha256"), f"{where}.sha256").lower()
    if len(sha) != 64 or any(c not in "0123456789abcdef" for c in sha):
        raise CardFieldError(f"{where}.sha256", "expected 64 hex digits")
    return WeightsFile(
        file=_text(_req(entry, "file", f"{where}.file"), f"{where}.file"),
        sha256=sha,
        source=_text(entry.get("from", ""), f"{where}.from"),
    )


def _input(data: dict) -> InputSpec:
    allowed = [f.name for f in fields(InputSpec)]
    _only(data, allowed, "input")
    try:
        spec = InputSpec.from_dict(data)
    except (TypeError, ValueError) as exc:
        raise CardFieldError("input", str(exc)) from exc
    for name in ("size", "channels"):
        value = getattr(spec, name)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise CardFieldError(f"input.{name}", f"expected a positive integer, got {value!r}")
    if spec.channels != 1:
        raise CardFieldError("input.channels", "only 1 (grey) is supported by the preprocessing")
    _number(spec.std, "input.std", positive=True)
    return spec


def _activation(output: dict) -> str:
    _only(output, ("activation", "calibration"), "output")
    activation = _text(output.get("activation", "sigmoid"), "output.activation")
    if activation != "sigmoid":
        raise CardFieldError("output.activation", "only 'sigmoid' is supported")
    return activation


def _calibrations(output: dict, labels: list[str]) -> dict[str, Calibration]:
    data = _dict(output, "calibration", "output.calibration", required=False)
    result = {}
    for label in labels:
        where = f"output.calibration.{label}"
        entry = data.get(label, {})
        if not isinstance(entry, dict):
            raise CardFieldError(where, "expected an object")
        _only(entry, ("temperature", "bias", "method"), where)
        result[label] = Calibration(
            temperature=_number(entry.get("temperature", 1.0), f"{where}.temperature", True),
            bias=_number(entry.get("bias", 0.0), f"{where}.bias"),
            method=_text(entry.get("method", Calibration.method), f"{where}.method"),
        )
    return result


def _thresholds(data: dict, labels: list[str]) -> dict[str, Threshold]:
    result = {}
    for label in labels:
        where = f"thresholds.{label}"
        entry = _dict(data, label, where)
        _only(entry, ("value", "method", "why"), where)
        value = _number(_req(entry, "value", f"{where}.value"), f"{where}.value")
        if not 0.0 <= value <= 1.0:
            raise CardFieldError(f"{where}.value", f"a probability must be in [0, 1], got {value}")
        result[label] = Threshold(
            value=value,
            method=_text(entry.get("method", ""), f"{where}.method"),
            why=_text(entry.get("why", ""), f"{where}.why"),
        )
    extra = sorted(set(data) - set(labels))
    if extra:
        raise CardFieldError(f"thresholds.{extra[0]}", "not one of the card's labels")
    return result


def _intended_use(data: dict) -> IntendedUse:
    allowed = ("statement", "population", "modality", "body_part", "view", "age_years", "image")
    _only(data, allowed, "intended_use")
    return IntendedUse(
        statement=_text(data.get("statement", ""), "intended_use.statement"),
        population=_text(data.get("population", ""), "intended_use.population"),
        modality=_codes(data, "modality"),
        body_part=_codes(data, "body_part"),
        view=_codes(data, "view"),
        age_years=_age_range(data.get("age_years")),
        image=_image_limits(_dict(data, "image", "intended_use.image", required=False)),
    )


def _codes(data: dict, key: str) -> tuple[str, ...]:
    values = _list(data, key, f"intended_use.{key}", required=False)
    return tuple(_text(v, f"intended_use.{key}[{i}]").upper() for i, v in enumerate(values))


def _age_range(data: Any) -> AgeRange | None:
    where = "intended_use.age_years"
    if data is None:
        return None
    if not isinstance(data, dict):
        raise CardFieldError(where, "expected an object {min, below}")
    _only(data, ("min", "below"), where)
    low = _number(data.get("min", 0.0), f"{where}.min")
    below = _number(data["below"], f"{where}.below") if "below" in data else float("inf")
    if below <= low:
        raise CardFieldError(where, f"'below' ({below:g}) must be greater than 'min' ({low:g})")
    return AgeRange(low, below)


def _image_limits(data: dict) -> ImageLimits:
    where = "intended_use.image"
    _only(data, ("min_side_px", "max_aspect"), where)
    min_side = data.get("min_side_px", 0)
    if isinstance(min_side, bool) or not isinstance(min_side, int) or min_side < 0:
        raise CardFieldError(
            f"{where}.min_side_px", f"expected a whole number ≥ 0, got {min_side!r}"
        )
    aspect = data.get("max_aspect")
    return ImageLimits(
        min_side_px=min_side,
        max_aspect=float("inf") if aspect is None else _number(aspect, f"{where}.max_aspect", True),
    )


# --- to JSON ------------------------------------------------------------------------------------


def _plain(item: Any) -> dict[str, Any]:
    return {f.name: getattr(item, f.name) for f in fields(item) if getattr(item, f.name) != ""}


def _weights_dict(weights: Weights) -> dict[str, Any]:
    def member(m: WeightsFile) -> dict[str, str]:
        return {"file": m.file, "sha256": m.sha256, **({"from": m.source} if m.source else {})}

    if len(weights.members) == 1 and not weights.combination:
        return {"format": weights.format, **member(weights.members[0])}
    out: dict[str, Any] = {
        "format": weights.format,
        "members": [member(m) for m in weights.members],
    }
    if weights.combination:
        out["combination"] = weights.combination
    return out


def _input_dict(spec: InputSpec) -> dict[str, Any]:
    return {
        f.name: list(v) if isinstance(v := getattr(spec, f.name), tuple) else v
        for f in fields(InputSpec)
    }


def _intended_use_dict(use: IntendedUse) -> dict[str, Any]:
    out: dict[str, Any] = {"statement": use.statement}
    if use.population:
        out["population"] = use.population
    for key in ("modality", "body_part", "view"):
        if getattr(use, key):
            out[key] = list(getattr(use, key))
    if use.age_years is not None:
        age = {"min": use.age_years.min}
        if use.age_years.below != float("inf"):
            age["below"] = use.age_years.below
        out["age_years"] = age
    image: dict[str, float] = {}
    if use.image.min_side_px:
        image["min_side_px"] = use.image.min_side_px
    if use.image.max_aspect != float("inf"):
        image["max_aspect"] = use.image.max_aspect
    if image:
        out["image"] = image
    return out


def _is_figure(value: Any) -> bool:
    """A number, or a list of numbers (a confidence interval): what a metrics table shows."""
    if isinstance(value, list):
        return bool(value) and all(_is_figure(v) for v in value)
    return isinstance(value, int | float) and not isinstance(value, bool)


def member_digest(members: list[tuple[str, str]]) -> str:
    """One hash for an ensemble: sha256 of its members' sha256s joined with newlines."""
    return hashlib.sha256("\n".join(sha for _, sha in members).encode()).hexdigest()


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
