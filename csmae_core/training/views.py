"""Two co-registered views of every pair for CMID, with where each pixel came from.

Each view is one `joint_augment` of the pair (the same crop / flips / rotation on S1 and S2, so a view
stays co-registered across sensors); the two views of a pair are augmented independently, like the
official `img` and `view` crops. The second view also gets a small per-band gain/offset jitter, our
stand-in for the official colour jitter (which is defined for 8-bit RGB only).

Location maps ride along through the same augmentation: a 2-channel image of every pixel's row and
column in the original patch is augmented with the S1 bands, so after crop, resize, flips and rotation
it still says where each output pixel came from. The model pools it to its token grid to match
positions between the views (the official code tracks crop boxes on a 7x7 grid instead).
"""
from __future__ import annotations

import torch
from torch.utils.data import Dataset

from csmae_core.io.archive import PairArchive
from csmae_core.training.config import DataConfig
from csmae_core.training.data import PairDataset, joint_augment


def location_map(size: int) -> torch.Tensor:
    """(2, size, size): row and column of every pixel centre, in pixels."""
    centres = torch.arange(size, dtype=torch.float32) + 0.5
    rows, cols = torch.meshgrid(centres, centres, indexing="ij")
    return torch.stack([rows, cols])


def spectral_jitter(x: torch.Tensor, strength: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """Per-band gain 1 + N(0, s) and offset N(0, s) on a normalised (C, H, W) image."""
    if strength <= 0:
        return x
    gain = 1 + strength * torch.randn(x.shape[0], 1, 1, generator=generator)
    offset = strength * torch.randn(x.shape[0], 1, 1, generator=generator)
    return x * gain + offset


def augmented_view(x_s1: torch.Tensor, x_s2: torch.Tensor, data: DataConfig) -> dict[str, torch.Tensor]:
    channels = x_s1.shape[0]
    stacked, s2 = joint_augment(torch.cat([x_s1, location_map(x_s1.shape[-1])]), x_s2, data)
    return {"s1": stacked[:channels], "s2": s2, "loc": stacked[channels:]}


class TwoViewDataset(Dataset):
    """{"a": view, "b": view} per pair; a view is {"s1", "s2", "loc"} (see module docstring)."""

    def __init__(self, archive: PairArchive, indices: list[int], data: DataConfig, jitter: float = 0.1):
        self.pairs = PairDataset(archive, indices, data, augment=False)
        self.archive, self.indices, self.data, self.jitter = archive, indices, data, jitter

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, item: int) -> dict[str, dict[str, torch.Tensor]]:
        x_s1, x_s2 = self.pairs[item]
        first = augmented_view(x_s1, x_s2, self.data)
        second = augmented_view(x_s1, x_s2, self.data)
        for sensor in ("s1", "s2"):
            second[sensor] = spectral_jitter(second[sensor], self.jitter)
        return {"a": first, "b": second}
