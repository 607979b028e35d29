"""Training data shared by every family: pairs of any archive reader as model inputs, with the same
(co-registered) augmentation on S1 and S2."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset

from csmae_core.errors import InputError
from csmae_core.io.archive import PairArchive
from csmae_core.preprocess import model_input
from csmae_core.training.config import DataConfig


def select_split(archive: PairArchive, split: str) -> list[int]:
    if split == "all":
        return list(range(len(archive)))
    wanted = {s.strip() for s in split.split(",")}
    indices = [i for i, s in enumerate(archive.table["split"]) if s in wanted]
    if not indices:
        raise InputError(f"no pairs of split {split!r}; the archive has {sorted(archive.table['split'].dropna().unique())}")
    return indices


def joint_augment(x_s1: torch.Tensor, x_s2: torch.Tensor, data: DataConfig,
                  generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """The same crop / flips / rotation on both sensors, so the pair stays co-registered."""
    size = x_s1.shape[-1]
    rand = lambda: torch.rand((), generator=generator).item()  # noqa: E731
    if data.crop_min < size:
        side = int(data.crop_min + rand() * (size - data.crop_min + 1))
        top, left = int(rand() * (size - side + 1)), int(rand() * (size - side + 1))
        x_s1, x_s2 = (F.interpolate(x[None, :, top:top + side, left:left + side], size=(size, size),
                                    mode="bilinear", align_corners=False)[0] for x in (x_s1, x_s2))
    if data.flips and rand() < 0.5:
        x_s1, x_s2 = x_s1.flip(-1), x_s2.flip(-1)
    if data.flips and rand() < 0.5:
        x_s1, x_s2 = x_s1.flip(-2), x_s2.flip(-2)
    if data.rotations:
        turns = int(rand() * 4)
        x_s1, x_s2 = torch.rot90(x_s1, turns, (-2, -1)), torch.rot90(x_s2, turns, (-2, -1))
    return x_s1.contiguous(), x_s2.contiguous()


class PairDataset(Dataset):
    """(S1, S2) model inputs of archive pairs, augmented jointly. Small archives are preprocessed
    once and kept in memory; large ones are read pair by pair (in DataLoader workers)."""

    CACHE_LIMIT = 2000

    def __init__(self, archive: PairArchive, indices: list[int], data: DataConfig, augment: bool = True):
        self.archive, self.indices, self.data, self.augment = archive, indices, data, augment
        self.cache = [self._load(i) for i in indices] if len(indices) <= self.CACHE_LIMIT else None

    def _load(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        pair = self.archive[index]
        return model_input(pair.s1), model_input(pair.s2)

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, item: int) -> tuple[torch.Tensor, torch.Tensor]:
        x_s1, x_s2 = self.cache[item] if self.cache is not None else self._load(self.indices[item])
        return joint_augment(x_s1, x_s2, self.data) if self.augment else (x_s1, x_s2)


def make_loader(dataset: PairDataset, batch_size: int, num_workers: int, shuffle: bool = True) -> DataLoader:
    return DataLoader(dataset, batch_size=min(batch_size, len(dataset)), shuffle=shuffle, drop_last=shuffle,
                      num_workers=num_workers, persistent_workers=num_workers > 0)
