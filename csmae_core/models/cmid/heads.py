"""The three heads on the student's tokens, each its own embedding space (as in the official code):
reconstruction (pixels), global projector (MoCo space) and prototype head (local assignments)."""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F


class ReconstructionHead(nn.Module):
    """Linear map of every token to a stride x stride pixel block (a 1x1 conv + pixel shuffle, like the
    official MIMHead), resized to the image when the token grid does not tile it exactly (ResNet / Swin
    on 120 px: a 4x4 grid of 32 px blocks)."""

    def __init__(self, width: int, channels: int, stride: int, img_size: int):
        super().__init__()
        self.channels, self.stride, self.img_size = channels, stride, img_size
        self.pixels = nn.Linear(width, stride * stride * channels)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """(N, h, w, C) -> (N, channels, img_size, img_size)."""
        x = self.pixels(tokens).permute(0, 3, 1, 2)
        x = F.pixel_shuffle(x, self.stride)
        if x.shape[-1] != self.img_size or x.shape[-2] != self.img_size:
            x = F.interpolate(x, size=(self.img_size, self.img_size), mode="bilinear", align_corners=False)
        return x


class GlobalProjector(nn.Module):
    """Linear -> ReLU -> Linear (no normalisation layer, as the official MoCo-based projector), output
    L2-normalised."""

    def __init__(self, width: int, hidden: int, out: int):
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(width, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, out))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.mlp(features), dim=-1)


class PrototypeHead(nn.Module):
    """MLP to a bottleneck, L2-normalised, then cosine similarity to unit-norm learnable prototypes
    (DINO's head with a weight-normalised last layer whose norm is fixed to 1). Works on (..., C)."""

    def __init__(self, width: int, hidden: int, bottleneck: int, prototypes: int, layers: int, batchnorm: bool):
        super().__init__()
        dims = [width] + [hidden] * (layers - 1) + [bottleneck]
        blocks: list[nn.Module] = []
        for index, (a, b) in enumerate(zip(dims[:-1], dims[1:])):
            blocks.append(nn.Linear(a, b))
            if index < len(dims) - 2:
                blocks += [nn.BatchNorm1d(b)] if batchnorm else []
                blocks.append(nn.GELU())
        self.mlp = nn.Sequential(*blocks)
        self.prototypes = nn.Parameter(torch.empty(prototypes, bottleneck))
        nn.init.trunc_normal_(self.prototypes, std=0.02)
        for module in self.mlp:
            if isinstance(module, nn.Linear):
                nn.init.trunc_normal_(module.weight, std=0.02)
                nn.init.zeros_(module.bias)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """(..., C) -> (..., prototypes) logits in [-1, 1]."""
        shape = tokens.shape[:-1]
        z = F.normalize(self.mlp(tokens.reshape(-1, tokens.shape[-1])), dim=-1)
        logits = z @ F.normalize(self.prototypes, dim=-1).T
        return logits.reshape(*shape, -1)
