"""Deterministic previews as uint8 RGB arrays (no UI code): S2 true colour and an S1 false colour.

S2: B04, B03, B02 with a 2-98 percentile stretch per image (robust to clouds and dark water).
S1: R = VV, G = VH, B = VV - VH (in dB), each stretched to its 2-98 percentiles.
"""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from csmae_core.errors import InputError

LOW_PERCENTILE, HIGH_PERCENTILE = 2.0, 98.0


def stretch(values: np.ndarray, low: float = LOW_PERCENTILE, high: float = HIGH_PERCENTILE) -> np.ndarray:
    """Linear stretch of the finite values between two percentiles (over the whole array) to 0..255."""
    values = np.asarray(values, dtype=np.float64)
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return np.zeros(values.shape, dtype=np.uint8)
    lo, hi = np.percentile(finite, [low, high])
    scaled = (values - lo) / (hi - lo) if hi > lo else np.zeros_like(values)
    return (np.clip(np.nan_to_num(scaled), 0, 1) * 255 + 0.5).astype(np.uint8)


def _require(bands: Mapping[str, np.ndarray], names: tuple[str, ...]) -> list[np.ndarray]:
    missing = [n for n in names if n not in bands]
    if missing:
        raise InputError(f"preview needs band(s) {', '.join(missing)}")
    return [np.asarray(bands[n]) for n in names]


def s2_true_colour(bands: Mapping[str, np.ndarray]) -> np.ndarray:
    """(H, W, 3) uint8 from B04, B03, B02 stretched jointly (keeps the colour balance)."""
    red, green, blue = _require(bands, ("B04", "B03", "B02"))
    return stretch(np.stack([red, green, blue], axis=-1))


def s1_false_colour(bands: Mapping[str, np.ndarray]) -> np.ndarray:
    """(H, W, 3) uint8 from VV, VH and VV - VH (dB), each channel stretched on its own."""
    vv, vh = _require(bands, ("VV", "VH"))
    return np.stack([stretch(vv), stretch(vh), stretch(vv - vh)], axis=-1)


def preview(sensor: str, bands: Mapping[str, np.ndarray]) -> np.ndarray:
    return s1_false_colour(bands) if sensor == "s1" else s2_true_colour(bands)
