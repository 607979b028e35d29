"""A training set out of a search: the query's examples (positive / negative) and the results the user
accepted, as CSV and GeoJSON (ids, sensor, footprint, labels, score, positive/negative), and, where the
archive holds pixels, a zip of their patches as a BigEarthNet v2 tree (both sensors of every pair, GeoTIFF
band files georeferenced from the footprint, a reBEN-style metadata.parquet) that `BenV2Folders` reads back.
"""
from __future__ import annotations

import csv
import io
import json
import tempfile
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import rasterio
from rasterio.transform import Affine

from csmae_core.errors import InputError
from csmae_core.io.archive import PairArchive
from csmae_core.record import PatchRecord
from csmae_core.retrieval.bundle import Bundle
from csmae_core.retrieval.export import footprint_rings, spreadsheet_safe
from csmae_core.retrieval.queries import patch_name
from csmae_core.retrieval.search import row_footprint

MAX_ITEMS = 1000
FIELDS = ("role", "positive", "id", "sensor", "pair_id", "row", "score", "labels", "lon", "lat")


@dataclass(frozen=True)
class TrainingItem:
    """One archive patch of the set: an example ("example", positive or not) or an accepted result."""

    row: int
    sensor: str
    positive: bool = True
    role: str = "result"
    score: float | None = None


def item_rows(bundle: Bundle, items: Sequence[TrainingItem]) -> list[dict]:
    _check(bundle, items)
    table = bundle.table
    return [{"role": item.role, "positive": item.positive, "id": patch_name(bundle, item.row, item.sensor),
             "sensor": item.sensor, "pair_id": str(table.at[item.row, "pair_id"]), "row": int(item.row),
             "score": item.score, "labels": list(table.at[item.row, "labels"]),
             "lon": float(table.at[item.row, "lon"]), "lat": float(table.at[item.row, "lat"])} for item in items]


def _check(bundle: Bundle, items: Sequence[TrainingItem]) -> None:
    if not items:
        raise InputError("the training set is empty: mark examples or accept results first")
    if len(items) > MAX_ITEMS:
        raise InputError(f"{len(items)} patches; a training set export holds at most {MAX_ITEMS}")
    bad = [i.row for i in items if not 0 <= int(i.row) < len(bundle.table)]
    if bad:
        raise InputError(f"row {bad[0]} is not in this bundle ({len(bundle.table)} pairs): the set belongs to another "
                         "bundle")


def training_set_csv(bundle: Bundle, items: Sequence[TrainingItem]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=FIELDS)
    writer.writeheader()
    for row in item_rows(bundle, items):
        row["labels"] = "; ".join(row["labels"])
        writer.writerow({name: spreadsheet_safe(value) for name, value in row.items()})
    return buffer.getvalue()


def training_set_geojson(bundle: Bundle, items: Sequence[TrainingItem]) -> str:
    features = []
    for item, row in zip(items, item_rows(bundle, items)):
        bbox = tuple(float(bundle.table.at[item.row, c]) for c in ("west", "south", "east", "north"))
        geometry = {"type": "Polygon", "coordinates": footprint_rings(row_footprint(bundle.table, item.row), bbox)}
        features.append({"type": "Feature", "geometry": geometry, "properties": row})
    return json.dumps({"type": "FeatureCollection", "features": features}, indent=1)


def training_set_zip(bundle: Bundle, archive: PairArchive | None, items: Sequence[TrainingItem]) -> bytes:
    """The zip described in the module docstring, as bytes; refused when the archive has no pixels."""
    if archive is None:
        raise InputError("this bundle's archive has no pixels here (a metadata-only bundle): export the CSV or "
                         "GeoJSON instead, or open the bundle with its archive")
    rows = sorted({int(i.row) for i in items})
    csv_text, geojson = training_set_csv(bundle, items), training_set_geojson(bundle, items)
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        metadata = [_write_pair(root, archive, bundle, row) for row in rows]
        pd.DataFrame(metadata).to_parquet(root / "metadata.parquet", index=False)
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as out:
            out.writestr("training_set.csv", csv_text)
            out.writestr("training_set.geojson", geojson)
            for path in sorted(root.rglob("*")):
                if path.is_file():
                    out.write(path, path.relative_to(root).as_posix())
    return buffer.getvalue()


def _write_pair(root: Path, archive: PairArchive, bundle: Bundle, row: int) -> dict:
    pair_id, s1_name = str(bundle.table.at[row, "pair_id"]), str(bundle.table.at[row, "s1_name"])
    pair = archive[archive.index_of(pair_id)]
    _write_patch(root / "BigEarthNet-S2" / pair_id.rsplit("_", 2)[0] / pair_id, pair.s2)
    _write_patch(root / "BigEarthNet-S1" / s1_name.rsplit("_", 3)[0] / s1_name, pair.s1)
    table = bundle.table
    return {"patch_id": pair_id, "labels": list(table.at[row, "labels"]), "split": str(table.at[row, "split"]),
            "country": str(table.at[row, "country"]), "s1_name": s1_name, "s2v1_name": pair_id,
            "contains_seasonal_snow": bool(table.at[row, "contains_seasonal_snow"]),
            "contains_cloud_or_shadow": bool(table.at[row, "contains_cloud_or_shadow"])}


def _write_patch(folder: Path, record: PatchRecord) -> None:
    """One GeoTIFF per band, `<name>_<band>.tif`, on the patch's UTM square (pixel size from the band's size)."""
    folder.mkdir(parents=True, exist_ok=True)
    footprint = record.footprint
    for band, values in record.bands.items():
        values = np.asarray(values)
        profile = {"driver": "GTiff", "width": values.shape[1], "height": values.shape[0], "count": 1,
                   "dtype": values.dtype.name}
        if footprint is not None:
            profile["crs"] = f"EPSG:{footprint.epsg}"
            width = (footprint.lrx - footprint.ulx) / values.shape[1]
            height = (footprint.uly - footprint.lry) / values.shape[0]
            profile["transform"] = Affine(width, 0.0, footprint.ulx, 0.0, -height, footprint.uly)
        with rasterio.open(folder / f"{record.name}_{band}.tif", "w", **profile) as dataset:
            dataset.write(values, 1)
