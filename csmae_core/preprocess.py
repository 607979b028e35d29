"""Band arrays -> model input: band order from the band table, float32, bicubic upsampling
(align_corners=True) of 20 m / 60 m bands to 120x120, per-band normalisation, and optionally the
spatial transpose (H <-> W) that the published CSMAE weights were trained with.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from csmae_core.bands import MODEL_BANDS, PATCH_PIXELS, check_sensor, normalisation
from csmae_core.errors import InputError
from csmae_core.record import PatchRecord


def stack_bands(bands: Mapping[str, np.ndarray], sensor: str) -> torch.Tensor:
    """(C, 120, 120) float32 raw values in model band order; coarser bands bicubic-upsampled."""
    check_sensor(sensor)
    missing = [name for name in MODEL_BANDS[sensor] if name not in bands]
    if missing:
        raise InputError(f"{sensor.upper()} input lacks band(s) {', '.join(missing)}")
    channels = []
    for name in MODEL_BANDS[sensor]:
        band = torch.from_numpy(np.asarray(bands[name], dtype=np.float32))
        if band.ndim != 2:
            raise InputError(f"band {name} must be a 2-D array, got shape {tuple(band.shape)}")
        if band.shape != (PATCH_PIXELS, PATCH_PIXELS):
            band = F.interpolate(band[None, None], size=(PATCH_PIXELS, PATCH_PIXELS), mode="bicubic",
                                 align_corners=True)[0, 0]
        channels.append(band)
    return torch.stack(channels)


def normalise(stack: torch.Tensor, sensor: str) -> torch.Tensor:
    """Per-band standardisation with the band table's statistics; works on (C,H,W) or (N,C,H,W)."""
    means, stds = (torch.tensor(v, dtype=stack.dtype).view(-1, 1, 1) for v in normalisation(sensor))
    return (stack - means) / stds


def model_input(record: PatchRecord, transpose: bool = False) -> torch.Tensor:
    """(C, 120, 120) normalised float32 tensor of one record, ready for `encoder.embed`."""
    tensor = normalise(stack_bands(record.bands, record.sensor), record.sensor)
    return tensor.transpose(-1, -2).contiguous() if transpose else tensor


def model_batch(records: Sequence[PatchRecord], sensor: str, transpose: bool = False) -> torch.Tensor:
    """(N, C, 120, 120) batch of records of one sensor."""
    wrong = [r.name for r in records if r.sensor != sensor]
    if wrong:
        raise InputError(f"batch for {sensor.upper()} holds other-sensor records: {wrong[:3]}")
    return torch.stack([model_input(r, transpose) for r in records])
