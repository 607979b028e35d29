"""CMID configuration: backbone, masking, the three branches, the teacher, validated once.

Defaults are the official CMID settings (NJU-LHRS/official-CMID, Pretrain/pt_config.yaml and
pt_swin_config.yaml: mask ratio 0.6, MoCo temperature 0.2 with a 65536-key queue, 256-d projection
with a 2048-wide hidden layer, 2048 prototypes behind a 3-layer head with a 256-d bottleneck, student
temperature 0.1, teacher temperature 0.04 -> 0.07 over 50 epochs, centre momentum 0.9, focal-L1 plus
focal-frequency loss, EMA momentum 0.996 -> 1 on a cosine). What differs and why is in docs/CMID.md.
"""
from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from csmae_core.errors import InputError
from csmae_core.models.settings import SIZES, check_choice, check_settings

logger = logging.getLogger(__name__)

BACKBONES = ("vit", "resnet50", "swin")
LOSSES = ("mim", "global", "local", "align")
# Architecture overrides passed on to timm (smaller ResNets / Swins for tests and small data).
BACKBONE_ARGS = {"vit": set(), "resnet50": {"layers", "channels"},
                 "swin": {"embed_dim", "depths", "num_heads", "window_size"}}
RESNET50 = {"layers": [3, 4, 6, 3], "channels": [64, 128, 256, 512]}
SWIN_B = {"embed_dim": 128, "depths": [2, 2, 18, 2], "num_heads": [4, 8, 16, 32], "window_size": 7}
BOTTLENECK_EXPANSION = 4  # ResNet-50 blocks widen their output 4x


_KINDS = {"int": ("an integer", lambda v: isinstance(v, int) and not isinstance(v, bool)),
          "float": ("a number", lambda v: isinstance(v, (int, float)) and not isinstance(v, bool)),
          "bool": ("true or false", lambda v: isinstance(v, bool)),
          "str": ("a string", lambda v: isinstance(v, str))}


def _check_types(config: "CMIDConfig") -> None:
    """Wrong types (e.g. `patch_size: fifteen` in a YAML) named before any arithmetic trips on them."""
    for item in fields(config):
        value, annotation = getattr(config, item.name), str(item.type)
        if annotation.startswith("dict"):
            if not isinstance(value, dict):
                raise InputError(f"model setting {item.name} must be a mapping, not {value!r}; fix the config")
            continue
        kind, ok = _KINDS[annotation.split(" |")[0]]
        if not (ok(value) or (value is None and annotation.endswith("| None"))):
            raise InputError(f"model setting {item.name} must be {kind}, not {value!r}; fix the config")
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in config.loss_weights.values()):
        raise InputError(f"model setting loss_weights must map loss names to numbers, not {config.loss_weights!r}; "
                         "fix the config")


def _positive(config: "CMIDConfig", *names: str) -> None:
    for name in names:
        if not getattr(config, name) > 0:
            raise InputError(f"{name} must be > 0, got {getattr(config, name)}")


@dataclass
class CMIDConfig:
    backbone: str = "vit"
    # ViT backbone, sized like the CSMAE encoder (csmae_core.models.settings.SIZES)
    size: str = "base"
    embed_dim: int | None = None  # None: from `size`
    depth: int | None = None
    num_heads: int | None = None
    patch_size: int = 15
    mlp_ratio: float = 4.0
    # ResNet-50 / Swin-B architecture overrides (see BACKBONE_ARGS); empty: the published architecture
    backbone_args: dict[str, Any] = field(default_factory=dict)
    img_size: int = 120
    cross_sensor: bool = True  # ours: S1 and S2 students are taught by both sensors' teachers (one space)
    # masking of the student's view: blocks of mask_patch_size px, filled with the image mean + mask token
    mask_ratio: float = 0.6
    mask_patch_size: int = 15
    # masked image modelling
    focal_alpha: float = 0.2
    focal_gamma: float = 1.0
    fft_weight: float = 1.0
    fft_unmask_weight: float = 0.001
    # global branch (MoCo-v2 InfoNCE against the teacher's projection)
    projection_dim: int = 256
    projection_hidden_dim: int = 2048
    global_temperature: float = 0.2
    # ours (cross_sensor): NT-Xent between the pooled S1 and S2 features of a pair, the retrieval vectors
    align_temperature: float = 0.2
    queue_size: int = 65536  # 0: the other keys of the batch are the negatives
    # local branch (position-matched tokens, soft assignments over prototypes)
    num_prototypes: int = 2048
    local_hidden_dim: int = 2048
    local_bottleneck_dim: int = 256
    local_layers: int = 3
    local_batchnorm: bool | None = None  # None: as published (ResNet-50 yes, Swin no; ViT no)
    local_matches: int = 20
    student_temperature: float = 0.1
    teacher_temperature: float = 0.07
    teacher_temperature_warmup: float = 0.04
    teacher_temperature_warmup_epochs: int = 50
    center_momentum: float = 0.9
    # teacher = EMA of the student, momentum on a cosine from base to final over all steps
    momentum_base: float = 0.996
    momentum_final: float = 1.0
    loss_weights: dict[str, float] = field(default_factory=lambda: {"mim": 1.0, "global": 1.0, "local": 1.0})
    spectral_jitter: float = 0.1  # per-band gain/offset noise (std, normalised units) on the second view

    def __post_init__(self) -> None:
        _check_types(self)
        self.backbone = self.backbone.lower()
        check_choice("backbone", self.backbone, BACKBONES)
        check_choice("size", self.size, SIZES)
        dim, depth, heads = SIZES[self.size]
        self.embed_dim = self.embed_dim or dim
        self.depth = self.depth or depth
        self.num_heads = self.num_heads or heads
        if self.local_batchnorm is None:
            self.local_batchnorm = self.backbone == "resnet50"
        self._validate_architecture()
        self._validate_training()

    def _validate_architecture(self) -> None:
        unknown = set(self.backbone_args) - BACKBONE_ARGS[self.backbone]
        if unknown:
            allowed = ", ".join(sorted(BACKBONE_ARGS[self.backbone])) or "none"
            raise InputError(f"backbone_args {sorted(unknown)} do not apply to {self.backbone}; allowed: {allowed}")
        self.backbone_args = {k: (list(v) if isinstance(v, (list, tuple)) else v)
                              for k, v in self.backbone_args.items()}
        if self.backbone == "swin":
            arch = self.architecture
            if len(arch["depths"]) != len(arch["num_heads"]):
                raise InputError("swin depths and num_heads need one entry per stage")
        if self.backbone == "resnet50" and len(self.architecture["layers"]) != 4:
            raise InputError("resnet50 layers needs 4 block counts")
        if self.backbone == "resnet50" and len(self.architecture["channels"]) != 4:
            raise InputError("resnet50 channels needs 4 widths")
        if self.backbone == "vit":
            if self.img_size % self.patch_size:
                raise InputError(f"img_size {self.img_size} is not divisible by patch_size {self.patch_size}")
            if self.embed_dim % self.num_heads:
                raise InputError(f"embed_dim {self.embed_dim} must be divisible by num_heads {self.num_heads}")
        if self.img_size % self.mask_patch_size:
            raise InputError(f"img_size {self.img_size} is not divisible by mask_patch_size {self.mask_patch_size}")

    def _validate_training(self) -> None:
        if not 0.0 < self.mask_ratio < 1.0:
            raise InputError(f"mask_ratio must be in (0, 1), got {self.mask_ratio}")
        _positive(self, "projection_dim", "projection_hidden_dim", "num_prototypes", "local_hidden_dim",
                  "local_bottleneck_dim", "local_layers", "local_matches", "global_temperature", "align_temperature",
                  "student_temperature", "teacher_temperature", "teacher_temperature_warmup")
        if self.queue_size < 0 or self.teacher_temperature_warmup_epochs < 0:
            raise InputError("queue_size and teacher_temperature_warmup_epochs must be >= 0")
        if not 0.0 <= self.momentum_base <= self.momentum_final <= 1.0:
            raise InputError(f"momentum needs 0 <= momentum_base <= momentum_final <= 1, got "
                             f"{self.momentum_base} and {self.momentum_final}")
        if not 0.0 <= self.center_momentum < 1.0:
            raise InputError(f"center_momentum must be in [0, 1), got {self.center_momentum}")
        if not 0.0 <= self.fft_unmask_weight <= 1.0 or self.fft_weight < 0 or self.spectral_jitter < 0:
            raise InputError("fft_unmask_weight must be in [0, 1]; fft_weight and spectral_jitter >= 0")
        unknown = set(self.loss_weights) - set(LOSSES)
        if unknown:
            raise InputError(f"unknown loss(es) {sorted(unknown)}; losses are {', '.join(LOSSES)}")
        # `align` (ours) puts the retrieval vectors of S1 and S2 into one space; off unless configured (the
        # defaults are the published CMID's; configs/cmid_*.yaml turn it on). Without it, cross_sensor
        # shares only the heads' space (docs/CMID.md).
        weights = dict(self.loss_weights)
        if weights.get("align", 0.0) and not self.cross_sensor:
            # uni-modal CMIDs have two spaces: nothing to align (`--set model.cross_sensor=false` on a
            # cross-sensor config is the documented ablation, so this is not an error)
            logger.warning("loss_weights.align applies to cross_sensor models only; ignored (weight 0)")
            weights["align"] = 0.0
        self.loss_weights = {name: float(weights.get(name, 0.0)) for name in LOSSES}

    @property
    def architecture(self) -> dict[str, Any]:
        """The full architecture of a ResNet-50 / Swin backbone (published values + overrides)."""
        base = {"resnet50": RESNET50, "swin": SWIN_B}.get(self.backbone, {})
        return {**base, **self.backbone_args}

    @property
    def feature_dim(self) -> int:
        """Width of the pooled feature (the retrieval embedding)."""
        if self.backbone == "vit":
            return self.embed_dim
        arch = self.architecture
        if self.backbone == "resnet50":
            return arch["channels"][-1] * BOTTLENECK_EXPANSION
        return arch["embed_dim"] * 2 ** (len(arch["depths"]) - 1)

    def describe_backbone(self) -> str:
        if self.backbone == "vit":
            return f"ViT {self.embed_dim}-d, {self.depth} blocks"
        arch = self.architecture
        if self.backbone == "resnet50":
            name = "ResNet-50" if arch == RESNET50 else f"ResNet (bottleneck, {'-'.join(map(str, arch['layers']))})"
        else:
            name = "Swin-B" if arch == SWIN_B else f"Swin ({'-'.join(map(str, arch['depths']))})"
        return f"{name} {self.feature_dim}-d"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "CMIDConfig":
        check_settings(cls, values, "CMID model")
        try:
            return cls(**values)
        except TypeError as error:  # e.g. a list where a number belongs
            raise InputError(f"bad CMID model setting: {error}") from error
