"""Values and units of the bands read from an upload, made to look like BigEarthNet's: S1 linear power
to dB, S2 0-1 reflectance to 0-10000, 20 m / 60 m bands area-averaged to their native size, S2 as
uint16 and S1 as float32; NaN, infinite and all-zero bands are refused."""
from __future__ import annotations

import numpy as np

from csmae_core.bands import BANDS, STORED_BANDS
from csmae_core.errors import InputError

_LINEAR_FLOOR = 1e-6  # linear power clipped here before 10*log10 (zero would give -inf)
_DB_MEDIAN_MAX = 10.0  # S1 sigma0 in dB has a median far below this; all-positive larger is not dB


def finish(sensor: str, arrays: dict[str, np.ndarray], notes: list[str]) -> dict[str, np.ndarray]:
    """Checked, unit-converted, native-size arrays in BigEarthNet dtypes, in stored band order."""
    for band, array in arrays.items():
        _check_values(band, array)
    if sensor == "s1":
        arrays = _s1_to_db(arrays, notes)
    else:
        arrays = _s2_scaled(arrays, notes)
    out = {}
    for band in STORED_BANDS[sensor]:
        if band in arrays:
            native = _to_native_size(band, arrays[band].astype(np.float64))
            out[band] = native.astype(np.float32) if sensor == "s1" else _to_uint16(native)
    return out


def _check_values(band: str, array: np.ndarray) -> None:
    if not np.isfinite(array).all():
        raise InputError(f"band {band} holds NaN or infinite values in the chosen window; fill them, or "
                         "choose a window without them")
    if not array.any():
        raise InputError(f"band {band} is all zero in the chosen window (no data there); choose "
                         "another window or check the export")


def _s1_to_db(arrays: dict[str, np.ndarray], notes: list[str]) -> dict[str, np.ndarray]:
    """dB passes; linear power (no negatives, median well below 1: typ. 0.001-0.5) -> 10*log10."""
    values = np.concatenate([a.ravel() for a in arrays.values()]).astype(np.float64)
    median = float(np.median(values))
    if values.min() >= 0 and median > _DB_MEDIAN_MAX:
        raise InputError(f"the S1 values (median {median:.3g}) look like neither backscatter in dB "
                         "(typ. -35..+5) nor linear power (typ. 0.001-0.5), perhaps amplitude or digital "
                         "numbers; calibrate to sigma0 (dB or linear) before uploading")
    if values.min() < 0 or median >= 1:
        return arrays
    notes.append(f"converted linear power to dB (10*log10; values below {_LINEAR_FLOOR:g} clipped "
                 "to it first)")
    return {b: 10 * np.log10(np.maximum(a.astype(np.float64), _LINEAR_FLOOR)) for b, a in arrays.items()}


def _s2_scaled(arrays: dict[str, np.ndarray], notes: list[str]) -> dict[str, np.ndarray]:
    """Reflectance as 0-1 floats (common in exports) -> BigEarthNet's reflectance x 10000."""
    if all(np.issubdtype(a.dtype, np.integer) for a in arrays.values()):
        return arrays
    if max(float(np.max(a)) for a in arrays.values()) > 2:
        return arrays  # floats already in 0-10000 units
    notes.append("scaled reflectance from 0-1 to BigEarthNet's 0-10000")
    return {b: a.astype(np.float64) * 10000 for b, a in arrays.items()}


def _to_native_size(band: str, array: np.ndarray) -> np.ndarray:
    """A 120x120 window of a 20 m / 60 m band -> 60x60 / 20x20 by area averaging."""
    native = BANDS[band].native_pixels
    if array.shape == (native, native):
        return array
    factor = array.shape[0] // native
    return array.reshape(native, factor, native, factor).mean(axis=(1, 3))


def _to_uint16(array: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(array), 0, np.iinfo(np.uint16).max).astype(np.uint16)
