"""The analysis engine: modality values in, calibrated probabilities + Grad-CAM heatmaps out.

`Analyzer(model, device)` loads a verified model once; `analyze(AnalysisInput)` runs the card's
preprocessing, the network and Grad-CAM, and maps each heatmap back onto the input pixel grid.
Results are immutable and cached per (SOP Instance UID, frame, model sha256).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from inference.errors import ImageInputError, InferenceError
from inference.gradcam import HeatmapSpec
from inference.intended_use import (
    OUTSIDE_INTENDED_USE,
    IntendedUseCheck,
    check_intended_use,
    forced_warning,
    refusal_warning,
)
from inference.loading import load_model
from inference.model_card import ModelCard
from inference.preprocessing import InputSpec, Sample, normalise, prepare
from inference.registry import find_model
from inference.types import AnalysisInput, AnalysisResult, Finding

__all__ = [
    "OUTSIDE_INTENDED_USE",
    "AnalysisInput",
    "AnalysisResult",
    "Analyzer",
    "Finding",
    "select_device",
]


def select_device(requested: str = "auto") -> torch.device:
    """auto = CUDA if available, else MPS, else CPU; an explicit device must exist."""
    if requested == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        return torch.device("mps" if mps and mps.is_available() else "cpu")
    device = torch.device(requested)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise InferenceError("device 'cuda' requested but no CUDA GPU is available")
    return device


def intended_use_problems(card: ModelCard, item: AnalysisInput) -> list[str]:
    """Why `item` is outside (or cannot be checked against) the card's intended use."""
    return list(check_intended_use(card.intended_use, item).reasons)


class Analyzer:
    """Holds one verified model on one device; not thread-safe (use one per worker thread)."""

    def __init__(
        self,
        model: str | Path | ModelCard | None = None,
        device: str = "auto",
        folders: Sequence[str | Path] | None = None,
        cache_size: int = 128,
        cache_bytes: int = 256 * 2**20,
        heatmaps_for_negatives: bool = False,
    ):
        self.card = model if isinstance(model, ModelCard) else find_model(model, folders)
        self.device = select_device(device)
        self.network = load_model(self.card, self.device)
        self.heatmap_spec = HeatmapSpec.from_card(self.card.raw)
        self.heatmaps_for_negatives = heatmaps_for_negatives  # else blank below hide_below
        self.gradcam = self.heatmap_spec.gradcam(self.network)
        self.spec: InputSpec = self.card.input
        self._cache: OrderedDict[tuple, AnalysisResult] = OrderedDict()
        self._cache_size = cache_size
        self._cache_bytes = cache_bytes
        self._device_warnings: list[str] = []

    def analyze(self, item: AnalysisInput, force: bool = False) -> AnalysisResult:
        return self.analyze_batch([item], force=force)[0]

    def analyze_batch(
        self, items: Sequence[AnalysisInput], force: bool = False
    ) -> list[AnalysisResult]:
        """One result per input, in order; a failing image raises `ImageInputError` naming it."""
        results: dict[int, AnalysisResult] = {}
        to_run: list[tuple[int, AnalysisInput, IntendedUseCheck]] = []
        for index, item in enumerate(items):
            cached = self._cache.get(self._key(item)) if item.cache_key else None
            check = check_intended_use(self.card.intended_use, item)
            if cached is not None:
                results[index] = cached
            elif check.blocking and not force:
                results[index] = self._refused(check)
            else:
                to_run.append((index, item, check))
        if to_run:
            for (index, item, _), result in zip(
                to_run, self._run([t[1] for t in to_run], [t[2] for t in to_run]), strict=True
            ):
                results[index] = result
                self._remember(item, result)
        return [results[i] for i in range(len(items))]

    def _key(self, item: AnalysisInput) -> tuple:
        return (*item.cache_key, self.card.weights_sha256, self.heatmaps_for_negatives)

    def _remember(self, item: AnalysisInput, result: AnalysisResult) -> None:
        if item.cache_key is None:
            return
        self._cache[self._key(item)] = result
        while len(self._cache) > 1 and (
            len(self._cache) > self._cache_size or self._cached_bytes() > self._cache_bytes
        ):
            self._cache.popitem(last=False)

    def _cached_bytes(self) -> int:
        """Heatmaps dominate: a full-resolution radiograph's map is ~10 MB of float32."""
        return sum(h.nbytes for r in self._cache.values() for h in r.heatmaps.values())

    def _refused(self, check: IntendedUseCheck) -> AnalysisResult:
        return self._result((), {}, {}, [refusal_warning(check.reasons)], check)

    def _run(
        self, items: list[AnalysisInput], checks: list[IntendedUseCheck]
    ) -> list[AnalysisResult]:
        started = time.perf_counter()
        samples = [self._prepare(item) for item in items]
        batch = torch.from_numpy(np.stack([s.image for s in samples]))[:, None]
        preprocess = (time.perf_counter() - started) / len(items)
        logits, maps, timing = self._forward(normalise(batch, self.spec))
        mapping = time.perf_counter()
        findings = [self._findings(row) for row in logits]
        heatmaps = [
            self._heatmaps(s, None if maps is None else maps[i], findings[i])
            for i, s in enumerate(samples)
        ]
        timing["gradcam"] += (time.perf_counter() - mapping) / len(items)  # incl. inverse mapping
        timing["preprocess"] = preprocess
        timing["total"] = sum(timing.values())
        return [
            self._result(
                findings[i],
                heatmaps[i],
                timing,
                _run_warnings(checks[i], has_heatmaps=maps is not None),
                checks[i],
                self._on_request(findings[i], heatmaps[i]),
            )
            for i in range(len(items))
        ]

    def _prepare(self, item: AnalysisInput) -> Sample:
        pixels = np.asarray(item.pixels)
        if pixels.ndim not in (2, 3) or min(pixels.shape[:2]) < 2:
            raise ImageInputError(
                f"{item.source or 'image'}: unsupported pixel array shape {pixels.shape}"
            )
        return prepare(pixels, self.spec, item.photometric, item.window)

    def logits_batch(self, items: Sequence[AnalysisInput]) -> np.ndarray:
        """Raw logits (B×labels) without Grad-CAM: the same preprocessing and network as `analyze`."""
        batch = torch.from_numpy(np.stack([self._prepare(item).image for item in items]))[:, None]
        logits, _, _ = self._forward(normalise(batch, self.spec), with_gradcam=False)
        return logits

    def _forward(self, batch: torch.Tensor, with_gradcam: bool = True):
        try:
            return self._forward_on(batch, with_gradcam)
        except (torch.cuda.OutOfMemoryError, RuntimeError) as exc:
            if self.device.type == "cpu":
                raise
            self._device_warnings.append(
                f"{self.device.type.upper()} failed ({type(exc).__name__}: {str(exc)[:80]}); "
                "ran on CPU instead"
            )
            self.device = torch.device("cpu")
            self.network.to(self.device)
            return self._forward_on(batch, with_gradcam)

    def _forward_on(self, batch: torch.Tensor, with_gradcam: bool):
        started = time.perf_counter()
        batch = batch.to(self.device)
        if self.gradcam is None or not with_gradcam:
            with torch.no_grad():
                logits = self.network(batch)
            forward = (time.perf_counter() - started) / len(batch)
            return logits.float().cpu().numpy(), None, {"forward": forward, "gradcam": 0.0}
        logits, maps = self.gradcam(batch)
        elapsed = time.perf_counter() - started
        forward = self.gradcam.forward_seconds
        timing = {"forward": forward / len(batch), "gradcam": (elapsed - forward) / len(batch)}
        return logits.float().cpu().numpy(), maps.float().cpu().numpy(), timing

    def _findings(self, logits: np.ndarray) -> tuple[Finding, ...]:
        probabilities = self.card.calibrate(logits)
        findings = []
        for label, probability in zip(self.card.labels, probabilities, strict=True):
            threshold = self.card.thresholds[label]
            findings.append(
                Finding(label, float(probability), threshold, bool(probability >= threshold))
            )
        return tuple(findings)

    def _heatmaps(
        self, sample: Sample, maps: np.ndarray | None, findings: tuple[Finding, ...]
    ) -> dict[str, np.ndarray]:
        """Each label's map on the source grid in [0, 1] (on the card's absolute scale if it has
        one); a clear negative's map is blank unless `heatmaps_for_negatives`."""
        if maps is None:
            return {}
        spec, heatmaps = self.heatmap_spec, {}
        for c, finding in enumerate(findings):
            if finding.probability < spec.hide_below and not self.heatmaps_for_negatives:
                heatmaps[finding.label] = np.zeros(sample.source_shape, dtype=np.float32)
                continue
            # clipped on the model grid: bilinear enlargement keeps values within [0, 1]
            unit = np.clip(spec.scale(maps[c]), 0.0, 1.0).astype(np.float32)
            heatmaps[finding.label] = sample.to_source_grid(unit)
        return heatmaps

    def _on_request(self, findings: tuple[Finding, ...], heatmaps: dict) -> tuple[str, ...]:
        """The labels whose map is shown only because clear negatives' maps were asked for."""
        if not self.heatmaps_for_negatives:
            return ()
        hide_below = self.heatmap_spec.hide_below
        return tuple(
            f.label for f in findings if f.label in heatmaps and f.probability < hide_below
        )

    def _result(
        self, findings, heatmaps, timings, warnings, check: IntendedUseCheck, on_request=()
    ) -> AnalysisResult:
        return AnalysisResult(
            findings=tuple(findings),
            heatmaps=heatmaps,
            model_name=self.card.name,
            model_version=self.card.version,
            model_sha256=self.card.weights_sha256,
            device=str(self.device),
            timings={k: round(v, 6) for k, v in timings.items()},
            warnings=tuple([*self._device_warnings, *warnings]),
            intended_use_ok=check.ok,
            intended_use_reasons=check.reasons,
            heatmap_scale="absolute" if self.heatmap_spec.absolute else "relative",
            heatmaps_on_request=tuple(on_request),
            heatmap_hide_below=self.heatmap_spec.hide_below,
        )


def _run_warnings(check: IntendedUseCheck, has_heatmaps: bool) -> list[str]:
    warnings = []
    if check.blocking:
        warnings.append(forced_warning(check.reasons))
    elif check.reasons:
        warnings += check.reasons  # not verifiable (PNG/JPEG): said as it is
    if not has_heatmaps:
        warnings.append("no Grad-CAM layer in this model; heatmaps unavailable")
    return warnings


def with_decode_time(result: AnalysisResult, seconds: float) -> AnalysisResult:
    """The caller decoded the pixels: add that to the timings (and the total)."""
    timings = {**result.timings, "decode": round(seconds, 6)}
    timings["total"] = round(result.timings.get("total", 0.0) + seconds, 6)
    return replace(result, timings=timings)
