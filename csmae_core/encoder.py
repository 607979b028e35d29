"""The retrieval encoder the app, scripts and tests use: `load_model(path).embed(x, sensor)`."""
from __future__ import annotations

import contextlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from csmae_core.bands import PATCH_PIXELS, SENSORS, check_sensor, model_channels
from csmae_core.checkpoint import Checkpoint, checkpoint_from_payload, load_checkpoint, read_torch_file
from csmae_core.errors import InputError
from csmae_core.model import CSMAEEncoder
from csmae_core.preprocess import model_batch
from csmae_core.record import PatchRecord


def default_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


class EncoderBase(torch.nn.Module):
    """The interface every encoder family offers (CSMAE: `RetrievalEncoder`; CMID: `csmae_core.cmid.encoder`):
    `family`, `sensors` (those it can embed), `cross_sensor` (S1 and S2 vectors share one space), `dim`,
    `content_hash`, `card`, `device`, `precision`, `transpose_input`, `config`, `backbone.embed_pair` /
    `backbone.embed`, `config_dict()`, `describe()`, `embed`, `embed_pair`, `prepare`, `embed_records`.

    `embed(x, sensor)`: x (N, C, 120, 120) float, normalised, in model band order and orientation ->
    (N, D) float32, L2-normalised, on the encoder's device. Only `sensor`'s branch is computed.
    `precision`: "fp32" or "bf16" (autocast; CPU and CUDA).
    A family sets `backbone`, `config`, `content_hash`, `card`, `device` and implements `dim`,
    `config_dict` and `describe`.
    """

    family = ""
    sensors: tuple[str, ...] = SENSORS
    cross_sensor = True
    transpose_input = False
    input_size = PATCH_PIXELS

    def __init__(self, backbone: torch.nn.Module, config, content_hash: str, card: dict, device: torch.device):
        super().__init__()
        self.backbone = backbone.to(device).eval()
        self.config = config
        self.content_hash = content_hash
        self.card = card
        self.device = device
        self.precision = "fp32"

    @property
    def dim(self) -> int:
        raise NotImplementedError

    def config_dict(self) -> dict:
        return self.config.to_dict()

    def describe(self) -> str:
        raise NotImplementedError

    def _autocast(self):
        if self.precision == "bf16":
            return torch.autocast(self.device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def _check(self, x: torch.Tensor, sensor: str) -> torch.Tensor:
        check_sensor(sensor)
        if sensor not in self.sensors:
            raise InputError(f"{self.describe()} cannot embed {sensor.upper()} patches; it embeds "
                             f"{', '.join(s.upper() for s in self.sensors)} only")
        size = self.input_size
        if x.ndim != 4 or x.shape[1] != model_channels(sensor) or tuple(x.shape[-2:]) != (size, size):
            raise InputError(f"{sensor.upper()} input must be (N, {model_channels(sensor)}, {size}, {size}), "
                             f"got {tuple(x.shape)}")
        return x.to(self.device, torch.float32, non_blocking=True)

    @torch.inference_mode()
    def embed(self, x: torch.Tensor, sensor: str) -> torch.Tensor:
        x = self._check(x, sensor)
        with self._autocast():
            return self.backbone.embed(x, sensor).float()

    @torch.inference_mode()
    def embed_pair(self, x_s1: torch.Tensor, x_s2: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x_s1, x_s2 = self._check(x_s1, "s1"), self._check(x_s2, "s2")
        with self._autocast():
            s1, s2 = self.backbone.embed_pair(x_s1, x_s2)
        return s1.float(), s2.float()

    def prepare(self, records: Sequence[PatchRecord], sensor: str) -> torch.Tensor:
        """Records -> model input in this encoder's orientation."""
        return model_batch(records, sensor, transpose=self.transpose_input)

    def embed_records(self, records: Sequence[PatchRecord], sensor: str, batch_size: int = 64) -> np.ndarray:
        """(N, D) float32 NumPy embeddings of records of one sensor."""
        chunks = [self.embed(self.prepare(records[i:i + batch_size], sensor), sensor).cpu().numpy()
                  for i in range(0, len(records), batch_size)]
        return np.concatenate(chunks) if chunks else np.zeros((0, self.dim), dtype=np.float32)


class RetrievalEncoder(EncoderBase):
    """A CSMAE encoder with the facts needed to feed it (orientation, hash, card); see `EncoderBase`."""

    family = "csmae"
    sensors = ("s1", "s2")
    cross_sensor = True

    def __init__(self, backbone: CSMAEEncoder, checkpoint: Checkpoint, device: torch.device):
        super().__init__(backbone, checkpoint.config, checkpoint.content_hash, checkpoint.card, device)
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


def load_model(path: str | Path, device: str | torch.device | None = None) -> EncoderBase:
    """Encoder from any supported checkpoint of any family (CSMAE: see csmae_core.checkpoint; CMID: ours or
    the official ResNet-50 / Swin-B, see csmae_core.cmid.checkpoint); CUDA when available unless `device`
    says otherwise."""
    path = Path(path)
    device = torch.device(device) if device is not None else default_device()
    if path.is_dir() or not path.is_file():
        checkpoint = load_checkpoint(path)
    else:
        payload = read_torch_file(path)
        from csmae_core.cmid.encoder import is_cmid, load_cmid  # lazy: the cmid package builds on this module

        if is_cmid(payload):
            return load_cmid(payload, path, device)
        checkpoint = checkpoint_from_payload(payload, path)
    return RetrievalEncoder(checkpoint.build_encoder(), checkpoint, device)
