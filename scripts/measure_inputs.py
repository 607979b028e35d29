"""How well real-world exports of a demo patch are read: each form (the way a real tool writes a patch:
ESA/GEE/STAC/SNAP band names, offset products, percent, SAFE JP2 and SSL4EO/Major-TOM band files, zips,
...) is built from real demo patches with rasterio, uploaded through `read_upload`, embedded with the
demo model, and compared with the patch's own archive entry: the cosine and the entry's rank among the
archive's patches of that sensor (1 = found first), or the refusal.

    python scripts/measure_inputs.py --out after.json                      # the code on the path
    PYTHONPATH=/tmp/before python scripts/measure_inputs.py --out before.json
    python scripts/measure_inputs.py --table before.json after.json        # the markdown table

Only public names that every version has are used (read_upload, load_model, Bundle, PackedArchive),
so the same script measures the code before and after a change.
"""
from __future__ import annotations

import argparse
import json
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import rasterio
from rasterio.transform import from_origin

ROOT = Path(__file__).resolve().parents[1]
ROWS = (3, 20, 45)  # demo pairs measured (v1 and v2 processing, three countries)
S2_ESA = ("B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B09", "B11", "B12")
RES = {"B01": 60, "B09": 60, "B05": 20, "B06": 20, "B07": 20, "B8A": 20, "B11": 20, "B12": 20}
STAC = {"B01": "coastal", "B02": "blue", "B03": "green", "B04": "red", "B05": "rededge1", "B06": "rededge2",
        "B07": "rededge3", "B08": "nir", "B8A": "nir08", "B09": "nir09", "B11": "swir16", "B12": "swir22"}


# ------------------------------------------------------------------------------------- writers


def write_tif(path: Path, data: np.ndarray, fp, *, descriptions=None, pixel: float = 10.0, tags=None,
              band_tags=None, scales=None, offsets=None, south_up: bool = False, driver: str = "GTiff") -> Path:
    """A GeoTIFF (or JP2) of `data` (bands, rows, cols) at the patch footprint `fp` (epsg, ulx, uly)."""
    data = data if data.ndim == 3 else data[None]
    epsg, ulx, uly = fp
    transform = from_origin(ulx, uly, pixel, pixel)
    if south_up:  # first row is the southern edge (some tools write bottom-up rasters)
        data = data[:, ::-1, :]
        transform = rasterio.Affine(pixel, 0, ulx, 0, pixel, uly - pixel * data.shape[1])
    profile = {"driver": driver, "count": data.shape[0], "height": data.shape[1], "width": data.shape[2],
               "dtype": data.dtype.name, "crs": f"EPSG:{epsg}", "transform": transform}
    if driver == "JP2OpenJPEG":
        profile.update(quality=100, reversible=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    with rasterio.open(path, "w", **profile) as dataset:
        dataset.write(np.ascontiguousarray(data))
        for index, text in enumerate(descriptions or [], start=1):
            dataset.set_band_description(index, text)
        if tags:
            dataset.update_tags(**tags)
        for index in range(1, data.shape[0] + 1):
            if band_tags:
                dataset.update_tags(index, **band_tags)
        if scales:
            dataset.scales, dataset.offsets = scales, offsets
    return path


def at_10m(band: str, array: np.ndarray) -> np.ndarray:
    """A native-size band repeated to the 120x120 10 m grid (area-averaging it back gives it exactly)."""
    factor = 120 // array.shape[0]
    return np.repeat(np.repeat(array, factor, axis=0), factor, axis=1)


def s2_stack(bands: dict, order, dtype=np.uint16, add: float = 0, scale: float = 1) -> np.ndarray:
    return np.stack([(at_10m(b, bands[b]).astype(np.float64) + add) * scale for b in order]).astype(dtype)


def s1_stack(bands: dict, order, unit: str = "db") -> np.ndarray:
    db = np.stack([bands[b].astype(np.float64) for b in order])
    values = {"db": db, "power": 10 ** (db / 10), "amplitude": 10 ** (db / 20)}[unit]
    return values.astype(np.float32)


# --------------------------------------------------------------------------------------- forms


def _s2_multiband(descriptions=None, order=S2_ESA, **kw) -> Callable:
    def build(pair, fp, folder: Path, name: str = "patch.tif"):
        extra = kw.get("extra", [])
        data = s2_stack(pair.s2.bands, order, kw.get("dtype", np.uint16), kw.get("add", 0), kw.get("scale", 1))
        if extra:
            data = np.concatenate([data, np.full((len(extra), 120, 120), 7, data.dtype)])
        names = None if descriptions is None else list(descriptions) + list(extra)
        path = write_tif(folder / kw.get("file", name), data, fp, descriptions=names, tags=kw.get("tags"),
                         band_tags=kw.get("band_tags"), scales=kw.get("scales"), offsets=kw.get("offsets"),
                         south_up=kw.get("south_up", False))
        return [path]
    return build


def _s1_multiband(order, descriptions=None, unit="db", extra=()) -> Callable:
    def build(pair, fp, folder: Path):
        data = s1_stack(pair.s1.bands, order, unit)
        if extra:
            data = np.concatenate([data, np.full((len(extra), 120, 120), 38.5, np.float32)])
        names = None if descriptions is None else list(descriptions) + list(extra)
        return [write_tif(folder / "s1.tif", data, fp, descriptions=names)]
    return build


def _band_files(pattern: str, driver: str = "GTiff", add: int = 0, folder_name: str = "") -> Callable:
    """One file per band at its native resolution; pattern formats `band` (ESA) / `gee` (B2) / `res`."""
    def build(pair, fp, folder: Path):
        target = folder / folder_name if folder_name else folder
        paths = []
        for band in S2_ESA:
            gee = "B8A" if band == "B8A" else f"B{int(band[1:])}"
            res = RES.get(band, 10)
            data = (pair.s2.bands[band].astype(np.int64) + add).astype(np.uint16)
            paths.append(write_tif(target / pattern.format(band=band, gee=gee, res=res), data, fp,
                                   pixel=float(res), driver=driver))
        return paths
    return build


def _zipped(inner: Callable) -> Callable:
    def build(pair, fp, folder: Path):
        files = inner(pair, fp, folder / "inner")
        path = folder / "upload.zip"
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
            for file in files:
                archive.write(file, f"patch/{file.name}")
        return [path]
    return build


def _ben_folder(pair, fp, folder: Path, sensor: str) -> list[Path]:
    record = pair.s1 if sensor == "s1" else pair.s2
    paths = []
    for band, array in record.bands.items():
        pixel = float(RES.get(band, 10))
        paths.append(write_tif(folder / record.name / f"{record.name}_{band}.tif", array, fp, pixel=pixel))
    return paths


def _zipped_folders(*sensors: str) -> Callable:
    def build(pair, fp, folder: Path):
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / "upload.zip"
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
            for sensor in sensors:
                for file in _ben_folder(pair, fp, folder / sensor, sensor):
                    archive.write(file, f"{file.parent.name}/{file.name}")
        return [path]
    return build


_GEE_S2 = [f"B{int(b[1:])}" if b != "B8A" else "B8A" for b in S2_ESA]
_N05 = "S2B_MSIL2A_20230613T101031_N0509_R022_T33UUP_20230613T130214"
FORMS: dict[str, tuple[str, str, Callable]] = {
    # name: (sensor, what it is, builder(pair, footprint, folder) -> files)
    "s2-esa-names": ("s2", "12-band GeoTIFF, ESA band descriptions B01..B12", _s2_multiband(S2_ESA)),
    "s2-no-descriptions": ("s2", "12-band GeoTIFF, no descriptions (ESA order)", _s2_multiband()),
    "s2-gee-export": ("s2", "GEE S2_SR_HARMONIZED export: B1..B12 + AOT, WVP, SCL, QA60, MSK_CLDPRB",
                      _s2_multiband(_GEE_S2, extra=["AOT", "WVP", "SCL", "QA60", "MSK_CLDPRB"])),
    "s2-stac-names": ("s2", "STAC common names (odc-stac), alphabetical band order",
                      _s2_multiband(sorted(STAC.values()), order=sorted(STAC, key=STAC.get))),
    "s2-offset-tag": ("s2", "baseline 04.00+ DN (+1000), tag BOA_ADD_OFFSET=-1000",
                      _s2_multiband(S2_ESA, add=1000, band_tags={"BOA_ADD_OFFSET": "-1000"})),
    "s2-offset-gdal": ("s2", "baseline 04.00+ DN (+1000), GDAL scale 0.0001 offset -0.1",
                       _s2_multiband(S2_ESA, add=1000, scales=[1e-4] * 12, offsets=[-0.1] * 12)),
    "s2-offset-name": ("s2", "baseline 04.00+ DN (+1000), declared only by N0509 in the file name",
                       _s2_multiband(S2_ESA, add=1000, file=f"{_N05}.tif")),
    "s2-harmonised-N04": ("s2", "harmonised export (no offset) named with baseline N0400",
                          _s2_multiband(S2_ESA, file="S2A_MSIL2A_20220613T101031_N0400_R022_T33UUP.tif")),
    "s2-offset-undeclared": ("s2", "offset product (+1000) declaring nothing (kept, warned)",
                             _s2_multiband(S2_ESA, add=1000)),
    "s2-percent": ("s2", "reflectance in percent (float32)", _s2_multiband(S2_ESA, dtype=np.float32, scale=0.01)),
    "s2-unit-floats": ("s2", "reflectance 0-1 (float32)", _s2_multiband(S2_ESA, dtype=np.float32, scale=1e-4)),
    "s2-south-up": ("s2", "12-band GeoTIFF written south-up", _s2_multiband(S2_ESA, south_up=True)),
    "s2-l1c-13": ("s2", "13 bands with B10 (L1C layout; warned)",
                  _s2_multiband(S2_ESA[:9] + ("B10",) + S2_ESA[9:], order=S2_ESA[:9] + ("B09",) + S2_ESA[9:])),
    "s2-safe-jp2": ("s2", "SAFE IMG_DATA JP2 band files T33UUP_<date>_B02_10m.jp2",
                    _band_files("T33UUP_20170613T101031_{band}_{res}m.jp2", driver="JP2OpenJPEG")),
    "s2-ssl4eo-files": ("s2", "SSL4EO band files B2.tif ... B12.tif", _band_files("{gee}.tif")),
    "s2-majortom-files": ("s2", "Major-TOM band files B02.tif in a product folder (N0509, +1000)",
                          _band_files("{band}.tif", add=1000, folder_name=_N05)),
    "s2-zip-geotiff": ("s2", "zip holding one 12-band GeoTIFF", _zipped(_s2_multiband(S2_ESA))),
    "s2-zip-ssl4eo": ("s2", "zip of an SSL4EO band-file folder (B2.tif ... B12.tif)",
                      _zipped(_band_files("{gee}.tif"))),
    "s2-zip-safe-jp2": ("s2", "zip of SAFE IMG_DATA JP2 band files", _zipped(_band_files(
        "T33UUP_20170613T101031_{band}_{res}m.jp2", driver="JP2OpenJPEG"))),
    "s2-zip-folder": ("s2", "zip of one BigEarthNet S2 patch folder", _zipped_folders("s2")),
    "pair-zip": ("s2", "zip of the S1 and the S2 folder of one pair (read: S2)", _zipped_folders("s1", "s2")),
    "s1-db-names": ("s1", "2-band dB GeoTIFF, descriptions VV, VH", _s1_multiband(("VV", "VH"), ("VV", "VH"))),
    "s1-snap-db": ("s1", "SNAP Sigma0_VH_db, Sigma0_VV_db (VH first)",
                   _s1_multiband(("VH", "VV"), ("Sigma0_VH_db", "Sigma0_VV_db"))),
    "s1-snap-power": ("s1", "SNAP Sigma0_VH, Sigma0_VV linear power (VH first)",
                      _s1_multiband(("VH", "VV"), ("Sigma0_VH", "Sigma0_VV"), "power")),
    "s1-snap-intensity": ("s1", "SNAP Intensity_VH, Intensity_VV (VH first)",
                          _s1_multiband(("VH", "VV"), ("Intensity_VH", "Intensity_VV"), "power")),
    "s1-snap-amplitude": ("s1", "SNAP Amplitude_VH, Amplitude_VV (VH first)",
                          _s1_multiband(("VH", "VV"), ("Amplitude_VH", "Amplitude_VV"), "amplitude")),
    "s1-gee-export": ("s1", "GEE S1_GRD export: VV, VH, angle (dB)",
                      _s1_multiband(("VV", "VH"), ("VV", "VH"), extra=["angle"])),
    "s1-power-no-descriptions": ("s1", "linear power, no descriptions (VV, VH)",
                                 _s1_multiband(("VV", "VH"), None, "power")),
    "s1-zip-geotiff": ("s1", "zip holding one 2-band dB GeoTIFF", _zipped(_s1_multiband(("VV", "VH"), ("VV", "VH")))),
}


# ------------------------------------------------------------------------------------ measuring


def footprint_of(row) -> tuple[int, float, float]:
    return int(row["epsg"]), float(row["ulx"]), float(row["uly"])


def measure(forms, rows, work: Path) -> dict:
    import csmae_core
    from csmae_core import PackedArchive, read_upload

    encoder = csmae_core.load_model(ROOT / "assets" / "models" / "demo.pt")
    bundle = csmae_core.Bundle(ROOT / "assets" / "bundles" / "demo", expected_model_hash=encoder.accepted_hashes)
    archive = PackedArchive(ROOT / "assets" / "demo")
    results = {}
    for name in forms:
        sensor, what, build = FORMS[name]
        cells = []
        for row in rows:
            pair = archive.load_pair(archive.table.iloc[row])
            files = build(pair, footprint_of(archive.table.iloc[row]), work / name / str(row))
            try:
                record = read_upload(files if len(files) > 1 else files[0])
            except Exception as error:  # noqa: BLE001 - a refusal is a result here
                cells.append({"row": row, "refused": f"{type(error).__name__}: {error}"[:300]})
                continue
            vector = encoder.embed_records([record], record.sensor)[0]
            scores = bundle.embeddings[record.sensor] @ vector
            own = float(scores[row]) if record.sensor == sensor else float("nan")
            cells.append({"row": row, "cosine": own, "rank": int((scores > own).sum()) + 1,
                          "sensor": record.sensor, "notes": list(record.notes)})
        results[name] = {"sensor": sensor, "what": what, "cells": cells}
    return results


def pair_gain(bundle_names=("demo", "demo-train"), k: int = 10) -> str:
    """mAP@k and P@k of S1-only, S2-only and pair (normalised mean) queries of every demo pair (own pair
    excluded; on demo-train only pairs outside its training split), searching S1, S2 and both."""
    import csmae_core
    from csmae_core.evaluation.metrics import retrieval_metrics
    from csmae_core.labels import multi_hot_matrix
    from csmae_core.retrieval.queries import pair_embedding

    lines = [f"| bundle | queries | searched | S1 query mAP@{k} / P@{k} | S2 query | pair query (S1+S2) |",
             "|---|---|---|---|---|---|"]
    for name in bundle_names:
        bundle = csmae_core.Bundle(ROOT / "assets" / "bundles" / name)
        table, emb = bundle.table, bundle.embeddings
        rows = np.flatnonzero(table["split"].to_numpy() != "train") if name.endswith("train") else np.arange(len(table))
        labels = multi_hot_matrix(table["labels"])
        vectors = {"s1": emb["s1"][rows], "s2": emb["s2"][rows],
                   "pair": np.stack([pair_embedding(emb["s1"][r], emb["s2"][r]) for r in rows])}
        for searched in (("s1",), ("s2",), ("s1", "s2")):
            cells = []
            for kind in ("s1", "s2", "pair"):
                scores = np.concatenate([vectors[kind] @ np.asarray(emb[t]).T for t in searched], axis=1)
                archive_rows = np.concatenate([np.arange(len(table)) for _ in searched])
                scores[archive_rows[None, :] == rows[:, None]] = -np.inf  # own pair excluded
                top = np.argsort(-scores, axis=1)[:, :k]
                metrics = retrieval_metrics(labels[rows], labels[archive_rows[top]])
                cells.append(f"{metrics['map']:.3f} / {metrics['precision']:.3f}")
            lines.append(f"| {name} | {len(rows)} | {'+'.join(searched).upper()} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def summary(entry: dict | None) -> str:
    if entry is None:
        return "-"
    refused = [c for c in entry["cells"] if "refused" in c]
    if refused:
        return f"refused ({len(refused)}/{len(entry['cells'])})"
    cosines = [c["cosine"] for c in entry["cells"]]
    ranks = [c["rank"] for c in entry["cells"]]
    return f"{min(cosines):.3f} / {max(ranks)}"


def table(before: dict, after: dict) -> str:
    lines = ["| form | sensor | BEFORE: min cosine / worst rank | AFTER: min cosine / worst rank |",
             "|---|---|---|---|"]
    for name, entry in after.items():
        lines.append(f"| `{name}`: {entry['what']} | {entry['sensor'].upper()} | {summary(before.get(name))} | "
                     f"{summary(entry)} |")
    return "\n".join(lines)


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, help="write the measurements (JSON) here")
    p.add_argument("--form", action="append", choices=sorted(FORMS), help="measure only these (repeat)")
    p.add_argument("--rows", default=",".join(map(str, ROWS)), help="demo archive rows (comma-separated)")
    p.add_argument("--work", type=Path, default=Path("/tmp/csmae-measure-inputs"), help="where forms are written")
    p.add_argument("--pairs", action="store_true", help="print the pair-query table (S1, S2, both together)")
    p.add_argument("--table", nargs=2, type=Path, metavar=("BEFORE", "AFTER"), help="print the markdown table")
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.pairs:
        print(pair_gain())
        return 0
    if args.table:
        before, after = (json.loads(p.read_text()) for p in args.table)
        print(table(before, after))
        return 0
    rows = [int(r) for r in args.rows.split(",")]
    results = measure(args.form or list(FORMS), rows, args.work)
    text = json.dumps(results, indent=1)
    if args.out:
        args.out.write_text(text)
    for name, entry in results.items():
        print(f"{name:28s} {summary(entry)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
