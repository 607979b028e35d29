"""LMDB databases shared by the LMDB readers (rico-hdl safetensors, bigearthnet-encoder pickles): one live
read-only environment per path, key listing, and the band check of a decoded entry."""
from __future__ import annotations

import weakref
from pathlib import Path

import lmdb

from csmae_core.bands import BANDS, MODEL_BANDS, STORED_BANDS
from csmae_core.errors import DataNotFoundError, InputError

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
