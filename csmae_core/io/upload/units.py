"""Values and units of the bands read from an upload, made to look like BigEarthNet's: S1 in dB (linear
power as 10*log10, amplitude squared first: 20*log10), S2 as reflectance x 10000 (`radiometry`: declared
offsets checked against the data, 0-1 floats and percent), 20 m / 60 m bands area-averaged to their
native size, S2 as uint16 and S1 as float32. NaN, infinite and all-zero bands are refused, and so are
values the sensors cannot produce even without a nodata tag (S1: -9999, linear exactly 0, dB <= -50;
S2: a pixel that is 0 in every band), under the same rule as tagged nodata."""
from __future__ import annotations

import numpy as np

from csmae_core.bands import BANDS, STORED_BANDS
from csmae_core.errors import InputError
from csmae_core.io.upload.grid import check_valid
from csmae_core.io.upload.radiometry import Declaration, s2_reflectance

_LINEAR_FLOOR = 1e-6  # linear power clipped here before 10*log10 (zero would give -inf)
_DB_MEDIAN_MAX = 10.0  # S1 sigma0 in dB has a median far below this; all-positive larger is not dB
_FILL = -9999.0  # the usual fill value of float exports (SNAP, GEE unmask)
_DB_FLOOR = -50.0  # no sigma0 reaches this; lower is a fill value (log of 0)
_UNIT_WORDS = {"db": "backscatter in dB", "power": "linear power", "amplitude": "amplitude"}


def finish(sensor: str, arrays: dict[str, np.ndarray], notes: list[str],
           declared: Declaration | None = None) -> dict[str, np.ndarray]:
    """Checked, unit-converted, native-size arrays in BigEarthNet dtypes, in stored band order."""
    declared = declared or Declaration()
    for band, array in arrays.items():
        _check_values(band, array)
    if sensor == "s1":
        unit = s1_unit(arrays, declared.s1_unit, notes)
        _check_s1_fill(arrays, unit)
        arrays = _s1_to_db(arrays, unit, notes)
        _check_polarisations(arrays, notes)
    else:
        _check_s2_fill(arrays)
        arrays = s2_reflectance(arrays, declared, notes)
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


def s1_unit(arrays: dict[str, np.ndarray], declared: str | None, notes: list[str]) -> str:
    """"db", "power" or "amplitude": the declared unit unless the values cannot be in it, else the values'."""
    values = np.concatenate([a.ravel() for a in arrays.values()]).astype(np.float64)
    values = values[values != _FILL]
    median = float(np.median(values)) if values.size else 0.0
    negative = values.size > 0 and values.min() < 0
    if not negative and median > _DB_MEDIAN_MAX:
        raise InputError(f"the S1 values (median {median:.3g}) look like neither backscatter in dB "
                         "(typ. -35..+5) nor linear power (typ. 0.001-0.5), perhaps digital numbers; "
                         "calibrate to sigma0 (dB or linear) before uploading (amplitude is read when the "
                         "bands are described as Amplitude_VV, Amplitude_VH)")
    by_values = "db" if negative or median >= 1 else "power"
    if declared is None:
        return by_values
    if (declared == "db") != (by_values == "db"):
        notes.append(f"warning: the band descriptions say {_UNIT_WORDS[declared]}, but the values (median "
                     f"{median:.3g}{', some negative' if negative else ', none negative'}) are "
                     f"{_UNIT_WORDS[by_values]}: read them as {_UNIT_WORDS[by_values]}")
        return by_values
    return declared


def _check_s1_fill(arrays: dict[str, np.ndarray], unit: str) -> None:
    for band, array in arrays.items():
        fill = array == _FILL
        why = "-9999"
        if unit == "db":
            fill |= array <= _DB_FLOOR
            why = f"-9999 or {_DB_FLOOR:g} dB and below"
        else:
            fill |= array == 0
            why = f"-9999 or {unit} exactly 0"
        if fill.any():
            check_valid(band, ~fill, why=f"{why}: fill values the sensor cannot produce, read as nodata although "
                                         "the file has no nodata tag")


def _check_s2_fill(arrays: dict[str, np.ndarray]) -> None:
    ten_metre = [a for b, a in arrays.items() if BANDS[b].resolution_m == 10 and a.shape == (120, 120)]
    if len(ten_metre) < 2:
        return
    zero = np.logical_and.reduce([a == 0 for a in ten_metre])
    if zero.any():
        check_valid("B02", ~zero, why="pixels that are 0 in every band: fill values, read as nodata although "
                                      "the file has no nodata tag")


def _s1_to_db(arrays: dict[str, np.ndarray], unit: str, notes: list[str]) -> dict[str, np.ndarray]:
    if unit == "db":
        return arrays
    factor = 20 if unit == "amplitude" else 10
    squared = " (amplitude: squared to power first)" if unit == "amplitude" else ""
    notes.append(f"converted {_UNIT_WORDS[unit]} to dB ({factor}*log10{squared}; values below "
                 f"{_LINEAR_FLOOR:g} clipped to it first)")
    return {b: factor * np.log10(np.maximum(a.astype(np.float64), _LINEAR_FLOOR)) for b, a in arrays.items()}


def _check_polarisations(arrays: dict[str, np.ndarray], notes: list[str]) -> None:
    """Cross-polarised VH is weaker than VV almost everywhere: the reverse hints at swapped bands."""
    if {"VV", "VH"} <= set(arrays):
        vv, vh = float(np.median(arrays["VV"])), float(np.median(arrays["VH"]))
        if vh > vv:
            notes.append(f"warning: VH is brighter than VV in the median ({vh:.1f} dB against {vv:.1f} dB), which "
                         "is rare: are the bands swapped? Name them in the file's band descriptions (VV, VH)")


def _to_native_size(band: str, array: np.ndarray) -> np.ndarray:
    """A 120x120 window of a 20 m / 60 m band -> 60x60 / 20x20 by area averaging."""
    native = BANDS[band].native_pixels
    if array.shape == (native, native):
        return array
    factor = array.shape[0] // native
    return array.reshape(native, factor, native, factor).mean(axis=(1, 3))


def _to_uint16(array: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(array), 0, np.iinfo(np.uint16).max).astype(np.uint16)
