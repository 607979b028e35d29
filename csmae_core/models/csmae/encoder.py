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
        return self.config.embed_dim

    def describe(self) -> str:
        cfg = self.config
        return (f"CSMAE-{cfg.variant.upper()} ViT {cfg.embed_dim}-d, "
                f"{cfg.specific_depth}+{cfg.shared_depth} blocks")


def load_csmae(payload: Any, path: Path, device: torch.device) -> CSMAERetrievalEncoder:
    """The encoder of a CSMAE file's content (read with csmae_core.models.weights.read_torch_file)."""
    checkpoint = checkpoint_from_payload(payload, path)
    return CSMAERetrievalEncoder(checkpoint.build_encoder(), checkpoint, device)


def load_csmae_folder(folder: Path, device: torch.device) -> CSMAERetrievalEncoder:
    """The encoder of a published checkpoint folder (cfg.yaml + weights.ckpt)."""
    checkpoint = load_checkpoint(folder)
    return CSMAERetrievalEncoder(checkpoint.build_encoder(), checkpoint, device)
