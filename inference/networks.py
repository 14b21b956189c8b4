"""Plain `torch.nn` architectures, built by the name and arguments a model card gives."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from inference.torch_setup import configure_torch

# Every model path (viewer, CLI, training, evaluation) builds its networks here.
configure_torch()  # threads set once, wait policy passive (see inference.torch_setup)


class BasicBlock(nn.Module):
    """ResNet basic block: two 3×3 conv + BatchNorm + ReLU with a projected shortcut."""

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU(inplace=True)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or in_channels != out_channels:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride, bias=False),
                nn.BatchNorm2d(out_channels),
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + self.shortcut(x))


class SmallResNet(nn.Module):
    """A compact ResNet for grey radiographs: stem, one basic block per stage, GAP, dropout, FC.

    `blocks` is an ordered list (stem first, last conv block last) so fine-tuning can freeze the
    first K and Grad-CAM can hook the last one (`gradcam_layer`).
    """

    def __init__(
        self,
        in_channels: int = 1,
        num_classes: int = 1,
        widths: Sequence[int] = (32, 64, 128, 256),
        stem_width: int = 24,
        dropout: float = 0.3,
    ):
        super().__init__()
        stem = nn.Sequential(
            nn.Conv2d(in_channels, stem_width, 5, 2, 2, bias=False),
            nn.BatchNorm2d(stem_width),
            nn.ReLU(inplace=True),
        )
        stages = []
        previous = stem_width
        for width in widths:
            stages.append(BasicBlock(previous, width, stride=2))
            previous = width
        self.blocks = nn.ModuleList([stem, *stages])
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(previous, num_classes)

    @property
    def gradcam_layer(self) -> nn.Module:
        return self.blocks[-1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.blocks:
            x = block(x)
        return self.fc(self.dropout(torch.flatten(self.pool(x), 1)))


class Ensemble(nn.Module):
    """Members' logits averaged; Grad-CAM hooks every member's last block."""

    def __init__(self, members: Sequence[nn.Module]):
        super().__init__()
        self.members = nn.ModuleList(members)

    @property
    def gradcam_layers(self) -> list[nn.Module]:
        return [member.gradcam_layer for member in self.members]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.stack([member(x) for member in self.members]).mean(dim=0)


ARCHITECTURES: dict[str, type[nn.Module]] = {"small_resnet": SmallResNet}
DEFAULT_ARCHITECTURE = "small_resnet"  # what `radlens train` builds when not fine-tuning a card


def architecture_name(network: nn.Module) -> str:
    """The name a card gives `network`'s architecture (the `ARCHITECTURES` entry it is of)."""
    for name, cls in ARCHITECTURES.items():
        if type(network) is cls:
            return name
    raise ValueError(f"{type(network).__name__} is not a registered architecture")


def build_network(name: str, arguments: dict[str, Any] | None = None) -> nn.Module:
    """Instantiate the architecture a card names; unknown names are a clear error."""
    if name not in ARCHITECTURES:
        known = ", ".join(sorted(ARCHITECTURES))
        raise ValueError(f"unknown architecture {name!r} (known: {known})")
    return ARCHITECTURES[name](**(arguments or {}))


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def freeze_blocks(model: nn.Module, count: int) -> None:
    """Freeze the first `count` blocks (stem = block 0) for fine-tuning; BN stays in eval there."""
    for block in list(model.blocks)[:count]:
        for parameter in block.parameters():
            parameter.requires_grad_(False)
        block.eval()
