"""The interface every encoder family offers to the rest of the core (indexing, search, evaluation, app):
`load_model(path).embed(x, sensor)` whatever the family."""
from __future__ import annotations

import contextlib
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from csmae_core.bands import PATCH_PIXELS, SENSORS, check_sensor, model_channels
from csmae_core.errors import InputError
from csmae_core.preprocess import model_batch
from csmae_core.record import PatchRecord


def default_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


class EncoderBase(torch.nn.Module):
    """The interface every encoder family offers (CSMAE: `csmae_core.models.csmae.encoder`; CMID:
    `csmae_core.models.cmid.encoder`):
    `family`, `sensors` (those it can embed), `cross_sensor` (S1 and S2 vectors share one space), `dim`,
    `content_hash`, `hash_aliases`, `accepted_hashes`, `card`, `device`, `precision`, `transpose_input`,
    `config`, `backbone.embed_pair` / `backbone.embed`, `config_dict()`, `describe()`, `embed`, `embed_pair`,
    `prepare`, `embed_records`, `embed_tokens`, `record_tokens`.

    `content_hash`: the hash of the weights under the family's current key names (what new bundles record).
    `hash_aliases`: hashes of the same weights under earlier key layouts (set when a loader renamed the
    file's keys), which bundles built before the renaming recorded. `accepted_hashes`: both, content hash
    first: what a bundle may have been built with to be comparable with this encoder.

    `embed(x, sensor)`: x (N, C, 120, 120) float, normalised, in model band order and orientation ->
    (N, D) float32, L2-normalised, on the encoder's device. Only `sensor`'s branch is computed.
    `precision`: "fp32" or "bf16" (autocast; CPU and CUDA).
    A family sets `backbone`, `config`, `content_hash`, `card`, `device` (and `hash_aliases` when its
    loader renames keys) and implements `dim`, `config_dict`, `describe` and `_token_grid`.

    `embed_tokens(x, sensor)`: the per-position tokens in the space the pooled embedding lives in, and that
    embedding, from one forward pass (see `_token_grid`); `record_tokens` the same for records, with the
    grid in the records' own orientation (rows and columns of their bands, as previews show them).
    """

    family = ""
    sensors: tuple[str, ...] = SENSORS
    cross_sensor = True
    transpose_input = False
    input_size = PATCH_PIXELS

    def __init__(self, backbone: torch.nn.Module, config, content_hash: str, card: dict, device: torch.device,
                 hash_aliases: Sequence[str] = ()):
        super().__init__()
        self.backbone = backbone.to(device).eval()
        self.config = config
        self.content_hash = content_hash
        self.hash_aliases = tuple(a for a in dict.fromkeys(hash_aliases) if a != content_hash)
        self.card = card
        self.device = device
        self.precision = "fp32"

    @property
    def accepted_hashes(self) -> tuple[str, ...]:
        """The content hash, then the hash aliases (e.g. for `Bundle(path, expected_model_hash=...)`)."""
        return (self.content_hash, *self.hash_aliases)

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

    def _token_grid(self, x: torch.Tensor, sensor: str) -> tuple[torch.Tensor, torch.Tensor]:
        """(tokens (N, h, w, D), pooled (N, D)), not normalised, from one forward pass: the family's final
        per-position features mapped into the pooled embedding's space, and the pooled feature `embed`
        normalises. The grid is in the model's orientation."""
        raise NotImplementedError(f"{self.describe()} does not expose its tokens")

    @torch.inference_mode()
    def embed_tokens(self, x: torch.Tensor, sensor: str) -> tuple[torch.Tensor, torch.Tensor]:
        """x as for `embed` -> (tokens (N, h, w, D), pooled (N, D)), float32, each vector L2-normalised, so
        token . pooled is a cosine. `pooled` equals `embed(x, sensor)` (for an embedding that appends more
        than the whole-patch vector, e.g. CSMAE's avg_grid, its whole-patch part, normalised). Grid in the
        model's orientation (transposed against the records when `transpose_input`; `record_tokens` undoes
        that)."""
        x = self._check(x, sensor)
        with self._autocast():
            tokens, pooled = self._token_grid(x, sensor)
        return F.normalize(tokens.float(), dim=-1), F.normalize(pooled.float(), dim=-1)

    def record_tokens(self, records: Sequence[PatchRecord], sensor: str) -> tuple[np.ndarray, np.ndarray]:
        """(tokens (N, h, w, D), pooled (N, D)) float32 NumPy for records of one sensor; token [i, r, c] covers
        row block r and column block c of record i's bands as stored (and as its preview shows them)."""
        tokens, pooled = self.embed_tokens(self.prepare(records, sensor), sensor)
        if self.transpose_input:  # the model saw (columns, rows): swap the grid back
            tokens = tokens.transpose(1, 2)
        return tokens.cpu().numpy(), pooled.cpu().numpy()
