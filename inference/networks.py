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
    """A compact ResNet for grey radiographs: stem, basic-block stages, GAP, dropout, FC.

    `blocks` is an ordered list (stem first, last stage last) so fine-tuning can freeze the
    first K and Grad-CAM can hook the last one (`gradcam_layer`). A stage is one stride-2 basic
    block, followed by `depths[i] - 1` stride-1 blocks when deeper than one.
    """

    def __init__(
        self,
        in_channels: int = 1,
        num_classes: int = 1,
        widths: Sequence[int] = (32, 64, 128, 256),
        stem_width: int = 24,
        dropout: float = 0.3,
        depths: Sequence[int] | None = None,
    ):
        super().__init__()
        if depths is not None and len(depths) != len(widths):
            raise ValueError(f"depths {list(depths)} must give one count per stage {list(widths)}")
        stem = nn.Sequential(
            nn.Conv2d(in_channels, stem_width, 5, 2, 2, bias=False),
            nn.BatchNorm2d(stem_width),
            nn.ReLU(inplace=True),
        )
        stages: list[nn.Module] = []
        previous = stem_width
        for width, depth in zip(widths, depths or [1] * len(widths), strict=True):
            stages.append(_stage(previous, width, depth))
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


def _stage(in_channels: int, out_channels: int, depth: int) -> nn.Module:
    first = BasicBlock(in_channels, out_channels, stride=2)
    if depth == 1:
        return first  # one block: the state-dict keys of the one-block-per-stage cards
    more = [BasicBlock(out_channels, out_channels) for _ in range(depth - 1)]
    return nn.Sequential(first, *more)


def deepened(network: SmallResNet, arguments: dict[str, Any]) -> SmallResNet:
    """`network` with stride-1 blocks added to reach `arguments["depths"]`, computing the same.

    Each added block starts with its last BatchNorm at zero, so it passes its (non-negative,
    post-ReLU) input through unchanged: fine-tuning starts from exactly the trained model."""
    deeper = SmallResNet(**arguments)
    state = {_stage_key(deeper, key): value for key, value in network.state_dict().items()}
    missing, unexpected = deeper.load_state_dict(state, strict=False)
    left = set(missing)
    for name, module in deeper.named_modules():
        if isinstance(module, BasicBlock) and f"{name}.conv1.weight" in left:
            left -= {f"{name}.{key}" for key in module.state_dict()}
            nn.init.zeros_(module.bn2.weight)
            nn.init.zeros_(module.bn2.bias)
    if unexpected or left:
        raise ValueError(f"cannot deepen: unexpected {unexpected}, missing {sorted(left)}")
    return deeper


def _stage_key(deeper: SmallResNet, key: str) -> str:
    """A one-block stage's key (`blocks.2.conv1.weight`) as its first block's in `deeper`."""
    parts = key.split(".")
    one_block_stage = parts[0] == "blocks" and int(parts[1]) > 0 and not parts[2].isdigit()
    if one_block_stage and isinstance(deeper.blocks[int(parts[1])], nn.Sequential):
        return ".".join([*parts[:2], "0", *parts[2:]])
    return key


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
