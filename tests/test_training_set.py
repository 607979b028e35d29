"""A training set out: CSV and GeoJSON of examples and accepted results, and a zip of their patches that our
own BigEarthNet v2 reader reads back pixel for pixel (real demo bundle and archive)."""
from __future__ import annotations

import csv
import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

from csmae_core.errors import InputError
from csmae_core.io.detect import open_archive
from csmae_core.io.folders import BenV2Folders
from csmae_core.retrieval.bundle import Bundle
from csmae_core.retrieval.training_set import (
    TrainingItem,
    training_set_csv,
    training_set_geojson,
    training_set_zip,
)

ASSETS = Path(__file__).resolve().parents[1] / "assets"
ITEMS = [TrainingItem(3, "s2", True, "example"), TrainingItem(7, "s1", False, "example"),
         TrainingItem(10, "s2", True, "result", 0.8125)]


@pytest.fixture(scope="module")
def bundle():
    return Bundle(ASSETS / "bundles" / "demo")


def test_csv_and_geojson_say_what_each_patch_is(bundle):
    rows = list(csv.DictReader(io.StringIO(training_set_csv(bundle, ITEMS))))
    assert [(r["role"], r["positive"], r["sensor"]) for r in rows] == [
        ("example", "True", "s2"), ("example", "False", "s1"), ("result", "True", "s2")]
    assert rows[1]["id"] == bundle.table.at[7, "s1_name"] and rows[0]["id"] == bundle.table.at[3, "pair_id"]
    assert rows[2]["score"] == "0.8125" and rows[0]["labels"] == "; ".join(bundle.table.at[3, "labels"])
    features = json.loads(training_set_geojson(bundle, ITEMS))["features"]
    assert len(features) == 3 and features[1]["properties"]["positive"] is False
    ring = np.array(features[0]["geometry"]["coordinates"][0])
    west, south, east, north = (bundle.table.at[3, c] for c in ("west", "south", "east", "north"))
    assert ring[:, 0].min() == pytest.approx(west, abs=1e-6) and ring[:, 1].max() == pytest.approx(north, abs=1e-6)


def test_zip_reads_back_as_a_bigearthnet_v2_tree(bundle, tmp_path):
    archive = open_archive(ASSETS / "demo", None)
    with zipfile.ZipFile(io.BytesIO(training_set_zip(bundle, archive, ITEMS))) as packed:
        names = packed.namelist()
        packed.extractall(tmp_path)
    assert "training_set.csv" in names and "training_set.geojson" in names and "metadata.parquet" in names
    back = BenV2Folders(tmp_path)
    assert sorted(back.table["pair_id"]) == sorted(bundle.table.loc[[3, 7, 10], "pair_id"])
    for index in range(len(back)):
        pair = back[index]
        original = archive[archive.index_of(pair.s2.name)]
        for sensor in ("s1", "s2"):
            read, source = getattr(pair, sensor), getattr(original, sensor)
            assert read.name == source.name and read.footprint == source.footprint
            for band, values in source.bands.items():
                np.testing.assert_array_equal(read.bands[band], values)
                assert read.bands[band].dtype == values.dtype
        assert sorted(pair.s2.labels) == sorted(original.s2.labels)


def test_a_formula_in_an_archive_id_is_neutralised(bundle):
    edited = Bundle(ASSETS / "bundles" / "demo")
    edited.table = edited.table.copy()
    edited.table.at[3, "pair_id"] = "=HYPERLINK(\"http://evil\")"
    assert "'=HYPERLINK" in training_set_csv(edited, ITEMS[:1])


@pytest.mark.parametrize("items, message", [
    ([], "the training set is empty"),
    ([TrainingItem(10_000, "s2")], "belongs to another bundle"),
    ([TrainingItem(0, "s2")] * 1001, "at most 1000"),
])
def test_bad_sets_are_refused(bundle, items, message):
    with pytest.raises(InputError, match=message):
        training_set_csv(bundle, items)


def test_a_zip_needs_pixels(bundle):
    with pytest.raises(InputError, match="no pixels here"):
        training_set_zip(bundle, None, ITEMS)
