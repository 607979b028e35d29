"""Training CSMAE with PyTorch Lightning: the data (pairs of any archive reader, co-registered
augmentation), the LightningModule (losses, AdamW, warm-up + cosine schedule, non-finite guard)
and the experiment config loaded from YAML. `scripts/train.py` only wires these together.
The config's top-level `method` (csmae, the default, or cmid) says which model section it holds;
CMID's LightningModule is `csmae_core.cmid.lightning.CMIDLightning` and reuses the pieces here.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import lightning as L
import torch
import torch.nn.functional as F
import yaml
from torch.utils.data import DataLoader, Dataset

from csmae_core.config import CSMAEConfig
from csmae_core.errors import CsmaeError, InputError
from csmae_core.io.archive import PairArchive
from csmae_core.model import CSMAE
from csmae_core.preprocess import model_input


class NonFiniteLossError(CsmaeError):
    """Training produced NaN/inf; the message names the step and the loss terms."""


@dataclass
class OptimConfig:
    lr: float = 1.0e-4
    weight_decay: float = 0.05
    betas: tuple[float, float] = (0.9, 0.95)
    batch_size: int = 128
    epochs: int = 150
    warmup_epochs: float = 10
    min_lr: float = 0.0


@dataclass
class DataConfig:
    flips: bool = True          # joint horizontal/vertical flips (published)
    rotations: bool = False     # joint 90-degree rotations
    crop_min: int = 120         # random co-registered crop side in [crop_min, 120] px, resized to 120
    split: str = "train"        # archive split(s) to train on: "train", "train,validation" or "all"
    num_workers: int = 0


METHODS = ("csmae", "cmid")


def model_config(method: str, values: dict[str, Any]):
    """The model section as the method's config class (CSMAEConfig or CMIDConfig)."""
    if method == "cmid":
        from csmae_core.cmid.config import CMIDConfig  # the cmid package builds on this module

        return CMIDConfig.from_dict(values)
    return CSMAEConfig.from_dict(values)


@dataclass
class TrainConfig:
    model: Any = field(default_factory=CSMAEConfig)  # CSMAEConfig, or CMIDConfig when method is cmid
    optim: OptimConfig = field(default_factory=OptimConfig)
    data: DataConfig = field(default_factory=DataConfig)
    seed: int = 42
    precision: str = "32-true"
    method: str = "csmae"

    @classmethod
    def from_yaml(cls, path: str | Path, overrides: list[str] | None = None) -> "TrainConfig":
        try:
            raw = yaml.safe_load(Path(path).read_text()) or {}
        except (OSError, yaml.YAMLError) as error:
            raise InputError(f"cannot read config {path}: {error}") from error
        for override in overrides or []:
            _apply_override(raw, override)
        return cls.from_dict(raw)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> "TrainConfig":
        if not isinstance(raw, dict):
            raise InputError(f"a training config must be a mapping of sections (method, model, optim, data, seed, "
                             f"precision), not {type(raw).__name__}: {str(raw)[:60]!r}")
        unknown = set(raw) - {"method", "model", "optim", "data", "seed", "precision"}
        if unknown:
            raise InputError(f"unknown config section(s) {sorted(unknown)}; use method, model, optim, data, seed, "
                             "precision")
        method = str(raw.get("method", "csmae")).lower()
        if method not in METHODS:
            raise InputError(f"method {method!r} is not valid; choose one of {', '.join(METHODS)}")
        try:
            optim = OptimConfig(**raw.get("optim", {}))
            data = DataConfig(**raw.get("data", {}))
        except TypeError as error:
            raise InputError(f"bad optim/data setting: {error}") from error
        optim.betas = tuple(optim.betas)
        return cls(model_config(method, raw.get("model", {})), optim, data,
                   int(raw.get("seed", 42)), str(raw.get("precision", "32-true")), method)

    def to_dict(self) -> dict[str, Any]:
        return {"method": self.method, "model": self.model.to_dict(), "optim": asdict(self.optim),
                "data": asdict(self.data), "seed": self.seed, "precision": self.precision}


def _apply_override(raw: dict, override: str) -> None:
    """`optim.epochs=3` style overrides; values parsed as YAML."""
    if "=" not in override:
        raise InputError(f"override {override!r} must look like section.key=value")
    key, value = override.split("=", 1)
    target = raw
    *parents, leaf = key.split(".")
    for part in parents:
        target = target.setdefault(part, {})
    target[leaf] = yaml.safe_load(value)


# ---------------------------------------------------------------- data
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


# ---------------------------------------------------------------- the LightningModule
def warmup_cosine(step: int, warmup: int, total: int, floor: float) -> float:
    """LR multiplier: linear warm-up over `warmup` steps, then cosine from 1 to `floor` at `total`."""
    if step < warmup:
        return (step + 1) / max(1, warmup)
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress))


def check_finite(losses: dict[str, torch.Tensor], step: int, epoch: int) -> None:
    """Stop with the step and every loss term named when any term is NaN/inf."""
    if not all(torch.isfinite(v).item() for v in losses.values()):
        values = {k: float(v) for k, v in losses.items()}
        raise NonFiniteLossError(f"non-finite loss at step {step} (epoch {epoch}): {values}; lower the "
                                 "learning rate or use 32-bit precision")


def adamw_with_schedule(parameters, optim: OptimConfig, trainer) -> dict:
    """AdamW with linear warm-up then cosine decay to min_lr, stepped per optimizer step."""
    optimizer = torch.optim.AdamW(parameters, lr=optim.lr, weight_decay=optim.weight_decay, betas=optim.betas)
    total = max(1, int(trainer.estimated_stepping_batches))
    warmup = int(round(optim.warmup_epochs * total / max(1, trainer.max_epochs)))
    floor = optim.min_lr / optim.lr if optim.lr else 0.0
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: warmup_cosine(step, warmup, total, floor))
    return {"optimizer": optimizer, "lr_scheduler": {"scheduler": schedule, "interval": "step"}}


class CSMAELightning(L.LightningModule):
    def __init__(self, config: dict[str, Any]):
        super().__init__()
        # Plain data only, so checkpoints load with weights_only=True and in load_model.
        self.save_hyperparameters({"train_config": config, "csmae_config": config["model"],
                                   "transpose_input": False})
        self.train_config = TrainConfig.from_dict(config)
        self.model = CSMAE(self.train_config.model)

    def training_step(self, batch, batch_index):
        x_s1, x_s2 = batch
        losses = self.model(x_s1, x_s2)
        check_finite(losses, self.global_step, self.current_epoch)
        self.log_dict({f"train/{k}": v for k, v in losses.items()}, prog_bar=False, on_step=True,
                      batch_size=x_s1.shape[0])
        self.log("loss", losses["loss"], prog_bar=True, batch_size=x_s1.shape[0])
        return losses["loss"]

    def configure_optimizers(self):
        return adamw_with_schedule(self.model.parameters(), self.train_config.optim, self.trainer)
