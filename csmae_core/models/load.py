"""`load_model`: any supported checkpoint of any family as its retrieval encoder. Each family says which
files are its own; none of them needs to know the others."""
from __future__ import annotations

from pathlib import Path

import torch

from csmae_core.errors import DataNotFoundError
from csmae_core.models.base import EncoderBase, default_device
from csmae_core.models.cmid.encoder import is_cmid, load_cmid
from csmae_core.models.csmae.encoder import load_csmae, load_csmae_folder
from csmae_core.models.weights import read_torch_file

# (recognises a file's content, builds its encoder), asked in order; CSMAE is the fallback because its
# reader explains best what a foreign file lacks.
FAMILIES = ((is_cmid, load_cmid),)


def load_model(path: str | Path, device: str | torch.device | None = None) -> EncoderBase:
    """Encoder from any supported checkpoint of any family (CSMAE: our .pt, Lightning .ckpt, a published
    cfg.yaml + weights.ckpt folder; CMID: ours or the official ResNet-50 / Swin-B); CUDA when available
    unless `device` says otherwise."""
    path = Path(path)
    device = torch.device(device) if device is not None else default_device()
    if path.is_dir():
        return load_csmae_folder(path, device)
    if not path.is_file():
        raise DataNotFoundError(f"no checkpoint at {path}")
    payload = read_torch_file(path)
    for recognises, load in FAMILIES:
        if recognises(payload):
            return load(payload, path, device)
    return load_csmae(payload, path, device)
