"""BigEarthNet v1 LMDB as encoded by bigearthnet-encoder (the format the published CSMAE code trains on).

Key = v1 S2 name; value = a pickle of `BigEarthNet_S1_S2_Patch` (bigearthnet-patch-interface).
`pickle.loads` would run any code a database carries, so values are read with a restricted unpickler:
the four interface classes become inert stand-ins, three numpy globals are allowed, and any other
global is refused with `UnsafePickleError` before anything is called.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from csmae_core.bands import STORED_BANDS
from csmae_core.errors import InputError, UnsafePickleError
from csmae_core.geo import footprint_from_name, tile_of_name
from csmae_core.io.archive import PairArchive
from csmae_core.io.lmdb import check_entry_bands, lmdb_keys, open_lmdb
from csmae_core.io.metadata import attach_row_meta, with_defaults
from csmae_core.labels import to_19
from csmae_core.record import PatchPair, PatchRecord
from csmae_core.safe_pickle import InertObject, PicklePolicy, restricted_loads

_INTERFACE_MODULES = frozenset(
    f"bigearthnet_patch_interface.{m}_interface" for m in ("merged", "s1", "s2", "band"))
_NUMPY_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"): np._core.multiarray._reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): np._core.multiarray._reconstruct,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
}


_POLICY = PicklePolicy(
    allowed=_NUMPY_GLOBALS, inert=lambda module, name: module in _INTERFACE_MODULES,
    refusal="refused to unpickle {global}: a BigEarthNet encoder LMDB only references "
            "bigearthnet_patch_interface classes and numpy arrays. Nothing was executed; "
            "check where this database comes from.")


def decode_value(data: bytes) -> Any:
    """One LMDB value under the restricted policy (see module docstring)."""
    try:
        return restricted_loads(data, _POLICY)
    except UnsafePickleError:
        raise
    except Exception as error:  # a truncated or foreign pickle raises many types
        raise InputError(f"not a BigEarthNet encoder pickle ({type(error).__name__}: {error})") from error


def _state(obj: Any) -> dict:
    """Plain attribute dict of a stand-in (pydantic v1 pickles keep fields under '__dict__')."""
    state = obj.state if isinstance(obj, InertObject) else obj
    if isinstance(state, tuple):  # (dict, slots) form
        state = state[0]
    if not isinstance(state, dict):
        raise InputError("unexpected pickle layout: no attribute dictionary")
    return state.get("__dict__", state)


def _bands(patch: Any, sensor: str) -> dict[str, np.ndarray]:
    attributes = _state(patch)
    bands = {}
    for band in STORED_BANDS[sensor]:
        key = "band" + (band[1:] if sensor == "s2" else band)  # band02 / band8A / bandVV
        if key in attributes:
            bands[band] = np.asarray(_state(attributes[key])["data"])
    return bands


def decode_patch(data: bytes) -> dict[str, Any]:
    """s1/s2 band dicts and the 43/19-class labels of one encoded pair."""
    attributes = _state(decode_value(data))
    try:
        return {"s1": _bands(attributes["s1_patch"], "s1"), "s2": _bands(attributes["s2_patch"], "s2"),
                "labels_43": list(attributes.get("labels") or []),
                "labels_19": list(attributes.get("new_labels") or [])}
    except KeyError as error:
        raise InputError(f"encoded patch lacks {error}; not a BigEarthNet_S1_S2_Patch") from error


class EncodedLmdb(PairArchive):
    """Pairs of a bigearthnet-encoder LMDB. names_table (s1_name, s2_name[, country, season]) gives
    each pair its S1 name and so its tile and footprint (v1 S2 names carry no tile)."""

    source = "bigearthnet-encoder LMDB"

    def __init__(self, lmdb_path: str | Path, names_table: pd.DataFrame | None = None):
        self.lmdb_path = Path(lmdb_path)
        self._env = None
        keys = sorted(lmdb_keys(self.env))
        if not keys:
            raise InputError(f"{self.lmdb_path} holds no entries")
        table = pd.DataFrame({"pair_id": keys})
        if names_table is not None:
            names = names_table.rename(columns={"s2_name": "pair_id"})
            table = table.merge(names[["pair_id", "s1_name"]], on="pair_id", how="left")
        else:
            table["s1_name"] = None
        self.table = with_defaults(table, names_table)

    env = property(lambda self: self._env or self._open())

    def _open(self):
        self._env = open_lmdb(self.lmdb_path)
        return self._env

    def __getstate__(self):
        return {**self.__dict__, "_env": None}

    def load_pair(self, row: pd.Series) -> PatchPair:
        with self.env.begin() as txn:
            data = txn.get(row["pair_id"].encode())
        if data is None:
            raise InputError(f"no entry {row['pair_id']!r} in {self.lmdb_path}")
        decoded = decode_patch(data)
        for sensor in ("s1", "s2"):
            check_entry_bands(decoded[sensor], sensor, f"entry {row['pair_id']!r} of {self.lmdb_path} ({sensor.upper()})",
                              "this is not a BigEarthNet encoder LMDB: encode the archive again")
        known = isinstance(row["s1_name"], str)
        s1_name = row["s1_name"] if known else f"S1 of {row['pair_id']}"
        tile = tile_of_name(s1_name) if known else None
        footprint = footprint_from_name(row["pair_id"], tile) if tile else None
        notes = [] if footprint else [
            "location unknown: v1 S2 names carry no tile; pass the S1/S2 names table for the footprint"]
        records = {}
        for sensor, name in (("s1", s1_name), ("s2", row["pair_id"])):
            records[sensor] = PatchRecord(
                sensor=sensor, bands=decoded[sensor], name=name, footprint=footprint,
                labels=to_19(decoded["labels_19"] or decoded["labels_43"]),
                labels_43=decoded["labels_43"], source=self.source, notes=list(notes))
        pair = PatchPair(s1=records["s1"], s2=records["s2"])
        attach_row_meta(pair, row.drop(labels=["labels"]))
        return pair
