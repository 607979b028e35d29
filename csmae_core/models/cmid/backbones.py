"""Per-sensor timm backbones returning a token grid, with CMID's mask token, and the two-sensor encoder.

Every backbone is split into a stem (ViT / Swin: patch embedding; ResNet: conv + pool, stride 4) and a
body. The student's masked positions get a learnable mask token ADDED to the stem output (the official
code's `replace=False`: MaskResNet / MaskSwin in Pretrain/models/backbone_wrapper.py mask at stage 0),
after the masked pixels were already filled with the image mean. Output: tokens (N, h, w, C)
channels-last whatever the family (ViT: patch tokens after the final norm; Swin: last stage after its
norm; ResNet: layer4 positions). The global feature is their mean; it is the retrieval embedding.
"""
from __future__ import annotations

import timm
import torch
import torch.nn as nn
import torch.nn.functional as F
from timm.models.vision_transformer import VisionTransformer

from csmae_core.bands import check_sensor, model_channels
from csmae_core.errors import InputError
from csmae_core.models.cmid.config import CMIDConfig

SWIN_MODEL = "swin_base_patch4_window7_224"  # Swin-B layout; depths/widths/window from the config


def build_timm(kind: str, in_chans: int, img_size: int, arch: dict, vit: CMIDConfig | None = None) -> nn.Module:
    """A randomly initialised timm network without classifier (never downloads weights)."""
    if kind == "vit":
        return VisionTransformer(img_size=img_size, patch_size=vit.patch_size, in_chans=in_chans, num_classes=0,
                                 embed_dim=vit.embed_dim, depth=vit.depth, num_heads=vit.num_heads,
                                 mlp_ratio=vit.mlp_ratio, qkv_bias=True, class_token=False, global_pool="avg",
                                 fc_norm=False)
    if kind == "resnet50":
        return timm.create_model("resnet50", pretrained=False, in_chans=in_chans, num_classes=0, global_pool="",
                                 layers=tuple(arch["layers"]), channels=tuple(arch["channels"]))
    if kind == "swin":
        return timm.create_model(SWIN_MODEL, pretrained=False, in_chans=in_chans, num_classes=0, img_size=img_size,
                                 embed_dim=arch["embed_dim"], depths=tuple(arch["depths"]),
                                 num_heads=tuple(arch["num_heads"]), window_size=arch["window_size"])
    raise InputError(f"unknown backbone {kind!r}")


def stem_width(kind: str, model: nn.Module) -> int:
    if kind == "vit":
        return model.embed_dim
    if kind == "resnet50":
        return model.conv1.out_channels
    return model.patch_embed.proj.out_channels


def stem(kind: str, model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """(N, C, H, W) image -> (N, h, w, C0) stage-0 features, channels-last."""
    if kind == "vit":
        tokens = model.patch_embed(x)
        grid = model.patch_embed.grid_size
        return tokens.reshape(len(x), grid[0], grid[1], -1)
    if kind == "resnet50":
        x = model.maxpool(model.act1(model.bn1(model.conv1(x))))
        return x.permute(0, 2, 3, 1)
    return model.patch_embed(x)  # timm Swin: NHWC


def body(kind: str, model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Stage-0 features (N, h, w, C0) -> final token grid (N, h', w', C)."""
    if kind == "vit":
        n, h, w, c = x.shape
        tokens = model.norm_pre(model.patch_drop(model._pos_embed(x.reshape(n, h * w, c))))
        return model.norm(model.blocks(tokens)).reshape(n, h, w, -1)
    if kind == "resnet50":
        x = x.permute(0, 3, 1, 2)
        x = model.layer4(model.layer3(model.layer2(model.layer1(x))))
        return x.permute(0, 2, 3, 1)
    return model.norm(model.layers(x))


def resize_mask(mask: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """(N, g, g) block mask -> (N, height, width) by nearest neighbour (any grid, any backbone)."""
    if mask.shape[-2:] == (height, width):
        return mask
    return F.interpolate(mask[:, None].float(), size=(height, width), mode="nearest")[:, 0]


class SensorBackbone(nn.Module):
    """One sensor's timm network (`model`, timm's own parameter names) plus the student's mask token."""

    def __init__(self, config: CMIDConfig, sensor: str):
        super().__init__()
        self.kind = config.backbone
        self.model = build_timm(self.kind, model_channels(sensor), config.img_size, config.architecture, config)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, 1, stem_width(self.kind, self.model)))
        nn.init.normal_(self.mask_token, std=0.02)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """Token grid (N, h, w, C); `mask` (N, g, g), 1 = masked, adds the mask token there."""
        features = stem(self.kind, self.model, x)
        if mask is not None:
            where = resize_mask(mask, features.shape[1], features.shape[2])[..., None].to(features.dtype)
            features = features + self.mask_token * where
        return body(self.kind, self.model, features)


def global_feature(tokens: torch.Tensor) -> torch.Tensor:
    """(N, h, w, C) -> (N, C): mean over positions (the official avg-pool)."""
    return tokens.mean(dim=(1, 2))


class CMIDBackbone(nn.Module):
    """The S1 and S2 networks of CMID (`s1`, `s2`). `embed`/`embed_pair` give the retrieval embedding:
    the L2-normalised global feature of the unmasked input."""

    def __init__(self, config: CMIDConfig):
        super().__init__()
        self.config = config
        self.s1 = SensorBackbone(config, "s1")
        self.s2 = SensorBackbone(config, "s2")

    def branch(self, sensor: str) -> SensorBackbone:
        return getattr(self, check_sensor(sensor))

    def embed(self, x: torch.Tensor, sensor: str) -> torch.Tensor:
        """(N, D) L2-normalised; only `sensor`'s network runs."""
        return F.normalize(global_feature(self.branch(sensor)(x)).float(), dim=-1)

    def embed_pair(self, x_s1: torch.Tensor, x_s2: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.embed(x_s1, "s1"), self.embed(x_s2, "s2")

