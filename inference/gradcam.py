"""Heatmaps with plain torch hooks: Grad-CAM, and an absolute evidence map (`absolute=True`).

Grad-CAM (Selvaraju et al., ICCV 2017): ReLU(Σ_k α_k A_k), A the hooked block's output and α_k
the spatial mean of d logit / d A_k, each image scaled to [0, 1] (a relative map).

Evidence map (`absolute=True`): Σ_k A_k · d logit / d A_k at every position (gradient ×
activation, a first-order share of the logit), times the number of positions of that block — the
logit this position would give if the whole image looked like it (logit units, the same scale on
every image and every block). At the last block of a GAP network this is exactly CAM (Zhou et al.
2016), whose positions sum to the logit minus its bias; at an earlier block it is the same
decomposition on a 2× or 4× finer grid. Several blocks are averaged, ensemble members summed
(their gradients already carry the 1/M of the logit mean), then ReLU: positive evidence only.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from inference.augmentation import gaussian_blur


def gradcam_layers(model: nn.Module) -> list[nn.Module]:
    """The blocks Grad-CAM hooks: the architecture's own choice, else the last Conv2d."""
    layers = getattr(model, "gradcam_layers", None)
    if layers:
        return list(layers)
    layer = getattr(model, "gradcam_layer", None)
    if isinstance(layer, nn.Module):
        return [layer]
    convolutions = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    return convolutions[-1:]


def gradcam_layer(model: nn.Module) -> nn.Module | None:
    """The single hooked block of a plain network (None when there is no conv layer)."""
    layers = gradcam_layers(model)
    return layers[0] if layers else None


class GradCam:
    """Forward once, then one backward per output to get each label's map for the whole batch."""

    def __init__(
        self,
        model: nn.Module,
        layer: nn.Module | list[nn.Module],
        absolute: bool = False,
        smooth: float = 0.0,
    ):
        self.model = model
        self.layers = list(layer) if isinstance(layer, list | tuple) else [layer]
        self.absolute = absolute
        self.smooth = smooth  # evidence maps: Gaussian σ as a fraction of the width (0: none)
        self.layers_per_member = max(1, len(self.layers) // _member_count(model))
        self._activations: list[torch.Tensor] = []
        self.forward_seconds = 0.0

    def _keep(self, _module, _inputs, output) -> None:
        self._activations.append(output)

    def __call__(self, batch: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(logits B×C, maps B×C×H×W on the input grid in [0, 1])."""
        handles = [layer.register_forward_hook(self._keep) for layer in self.layers]
        try:
            with torch.enable_grad():
                started = time.perf_counter()
                logits = self.model(batch.requires_grad_(True))
                self.forward_seconds = time.perf_counter() - started
                maps = [
                    self._label_map(logits[:, c], batch.shape[-2:]) for c in range(logits.shape[1])
                ]
        finally:
            for handle in handles:
                handle.remove()
            self._activations = []
        return logits.detach(), torch.stack(maps, dim=1)

    def _label_map(self, logit: torch.Tensor, size) -> torch.Tensor:
        # Images are independent in eval mode, so the gradient of the sum is per-image gradients.
        gradients = torch.autograd.grad(logit.sum(), self._activations, retain_graph=True)
        if self.absolute:
            return self._evidence(gradients, size)
        maps = []
        for activations, grads in zip(self._activations, gradients, strict=True):
            weights = grads.mean(dim=(2, 3), keepdim=True)
            cam = F.relu((weights * activations).sum(dim=1, keepdim=True)).detach()
            cam = F.interpolate(cam, size=size, mode="bilinear", align_corners=False)
            maps.append(_scale_to_unit(cam))
        return _scale_to_unit(torch.stack(maps).mean(dim=0))[:, 0]

    def _evidence(self, gradients, size) -> torch.Tensor:
        total = 0.0
        for activations, grads in zip(self._activations, gradients, strict=True):
            positions = activations.shape[-2] * activations.shape[-1]
            share = (grads * activations).sum(dim=1, keepdim=True).detach() * positions
            total = total + F.interpolate(share, size=size, mode="bilinear", align_corners=False)
        evidence = F.relu(total / self.layers_per_member)
        if self.smooth > 0:
            sigmas = torch.full((evidence.shape[0],), self.smooth * evidence.shape[-1])
            evidence = gaussian_blur(evidence, sigmas)
        return evidence[:, 0]


def _member_count(model: nn.Module) -> int:
    members = getattr(model, "members", None)
    return len(members) if members is not None else 1


def block_layers(model: nn.Module, indices: list[int]) -> list[nn.Module]:
    """Blocks `indices` (Python indexing into `blocks`) of a network or of every ensemble member."""
    networks = list(getattr(model, "members", [model]))
    return [network.blocks[i] for network in networks for i in indices]


def _scale_to_unit(maps: torch.Tensor) -> torch.Tensor:
    peak = maps.amax(dim=(-2, -1), keepdim=True)
    return torch.where(peak > 0, maps / peak.clamp_min(1e-12), torch.zeros_like(maps))


@dataclass(frozen=True)
class HeatmapSpec:
    """How a card's heatmaps are made and scaled (the card's optional `heatmap` block).

    `absolute` maps are evidence maps (logit units) divided by `reference` and clipped to [0, 1],
    so a colour means the same on every image; below `hide_below` probability (a clear negative)
    the map is blank unless asked for. Without the block: per-image Grad-CAM at the last block.
    """

    method: str = "gradcam"
    blocks: tuple[int, ...] = (-1,)
    reference: float = 1.0
    hide_below: float = 0.0
    smooth: float = 0.0  # Gaussian σ as a fraction of the width, on the model grid

    @property
    def absolute(self) -> bool:
        return self.method == "evidence"

    @classmethod
    def from_card(cls, raw: dict) -> HeatmapSpec:
        block = raw.get("heatmap") or {}
        return cls(
            method=str(block.get("method", "gradcam")),
            blocks=tuple(int(i) for i in block.get("blocks", (-1,))),
            reference=float(block.get("reference", 1.0)),
            hide_below=float(block.get("hide_below_probability", 0.0)),
            smooth=float(block.get("smooth_sigma", 0.0)),
        )

    def gradcam(self, model: nn.Module) -> GradCam | None:
        layers = self.layers(model)
        return GradCam(model, layers, self.absolute, self.smooth) if layers else None

    def layers(self, model: nn.Module) -> list[nn.Module]:
        if self.absolute and hasattr(_first_network(model), "blocks"):
            return block_layers(model, list(self.blocks))
        return gradcam_layers(model)

    def scale(self, maps: np.ndarray) -> np.ndarray:
        return maps / self.reference if self.absolute else maps


def _first_network(model: nn.Module) -> nn.Module:
    members = getattr(model, "members", None)
    return members[0] if members is not None else model
