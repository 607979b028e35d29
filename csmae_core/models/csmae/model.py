"""CSMAE: a cross-sensor masked autoencoder over Sentinel-1 and Sentinel-2 patches.

Reads top to bottom: positional embedding, encoder (sensor-specific patch embedding, CLS token and
blocks, then shared blocks), decoders, masking, losses, and the training forward pass.
Sensor-specific parts are one entry per sensor (`patch_embed["s1"]`, `cls_token["s2"]`,
`specific_blocks["s1"]`, `decoders["common"]` or `decoders["s2"]`, `heads["s1"]`); shared parts keep timm's
names (`pos_embed`, `blocks`, `norm`, `fc_norm`). Published weights use other names: they are renamed at
load time by csmae_core.models.csmae.compat.published_to_model_keys (the only place that knows them).
Shapes: x (N, C, H, W); tokens (N, 1 + L, D); mask (N, L), 1 = removed.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import partial

import torch
import torch.nn as nn
import torch.nn.functional as F
from timm.layers import PatchEmbed
from timm.models.vision_transformer import Block

from csmae_core.bands import SENSORS, model_channels
from csmae_core.errors import InputError
from csmae_core.models.collectives import SINGLE_PROCESS, Ranks
from csmae_core.models.csmae.config import CSMAEConfig

OTHER = {"s1": "s2", "s2": "s1"}
DECODER_EPS = 1e-5  # the published decoder's LayerNorms (blocks and final norm) use torch's default


def sincos_pos_embed(dim: int, grid: int) -> torch.Tensor:
    """(1, 1 + grid*grid, dim) fixed 2-D sin-cos embedding, zero row for the CLS token.
    First half of the channels encodes the column, second half the row (MAE's layout)."""
    quarter = dim // 4
    omega = 1.0 / 10000 ** (torch.arange(quarter, dtype=torch.float64) / quarter)
    rows, cols = torch.meshgrid(torch.arange(grid, dtype=torch.float64),
                                torch.arange(grid, dtype=torch.float64), indexing="ij")
    parts = []
    for position in (cols.reshape(-1), rows.reshape(-1)):
        angles = position[:, None] * omega[None, :]
        parts += [torch.sin(angles), torch.cos(angles)]
    table = torch.cat(parts, dim=1)
    return torch.cat([torch.zeros(1, dim, dtype=torch.float64), table]).float()[None]


def _blocks(dim: int, depth: int, heads: int, mlp_ratio: float, eps: float = 1e-6) -> nn.Sequential:
    """Encoder blocks use the published ViT-B's eps 1e-6; the published decoder's blocks torch's default 1e-5."""
    norm = partial(nn.LayerNorm, eps=eps)
    return nn.Sequential(*[Block(dim, heads, mlp_ratio, qkv_bias=True, norm_layer=norm) for _ in range(depth)])


class CSMAEEncoder(nn.Module):
    """Two sensor branches (patch embedding, CLS token, optional specific blocks + norm per sensor)
    feeding shared blocks. `parameters()` yields them in the published layout's order (CLS tokens first),
    so a seed gives the same weights as before and a resumed optimiser state keeps its positions."""

    def __init__(self, cfg: CSMAEConfig):
        super().__init__()
        self.cfg = cfg
        dim, size, patch = cfg.embed_dim, cfg.img_size, cfg.patch_size
        self.cls_token = nn.ParameterDict({s: nn.Parameter(torch.zeros(1, 1, dim)) for s in SENSORS})
        self.patch_embed = nn.ModuleDict({s: PatchEmbed(size, patch, model_channels(s), dim) for s in SENSORS})
        self.register_buffer("pos_embed", sincos_pos_embed(dim, cfg.grid_size))
        if cfg.specific_depth:
            self.specific_blocks = nn.ModuleDict(
                {s: _blocks(dim, cfg.specific_depth, cfg.num_heads, cfg.mlp_ratio) for s in SENSORS})
            self.specific_norm = nn.ModuleDict({s: nn.LayerNorm(dim, eps=1e-6) for s in SENSORS})
        self.blocks = _blocks(dim, cfg.shared_depth, cfg.num_heads, cfg.mlp_ratio)
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.fc_norm = nn.LayerNorm(dim, eps=1e-6) if cfg.pool != "cls" else nn.Identity()

    def _specific(self, tokens: torch.Tensor, sensor: str) -> torch.Tensor:
        """Prepend the sensor's CLS token to (N, K, D) patch tokens, then its specific blocks (if any)."""
        cls = (self.cls_token[sensor] + self.pos_embed[:, :1]).expand(tokens.shape[0], -1, -1)
        tokens = torch.cat([cls, tokens], dim=1)
        if self.cfg.specific_depth:
            tokens = self.specific_norm[sensor](self.specific_blocks[sensor](tokens))
        return tokens

    def tokens(self, x: torch.Tensor, sensor: str, ids_keep: torch.Tensor | None = None) -> torch.Tensor:
        """Encoder output (N, 1 + K, D) of one sensor; `ids_keep` (N, K) selects visible patches."""
        tokens = self.patch_embed[sensor](x) + self.pos_embed[:, 1:]
        if ids_keep is not None:
            tokens = torch.gather(tokens, 1, ids_keep[..., None].expand(-1, -1, tokens.shape[-1]))
        return self.norm(self.blocks(self._specific(tokens, sensor)))

    def pool(self, tokens: torch.Tensor, ids_keep: torch.Tensor | None = None) -> torch.Tensor:
        """(N, D) pooled features: fc_norm(mean of patch tokens), or the CLS token; avg_grid: (N, 5 D), the
        unit avg feature then the unit means of the 2x2 quadrants, each x 1/2, so that a cosine is half whole
        patch, half coarse layout. `ids_keep`: the grid positions of the tokens (None: all, in order)."""
        if self.cfg.pool == "cls":
            return tokens[:, 0]
        whole = self.fc_norm(tokens[:, 1:].mean(dim=1))
        if self.cfg.pool == "avg":
            return whole
        return torch.cat([F.normalize(whole, dim=-1), 0.5 * F.normalize(self._quadrants(tokens[:, 1:], ids_keep),
                                                                        dim=-1).flatten(1)], dim=1)

    def _quadrants(self, patches: torch.Tensor, ids_keep: torch.Tensor | None) -> torch.Tensor:
        """(N, 4, D) fc_norm of the mean token of each quadrant of the patch grid (visible tokens only)."""
        side = self.cfg.grid_size
        if ids_keep is None:
            ids_keep = torch.arange(patches.shape[1], device=patches.device).expand(patches.shape[0], -1)
        rows, cols = ids_keep // side, ids_keep % side
        quadrant = (rows * 2 // side) * 2 + cols * 2 // side
        members = F.one_hot(quadrant, 4).to(patches.dtype)  # (N, K, 4)
        means = members.transpose(1, 2) @ patches / members.sum(dim=1).clamp(min=1)[..., None]
        return self.fc_norm(means)

    def embed(self, x: torch.Tensor, sensor: str) -> torch.Tensor:
        """(N, D) L2-normalised retrieval embedding; only `sensor`'s branch runs."""
        return F.normalize(self.pool(self.tokens(x, sensor)).float(), dim=-1)

    def embed_pair(self, x_s1: torch.Tensor, x_s2: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Both sensors; the shared blocks run once on the concatenated batch (fewer, larger matmuls)."""
        if self.cfg.specific_depth == 0 and x_s1.shape[0] != x_s2.shape[0]:
            return self.embed(x_s1, "s1"), self.embed(x_s2, "s2")
        pre = [self._specific(self.patch_embed[sensor](x) + self.pos_embed[:, 1:], sensor)
               for x, sensor in ((x_s1, "s1"), (x_s2, "s2"))]
        shared = self.norm(self.blocks(torch.cat(pre)))
        pooled = F.normalize(self.pool(shared).float(), dim=-1)
        return pooled[: x_s1.shape[0]], pooled[x_s1.shape[0]:]


class CSMAEDecoder(nn.Module):
    """MAE decoder body with one linear head per target sensor: `heads[target]` for each of `targets`."""

    def __init__(self, cfg: CSMAEConfig, targets: tuple[str, ...]):
        super().__init__()
        dim, pixels = cfg.decoder_dim, cfg.patch_size ** 2
        self.mask_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.embed = nn.Linear(cfg.embed_dim, dim)
        self.register_buffer("pos_embed", sincos_pos_embed(dim, cfg.grid_size))
        self.blocks = _blocks(dim, cfg.decoder_depth, cfg.decoder_heads, cfg.mlp_ratio, eps=DECODER_EPS)
        self.norm = nn.LayerNorm(dim, eps=DECODER_EPS)
        self.heads = nn.ModuleDict({t: nn.Linear(dim, pixels * model_channels(t)) for t in targets})

    def forward(self, tokens: torch.Tensor, ids_restore: torch.Tensor, target: str) -> torch.Tensor:
        """tokens (N, 1 + K, D) visible tokens -> (N, L, patch*patch*C_target) pixel predictions."""
        x = self.embed(tokens)
        n, length = x.shape[0], ids_restore.shape[1]
        filler = self.mask_token.expand(n, length + 1 - x.shape[1], -1)
        patches = torch.cat([x[:, 1:], filler], dim=1)
        patches = torch.gather(patches, 1, ids_restore[..., None].expand(-1, -1, x.shape[-1]))
        x = torch.cat([x[:, :1], patches], dim=1) + self.pos_embed
        return self.heads[target](self.norm(self.blocks(x)))[:, 1:]


@dataclass
class Masks:
    """Per-sensor masking of one batch: visible ids (N, K), restore ids (N, L), mask (N, L) 1 = removed."""

    ids_keep: dict[str, torch.Tensor]
    ids_restore: dict[str, torch.Tensor]
    mask: dict[str, torch.Tensor]


def _mask_from_shuffle(ids_shuffle: torch.Tensor, keep: int) -> tuple[torch.Tensor, ...]:
    ids_restore = torch.argsort(ids_shuffle, dim=1)
    mask = torch.ones_like(ids_shuffle, dtype=torch.float32)
    mask[:, :keep] = 0
    return ids_shuffle[:, :keep], ids_restore, torch.gather(mask, 1, ids_restore)


def draw_masks(n: int, length: int, ratio: float, strategy: str, device=None,
               generator: torch.Generator | None = None, noise: torch.Tensor | None = None) -> Masks:
    """S1 mask first; S2 identical (same positions), disjoint (exactly S1's removed positions are
    visible), or random (independent draw). `noise` (n, 2, length) in [0, 1), S1's then S2's, replaces
    the random draw (per-sample masks, e.g. to compare runs that split a batch differently; as ViTMAE's)."""
    keep = int(length * (1 - ratio))
    if noise is not None and tuple(noise.shape) != (n, 2, length):
        raise InputError(f"noise must have shape (n, 2, patches) = ({n}, 2, {length}), not {tuple(noise.shape)}")

    def uniform(sensor: int) -> torch.Tensor:
        return noise[:, sensor] if noise is not None else torch.rand(n, length, device=device, generator=generator)

    shuffle_s1 = torch.argsort(uniform(0), dim=1)
    if strategy == "identical":
        shuffle_s2, keep_s2 = shuffle_s1, keep
    elif strategy == "disjoint":
        shuffle_s2, keep_s2 = torch.flip(shuffle_s1, dims=[1]), length - keep
    else:
        shuffle_s2 = torch.argsort(uniform(1), dim=1)
        keep_s2 = keep
    parts = {"s1": _mask_from_shuffle(shuffle_s1, keep), "s2": _mask_from_shuffle(shuffle_s2, keep_s2)}
    return Masks(*({s: parts[s][i] for s in SENSORS} for i in range(3)))


def patchify(images: torch.Tensor, patch: int) -> torch.Tensor:
    """(N, C, H, W) -> (N, L, patch*patch*C), channels last inside a patch (published layout)."""
    n, c, h, w = images.shape
    x = images.reshape(n, c, h // patch, patch, w // patch, patch)
    return torch.einsum("nchpwq->nhwpqc", x).reshape(n, (h // patch) * (w // patch), patch * patch * c)


def reconstruction_loss(prediction: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """MSE per patch, averaged over the patches with mask 1 (0 when there are none)."""
    per_patch = ((prediction.float() - target.float()) ** 2).mean(dim=-1)
    return (per_patch * mask).sum() / mask.sum().clamp_min(1.0)


def nt_xent(z1: torch.Tensor, z2: torch.Tensor, temperature: float, ranks: Ranks = SINGLE_PROCESS) -> torch.Tensor:
    """Inter-modal NT-Xent: rows of [z1; z2], positive = the counterpart, negatives = all 2N-2 others of the
    global batch (with several processes: every process's rows, gathered with their gradients)."""
    z = F.normalize(torch.cat([z1, z2]).float(), dim=-1)
    everyone = ranks.gather(z)  # process r's rows [z1; z2] at r * 2N ...
    logits = z @ everyone.T / temperature
    offset, rows = ranks.rank * len(z), torch.arange(len(z), device=z.device)
    itself = torch.zeros(logits.shape, dtype=torch.bool, device=z.device)
    itself[rows, offset + rows] = True
    logits = logits.masked_fill(itself, float("-inf"))
    n = z1.shape[0]
    positives = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)]).to(z.device) + offset
    return F.cross_entropy(logits, positives)


def mde_loss(z1: torch.Tensor, z2: torch.Tensor) -> torch.Tensor:
    """-mean(log(1 + exp(cos(z1_i, z2_i)))): rewards agreement of each pair."""
    return -F.softplus(F.cosine_similarity(z1.float(), z2.float(), dim=-1)).mean()


class CSMAE(nn.Module):
    """Encoder (`backbone`) + decoders + losses. `forward(x_s1, x_s2)` returns the loss terms. `ranks` says
    which processes share the global batch (the NT-Xent negatives); one process unless a trainer sets it."""

    def __init__(self, cfg: CSMAEConfig):
        super().__init__()
        self.cfg = cfg
        self.ranks: Ranks = SINGLE_PROCESS
        self.backbone = CSMAEEncoder(cfg)
        # "common": one body for every reconstruction; "specific": one decoder per TARGET sensor, used for
        # its uni-modal and its cross-modal reconstruction
        if cfg.decoder_kind == "common":
            self.decoders = nn.ModuleDict({"common": CSMAEDecoder(cfg, SENSORS)})
        else:
            self.decoders = nn.ModuleDict({s: CSMAEDecoder(cfg, (s,)) for s in SENSORS})
        self.initialize_weights()

    def initialize_weights(self) -> None:
        for module in self.modules():
            if isinstance(module, nn.Linear):
                nn.init.xavier_uniform_(module.weight)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
            elif isinstance(module, nn.LayerNorm):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)
            elif isinstance(module, PatchEmbed):  # like a Linear layer, as in MAE
                nn.init.xavier_uniform_(module.proj.weight.view(module.proj.weight.shape[0], -1))
        for sensor in SENSORS:
            nn.init.normal_(self.backbone.cls_token[sensor], std=0.02)
        for decoder in self.decoders.values():
            nn.init.normal_(decoder.mask_token, std=0.02)

    def decoder_for(self, target: str) -> CSMAEDecoder:
        """The decoder that reconstructs `target`'s pixels."""
        return self.decoders["common" if self.cfg.decoder_kind == "common" else target]

    def forward(self, x_s1: torch.Tensor, x_s2: torch.Tensor, generator: torch.Generator | None = None,
                noise: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """Loss terms of one batch; `noise` (N, 2, L) fixes the masks per sample (see `draw_masks`)."""
        cfg, images = self.cfg, {"s1": x_s1, "s2": x_s2}
        masks = draw_masks(x_s1.shape[0], cfg.num_patches, cfg.mask_ratio, cfg.masking, x_s1.device, generator,
                           noise)
        tokens = {s: self.backbone.tokens(images[s], s, masks.ids_keep[s]) for s in SENSORS}
        targets = {s: patchify(images[s], cfg.patch_size) for s in SENSORS}
        losses = {}
        for source in SENSORS:
            target = OTHER[source]
            own = self.decoder_for(source)(tokens[source], masks.ids_restore[source], source)
            losses[f"umr_{source}"] = reconstruction_loss(own, targets[source], masks.mask[source])
            # disjoint: the target's pixels where the source was masked, the source's tokens at their places;
            # identical (as published): the source's tokens in the target's visible slots, the target's
            # masked pixels scored (docs/CSMAE-FIDELITY.md)
            slots, where = ((masks.ids_restore[source], masks.mask[source]) if cfg.reconstruction == "disjoint"
                            else (masks.ids_restore[target], masks.mask[target]))
            cross = self.decoder_for(target)(tokens[source], slots, target)
            losses[f"cmr_{target}_from_{source}"] = reconstruction_loss(cross, targets[target], where)
        z1, z2 = (self.backbone.pool(tokens[s], masks.ids_keep[s]) for s in SENSORS)
        losses["mim"] = nt_xent(z1, z2, cfg.mim_temperature, self.ranks)
        losses["mde"] = mde_loss(z1, z2)
        weights = cfg.loss_weights
        losses["loss"] = (weights["umr"] * (losses["umr_s1"] + losses["umr_s2"])
                          + weights["cmr"] * (losses["cmr_s2_from_s1"] + losses["cmr_s1_from_s2"])
                          + weights["mim"] * losses["mim"] + weights["mde"] * losses["mde"])
        return losses


def parameter_count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def encoder_flops(cfg: CSMAEConfig, sensor: str) -> float:
    """Multiply-add FLOPs (x2) of one unmasked single-sensor embedding (matmuls only)."""
    tokens, dim = cfg.num_patches + 1, cfg.embed_dim
    per_block = 2 * tokens * (4 * dim * dim + 2 * cfg.mlp_ratio * dim * dim) + 2 * 2 * tokens * tokens * dim
    embed = 2 * cfg.num_patches * model_channels(sensor) * cfg.patch_size ** 2 * dim
    return embed + cfg.depth * per_block if math.isfinite(per_block) else float("nan")
