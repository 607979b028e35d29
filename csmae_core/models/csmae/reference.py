"""A straightforward reference encoder in the published code's structure, for equivalence tests and
benchmarks: a timm VisionTransformer (S1 patch embedding, CLS token, shared blocks, avg pooling with
fc_norm) with S2 modules and optional sensor-specific blocks added. Like the published backbone, its
forward takes 12-channel stacked images [S2 (10 channels), S1 (2 channels)] and always computes both
sensors. Its state_dict has the published key layout (prefix `backbone.` in Lightning files).
"""
from __future__ import annotations

from functools import partial

import torch
import torch.nn as nn
import torch.nn.functional as F
from timm.layers import PatchEmbed
from timm.models.vision_transformer import Block, VisionTransformer

from csmae_core.bands import model_channels
from csmae_core.models.csmae.model import sincos_pos_embed


class PublishedLayoutEncoder(VisionTransformer):
    def __init__(self, embed_dim: int = 768, num_heads: int = 12, specific_depth: int = 10,
                 shared_depth: int = 2, img_size: int = 120, patch_size: int = 15, mlp_ratio: float = 4.0):
        norm = partial(nn.LayerNorm, eps=1e-6)
        super().__init__(img_size=img_size, patch_size=patch_size, in_chans=model_channels("s1"),
                         embed_dim=embed_dim, depth=shared_depth, num_heads=num_heads, mlp_ratio=mlp_ratio,
                         global_pool="avg", num_classes=0, norm_layer=norm)
        self.norm = norm(embed_dim)  # the published backbone keeps this LayerNorm before fc_norm
        self.patch_embed_s2 = PatchEmbed(img_size, patch_size, model_channels("s2"), embed_dim)
        self.cls_token_s2 = nn.Parameter(torch.zeros(1, 1, embed_dim))
        self.specific_depth = specific_depth
        if specific_depth:
            for sensor in ("s1", "s2"):
                setattr(self, f"blocks_{sensor}", nn.Sequential(*[
                    Block(embed_dim, num_heads, mlp_ratio, qkv_bias=True, norm_layer=norm)
                    for _ in range(specific_depth)]))
                setattr(self, f"norm_{sensor}", norm(embed_dim))
        self.pos_embed.requires_grad_(False)
        self.pos_embed.data.copy_(sincos_pos_embed(embed_dim, img_size // patch_size))

    def _branch(self, x: torch.Tensor, sensor: str) -> torch.Tensor:
        embed = self.patch_embed if sensor == "s1" else self.patch_embed_s2
        cls = self.cls_token if sensor == "s1" else self.cls_token_s2
        tokens = embed(x) + self.pos_embed[:, 1:]
        tokens = torch.cat([(cls + self.pos_embed[:, :1]).expand(x.shape[0], -1, -1), tokens], dim=1)
        if self.specific_depth:
            tokens = getattr(self, f"norm_{sensor}")(getattr(self, f"blocks_{sensor}")(tokens))
        return self.norm(self.blocks(tokens))

    def forward(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        """images (N, 12, H, W) = [S2, S1] -> {"s1": (N, D), "s2": (N, D)} L2-normalised."""
        s2, s1 = images[:, :model_channels("s2")], images[:, model_channels("s2"):]
        return {sensor: F.normalize(self.forward_head(self._branch(x, sensor)), dim=-1)
                for sensor, x in (("s1", s1), ("s2", s2))}
