"""The student's masking: random square blocks, masked pixels filled with the image's own mean.

As the official BlockwiseMaskGenerator (Pretrain/Dataset/transform.py, mask_color "mean"): the image is
cut into (img_size / mask_patch_size)^2 blocks, ceil(ratio * blocks) of them are masked, and every
masked pixel takes the per-image, per-channel mean. The backbone also adds its mask token there
(backbones.SensorBackbone), so the network knows which positions were hidden.
"""
from __future__ import annotations

import math

import torch

from csmae_core.errors import InputError


def block_masks(n: int, grid: int, ratio: float, device=None, generator: torch.Generator | None = None,
                noise: torch.Tensor | None = None) -> torch.Tensor:
    """(n, grid, grid) float masks, 1 = masked, exactly ceil(ratio * grid^2) blocks each, drawn independently;
    `noise` (n, grid^2) in [0, 1) replaces the random draw (per-sample masks; the lowest values are masked)."""
    blocks = grid * grid
    count = math.ceil(blocks * ratio)
    if noise is not None and tuple(noise.shape) != (n, blocks):
        raise InputError(f"noise must have shape (n, blocks) = ({n}, {blocks}), not {tuple(noise.shape)}")
    uniform = noise if noise is not None else torch.rand(n, blocks, device=device, generator=generator)
    ranks = uniform.argsort(dim=1).argsort(dim=1)
    return (ranks < count).float().reshape(n, grid, grid)


def pixel_mask(mask: torch.Tensor, size: int) -> torch.Tensor:
    """(N, g, g) block mask -> (N, size, size) pixel mask (size a multiple of g)."""
    scale = size // mask.shape[-1]
    return mask.repeat_interleave(scale, dim=1).repeat_interleave(scale, dim=2)


def fill_with_mean(images: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Masked pixels of (N, C, H, W) replaced by each image's per-channel mean (taken over the whole image)."""
    where = pixel_mask(mask, images.shape[-1])[:, None].to(images.dtype)
    mean = images.mean(dim=(2, 3), keepdim=True)
    return images * (1 - where) + mean * where
