"""Which band is which. A multi-band file is named from its band descriptions as real tools write them
(ESA `B02`/`B8A`, GEE `B2`, SNAP `Sigma0_VV_db`/`Amplitude_VH`/`Intensity_VV`, STAC common names
`blue`/`nir08`/`swir16`, all through the band table); non-spectral bands (GEE `angle`, QA60, SCL, cloud
probabilities, AOT, WVP, TCI) are ignored with a note. When descriptions are present, every band the
model needs must be identified among them, or the file is refused naming what is missing: a default
order is assumed only for files without any description (`bands.UPLOAD_DEFAULT_ORDER`, by band
count). Band files are named `<name>_<band>.tif` (BigEarthNet), `<band>.tif` (SSL4EO, Major-TOM) or
`<tile>_<date>_<band>_<res>m.jp2` (a SAFE product's IMG_DATA)."""
from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from csmae_core.bands import (
    BANDS,
    IGNORED_BANDS,
    MODEL_BANDS,
    NON_SPECTRAL_NAMES,
    NON_SPECTRAL_PREFIXES,
    S1_UNIT_PREFIXES,
    STAC_COMMON_NAMES,
    UPLOAD_DEFAULT_ORDER,
)
from csmae_core.errors import InputError
from csmae_core.io.names import split_band_file_name
from csmae_core.io.upload.safety import EXPECTED_COUNTS, open_raster

_S2_RE = re.compile(r"^b0?(?P<num>\d{1,2})(?P<a>a?)(?:_(?:10|20|60)m)?$")
_S1_RE = re.compile(r"^(?:(?P<prefix>[a-z0-9]+)_)?(?P<pol>vv|vh)(?:_(?P<db>db))?$")
# upload band files besides BigEarthNet's <name>_<band>.tif: <band>.tif and SAFE <tile>_<date>_<band>_<res>m.jp2
_BARE_FILE_RE = re.compile(r"^(?P<band>b0?\d{1,2}a?|vv|vh)\.tiff?$", re.IGNORECASE)
_SAFE_FILE_RE = re.compile(r"^(?P<name>.+)_(?P<band>B\d{2}|B8A)_(?:10|20|60)m\.jp2$", re.IGNORECASE)
_GENERIC_RE = re.compile(r"^(?:band)?[ _]?\d*$", re.IGNORECASE)  # "Band 1", "band_3", "2": says nothing
NOT_SPECTRAL = "-"  # the name of a band that is read past (angle, QA, ...)


@dataclass
class Naming:
    """Band table name of each band of a file (NOT_SPECTRAL: ignored; None: not identified) and the S1
    unit its descriptions declare ("db", "power", "amplitude"; None: not said)."""

    names: list[str | None]
    s1_unit: str | None = None
    described: bool = False
    notes: list[str] = field(default_factory=list)

    def used(self) -> list[tuple[int, str]]:
        """(1-based band index, band name) of the bands that are read."""
        return [(i, n) for i, n in enumerate(self.names, start=1) if n and n != NOT_SPECTRAL
                and n not in IGNORED_BANDS]


def parse_band_name(text: str | None) -> tuple[str | None, str | None]:
    """(band table name or NOT_SPECTRAL or None, S1 unit or None) of one description / file stem."""
    key = (text or "").strip().lower().replace("-", "_").replace(" ", "_")
    if not key:
        return None, None
    if key in STAC_COMMON_NAMES:
        return STAC_COMMON_NAMES[key], None
    if match := _S2_RE.match(key):
        number, suffix = int(match.group("num")), match.group("a")
        name = ("B8A" if number == 8 else "") if suffix else f"B{number:02d}"
        return (name if name in BANDS or name in IGNORED_BANDS else None), None
    if match := _S1_RE.match(key):
        prefix, pol = match.group("prefix"), match.group("pol").upper()
        if prefix is not None and prefix not in S1_UNIT_PREFIXES:
            return None, None
        unit = "db" if match.group("db") else (S1_UNIT_PREFIXES[prefix] if prefix else None)
        return pol, unit
    if key in NON_SPECTRAL_NAMES or key.startswith(NON_SPECTRAL_PREFIXES):
        return NOT_SPECTRAL, None
    return None, None


def band_names(dataset: Any, file_name: str, notes: list[str]) -> Naming:
    """Band names of a multi-band file: its descriptions, else the default order for its band count."""
    descriptions = [None if d is None or _GENERIC_RE.match(d.strip()) else d for d in dataset.descriptions]
    if any(descriptions):
        naming = _from_descriptions(descriptions, file_name)
        notes.extend(naming.notes)
        return naming
    count = dataset.count
    if count not in UPLOAD_DEFAULT_ORDER:
        raise InputError(f"{file_name} has {count} band{'s' * (count != 1)}; expected {EXPECTED_COUNTS} "
                         "(or single-band files named like <name>_B02.tif, or band descriptions naming "
                         "each band: B02 / B2 / blue, VV / Sigma0_VV_db)")
    sensor, order = UPLOAD_DEFAULT_ORDER[count]
    notes.append(f"no band descriptions: assumed the default {count}-band {sensor.upper()} order "
                 f"{', '.join(order)}")
    return Naming(list(order))


def _from_descriptions(descriptions: Sequence[str | None], file_name: str) -> Naming:
    parsed = [parse_band_name(d) for d in descriptions]
    names = [band for band, _ in parsed]
    seen: dict[str, int] = {}
    for index, band in enumerate(names, start=1):
        if band and band != NOT_SPECTRAL:
            if band in seen:
                raise InputError(f"{file_name}: bands {seen[band]} and {index} are both described as {band} "
                                 f"({descriptions[seen[band] - 1]!r}, {descriptions[index - 1]!r}); "
                                 "describe each band once")
            seen[band] = index
    sensors = {BANDS[b].sensor for b in seen if b in BANDS}
    unknown = [f"{d!r} (band {i})" for i, (d, n) in enumerate(zip(descriptions, names), 1) if n is None]
    if not sensors:
        raise InputError(f"{file_name}: no band description names a Sentinel-1 or Sentinel-2 band "
                         f"({', '.join(unknown) or 'only non-spectral bands'}); describe the bands (B02 or "
                         "B2 or blue, ..., VV, Sigma0_VV_db) or remove all descriptions to use the default order")
    if len(sensors) == 1:
        sensor = sensors.pop()
        missing = [b for b in MODEL_BANDS[sensor] if b not in seen]
        if missing:
            raise InputError(_unidentified(file_name, sensor, missing, unknown))
    naming = Naming(names, _s1_unit([u for _, u in parsed if u], file_name), described=True)
    naming.notes.append("bands named from the file's band descriptions: "
                        + ", ".join(n if str(d).strip().upper() == n else f"{d}={n}" for d, n in
                                    zip(descriptions, names) if n and n != NOT_SPECTRAL))
    ignored = [f"{d}" for d, n in zip(descriptions, names) if n == NOT_SPECTRAL]
    if ignored:
        naming.notes.append(f"ignored non-spectral band(s) {', '.join(ignored)}")
    if unknown:
        naming.notes.append(f"ignored band(s) with descriptions not recognised: {', '.join(unknown)}")
    return naming


def _unidentified(file_name: str, sensor: str, missing: list[str], unknown: list[str]) -> str:
    listed = f" (descriptions not recognised: {', '.join(unknown)})" if unknown else ""
    return (f"{file_name}: the band descriptions do not identify {sensor.upper()} band(s) "
            f"{', '.join(missing)}{listed}; describe each band with its name (B02 or B2 or blue, ..., VV, "
            "Sigma0_VV_db) or remove all descriptions to use the default band order")


def _s1_unit(units: list[str], file_name: str) -> str | None:
    if len(set(units)) > 1:
        raise InputError(f"{file_name}: the band descriptions declare different units "
                         f"({', '.join(sorted(set(units)))}); export VV and VH in one unit")
    return units[0] if units else None


def drop_ignored(names: Sequence[str | None], notes: list[str]) -> None:
    for band in sorted(set(n for n in names if n) & IGNORED_BANDS):
        notes.append(f"dropped band {band} (cirrus band of L1C products; no model uses it)")


def band_file_name(file_name: str) -> tuple[str | None, str] | None:
    """(patch name or None, band) of an upload band file; None if not named like one."""
    if parsed := split_band_file_name(file_name):
        return parsed
    for pattern in (_SAFE_FILE_RE, _BARE_FILE_RE):
        if match := pattern.match(file_name):
            band, _ = parse_band_name(match.group("band"))
            if band in BANDS or band in IGNORED_BANDS:
                return match.groupdict().get("name"), band
    return None


def is_single_band_file(path: Path) -> bool:
    """A lone `<name>_B02.tif`-style file with one band is a (too small) band-file set."""
    if band_file_name(path.name) is None:
        return False
    with open_raster(path) as dataset:
        return dataset.count == 1


def band_of_single_file(path: Path, dataset: Any) -> str | None:
    parsed = band_file_name(path.name)
    return parsed[1] if parsed and dataset.count == 1 and parsed[1] in BANDS else None


def group_band_files(files: Sequence[Path], notes: list[str]) -> tuple[str, dict[str, Path]]:
    """Patch name and band -> file of band files (one patch, each band once)."""
    names, found = set(), {}
    for file in files:
        parsed = band_file_name(file.name)
        if parsed is None:
            raise InputError(f"{file.name} is not named like a BigEarthNet band file (<name>_B02.tif, "
                             "<name>_VV.tif, ...); rename it, or upload one multi-band GeoTIFF")
        name, band = parsed
        if band in found:
            raise InputError(f"band {band} is given twice ({found[band].name}, {file.name}); "
                             "upload each band once")
        names.add(name or _folder_name(file))
        found[band] = file
    if len(names) > 1:
        raise InputError(f"the files belong to more than one patch ({', '.join(sorted(names))}); "
                         "upload the band files of one patch")
    if any(split_band_file_name(f.name) is None for f in found.values()):
        notes.append("bands named from the file names: " + ", ".join(f"{f.name}={b}" for b, f in found.items()))
    drop_ignored(list(found), notes)
    return names.pop(), {b: f for b, f in found.items() if b not in IGNORED_BANDS}


def _folder_name(file: Path) -> str:
    """The patch name of a bare `B02.tif`: its folder (staged uploads sit in numbered folders)."""
    folder = file.parent.name
    return "upload" if not folder or folder.isdigit() else folder
