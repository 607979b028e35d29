"""BigEarthNet GeoTIFF folders: one patch folder (v1 or v2), the v1 archives, the v2 (reBEN) tree.

v1: `BigEarthNet-v1.0/<S2 name>/<S2 name>_<band>.tif` + `<S2 name>_labels_metadata.json`, and
    `BigEarthNet-S1-v1.0/<S1 name>/<S1 name>_{VV,VH}.tif` + JSON naming `corresponding_s2_patch`.
v2: `BigEarthNet-S2/<tile product>/<patch_id>/<patch_id>_<band>.tif`,
    `BigEarthNet-S1/<S1 product>/<S1 name>/<S1 name>_{VV,VH}.tif` and metadata.parquet pairing them.
Citation: Sumbul et al., BigEarthNet-MM (IEEE GRSM 2021); Clasen et al., reBEN (2024).
"""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from csmae_core.bands import BANDS, MODEL_BANDS, STORED_BANDS
from csmae_core.errors import DataNotFoundError, InputError, UnknownLabelError
from csmae_core.geo import footprint_from_labels_metadata, footprint_from_name, tile_of_name
from csmae_core.io.archive import PairArchive
from csmae_core.io.geotiff import read_band_file
from csmae_core.io.metadata import attach_row_meta, read_reben_metadata, with_defaults
from csmae_core.io.names import split_band_file_name
from csmae_core.labels import to_19
from csmae_core.record import PatchPair, PatchRecord


def find_band_files(folder: Path) -> tuple[str, dict[str, Path]]:
    """Patch name and band -> file of the band GeoTIFFs in `folder` (all must share one name)."""
    found: dict[str, Path] = {}
    names = set()
    for path in sorted(folder.iterdir()):
        parsed = split_band_file_name(path.name) if path.is_file() else None
        if parsed:
            names.add(parsed[0])
            found[parsed[1]] = path
    if not found:
        raise InputError(f"no BigEarthNet band GeoTIFFs (<name>_B02.tif, <name>_VV.tif, ...) in {folder}")
    if len(names) > 1:
        raise InputError(f"{folder} holds band files of more than one patch: {', '.join(sorted(names))}")
    return names.pop(), found


def sensor_of_bands(band_names: set[str]) -> str:
    sensors = {BANDS[b].sensor for b in band_names if b in BANDS}
    if len(sensors) != 1:
        raise InputError(f"bands {sorted(band_names)} mix Sentinel-1 and Sentinel-2; give one sensor")
    sensor = sensors.pop()
    missing = [b for b in MODEL_BANDS[sensor] if b not in band_names]
    if missing:
        raise InputError(f"{sensor.upper()} patch lacks band(s) {', '.join(missing)}; "
                         f"the model needs {', '.join(MODEL_BANDS[sensor])}")
    return sensor


def read_patch_folder(folder: str | Path, source: str = "BigEarthNet patch folder") -> PatchRecord:
    """One v1 or v2 patch folder of band GeoTIFFs (+ labels_metadata.json when v1)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataNotFoundError(f"no patch folder at {folder}")
    name, files = find_band_files(folder)
    sensor = sensor_of_bands(set(files))
    bands, footprint = {}, None
    for band in STORED_BANDS[sensor]:
        if band not in files:
            continue
        band_file = read_band_file(files[band])
        expected = BANDS[band].native_pixels
        if band_file.array.shape != (expected, expected):
            raise InputError(f"{files[band].name} is {band_file.array.shape[1]}x{band_file.array.shape[0]}"
                             f" pixels; a BigEarthNet {band} band is {expected}x{expected}")
        bands[band] = band_file.array
        footprint = footprint or band_file.footprint
    record = PatchRecord(sensor=sensor, bands=bands, name=name, footprint=footprint, source=source)
    metadata_file = folder / f"{name}_labels_metadata.json"
    if metadata_file.is_file():
        _apply_labels_metadata(record, metadata_file)
    if record.footprint is None and tile_of_name(name):
        record.footprint = footprint_from_name(name)
    return record


LABELS_FILE_OPTIONAL = "fix or remove the labels file (it is optional: without it the patch has no labels)"
_TEXT_FIELDS = ("acquisition_time", "acquisition_date", "corresponding_s2_patch", "scene_source", "tile_source")


def read_labels_json(path: Path) -> dict:
    """A `<name>_labels_metadata.json` as a dict, its fields checked (InputError naming the file, the
    field and what was expected)."""
    try:
        meta = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise InputError(f"{path.name} is not valid JSON ({error}); {LABELS_FILE_OPTIONAL}") from error
    if not isinstance(meta, dict):
        raise InputError(f"{path.name} does not hold a JSON object; fix or remove the labels file")
    labels = meta.get("labels", [])
    if not isinstance(labels, list) or not all(isinstance(v, (str, int)) and not isinstance(v, bool) for v in labels):
        raise InputError(f"{path.name}: field 'labels' must be a list of BigEarthNet label names (strings) or "
                         f"CLC codes (integers), not {_described(labels)}; {LABELS_FILE_OPTIONAL}")
    for key in _TEXT_FIELDS:
        if key in meta and not isinstance(meta[key], str):
            raise InputError(f"{path.name}: field {key!r} must be a string, not {_described(meta[key])}; "
                             f"{LABELS_FILE_OPTIONAL}")
    return meta


def _described(value: object) -> str:
    """`type (value)` with the value cut to 40 characters: what a message says was found."""
    text = json.dumps(value) if isinstance(value, (str, int, float, bool, type(None))) else repr(value)
    return f"{type(value).__name__} ({text[:40]}{'...' if len(text) > 40 else ''})"


def _apply_labels_metadata(record: PatchRecord, path: Path) -> None:
    meta = read_labels_json(path)
    if "labels" in meta:
        try:
            record.labels = to_19(meta["labels"])
        except UnknownLabelError as error:
            raise UnknownLabelError(f"{path.name}: field 'labels' holds {error}; {LABELS_FILE_OPTIONAL}") from error
        record.labels_43 = list(meta["labels"])
    record.acquisition = meta.get("acquisition_time") or meta.get("acquisition_date")
    if record.footprint is None and "coordinates" in meta:
        record.footprint = footprint_from_labels_metadata(meta)
    for key in ("corresponding_s2_patch", "scene_source", "tile_source"):
        if key in meta:
            record.meta[key] = meta[key]


class BenV1Folders(PairArchive):
    """BigEarthNet v1.0 S1 and S2 archives (folders of GeoTIFFs + JSON), paired via the S1 JSON."""

    source = "BigEarthNet v1 folders"

    def __init__(self, s1_root: str | Path, s2_root: str | Path, names_table: pd.DataFrame | None = None):
        """names_table (optional): s1_name, s2_name, country, season (bigearthnet-common's CSV)."""
        self.s1_root, self.s2_root = Path(s1_root), Path(s2_root)
        for root, flag in ((self.s1_root, "S1"), (self.s2_root, "S2")):
            if not root.is_dir():
                raise DataNotFoundError(f"no BigEarthNet-{flag} v1 folder at {root}")
        rows = []
        for s1_dir in sorted(p for p in self.s1_root.iterdir() if p.is_dir()):
            meta_file = s1_dir / f"{s1_dir.name}_labels_metadata.json"
            if not meta_file.is_file():
                continue
            s2_name = read_labels_json(meta_file).get("corresponding_s2_patch")
            if s2_name and (self.s2_root / s2_name).is_dir():
                rows.append({"pair_id": s2_name, "s1_name": s1_dir.name})
        if not rows:
            raise InputError(f"no S1 patch under {self.s1_root} has its S2 patch under {self.s2_root}")
        self.table = with_defaults(pd.DataFrame(rows), names_table)

    def load_pair(self, row: pd.Series) -> PatchPair:
        s1 = read_patch_folder(self.s1_root / row["s1_name"], self.source)
        s2 = read_patch_folder(self.s2_root / row["pair_id"], self.source)
        pair = PatchPair(s1=s1, s2=s2)
        attach_row_meta(pair, row)
        return pair


class BenV2Folders(PairArchive):
    """BigEarthNet v2.0 (reBEN) GeoTIFF trees paired through metadata.parquet."""

    source = "BigEarthNet v2 folders"

    def __init__(self, root: str | Path, metadata: str | Path | pd.DataFrame | None = None,
                 s1_root: str | Path | None = None, s2_root: str | Path | None = None,
                 require_files: bool = True):
        root = Path(root)
        self.s1_root = Path(s1_root) if s1_root else root / "BigEarthNet-S1"
        self.s2_root = Path(s2_root) if s2_root else root / "BigEarthNet-S2"
        table = read_reben_metadata(metadata if metadata is not None else root / "metadata.parquet")
        if require_files:
            present = [(self._s2_dir(r.pair_id).is_dir() and self._s1_dir(r.s1_name).is_dir())
                       for r in table.itertuples()]
            table = table[present]
            if table.empty:
                raise InputError(f"none of the metadata's pairs has both folders under {self.s1_root} "
                                 f"and {self.s2_root}; pass s1_root= and s2_root= (the folders that hold "
                                 "BigEarthNet-S1 and BigEarthNet-S2)")
        self.table = table.reset_index(drop=True)

    def _s2_dir(self, patch_id: str) -> Path:
        return self.s2_root / patch_id.rsplit("_", 2)[0] / patch_id

    def _s1_dir(self, s1_name: str) -> Path:
        return self.s1_root / s1_name.rsplit("_", 3)[0] / s1_name

    def load_pair(self, row: pd.Series) -> PatchPair:
        pair = PatchPair(s1=read_patch_folder(self._s1_dir(row["s1_name"]), self.source),
                         s2=read_patch_folder(self._s2_dir(row["pair_id"]), self.source))
        attach_row_meta(pair, row)
        return pair
