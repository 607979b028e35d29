"""The packed archive: a small archive as ONE safetensors file of stacked band arrays plus a parquet
metadata table (one row per S1+S2 pair). The embedded demo archive (assets/demo) is one.

patches.safetensors: `s1/VV`, `s1/VH` float32 (N, 120, 120) dB; `s2/B01` .. `s2/B12` uint16
(N, side, side) at native resolution. Row i of every array is pair i of metadata.parquet.
metadata.parquet: pair_id, s1_name, tile, epsg, ulx, uly, lrx, lry, lon, lat, west, south, east,
north, labels, split, country, season, snow/cloud flags, and whatever else the writer adds.
Both files are written deterministically, so the same inputs rebuild them byte for byte.
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from safetensors import safe_open
from safetensors.numpy import save_file

from csmae_core.bands import STORED_BANDS
from csmae_core.errors import DataNotFoundError, InputError
from csmae_core.geo import Footprint
from csmae_core.io.archive import PairArchive
from csmae_core.io.metadata import attach_row_meta, label_lists, read_parquet_table
from csmae_core.labels import to_19
from csmae_core.record import PatchPair, PatchRecord

ARRAYS_FILE = "patches.safetensors"
TABLE_FILE = "metadata.parquet"
_REBUILD = "copy or rebuild the archive (scripts/build_demo_archive.py)"


def footprint_columns(footprints: Sequence[Footprint]) -> pd.DataFrame:
    """UTM corners, WGS84 centroid and WGS84 bounding box of each footprint."""
    rows = []
    for fp in footprints:
        lon, lat = fp.centroid_wgs84()
        west, south, east, north = fp.bounds_wgs84()
        rows.append({"epsg": fp.epsg, "ulx": fp.ulx, "uly": fp.uly, "lrx": fp.lrx, "lry": fp.lry,
                     "lon": lon, "lat": lat, "west": west, "south": south, "east": east, "north": north})
    return pd.DataFrame(rows)


def write_packed_archive(pairs: Sequence[PatchPair], table: pd.DataFrame, out_dir: str | Path) -> None:
    """Stack the pairs' bands into one safetensors file and write the table beside it."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if len(pairs) != len(table):
        raise ValueError(f"{len(pairs)} pairs but {len(table)} table rows")
    arrays = {}
    for sensor in ("s1", "s2"):
        for band in STORED_BANDS[sensor]:
            arrays[f"{sensor}/{band}"] = np.ascontiguousarray(
                np.stack([pair.record(sensor).bands[band] for pair in pairs]))
    save_file(arrays, str(out_dir / ARRAYS_FILE))
    table.reset_index(drop=True).to_parquet(out_dir / TABLE_FILE, index=False, compression="zstd")


class PackedArchive(PairArchive):
    """Reader of a packed archive; arrays are memory-mapped, a pair is read when asked for."""

    source = "packed archive"

    def __init__(self, path: str | Path):
        self.path = Path(path)
        for name in (ARRAYS_FILE, TABLE_FILE):
            if not (self.path / name).is_file():
                raise DataNotFoundError(f"no {name} in {self.path}: not a packed archive "
                                        "(build the demo with scripts/build_demo_archive.py)")
        self.table = read_parquet_table(self.path / TABLE_FILE, _REBUILD)
        if "labels" not in self.table:
            raise InputError(f"{self.path / TABLE_FILE} lacks column labels; {_REBUILD}")
        self.table["labels"] = label_lists(self.table["labels"], str(self.path / TABLE_FILE))
        self._arrays = None

    @property
    def arrays(self):
        if self._arrays is None:
            try:
                self._arrays = safe_open(str(self.path / ARRAYS_FILE), framework="numpy")
                n = self._arrays.get_slice("s1/VV").get_shape()[0]
            except Exception as error:  # SafetensorError, OSError, a missing array  # noqa: BLE001
                self._arrays = None
                raise InputError(f"{self.path / ARRAYS_FILE} is not readable ({error}); {_REBUILD}") from error
            if n != len(self.table):
                raise InputError(f"{self.path}: {n} patches but {len(self.table)} metadata rows")
        return self._arrays

    def __getstate__(self):
        return {**self.__dict__, "_arrays": None}

    def band_stack(self, sensor: str, band: str) -> np.ndarray:
        """All patches of one band, (N, side, side)."""
        return self.arrays.get_tensor(f"{sensor}/{band}")

    def load_pair(self, row: pd.Series) -> PatchPair:
        index = int(row.name)
        fp = Footprint(int(row["epsg"]), row["ulx"], row["uly"], row["lrx"], row["lry"])
        records = {}
        for sensor, name in (("s1", row["s1_name"]), ("s2", row["pair_id"])):
            bands = {b: self.arrays.get_slice(f"{sensor}/{b}")[index] for b in STORED_BANDS[sensor]}
            records[sensor] = PatchRecord(sensor=sensor, bands=bands, name=name, footprint=fp,
                                          labels=to_19(row["labels"]), source=self.source)
        pair = PatchPair(**records)
        attach_row_meta(pair, row)
        return pair
