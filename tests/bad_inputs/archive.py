"""Archive cases: LMDBs (encoder pickles carrying code, rico-hdl safetensors), packed archives and
patch folders that `open_archive` / `read_any` must refuse."""
from __future__ import annotations

import os
import pickle
import shutil
import subprocess
from pathlib import Path

import numpy as np

from tests.bad_inputs.builder import ASSETS, DATA, RICO_PAIR, S1_NAME, S2_NAME, V1_S1, V1_S2, RunsCode, random_bytes
from tests.bad_inputs.spec import Category

CASES = Category("archive")

_OPEN = "open_archive(path)[0]"
_OPEN_RICO = "open_archive(path, metadata)[0]"


def _lmdb(folder: Path, entries: dict[str, bytes]) -> Path:
    import lmdb

    with lmdb.open(str(folder), map_size=8 * 2**20) as env, env.begin(write=True) as txn:
        for key, value in entries.items():
            txn.put(key.encode(), value)
    return folder


def _safetensors(arrays: dict[str, np.ndarray]) -> bytes:
    from safetensors.numpy import save

    return save({k: np.ascontiguousarray(v) for k, v in arrays.items()})


def _open_first(path: Path, metadata: Path | None = None):
    from csmae_core.io.detect import open_archive

    return lambda: open_archive(path, metadata)[0]


def _pickle_lmdb(b, d, case_id: str, payload: bytes) -> dict:
    folder = _lmdb(d / "encoder_lmdb", {"S2A_MSIL2A_20170613T101031_1_1": payload})
    return {"files": [folder / "data.mdb"], "run": _open_first(folder), "marker": b.marker(case_id),
            "cli": [str(folder)]}


@CASES.case("lmdb-pickle-os-system", "encoder LMDB whose value pickles os.system('touch marker')", _OPEN,
            "UnsafePickleError", "refused to unpickle posix.system", "Nothing was executed",
            "check where this database comes from", hostile=True)
def build_lmdb_pickle_os_system(b, d):
    payload = pickle.dumps(RunsCode(os.system, b.touch_command("lmdb-pickle-os-system")))
    return _pickle_lmdb(b, d, "lmdb-pickle-os-system", payload)


@CASES.case("lmdb-pickle-eval", "encoder LMDB whose value pickles builtins.eval of an os.system call", _OPEN,
            "UnsafePickleError", "refused to unpickle builtins.eval", "Nothing was executed", hostile=True)
def build_lmdb_pickle_eval(b, d):
    code = f"__import__('os').system({b.touch_command('lmdb-pickle-eval')!r})"
    return _pickle_lmdb(b, d, "lmdb-pickle-eval", pickle.dumps(RunsCode(eval, code)))


@CASES.case("lmdb-pickle-popen", "encoder LMDB whose value pickles subprocess.Popen(['touch', marker])",
            _OPEN, "UnsafePickleError", "refused to unpickle subprocess.Popen", "Nothing was executed", hostile=True)
def build_lmdb_pickle_popen(b, d):
    payload = pickle.dumps(RunsCode(subprocess.Popen, ["touch", str(b.marker("lmdb-pickle-popen"))]))
    return _pickle_lmdb(b, d, "lmdb-pickle-popen", payload)


@CASES.case("lmdb-pickle-protocol-0", "encoder LMDB whose value is a text (protocol 0) pickle of os.system",
            _OPEN, "UnsafePickleError", "refused to unpickle posix.system", "Nothing was executed", hostile=True)
def build_lmdb_pickle_protocol_0(b, d):
    payload = pickle.dumps(RunsCode(os.system, b.touch_command("lmdb-pickle-protocol-0")), protocol=0)
    return _pickle_lmdb(b, d, "lmdb-pickle-protocol-0", payload)


@CASES.case("lmdb-garbage", "folder with a data.mdb of random bytes", _OPEN, "InputError",
            "is not a readable LMDB", "copy the database again")
def build_lmdb_garbage(b, d):
    folder = d / "garbage_lmdb"
    folder.mkdir()
    (folder / "data.mdb").write_bytes(random_bytes(3, 64 * 1024))
    return {"files": [folder / "data.mdb"], "run": _open_first(folder), "cli": [str(folder)]}


@CASES.case("lmdb-empty", "valid LMDB without a single entry", "read_any([lmdb])", "InputError",
            "holds no entries", "pass an LMDB written by rico-hdl or bigearthnet-encoder")
def build_lmdb_empty(b, d):
    from csmae_core.io.detect import read_any

    folder = _lmdb(d / "empty_lmdb", {})
    return {"files": [folder / "data.mdb"], "run": lambda: read_any([folder]), "cli": [str(folder)]}


def _rico_case(d: Path, s1: bytes, s2: bytes) -> dict:
    import pandas as pd

    table = pd.read_parquet(RICO_PAIR / "metadata.parquet")
    row = table.iloc[0]
    folder = _lmdb(d / "rico_lmdb", {row["s1_name"]: s1, row["patch_id"]: s2})
    metadata = d / "metadata.parquet"
    table.to_parquet(metadata)
    return {"files": [folder / "data.mdb", metadata], "run": _open_first(folder, metadata),
            "cli": [str(folder), "--key", row["patch_id"]]}


def _rico_values() -> tuple[dict, dict]:
    import lmdb
    import pandas as pd
    from safetensors.numpy import load

    row = pd.read_parquet(RICO_PAIR / "metadata.parquet").iloc[0]
    with lmdb.open(str(RICO_PAIR), readonly=True, lock=False) as env, env.begin() as txn:
        return load(txn.get(row["s1_name"].encode())), load(txn.get(row["patch_id"].encode()))


@CASES.case("rico-wrong-shape", "rico-hdl LMDB (real pair) whose S2 B02 value is 7 x 7", _OPEN_RICO,
            "InputError", "band B02 is 7x7 pixels; a BigEarthNet B02 band is 120x120", "rebuild the LMDB with rico-hdl")
def build_rico_wrong_shape(b, d):
    s1, s2 = _rico_values()
    s2["B02"] = s2["B02"][:7, :7]
    return _rico_case(d, _safetensors(s1), _safetensors(s2))


@CASES.case("rico-missing-band", "rico-hdl LMDB (real pair) whose S1 value lacks VH", _OPEN_RICO, "InputError",
            "lacks band(s) VH", "rebuild the LMDB with rico-hdl")
def build_rico_missing_band(b, d):
    s1, s2 = _rico_values()
    del s1["VH"]
    return {**_rico_case(d, _safetensors(s1), _safetensors(s2)), "cli": None}


@CASES.case("rico-not-safetensors", "rico-hdl LMDB (real S1) whose S2 value is random bytes", _OPEN_RICO,
            "InputError", "is not safetensors data", "rebuild the LMDB with rico-hdl")
def build_rico_not_safetensors(b, d):
    s1, _ = _rico_values()
    garbage = random_bytes(4, 4096)
    return _rico_case(d, _safetensors(s1), garbage)


def _packed(d: Path) -> Path:
    import pandas as pd

    folder = d / "packed"
    folder.mkdir()
    pd.read_parquet(ASSETS / "demo" / "metadata.parquet").head(3).to_parquet(folder / "metadata.parquet")
    return folder


@CASES.case("packed-corrupt-arrays", "packed archive whose patches.safetensors is random bytes", _OPEN,
            "InputError", "patches.safetensors is not readable", "copy or rebuild the archive")
def build_packed_corrupt_arrays(b, d):
    folder = _packed(d)
    (folder / "patches.safetensors").write_bytes(random_bytes(5, 4096))
    return {"files": [folder / "patches.safetensors"], "run": _open_first(folder), "cli": [str(folder)]}


@CASES.case("packed-table-not-parquet", "packed archive whose metadata.parquet is a CSV", _OPEN, "InputError",
            "metadata.parquet is not a readable parquet file", "copy or rebuild the archive")
def build_packed_table_not_parquet(b, d):
    folder = _packed(d)
    (folder / "metadata.parquet").write_text("pair_id,s1_name\na,b\n")
    shutil.copyfile(ASSETS / "demo" / "README.md", folder / "patches.safetensors")
    return {"files": [folder / "metadata.parquet"], "run": _open_first(folder), "cli": [str(folder)]}


@CASES.case("archive-missing", "archive folder that does not exist", _OPEN, "DataNotFoundError",
            "no archive folder at", "check the path")
def build_archive_missing(b, d):
    return {"run": _open_first(d / "no_such_archive")}


@CASES.case("archive-unknown-folder", "folder of unrelated files", _OPEN, "InputError",
            "is not an archive this tool reads")
def build_archive_unknown_folder(b, d):
    folder = d / "holiday_photos"
    folder.mkdir()
    (folder / "IMG_0001.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really")
    return {"files": [folder], "run": _open_first(folder), "cli": [str(folder)]}


@CASES.case("archive-unknown-key", "real encoder LMDB (copied) asked for a pair it does not hold",
            "read_any([lmdb], key=...)", "MissingKeyError", "no pair 'S2A_NOPE' in this archive", "it holds 1 pairs")
def build_archive_unknown_key(b, d):
    from csmae_core.io.detect import read_any

    folder = d / "encoder_lmdb"
    shutil.copytree(DATA / "encoder_lmdb", folder)
    return {"files": [folder / "data.mdb"], "run": lambda: read_any([folder], key="S2A_NOPE"),
            "cli": [str(folder), "--key", "S2A_NOPE"]}


def _read_folder(folder: Path):
    from csmae_core.io.detect import read_any

    return lambda: read_any([folder])


@CASES.case("folder-truncated-band", "real v1 patch folder whose B03 file is cut in half", "read_any([folder])",
            "InputError", f"{S2_NAME}_B03.tif is not a readable GeoTIFF", "copy or download the patch again")
def build_folder_truncated_band(b, d):
    folder = b.patch_folder(d / S2_NAME)
    b03 = folder / f"{S2_NAME}_B03.tif"
    b03.write_bytes(b03.read_bytes()[:b03.stat().st_size // 2])
    return {"files": [b03], "run": _read_folder(folder), "cli": [str(folder)]}


@CASES.case("folder-huge-band", "real v1 patch folder whose B02 declares 100000 x 100000 pixels (a few kB)",
            "read_any([folder])", "InputError", "declares 100000x100000 pixels", "at most 120x120")
def build_folder_huge_band(b, d):
    folder = b.patch_folder(d / S2_NAME)
    b02 = b.huge_sparse_tif(folder / f"{S2_NAME}_B02.tif", 1, "uint16", b.s2_real()[1])
    return {"files": [b02], "run": _read_folder(folder), "cli": [str(folder)]}


@CASES.case("encoder-lmdb-wrong-shape", "encoder LMDB entry (plain dicts + real v1 arrays) whose B02 is 3 x 3",
            _OPEN, "InputError", "band B02 is 3x3 pixels; a BigEarthNet B02 band is 120x120",
            "encode the archive again")
def build_encoder_lmdb_wrong_shape(b, d):
    import rasterio

    def band(path: Path) -> dict:
        with rasterio.open(path) as dataset:
            return {"data": dataset.read(1)}
    s1 = {f"band{pol}": band(V1_S1 / f"{S1_NAME}_{pol}.tif") for pol in ("VV", "VH")}
    s2 = {f"band{p.stem.rsplit('_', 1)[1][1:]}": band(p) for p in sorted(V1_S2.glob("*.tif"))}
    s2["band02"]["data"] = s2["band02"]["data"][:3, :3].copy()
    payload = pickle.dumps({"s1_patch": s1, "s2_patch": s2, "labels": ["Pastures"]}, protocol=4)
    return {**_pickle_lmdb(b, d, "encoder-lmdb-wrong-shape", payload), "marker": None}
