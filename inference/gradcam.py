"""Grad-CAM (Selvaraju et al., ICCV 2017) at a network's last conv block, with plain torch hooks.

The map for a label is ReLU(Σ_k α_k A_k) where A is the hooked block's output and α_k the
spatial mean of d logit / d A_k. Maps come back per image on the model grid, scaled to [0, 1].
"""

from __future__ import annotations

import time

import torch
import torch.nn.functional as F
from torch import nn


def gradcam_layer(model: nn.Module) -> nn.Module | None:
    """The block Grad-CAM hooks: the architecture's `gradcam_layer`, else the last Conv2d's parent."""
    layer = getattr(model, "gradcam_layer", None)
    if isinstance(layer, nn.Module):
        return layer
    convolutions = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    return convolutions[-1] if convolutions else None


class GradCam:
    """Forward once, then one backward per output to get each label's map for the whole batch."""

    def __init__(self, model: nn.Module, layer: nn.Module):
        self.model = model
        self.layer = layer
        self._activations: torch.Tensor | None = None
        self.forward_seconds = 0.0

    def _keep(self, _module, _inputs, output) -> None:
        self._activations = output

    def __call__(self, batch: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(logits B×C, maps B×C×H×W on the input grid in [0, 1])."""
        handle = self.layer.register_forward_hook(self._keep)
        try:
            with torch.enable_grad():
                started = time.perf_counter()
                logits = self.model(batch.requires_grad_(True))
                self.forward_seconds = time.perf_counter() - started
                activations = self._activations
                maps = [self._label_map(logits[:, c], activations) for c in range(logits.shape[1])]
        finally:
            handle.remove()
            self._activations = None
        maps = torch.stack(maps, dim=1)
        upsampled = F.interpolate(maps, size=batch.shape[-2:], mode="bilinear", align_corners=False)
        return logits.detach(), _scale_to_unit(upsampled)

    def _label_map(self, logit: torch.Tensor, activations: torch.Tensor) -> torch.Tensor:
        # Images are independent in eval mode, so the gradient of the sum is per-image gradients.
        (gradients,) = torch.autograd.grad(logit.sum(), activations, retain_graph=True)
        weights = gradients.mean(dim=(2, 3), keepdim=True)
        return F.relu((weights * activations).sum(dim=1)).detach()


def _scale_to_unit(maps: torch.Tensor) -> torch.Tensor:
    peak = maps.amax(dim=(2, 3), keepdim=True)
    return torch.where(peak > 0, maps / peak.clamp_min(1e-12), torch.zeros_like(maps))
