"""BigEarthNet v2 LMDB as encoded by rico-hdl (the format configilm reads).

One LMDB environment; key = UTF-8 patch name; value = safetensors bytes. S2 key = v2 patch_id ->
B01..B12, B8A uint16 at native size; S1 key = S1 name -> VV, VH float32 120x120. No georeference inside:
footprints come from the tile grid. Pairs come from metadata.parquet.
"""
from __future__ import annotations

import weakref
from pathlib import Path

import lmdb
import pandas as pd
from safetensors import SafetensorError
from safetensors.numpy import load as load_safetensors

from csmae_core.bands import BANDS, MODEL_BANDS, STORED_BANDS
from csmae_core.errors import DataNotFoundError, InputError
from csmae_core.geo import footprint_from_name
from csmae_core.io.archive import PairArchive
from csmae_core.io.folders import _attach_row_meta, read_reben_metadata
from csmae_core.record import PatchPair, PatchRecord


# LMDB refuses a second open of the same environment in one process while the first is alive (an error
# traceback, a cached reader ...): every reader of a path shares its one live read-only environment.
_OPEN: weakref.WeakValueDictionary[str, lmdb.Environment] = weakref.WeakValueDictionary()


def open_lmdb(path: str | Path) -> lmdb.Environment:
    """Read-only LMDB environment (no lock file written: archives may live on read-only media)."""
    path = Path(path)
    if not (path / "data.mdb").is_file():
        raise DataNotFoundError(f"no LMDB (data.mdb) in {path}; pass the folder that holds data.mdb")
    key = str(path.resolve())
    env = _OPEN.get(key)
    if env is not None:
        return env
    try:
        env = _OPEN[key] = lmdb.open(str(path), readonly=True, lock=False, readahead=False, max_readers=512)
        return env
    except lmdb.Error as error:
        raise InputError(f"{path} is not a readable LMDB ({error}); the database may be incomplete or "
                         "corrupt: copy the database again (data.mdb as written by rico-hdl or "
                         "bigearthnet-encoder)") from error


def lmdb_keys(env: lmdb.Environment) -> set[str]:
    with env.begin() as txn:
        return {key.decode("utf-8", "replace") for key in txn.cursor().iternext(keys=True, values=False)}


def check_entry_bands(bands: dict, sensor: str, what: str, fix: str) -> None:
    """Every model band present, each a 2-D array of its BigEarthNet size (checked before use)."""
    missing = [b for b in MODEL_BANDS[sensor] if b not in bands]
    if missing:
        raise InputError(f"{what} lacks band(s) {', '.join(missing)} (an {sensor.upper()} entry holds "
                         f"{', '.join(STORED_BANDS[sensor])}); {fix}")
    for band, array in bands.items():
        side = BANDS[band].native_pixels
        shape = getattr(array, "shape", ())
        if tuple(shape) != (side, side):
            size = "x".join(map(str, shape)) or "a scalar"
            raise InputError(f"{what}: band {band} is {size} pixels; a BigEarthNet {band} band is "
                             f"{side}x{side}; {fix}")


class RicoLmdb(PairArchive):
    """Pairs of a rico-hdl LMDB, listed by a reBEN metadata.parquet (only pairs present in the LMDB)."""

    source = "rico-hdl LMDB"

    def __init__(self, lmdb_path: str | Path, metadata: str | Path | pd.DataFrame):
        self.lmdb_path = Path(lmdb_path)
        self._env: lmdb.Environment | None = None
        keys = lmdb_keys(self.env)
        table = read_reben_metadata(metadata)
        present = table["pair_id"].isin(keys) & table["s1_name"].isin(keys)
        if not present.any():
            raise InputError(f"none of the {len(table)} metadata pairs has both S1 and S2 entries in "
                             f"{self.lmdb_path}; is this the matching metadata.parquet?")
        self.table = table[present].reset_index(drop=True)

    @property
    def env(self) -> lmdb.Environment:
        # Opened lazily so an archive object can be sent to DataLoader worker processes.
        if self._env is None:
            self._env = open_lmdb(self.lmdb_path)
        return self._env

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_env"] = None
        return state

    def read_record(self, key: str, sensor: str) -> PatchRecord:
        with self.env.begin() as txn:
            value = txn.get(key.encode("utf-8"))
        if value is None:
            raise InputError(f"no entry {key!r} in {self.lmdb_path}")
        try:
            arrays = load_safetensors(value)
        except SafetensorError as error:
            raise InputError(f"entry {key!r} of {self.lmdb_path} is not safetensors data ({error}); "
                             "rebuild the LMDB with rico-hdl") from error
        bands = {b: arrays[b] for b in STORED_BANDS[sensor] if b in arrays}
        check_entry_bands(bands, sensor, f"entry {key!r} of {self.lmdb_path}",
                          "rebuild the LMDB with rico-hdl")
        return PatchRecord(sensor=sensor, bands=bands, name=key, footprint=footprint_from_name(key),
                           source=self.source)

    def load_pair(self, row: pd.Series) -> PatchPair:
        pair = PatchPair(s1=self.read_record(row["s1_name"], "s1"), s2=self.read_record(row["pair_id"], "s2"))
        _attach_row_meta(pair, row)
        return pair
