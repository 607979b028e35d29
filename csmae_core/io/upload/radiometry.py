"""What an upload declares about its values, checked against the values before it is used.

Sentinel-2 L2A products of processing baseline 04.00 and later (from 25 January 2022: Copernicus Data
Space, Planetary Computer, Major-TOM) store DN = reflectance x 10000 + 1000 (BOA_ADD_OFFSET = -1000);
BigEarthNet and the models here use reflectance x 10000 without it. A file may declare the offset as a
GDAL band scale/offset, as a BOA/RADIO_ADD_OFFSET tag, or only through the baseline (N0400+) in a
product name. The declaration is used only when the data agree: in an offset product the darkest pixels
of every band sit near or above 1000, while a harmonised export can carry an N04xx product id and no
offset. Nothing is ever subtracted from data whose darkest pixels say there is no offset; the notes say
what was done and why, and where declaration and data disagree. Level-1C (top of atmosphere) products
are recognised (B10, MSIL1C, metadata) and flagged: the archive is Level-2A.
"""
from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

BOA_OFFSET = 1000  # DN of zero reflectance in baseline >= 04.00 L2A products
FIRST_OFFSET_BASELINE = 400  # processing baseline 04.00
_DARK_SHARE = 0.9  # an offset product's darkest pixels (1st percentile) sit above 0.9 x the offset
_BASELINE_RE = re.compile(r"_N(\d{4})(?:_|$)")
_LEVEL_RE = re.compile(r"MSIL(1C|2A)", re.IGNORECASE)
_LEVEL_TAGS = ("PROCESSING_LEVEL", "PRODUCT_TYPE", "PRODUCT_URI", "PRODUCT_ID", "DATATAKE_1_PRODUCT_TYPE")


@dataclass
class Declaration:
    """What the file(s) say about their values. offset: DN to add (e.g. -1000) to get reflectance x
    10000 (times `gain`); s1_unit: "db" / "power" / "amplitude" from band descriptions; level: "1C"/"2A"."""

    offset: float | None = None
    offset_source: str | None = None
    gain: float = 1.0
    s1_unit: str | None = None
    level: str | None = None
    level_source: str | None = None


def declaration(datasets: Iterable[tuple[Any, list[int]]], names: Iterable[str],
                s1_unit: str | None = None) -> Declaration:
    """The declaration of `datasets` ((dataset, 1-based band indexes read)) and of the file/folder names."""
    declared = Declaration(s1_unit=s1_unit)
    texts = [str(n) for n in names]
    for dataset, indexes in datasets:
        tags = _all_tags(dataset, indexes)
        texts += [v for k, v in tags.items() if k.upper() in _LEVEL_TAGS]
        if declared.offset is None:
            _scale_offset(dataset, indexes, declared)
        if declared.offset is None:
            _offset_tag(tags, declared)
        if declared.level is None and (level := _level_tag(tags)):
            declared.level, declared.level_source = level
    if declared.offset is None:
        _offset_from_baseline(texts, declared)
    if declared.level is None:
        for text in texts:
            if match := _LEVEL_RE.search(text):
                declared.level, declared.level_source = match.group(1).upper(), f"the name {text}"
                break
    return declared


def _all_tags(dataset: Any, indexes: list[int]) -> dict[str, str]:
    tags = dict(dataset.tags())
    for index in indexes:
        tags.update({k: v for k, v in dataset.tags(index).items() if k not in tags})
    return tags


def _scale_offset(dataset: Any, indexes: list[int], declared: Declaration) -> None:
    """GDAL band scale/offset (physical = DN x scale + offset), the same on every band read."""
    pairs = {(float(dataset.scales[i - 1] or 1.0), float(dataset.offsets[i - 1] or 0.0)) for i in indexes}
    if len(pairs) != 1:
        return
    scale, offset = pairs.pop()
    if (scale, offset) == (1.0, 0.0) or scale == 0:
        return
    declared.offset = offset / scale
    declared.gain = scale * 10000 if scale < 0.01 else scale  # a reflectance scale (1e-4) gives x 10000
    declared.offset_source = f"the GDAL band scale {scale:g} and offset {offset:g}"


def _offset_tag(tags: dict[str, str], declared: Declaration) -> None:
    for key, value in sorted(tags.items()):
        if "ADD_OFFSET" in key.upper():
            try:
                offset = float(str(value).split(",")[0])
            except ValueError:
                continue
            declared.offset, declared.offset_source = offset, f"the tag {key}={value}"
            return


def _offset_from_baseline(texts: list[str], declared: Declaration) -> None:
    for text in texts:
        if (match := _BASELINE_RE.search(text)) and FIRST_OFFSET_BASELINE <= int(match.group(1)) < 9999:
            declared.offset = -BOA_OFFSET
            declared.offset_source = (f"processing baseline {int(match.group(1)) / 100:05.2f} in the name "
                                      f"{text} (L2A since baseline 04.00 adds {BOA_OFFSET})")
            return


def _level_tag(tags: dict[str, str]) -> tuple[str, str] | None:
    for key, value in tags.items():
        if key.upper() in _LEVEL_TAGS:
            text = str(value).upper().replace("-", "")
            for level, marks in (("1C", ("LEVEL1C", "MSIL1C", "S2MSI1C")), ("2A", ("LEVEL2A", "MSIL2A", "S2MSI2A"))):
                if any(mark in text for mark in marks):
                    return level, f"the tag {key}={value}"
    return None


# ------------------------------------------------------------------------------------ S2 values


def s2_reflectance(arrays: dict[str, np.ndarray], declared: Declaration,
                   notes: list[str]) -> dict[str, np.ndarray]:
    """S2 values as reflectance x 10000: a declared offset applied when the data agree, 0-1 floats and
    percent scaled; every step said in `notes`."""
    _level_note(declared, notes)
    darkest = {b: float(np.percentile(a[a > 0], 1)) if (a > 0).any() else 0.0 for b, a in arrays.items()}
    if declared.offset:
        arrays = _apply_offset(arrays, declared, darkest, notes)
    elif _integers(arrays) and min(darkest.values()) >= _DARK_SHARE * BOA_OFFSET:
        notes.append(f"warning: the darkest pixels of every band are at or above {min(darkest.values()):.0f}, "
                     f"as in a product with the +{BOA_OFFSET} offset of processing baseline 04.00+, but the file "
                     "declares no offset: kept as they are (a bright scene, or an offset product not declared as "
                     "such: then export it with its BOA_ADD_OFFSET or subtract 1000)")
    return _scaled(arrays, notes)


def _apply_offset(arrays: dict[str, np.ndarray], declared: Declaration, darkest: dict[str, float],
                  notes: list[str]) -> dict[str, np.ndarray]:
    offset = -float(declared.offset)  # what the product added (1000)
    low = {b: d for b, d in darkest.items() if d < _DARK_SHARE * offset}
    if offset > 0 and low:
        band, value = min(low.items(), key=lambda item: item[1])
        notes.append(f"warning: {declared.offset_source} declares an offset of {declared.offset:g}, but the data "
                     f"disagree: the darkest pixels of {band} are at {value:.0f} (an offset product's sit near or "
                     f"above {offset:.0f}); kept the values as they are (a harmonised export?)")
        return arrays
    notes.append(f"applied the offset {declared.offset:g}"
                 + (f" and gain {declared.gain:g}" if declared.gain != 1 else "")
                 + f" declared by {declared.offset_source}; the data agree (darkest pixels of every band at "
                   f"{min(darkest.values()):.0f} or above)")
    return {b: (a.astype(np.float64) + declared.offset) * declared.gain for b, a in arrays.items()}


def _integers(arrays: dict[str, np.ndarray]) -> bool:
    return all(np.issubdtype(a.dtype, np.integer) for a in arrays.values())


def _scaled(arrays: dict[str, np.ndarray], notes: list[str]) -> dict[str, np.ndarray]:
    """Reflectance as 0-1 floats or in percent (common in exports) -> BigEarthNet's reflectance x 10000."""
    if _integers(arrays):
        return arrays
    top = max(float(np.max(a)) for a in arrays.values())
    if top <= 2:
        notes.append("scaled reflectance from 0-1 to BigEarthNet's 0-10000")
        return {b: a.astype(np.float64) * 10000 for b, a in arrays.items()}
    if top <= 100:  # no real patch has every band below 1 % reflectance in DN: these are percent
        notes.append(f"scaled reflectance from percent (largest value {top:.3g}) to BigEarthNet's 0-10000")
        return {b: a.astype(np.float64) * 100 for b, a in arrays.items()}
    return arrays  # floats already in 0-10000 units


def _level_note(declared: Declaration, notes: list[str]) -> None:
    if declared.level == "1C":
        source = declared.level_source
        notes.append(f"warning: this looks like a Level-1C (top-of-atmosphere) product ({source}); the archive "
                     "is Level-2A (surface reflectance): results are less reliable, use the L2A product")
