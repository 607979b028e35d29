"""BigEarthNet v2 LMDB as encoded by rico-hdl (the format configilm reads).

One LMDB environment; key = UTF-8 patch name; value = safetensors bytes. S2 key = v2 patch_id ->
B01..B12, B8A uint16 at native size; S1 key = S1 name -> VV, VH float32 120x120. No georeference inside:
footprints come from the tile grid. Pairs come from metadata.parquet.
"""
from __future__ import annotations

from pathlib import Path

import lmdb
import pandas as pd
from safetensors import SafetensorError
from safetensors.numpy import load as load_safetensors

from csmae_core.bands import STORED_BANDS
from csmae_core.errors import InputError
from csmae_core.geo import footprint_from_name
from csmae_core.io.archive import PairArchive
from csmae_core.io.lmdb import check_entry_bands, lmdb_keys, open_lmdb
from csmae_core.io.metadata import attach_row_meta, read_reben_metadata
from csmae_core.record import PatchPair, PatchRecord


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
        attach_row_meta(pair, row)
        return pair
