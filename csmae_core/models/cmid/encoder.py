"""CMID retrieval encoders with the interface of every family (csmae_core.models.base.EncoderBase).

`CMIDEncoder`: ours, S1 and S2 (one space with cross_sensor, else two). `OfficialCMIDEncoder`: an official
ResNet-50 / Swin-B checkpoint, S2 true colour only. `load_model` (csmae_core.models.load) comes here when
`is_cmid` recognises the file.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from csmae_core.errors import CheckpointError
from csmae_core.models.base import EncoderBase
from csmae_core.models.cmid import official
from csmae_core.models.cmid.backbones import body, global_feature, stem
from csmae_core.models.cmid.checkpoint import (
    CMIDCheckpoint,
    from_lightning,
    from_project,
    is_lightning_cmid,
    is_project_cmid,
)
from csmae_core.models.weights import content_hash


class CMIDEncoder(EncoderBase):
    """Our CMID: the student networks' mean token, L2-normalised, per sensor."""

    family = "cmid"
    sensors = ("s1", "s2")

    def __init__(self, checkpoint: CMIDCheckpoint, device: torch.device):
        super().__init__(checkpoint.build_backbone(), checkpoint.config, checkpoint.content_hash, checkpoint.card,
                         device)
        self.cross_sensor = checkpoint.config.cross_sensor

    @property
    def input_size(self) -> int:
        return self.config.img_size

    @property
    def dim(self) -> int:
        return self.config.feature_dim

    def describe(self) -> str:
        mode = "cross-sensor" if self.cross_sensor else "uni-modal"
        return f"CMID {mode} {self.config.describe_backbone()}"

    def _token_grid(self, x: torch.Tensor, sensor: str) -> tuple[torch.Tensor, torch.Tensor]:
        """The sensor network's final token grid (ViT: patch tokens after the final norm; ResNet: layer4
        positions; Swin: last stage); the embedding is their plain mean, so tokens are already in its space."""
        tokens = self.backbone.branch(sensor)(x)
        return tokens, global_feature(tokens)


class OfficialCMIDEncoder(EncoderBase):
    """An official CMID network (MillionAID RGB pre-training) on S2 true colour; see csmae_core.models.cmid.official."""

    family = "cmid-official"
    sensors = ("s2",)
    cross_sensor = False

    def __init__(self, backbone: official.OfficialRGBBackbone, weights_hash: str, card: dict, device: torch.device):
        super().__init__(backbone, backbone.config, weights_hash, card, device)

    @property
    def dim(self) -> int:
        return self.backbone.model.num_features

    def describe(self) -> str:
        return f"CMID official {self.config.name} (MillionAID RGB), S2 true colour"

    def _token_grid(self, x: torch.Tensor, sensor: str) -> tuple[torch.Tensor, torch.Tensor]:
        """The last stage's positions on the true-colour input (resized to the official size, so the grid
        still covers the whole patch); the embedding is their mean."""
        model, kind = self.backbone.model, self.backbone.kind
        tokens = body(kind, model, stem(kind, model, official.true_colour_input(x)))
        return tokens, global_feature(tokens)


def is_cmid(payload: Any) -> bool:
    """Whether a file's content is a CMID checkpoint (ours in either format, or an official one)."""
    return (is_project_cmid(payload) or is_lightning_cmid(payload)
            or official.official_backbone_state(payload) is not None)


def load_cmid(payload: Any, path: Path, device: torch.device) -> EncoderBase:
    if is_project_cmid(payload):
        return CMIDEncoder(from_project(payload, path), device)
    if is_lightning_cmid(payload):
        return CMIDEncoder(from_lightning(payload, path), device)
    state = official.official_backbone_state(payload)
    if state is None:
        raise CheckpointError(f"{path.name} is not a CMID checkpoint")
    backbone, mapped = official.build_official(state)
    source = "full pre-training checkpoint" if isinstance(payload.get("model"), dict) else "backbone-only file"
    card = {"method": "cmid", "origin": f"official CMID {backbone.config.name} {source} {path.name} (Muhtar et al., "
                                        "IEEE TGRS 2023; MillionAID RGB pre-training; student network)"}
    return OfficialCMIDEncoder(backbone, content_hash(mapped), card, device)
