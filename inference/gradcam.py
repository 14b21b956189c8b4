"""Grad-CAM (Selvaraju et al., ICCV 2017) at a network's last conv block, with plain torch hooks.

The map for a label is ReLU(Σ_k α_k A_k) where A is the hooked block's output and α_k the
spatial mean of d logit / d A_k. Maps come back per image on the model grid, scaled to [0, 1].
For an ensemble every member's last block is hooked and the members' maps are averaged.
"""

from __future__ import annotations

import time

import torch
import torch.nn.functional as F
from torch import nn


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

    def __init__(self, model: nn.Module, layer: nn.Module | list[nn.Module]):
        self.model = model
        self.layers = list(layer) if isinstance(layer, list | tuple) else [layer]
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
        maps = []
        for activations, grads in zip(self._activations, gradients, strict=True):
            weights = grads.mean(dim=(2, 3), keepdim=True)
            cam = F.relu((weights * activations).sum(dim=1, keepdim=True)).detach()
            cam = F.interpolate(cam, size=size, mode="bilinear", align_corners=False)
            maps.append(_scale_to_unit(cam))
        return _scale_to_unit(torch.stack(maps).mean(dim=0))[:, 0]


def _scale_to_unit(maps: torch.Tensor) -> torch.Tensor:
    peak = maps.amax(dim=(-2, -1), keepdim=True)
    return torch.where(peak > 0, maps / peak.clamp_min(1e-12), torch.zeros_like(maps))
