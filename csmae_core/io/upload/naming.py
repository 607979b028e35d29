"""Which band is which: band names of a multi-band file from its band descriptions ("B2", "B02", "b8a",
"VV", ...) or else the default order of `bands.UPLOAD_DEFAULT_ORDER` for its band count, and the band
of each `<name>_<band>.tif` file of a band-file set."""
from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from csmae_core.bands import BANDS, IGNORED_BANDS, UPLOAD_DEFAULT_ORDER
from csmae_core.errors import InputError
from csmae_core.io.names import split_band_file_name
from csmae_core.io.upload.safety import EXPECTED_COUNTS, open_raster

_DESCRIPTION_RE = re.compile(r"^(?:B0?(?P<num>\d{1,2})(?P<a>A?)|(?P<pol>VV|VH))$", re.IGNORECASE)


def _parse_description(text: str | None) -> str | None:
    """"B2"/"B02"/"b8a"/"VV"/"vh" -> the band table's name; None if not a Sentinel band."""
    match = _DESCRIPTION_RE.match((text or "").strip())
    if not match:
        return None
    if match.group("pol"):
        return match.group("pol").upper()
    number, suffix = int(match.group("num")), match.group("a").upper()
    name = "B8A" if (number, suffix) == (8, "A") else (f"B{number:02d}" if not suffix else "")
    return name if name in BANDS or name in IGNORED_BANDS else None


def band_names(dataset: Any, file_name: str, notes: list[str]) -> list[str]:
    """Band name of each band of a multi-band file: its descriptions, else the default order."""
    count = dataset.count
    if count not in UPLOAD_DEFAULT_ORDER:
        raise InputError(f"{file_name} has {count} band{'s' * (count != 1)}; expected {EXPECTED_COUNTS} "
                         "(or single-band files named like <name>_B02.tif)")
    parsed = [_parse_description(d) for d in dataset.descriptions]
    if all(parsed) and len(set(parsed)) == count:
        notes.append(f"bands named from the file's band descriptions: {', '.join(parsed)}")
        return parsed  # type: ignore[return-value]
    sensor, order = UPLOAD_DEFAULT_ORDER[count]
    if all(parsed):
        why = "band descriptions name a band twice"
    elif any(dataset.descriptions):
        why = "band descriptions not recognised as Sentinel band names"
    else:
        why = "no band descriptions"
    notes.append(f"{why}: assumed the default {count}-band {sensor.upper()} order {', '.join(order)}")
    return list(order)


def drop_ignored(names: Sequence[str], notes: list[str]) -> None:
    for band in sorted(set(names) & IGNORED_BANDS):
        notes.append(f"dropped band {band} (cirrus band of L1C products; no model uses it)")


def is_single_band_file(path: Path) -> bool:
    """A lone `<name>_B02.tif`-style file with one band is a (too small) band-file set."""
    if split_band_file_name(path.name) is None:
        return False
    with open_raster(path) as dataset:
        return dataset.count == 1


def band_of_single_file(path: Path, dataset: Any) -> str | None:
    parsed = split_band_file_name(path.name)
    return parsed[1] if parsed and dataset.count == 1 and parsed[1] in BANDS else None


def group_band_files(files: Sequence[Path], notes: list[str]) -> tuple[str, dict[str, Path]]:
    """Patch name and band -> file of `<name>_<band>.tif` files (one patch, each band once)."""
    names, found = set(), {}
    for file in files:
        parsed = split_band_file_name(file.name)
        if parsed is None:
            raise InputError(f"{file.name} is not named like a BigEarthNet band file (<name>_B02.tif, "
                             "<name>_VV.tif, ...); rename it, or upload one multi-band GeoTIFF")
        name, band = parsed
        if band in found:
            raise InputError(f"band {band} is given twice ({found[band].name}, {file.name}); "
                             "upload each band once")
        names.add(name)
        found[band] = file
    if len(names) > 1:
        raise InputError(f"the files belong to more than one patch ({', '.join(sorted(names))}); "
                         "upload the band files of one patch")
    drop_ignored(list(found), notes)
    return names.pop(), {b: f for b, f in found.items() if b not in IGNORED_BANDS}
