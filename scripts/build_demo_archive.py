"""Assemble the embedded demo archive: 60 real BigEarthNet S1+S2 pairs from two package wheels.

Provenance (all real Copernicus Sentinel data, 2017-2018, BigEarthNet CDLA-Permissive-1.0):
  bigearthnet-common==2.8.0   BigEarthNet-S1/S2-Example.tar.bz2: 6 v1 pairs as GeoTIFF folders
                              (+ v1 splits, snow/cloud lists, country/season table used as metadata)
  configilm==0.7.1            extra/mock_data/BENv1/BigEarthNetEncoded.lmdb: 30 v1 pairs (pickle LMDB)
                              extra/mock_data/BENv2/BigEarthNet-V2-LMDB: 24 v2 pairs (rico-hdl LMDB)
Optionally `--reben-metadata metadata.parquet` adds reBEN (v2) labels and splits to the v1 pairs.

    python scripts/build_demo_archive.py --reben-metadata PATH/metadata.parquet
    python scripts/build_demo_archive.py --wheels-dir DIR   # wheels already downloaded

Output (assets/demo by default): patches.safetensors, metadata.parquet, PROVENANCE.json. The same
wheels and metadata rebuild both data files byte for byte.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import logging
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

import pandas as pd

from csmae_core.errors import CsmaeError
from csmae_core.geo import footprint_from_name, tile_of_name
from csmae_core.io.folders import BenV1Folders
from csmae_core.io.lmdb_pickle import EncodedLmdb
from csmae_core.io.lmdb_rico import RicoLmdb
from csmae_core.io.names import date_of_name
from csmae_core.io.packed import ARRAYS_FILE, TABLE_FILE, footprint_columns, write_packed_archive
from csmae_core.labels import to_19

WHEELS = {"bigearthnet_common": "bigearthnet-common==2.8.0", "configilm": "configilm==0.7.1"}
COMMON = "bigearthnet_common/"
MOCK = "configilm/extra/mock_data/"
log = logging.getLogger("build_demo_archive")


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--wheels-dir", type=Path,
                        help="folder holding the two wheels (default: pip download them into a temp dir)")
    parser.add_argument("--reben-metadata", type=Path,
                        help="reBEN metadata.parquet; the snow/cloud parquet beside it is read too")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "assets" / "demo",
                        help="output folder (default: assets/demo)")
    return parser.parse_args(argv)


def find_wheels(wheels_dir: Path | None, tmp: Path) -> dict[str, Path]:
    if wheels_dir is None:
        wheels_dir = tmp / "wheels"
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", str(wheels_dir),
                        *WHEELS.values()], check=True)
    found = {}
    for package, spec in WHEELS.items():
        version = spec.split("==")[1]
        matches = sorted(wheels_dir.glob(f"{package}-{version}-*.whl"))
        if not matches:
            raise CsmaeError(f"no {spec} wheel in {wheels_dir}; run: pip download --no-deps -d "
                             f"{wheels_dir} {spec}")
        found[package] = matches[0]
    return found


def extract(wheels: dict[str, Path], tmp: Path) -> Path:
    """Unpack only the members needed (the configilm wheel is 55 MB, mostly other data)."""
    root = tmp / "src"
    for wheel, prefixes in ((wheels["bigearthnet_common"], (COMMON,)),
                            (wheels["configilm"], (MOCK + "BENv1/", MOCK + "BENv2/"))):
        with zipfile.ZipFile(wheel) as archive:
            for member in archive.namelist():
                if member.startswith(prefixes) and ".." not in member:
                    archive.extract(member, root)
    for name in ("BigEarthNet-S1-Example.tar.bz2", "BigEarthNet-S2-Example.tar.bz2"):
        with tarfile.open(root / COMMON / name) as tar:
            tar.extractall(root / "examples", filter="data")
    return root


def read_list(path: Path) -> set[str]:
    return set(pd.read_csv(path, header=None)[0])


def v1_tables(root: Path) -> dict:
    common = root / COMMON
    splits = {}
    for split, file in (("train", "train"), ("validation", "val"), ("test", "test")):
        splits.update(dict.fromkeys(read_list(common / f"{file}.csv.bz2"), split))
    return {"names": pd.read_csv(common / "s1_s2_name_country_season.csv.bz2"), "splits": splits,
            "snow": read_list(common / "patches_with_seasonal_snow.csv.bz2"),
            "cloud": read_list(common / "patches_with_cloud_and_shadow.csv.bz2")}


def reben_table(path: Path | None) -> pd.DataFrame | None:
    if path is None:
        return None
    frames = [pd.read_parquet(path)]
    extra = path.parent / "metadata_for_patches_with_snow_cloud_or_shadow.parquet"
    if extra.is_file():
        frames.append(pd.read_parquet(extra))
    return pd.concat(frames, ignore_index=True)


def v1_row(pair, tables: dict, reben: pd.DataFrame | None, source: str) -> dict:
    row = {"pair_id": pair.pair_id, "s1_name": pair.s1.name, "source": source,
           "s2_processing": "sen2cor 2.5.5 (BigEarthNet v1.0)",
           "labels_v1": pair.s2.labels, "labels_43": pair.s2.labels_43,
           "split_v1": tables["splits"].get(pair.pair_id),
           "contains_seasonal_snow": pair.pair_id in tables["snow"],
           "contains_cloud_or_shadow": pair.pair_id in tables["cloud"],
           "labels_v2": None, "split_v2": None, "reben_patch_id": None}
    if reben is not None:
        match = reben[reben["s2v1_name"] == pair.pair_id]
        if len(match):
            v2 = match.iloc[0]
            row.update(labels_v2=to_19(v2["labels"]), split_v2=v2["split"], reben_patch_id=v2["patch_id"],
                       contains_seasonal_snow=bool(v2["contains_seasonal_snow"]),
                       contains_cloud_or_shadow=bool(v2["contains_cloud_or_shadow"]))
    return row


def v2_row(pair, tables: dict, metadata: pd.DataFrame) -> dict:
    v2 = metadata[metadata["patch_id"] == pair.pair_id].iloc[0]
    return {"pair_id": pair.pair_id, "s1_name": pair.s1.name,
            "source": "configilm 0.7.1 BENv2 rico-hdl LMDB", "s2_processing": "sen2cor 2.11 (reBEN v2.0)",
            "labels_v1": None, "labels_43": None, "split_v1": tables["splits"].get(v2["s2v1_name"]),
            "labels_v2": to_19(v2["labels"]), "split_v2": v2["split"], "reben_patch_id": v2["patch_id"],
            "contains_seasonal_snow": bool(v2["contains_seasonal_snow"]),
            "contains_cloud_or_shadow": bool(v2["contains_cloud_or_shadow"]), "country": v2["country"]}


def check_footprints(pair) -> None:
    """Footprints read from GeoTIFF/JSON must equal the tile-grid computation exactly."""
    grid = footprint_from_name(pair.pair_id, tile_of_name(pair.s1.name))
    for record in (pair.s1, pair.s2):
        if record.footprint is not None and record.footprint != grid:
            raise CsmaeError(f"{record.name}: file footprint {record.footprint} != tile grid {grid}")


def collect(root: Path, reben: pd.DataFrame | None) -> tuple[list, pd.DataFrame]:
    tables = v1_tables(root)
    names = tables["names"]
    examples = BenV1Folders(root / "examples/BigEarthNet-S1-Example", root / "examples/BigEarthNet-S2-Example",
                            names)
    encoded = EncodedLmdb(root / MOCK / "BENv1/BigEarthNetEncoded.lmdb", names)
    v2_meta = pd.concat([pd.read_parquet(root / MOCK / "BENv2/metadata.parquet"),
                         pd.read_parquet(root / MOCK / "BENv2/metadata_for_patches_with_snow_cloud_or_shadow.parquet")],
                        ignore_index=True)
    rico = RicoLmdb(root / MOCK / "BENv2/BigEarthNet-V2-LMDB", v2_meta)
    pairs, rows = [], []
    for archive, make_row in ((examples, lambda p: v1_row(p, tables, reben, "bigearthnet-common 2.8.0 example folders")),
                              (encoded, lambda p: v1_row(p, tables, reben, "configilm 0.7.1 BENv1 encoder LMDB")),
                              (rico, lambda p: v2_row(p, tables, v2_meta))):
        for pair in archive:
            check_footprints(pair)
            pairs.append(pair)
            row = make_row(pair)
            row.setdefault("country", pair.s2.meta.get("country"))
            row["season"] = pair.s2.meta.get("season")
            rows.append(row)
    order = sorted(range(len(pairs)), key=lambda i: pairs[i].pair_id)
    table = finish_table(pairs, rows)
    return [pairs[i] for i in order], table.iloc[order].reset_index(drop=True)


def finish_table(pairs: list, rows: list[dict]) -> pd.DataFrame:
    table = pd.DataFrame(rows)
    table["tile"] = [tile_of_name(p.s1.name) for p in pairs]
    footprints = [footprint_from_name(p.pair_id, tile_of_name(p.s1.name)) for p in pairs]
    table = pd.concat([table, footprint_columns(footprints)], axis=1)
    # v2 (reBEN) labels and split where known: the geographic split of reBEN avoids neighbouring
    # patches in train and test; v1 otherwise.
    table["labels"] = [v2 if v2 is not None else v1 for v1, v2 in zip(table["labels_v1"], table["labels_v2"])]
    table["split"] = [v2 if isinstance(v2, str) else v1 for v1, v2 in zip(table["split_v1"], table["split_v2"])]
    table["s1_acquisition"] = [date_of_name(p.s1.name).date().isoformat() for p in pairs]
    table["s2_acquisition"] = [date_of_name(p.pair_id).date().isoformat() for p in pairs]
    return table


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_provenance(out: Path, wheels: dict[str, Path], reben: Path | None, table: pd.DataFrame) -> None:
    provenance = {
        "wheels": {WHEELS[k]: sha256(p) for k, p in wheels.items()},
        "reben_metadata": {"file": reben.name, "sha256": sha256(reben)} if reben else None,
        "pairs": len(table), "countries": sorted(table["country"].unique()),
        "tiles": sorted(table["tile"].unique()),
        "splits": table["split"].value_counts().sort_index().to_dict(),
        "sources": table["source"].value_counts().sort_index().to_dict(),
        "files": {name: sha256(out / name) for name in (ARRAYS_FILE, TABLE_FILE)},
        "licence": "BigEarthNet: CDLA-Permissive-1.0 (LICENSE-CDLA-Permissive-1.0.txt); "
                   "contains modified Copernicus Sentinel data 2017-2018",
    }
    (out / "PROVENANCE.json").write_text(json.dumps(provenance, indent=2) + "\n")


def main(argv=None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    args = parse_args(argv)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            wheels = find_wheels(args.wheels_dir, Path(tmp))
            root = extract(wheels, Path(tmp))
            pairs, table = collect(root, reben_table(args.reben_metadata))
            write_packed_archive(pairs, table, args.out)
            write_provenance(args.out, wheels, args.reben_metadata, table)
    except (CsmaeError, OSError, subprocess.CalledProcessError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"wrote {len(table)} pairs ({table['country'].nunique()} countries, "
          f"{table['tile'].nunique()} tiles) to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
