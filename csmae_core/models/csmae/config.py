"""CSMAE configuration: variant presets, ViT sizes and training hyper-parameters, validated once.

Variants (Hackstein et al., IEEE TGRS 2024): E = encoder, D = decoder; C = sensor-common, S = specific.
  CECD: 0 sensor-specific + all shared encoder blocks, one common decoder with a head per target
  CESD: 0 + all shared, one decoder per target sensor
  SECD: depth-2 sensor-specific + 2 shared blocks, common decoder
  SESD: depth-2 sensor-specific + 2 shared blocks, one decoder per target sensor
(The published CE yaml files say 12 specific + 0 shared: the opposite of the released CE weights.)
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from csmae_core.errors import InputError
from csmae_core.models.settings import SIZES, check_choice, check_settings

VARIANTS = {"cecd": ("common", "common"), "cesd": ("common", "specific"),
            "secd": ("specific", "common"), "sesd": ("specific", "specific")}
SE_SHARED_DEPTH = 2  # shared blocks of the SE variants (10 + 2 for ViT-B in the paper)
MASKING = ("identical", "disjoint", "random")
RECONSTRUCTION = ("disjoint", "identical")
POOLING = ("avg", "cls", "avg_grid")  # avg_grid: avg + the means of a 2x2 grid of quadrants
GRID_CELLS = 4  # the quadrants of avg_grid pooling
LOSSES = ("umr", "cmr", "mim", "mde")


_INTEGERS = ("embed_dim", "depth", "num_heads", "specific_depth", "shared_depth", "img_size", "patch_size",
             "decoder_dim", "decoder_depth", "decoder_heads")
_NUMBERS = ("mlp_ratio", "mask_ratio", "mim_temperature")


def _check_types(config) -> None:
    """Wrong types (e.g. `patch_size: fifteen` in a YAML) named before any arithmetic trips on them."""
    for name in _INTEGERS + _NUMBERS:
        value = getattr(config, name)
        if value is None and name in _INTEGERS[:5]:
            continue  # derived from size / variant
        integer = isinstance(value, int) and not isinstance(value, bool)
        if not (integer or (name in _NUMBERS and isinstance(value, float))):
            kind = "an integer" if name in _INTEGERS else "a number"
            raise InputError(f"model setting {name} must be {kind}, not {value!r}; fix the config")
    if not isinstance(config.loss_weights, dict) or not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) for v in config.loss_weights.values()):
        raise InputError(f"model setting loss_weights must map loss names to numbers, not {config.loss_weights!r}; "
                         "fix the config")


@dataclass
class CSMAEConfig:
    variant: str = "secd"
    size: str = "base"
    embed_dim: int | None = None  # None: from `size`
    depth: int | None = None
    num_heads: int | None = None
    specific_depth: int | None = None  # None: from `variant`
    shared_depth: int | None = None
    img_size: int = 120
    patch_size: int = 15
    mlp_ratio: float = 4.0
    decoder_dim: int = 512
    decoder_depth: int = 8
    decoder_heads: int = 16
    masking: str = "random"
    mask_ratio: float = 0.5
    reconstruction: str = "disjoint"
    loss_weights: dict[str, float] = field(default_factory=lambda: {"umr": 1.0, "cmr": 1.0, "mim": 1.0,
                                                                     "mde": 0.0})
    mim_temperature: float = 0.5
    pool: str = "avg"

    def __post_init__(self) -> None:
        _check_types(self)
        self.variant = str(self.variant).lower()
        check_choice("variant", self.variant, VARIANTS)
        check_choice("size", self.size, SIZES)
        check_choice("masking", self.masking, MASKING)
        check_choice("reconstruction", self.reconstruction, RECONSTRUCTION)
        check_choice("pool", self.pool, POOLING)
        dim, depth, heads = SIZES[self.size]
        self.embed_dim = self.embed_dim or dim
        self.depth = self.depth or depth
        self.num_heads = self.num_heads or heads
        self._resolve_depths()
        self._validate()

    def _resolve_depths(self) -> None:
        encoder_kind = VARIANTS[self.variant][0]
        if self.specific_depth is None and self.shared_depth is None:
            shared = self.depth if encoder_kind == "common" else min(SE_SHARED_DEPTH, self.depth)
            self.specific_depth, self.shared_depth = self.depth - shared, shared
        elif self.specific_depth is None:
            self.specific_depth = self.depth - self.shared_depth
        elif self.shared_depth is None:
            self.shared_depth = self.depth - self.specific_depth
        self.depth = self.specific_depth + self.shared_depth

    def _validate(self) -> None:
        if self.img_size % self.patch_size:
            raise InputError(f"img_size {self.img_size} is not divisible by patch_size {self.patch_size}")
        if self.embed_dim % self.num_heads or self.embed_dim % 4:
            raise InputError(f"embed_dim {self.embed_dim} must be divisible by num_heads {self.num_heads} and 4")
        if self.decoder_dim % self.decoder_heads or self.decoder_dim % 4:
            raise InputError(f"decoder_dim {self.decoder_dim} must be divisible by decoder_heads "
                             f"{self.decoder_heads} and 4")
        if self.specific_depth < 0 or self.shared_depth < 0:
            raise InputError("specific_depth and shared_depth must be >= 0")
        if not 0.0 <= self.mask_ratio < 1.0:
            raise InputError(f"mask_ratio must be in [0, 1), got {self.mask_ratio}")
        unknown = set(self.loss_weights) - set(LOSSES)
        if unknown:
            raise InputError(f"unknown loss(es) {sorted(unknown)}; losses are {', '.join(LOSSES)}")
        self.loss_weights = {name: float(self.loss_weights.get(name, 0.0)) for name in LOSSES}
        if self.mim_temperature <= 0:
            raise InputError("mim_temperature must be > 0")
        self._validate_reconstruction()

    def _validate_reconstruction(self) -> None:
        """"identical" reconstruction as published: the source's visible tokens go to the TARGET's visible
        slots (the target's restore ids) and the target's masked patches are scored. That needs as many
        visible patches in both sensors, and masks that differ (docs/CSMAE-FIDELITY.md)."""
        if self.reconstruction != "identical":
            return
        if self.masking == "identical":
            raise InputError("reconstruction='identical' with masking='identical' has no meaning: both sensors "
                             "hide the same patches, so it would be reconstruction='disjoint' (the published "
                             "code crashes on it); set model.reconstruction to 'disjoint' or model.masking to "
                             "'random'")
        keep = int(self.num_patches * (1 - self.mask_ratio))
        if self.masking == "disjoint" and 2 * keep != self.num_patches:
            raise InputError(f"reconstruction='identical' with masking='disjoint' needs both sensors to keep "
                             f"as many patches (mask_ratio 0.5); mask_ratio {self.mask_ratio} keeps {keep} S1 "
                             f"and {self.num_patches - keep} S2 patches: set model.mask_ratio to 0.5 or "
                             f"model.reconstruction to 'disjoint'")

    @property
    def decoder_kind(self) -> str:
        return VARIANTS[self.variant][1]

    @property
    def grid_size(self) -> int:
        return self.img_size // self.patch_size

    @property
    def num_patches(self) -> int:
        return self.grid_size ** 2

    @property
    def embedding_dim(self) -> int:
        """Width of the retrieval embedding: embed_dim, or (1 + 4) x embed_dim with avg_grid pooling."""
        return self.embed_dim * (1 + GRID_CELLS if self.pool == "avg_grid" else 1)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "CSMAEConfig":
        check_settings(cls, values, "model")
        return cls(**values)
