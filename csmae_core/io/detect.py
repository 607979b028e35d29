"""Open whatever a user points at: a patch folder, an LMDB, a packed archive, a v2 tree, or uploads."""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from csmae_core.errors import DataNotFoundError, InputError
from csmae_core.io.archive import PairArchive
from csmae_core.record import PatchPair, PatchRecord


def open_archive(path: str | Path, metadata: str | Path | None = None) -> PairArchive:
    """The archive reader matching a folder's contents."""
    from csmae_core.io.folders import BenV1Folders, BenV2Folders
    from csmae_core.io.lmdb_pickle import EncodedLmdb
    from csmae_core.io.lmdb_rico import RicoLmdb
    from csmae_core.io.packed import ARRAYS_FILE, PackedArchive

    path = Path(path)
    if not path.is_dir():
        raise DataNotFoundError(f"no archive folder at {path}; check the path (an archive is a folder)")
    if (path / ARRAYS_FILE).is_file():
        return PackedArchive(path)
    if (path / "BigEarthNet-S2").is_dir():
        return BenV2Folders(path, metadata)
    if (path / "BigEarthNet-v1.0").is_dir() and (path / "BigEarthNet-S1-v1.0").is_dir():
        return BenV1Folders(path / "BigEarthNet-S1-v1.0", path / "BigEarthNet-v1.0")
    if (path / "data.mdb").is_file():
        if lmdb_kind(path) == "pickle":
            return EncodedLmdb(path)
        if metadata is None:
            raise InputError(f"{path} is a rico-hdl LMDB: pass its metadata.parquet as metadata= to pair S1 and S2")
        return RicoLmdb(path, metadata)
    raise InputError(f"{path} is not an archive this tool reads (packed archive, BigEarthNet v1 folders "
                     "BigEarthNet-v1.0 + BigEarthNet-S1-v1.0, BigEarthNet v2 tree with metadata.parquet, rico-hdl "
                     "LMDB or bigearthnet-encoder LMDB)")


def lmdb_kind(path: Path) -> str:
    """"safetensors" (rico-hdl) or "pickle" (bigearthnet-encoder), from the first value.

    Safetensors bytes are an 8-byte little-endian header length followed by a JSON object. Anything
    else is taken as a pickle, so that a hostile value (a protocol-0 text pickle as much as a binary
    one) goes to the restricted unpickler, which refuses it, rather than to a misleading message.
    """
    from csmae_core.io.lmdb import open_lmdb

    with open_lmdb(path).begin() as txn:
        first = next(txn.cursor().iternext(keys=False, values=True), None)
    if first is None:
        raise InputError(f"the LMDB {path} holds no entries; pass an LMDB written by rico-hdl or "
                         "bigearthnet-encoder")
    if len(first) > 9 and first[8:9] == b"{" and int.from_bytes(first[:8], "little") <= len(first) - 8:
        return "safetensors"
    return "pickle"


def lmdb_holds_pickles(path: Path) -> bool:
    return lmdb_kind(path) == "pickle"


def read_lmdb_entry(path: Path, key: str | None) -> PatchRecord | PatchPair:
    """One entry of an LMDB without metadata (for inspection)."""
    from csmae_core.io.lmdb import lmdb_keys, open_lmdb
    from csmae_core.io.lmdb_pickle import EncodedLmdb
    from csmae_core.io.lmdb_rico import RicoLmdb

    if lmdb_holds_pickles(path):
        archive = EncodedLmdb(path)
        return archive[archive.index_of(key) if key else 0]
    keys = sorted(lmdb_keys(open_lmdb(path)))  # lmdb_holds_pickles refused an empty LMDB
    key = key or keys[0]
    if key not in keys:
        raise InputError(f"no entry {key!r} in {path}; it holds {len(keys)} entries, e.g. {keys[0]}")
    reader = RicoLmdb.__new__(RicoLmdb)
    reader.lmdb_path, reader._env = path, None
    return reader.read_record(key, "s1" if key.startswith("S1") else "s2")


def read_any(paths: Sequence[str | Path], window: tuple[int, int] | None = None,
             sensor: str | None = None, key: str | None = None) -> PatchRecord | PatchPair:
    """A record (or a pair, for archives) from any supported input."""
    from csmae_core.io.folders import read_patch_folder

    paths = [Path(p) for p in paths]
    if len(paths) == 1 and paths[0].is_dir():
        folder = paths[0]
        if (folder / "data.mdb").is_file():
            return read_lmdb_entry(folder, key)
        if any(folder.glob("*.tif")) and not (folder / "patches.safetensors").exists():
            return read_patch_folder(folder)
        archive = open_archive(folder)
        return archive[archive.index_of(key) if key else 0]
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        raise DataNotFoundError(f"no such file: {', '.join(missing)}")
    from csmae_core.io.upload import read_upload

    return read_upload(paths if len(paths) > 1 else paths[0], window=window, sensor=sensor)
