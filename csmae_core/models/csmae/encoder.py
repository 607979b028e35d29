"""The CSMAE family's retrieval encoder (see csmae_core.models.base.EncoderBase)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from csmae_core.models.base import EncoderBase
from csmae_core.models.csmae.checkpoint import Checkpoint, checkpoint_from_payload, load_checkpoint
from csmae_core.models.csmae.model import CSMAEEncoder


class CSMAERetrievalEncoder(EncoderBase):
    """A CSMAE encoder with the facts needed to feed it (orientation, hash, card); see `EncoderBase`."""

    family = "csmae"
    sensors = ("s1", "s2")
    cross_sensor = True

    def __init__(self, backbone: CSMAEEncoder, checkpoint: Checkpoint, device: torch.device):
        super().__init__(backbone, checkpoint.config, checkpoint.content_hash, checkpoint.card, device,
                         checkpoint.hash_aliases)
        self.transpose_input = checkpoint.transpose_input

    @property
    def input_size(self) -> int:
        return self.config.img_size

    @property
    def dim(self) -> int:
        return self.config.embedding_dim

    def describe(self) -> str:
        cfg = self.config
        return (f"CSMAE-{cfg.variant.upper()} ViT {cfg.embed_dim}-d, "
                f"{cfg.specific_depth}+{cfg.shared_depth} blocks")

    def _token_grid(self, x: torch.Tensor, sensor: str) -> tuple[torch.Tensor, torch.Tensor]:
        """Patch tokens after the shared blocks and the final norm. With avg pooling the embedding is
        fc_norm(mean of tokens), so each token also goes through fc_norm: token and pooled vectors then live in
        one space (fc_norm is a LayerNorm, so fc_norm(mean) is not exactly the mean of fc_norm(token), but
        both are on its normalised scale). With CLS pooling fc_norm is the identity and the CLS token is the
        pooled vector. Poolings that append more (avg_grid's quadrant means) keep their first, whole-patch
        part: the one vector of the token width."""
        backbone, cfg = self.backbone, self.config
        tokens = backbone.tokens(x, sensor)
        patches = backbone.fc_norm(tokens[:, 1:]).reshape(len(x), cfg.grid_size, cfg.grid_size, -1)
        return patches, backbone.pool(tokens)[:, :cfg.embed_dim]


def load_csmae(payload: Any, path: Path, device: torch.device) -> CSMAERetrievalEncoder:
    """The encoder of a CSMAE file's content (read with csmae_core.models.weights.read_torch_file)."""
    checkpoint = checkpoint_from_payload(payload, path)
    return CSMAERetrievalEncoder(checkpoint.build_encoder(), checkpoint, device)


def load_csmae_folder(folder: Path, device: torch.device) -> CSMAERetrievalEncoder:
    """The encoder of a published checkpoint folder (cfg.yaml + weights.ckpt)."""
    checkpoint = load_checkpoint(folder)
    return CSMAERetrievalEncoder(checkpoint.build_encoder(), checkpoint, device)
