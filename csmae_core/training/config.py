"""The experiment config of a training run, loaded from one YAML and validated once: the method (which
encoder family), its model section, optimiser, data and run settings."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from csmae_core.errors import InputError
from csmae_core.models.cmid.config import CMIDConfig
from csmae_core.models.csmae.config import CSMAEConfig

# method -> the config class of its model section
MODEL_CONFIGS = {"csmae": CSMAEConfig, "cmid": CMIDConfig}
METHODS = tuple(MODEL_CONFIGS)


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
        return cls(MODEL_CONFIGS[method].from_dict(raw.get("model", {})), optim, data,
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
