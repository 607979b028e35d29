"""Rebuild the real-data test fixtures in this folder (run once by a maintainer, not by the tests).

    python tests/data/build_fixtures.py --wheels-dir DIR --rico-fixtures PATH/rico-hdl

DIR holds bigearthnet-common 2.8.0 and configilm 0.7.1 wheels
(`pip download --no-deps -d DIR configilm==0.7.1 bigearthnet-common==2.8.0`); PATH/rico-hdl is the
rico-hdl sample folder (official v2 GeoTIFF layout + a 2-entry LMDB, MIT).
"""
from __future__ import annotations

import argparse
import shutil
import tarfile
import tempfile
import zipfile
from pathlib import Path

import lmdb
import pandas as pd

HERE = Path(__file__).resolve().parent
V1_PAIR = ("S1A_IW_GRDH_1SDV_20170613T165043_33UUP_87_48", "S2A_MSIL2A_20170613T101031_87_48")
PICKLE_KEY = "S2B_MSIL2A_20170906T101019_82_41"
RICO_PAIR = ("S1B_IW_GRDH_1SDV_20170612T165809_33UUP_37_88", "S2A_MSIL2A_20170613T101031_N9999_R022_T33UUP_37_88")
MOCK = "configilm/extra/mock_data/"


def copy_lmdb_entries(source: Path, target: Path, keys: list[str]) -> None:
    shutil.rmtree(target, ignore_errors=True)
    with lmdb.open(str(source), readonly=True, lock=False) as src, \
            lmdb.open(str(target), map_size=16 * 2**20) as dst:
        with src.begin() as read, dst.begin(write=True) as write:
            for key in keys:
                write.put(key.encode(), read.get(key.encode()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--wheels-dir", type=Path, required=True)
    parser.add_argument("--rico-fixtures", type=Path, required=True)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        common = zipfile.ZipFile(next(args.wheels_dir.glob("bigearthnet_common-2.8.0-*.whl")))
        common.extractall(tmp)
        configilm = zipfile.ZipFile(next(args.wheels_dir.glob("configilm-0.7.1-*.whl")))
        configilm.extractall(tmp, [m for m in configilm.namelist() if m.startswith(MOCK + "BEN")])
        for sensor in ("S1", "S2"):
            with tarfile.open(tmp / f"bigearthnet_common/BigEarthNet-{sensor}-Example.tar.bz2") as tar:
                tar.extractall(tmp, filter="data")
        v1 = HERE / "v1"
        shutil.rmtree(v1, ignore_errors=True)
        shutil.copytree(tmp / "BigEarthNet-S1-Example" / V1_PAIR[0], v1 / "BigEarthNet-S1-v1.0" / V1_PAIR[0])
        shutil.copytree(tmp / "BigEarthNet-S2-Example" / V1_PAIR[1], v1 / "BigEarthNet-v1.0" / V1_PAIR[1])
        names = pd.read_csv(tmp / "bigearthnet_common/s1_s2_name_country_season.csv.bz2")
        names = names[names["s2_name"].isin([V1_PAIR[1], PICKLE_KEY])]
        names.to_csv(HERE / "s1_s2_name_country_season.csv", index=False)
        copy_lmdb_entries(tmp / MOCK / "BENv1/BigEarthNetEncoded.lmdb", HERE / "encoder_lmdb", [PICKLE_KEY])
        copy_lmdb_entries(tmp / MOCK / "BENv2/BigEarthNet-V2-LMDB", HERE / "rico_pair_lmdb", list(RICO_PAIR))
        meta = pd.read_parquet(tmp / MOCK / "BENv2/metadata.parquet")
        meta[meta["patch_id"] == RICO_PAIR[1]].to_parquet(HERE / "rico_pair_lmdb" / "metadata.parquet", index=False)
    shutil.rmtree(HERE / "rico-hdl", ignore_errors=True)
    shutil.copytree(args.rico_fixtures, HERE / "rico-hdl")


if __name__ == "__main__":
    main()
